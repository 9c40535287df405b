#pragma once
// One interface for the four cgroup drivers (DESIGN.md "cgroups/"; crun
// `cgroup-internal.h` `libcrun_cgroup_manager`). choose_driver() in
// detect.hpp picks the driver; core/ talks only to Manager.
//
// What each driver does:
// - v2 (cgroupfs, v2.hpp): create() creates the cgroup (cgroupsPath absolute under the
//   hierarchy root as root, or /rrun/ID; rootless, inside the subtree the
//   caller's own cgroup delegates), enables in the parents'
//   cgroup.subtree_control the controllers controllers_of(v2_resource_writes())
//   needs that cgroup.controllers offers (moving rrun's own process into a
//   leaf first when the no-internal-processes rule demands it) and writes
//   opens it for clone_fd(); apply() writes cgroup.procs — or the pid is
//   cloned there with CLONE_INTO_CGROUP (then apply() is a harmless rewrite).
//   set() writes v2_resource_writes(); devices become an eBPF program (root).
//   freeze/thaw: cgroup.freeze; kill_all: cgroup.kill, else every pid.
// - systemd (systemd.hpp): a transient scope with Delegate=yes over D-Bus
//   (system bus as root, user bus rootless), started by apply(pid) since a
//   scope needs a pid (clone_fd() is -1), then the v2 (or v1) files for what
//   systemd properties do not cover.
// - v1 (v1.hpp): one directory per hierarchy (memory, cpu, cpuacct, cpuset, pids,
//   devices, freezer, blkio, hugetlb, net_cls/net_prio); set() writes
//   v1_resource_writes(); freezer.state for freeze/thaw.
// - none: nothing is created or moved (Slurm's job cgroup keeps applying);
//   describe_missing_limits() says what was not applied.
// A limit that cannot be applied is an error as root and one warning
// rootless (crun).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rrun/os/fd.hpp>
#include <rrun/spec/spec.hpp>

#include "detect.hpp"

namespace rrun::cgroups {

// The numbers `events --stats` reports, in runc's shapes (runc
// libcontainer/cgroups/stats.go and the JSON types of `runc events`,
// types/events.go). The JSON name of each field is in its comment; runc
// omits the fields marked omitempty when they are 0 / empty. A driver fills
// what its files have; the rest stays 0.

struct CpuUsage {                // "usage"
  uint64_t total = 0;            // "total" (omitempty), ns: cpuacct.usage, cpu.stat usage_usec*1000
  std::vector<uint64_t> percpu;  // "percpu" (omitempty), ns: cpuacct.usage_percpu (v1 only)
  uint64_t kernel = 0;           // "kernel", ns: cpuacct.stat system, cpu.stat system_usec*1000
  uint64_t user = 0;             // "user", ns: cpuacct.stat user, cpu.stat user_usec*1000
  bool operator==(const CpuUsage&) const = default;
};

struct CpuThrottling {             // "throttling"
  uint64_t periods = 0;            // "periods" (omitempty): cpu.stat nr_periods
  uint64_t throttled_periods = 0;  // "throttledPeriods" (omitempty): cpu.stat nr_throttled
  uint64_t throttled_time = 0;     // "throttledTime" (omitempty), ns: throttled_time, throttled_usec*1000
  bool operator==(const CpuThrottling&) const = default;
};

struct CpuStats {  // "cpu"
  CpuUsage usage;
  CpuThrottling throttling;
  bool operator==(const CpuStats&) const = default;
};

// One of "usage", "swap", "kernel", "kernelTCP" of "memory". UINT64_MAX is
// "no limit" (runc prints it as 18446744073709551615).
struct MemoryEntry {
  uint64_t limit = 0;    // "limit"
  uint64_t usage = 0;    // "usage" (omitempty)
  uint64_t max = 0;      // "max" (omitempty): the peak (max_usage_in_bytes, memory.peak)
  uint64_t failcnt = 0;  // "failcnt": v1 failcnt; v2 memory.events max (usage) / swap.events max (swap)
  bool operator==(const MemoryEntry&) const = default;
};

struct MemoryStats {                    // "memory"
  uint64_t cache = 0;                   // "cache" (omitempty): memory.stat cache (v1), file (v2)
  MemoryEntry usage;                    // "usage"
  MemoryEntry swap;                     // "swap": v1 memsw.* (memory+swap); v2 as runc: swap.current +
                                        // memory.current, swap.max + memory.max
  MemoryEntry kernel;                   // "kernel": v1 kmem.*
  MemoryEntry kernel_tcp;               // "kernelTCP": v1 kmem.tcp.*
  std::map<std::string, uint64_t> raw;  // "raw" (omitempty): memory.stat as is
  bool operator==(const MemoryStats&) const = default;
};

struct PidsStats {       // "pids"
  uint64_t current = 0;  // "current" (omitempty): pids.current
  uint64_t limit = 0;    // "limit" (omitempty): pids.max, 0 for "max" (as runc)
  bool operator==(const PidsStats&) const = default;
};

struct BlkioEntry {    // an element of the "blkio" arrays
  uint64_t major = 0;  // "major" (omitempty)
  uint64_t minor = 0;  // "minor" (omitempty)
  std::string op;      // "op" (omitempty): "Read", "Write", "Sync", "Async", "Discard", "Total"
  uint64_t value = 0;  // "value" (omitempty)
  bool operator==(const BlkioEntry&) const = default;
};

struct BlkioStats {                                    // "blkio"
  std::vector<BlkioEntry> io_service_bytes_recursive;  // "ioServiceBytesRecursive" (omitempty)
  std::vector<BlkioEntry> io_serviced_recursive;       // "ioServicedRecursive" (omitempty)
  bool operator==(const BlkioStats&) const = default;
};

struct HugetlbStats {    // "hugetlb": {"2MB": {...}}, keyed by page size
  uint64_t usage = 0;    // "usage" (omitempty): usage_in_bytes, hugetlb.SIZE.current
  uint64_t max = 0;      // "max" (omitempty): max_usage_in_bytes (v1), 0 on v2 (no peak file)
  uint64_t failcnt = 0;  // "failcnt": failcnt (v1), hugetlb.SIZE.events max (v2)
  bool operator==(const HugetlbStats&) const = default;
};

// `events --stats` prints {"type":"stats","id":ID,"data":{"cpu":…,"memory":…,
// "pids":…,"blkio":…,"hugetlb":…}}. The optionals on top are the short
// summary the first version of this interface had; drivers fill both.
struct Stats {
  std::optional<uint64_t> cpu_usage_ns;  // = cpu.usage.total
  std::optional<uint64_t> memory_usage;  // = memory.usage.usage
  std::optional<uint64_t> memory_limit;  // = memory.usage.limit
  std::optional<uint64_t> pids_current;  // = pids.current
  std::optional<uint64_t> pids_limit;    // = pids.limit
  // OOM kills so far: memory.events oom_kill (v2), memory.oom_control
  // oom_kill (v1, kernels >= 4.13). `events` turns an increase into
  // {"type":"oom"}. Not part of runc's stats JSON.
  std::optional<uint64_t> oom_kills;

  CpuStats cpu;
  MemoryStats memory;
  PidsStats pids;
  BlkioStats blkio;
  std::map<std::string, HugetlbStats> hugetlb;
  bool operator==(const Stats&) const = default;
};

class Manager {
 public:
  virtual ~Manager() = default;

  virtual Driver driver() const = 0;
  // What state.json records so that open_manager() finds this cgroup again
  // (driver-defined; "" for none). v2: the absolute cgroup directory
  // ("/sys/fs/cgroup/rrun/c1"). v1: a JSON object controller -> absolute
  // directory. systemd: a JSON object {"unit","slice","user","dir"|"v1"}
  // whose dir is known only after apply(). Valid after make_manager().
  virtual std::string path() const = 0;

  // Creates the cgroup (directories, enabled controllers, systemd scope where
  // the driver needs no pid for it) and writes the limits of `r`. Called once
  // by create, before the init is cloned. Returns warnings for limits that
  // could not be applied rootless; throws os::Error as root (crun).
  virtual std::vector<std::string> create(const spec::Resources* r) = 0;
  // An O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP), or -1 when
  // the driver cannot clone into it (v1, none, systemd before apply). Owned
  // by the manager. Valid after create() or open_manager().
  virtual int clone_fd() const = 0;
  // Moves `pid` into the cgroup (every hierarchy on v1; the scope's pid for
  // systemd). A no-op for a pid already cloned there.
  virtual void apply(pid_t pid) = 0;
  // v1: the `tasks` file of each of the cgroup's directories, open for
  // writing, for a child that moves itself in by writing "0" to each
  // instead of apply() by its parent. A thread moving itself is the one
  // migration the kernel does without its global threadgroup lock, whose
  // write-lock waits for an RCU grace period: apply()'s first write took
  // 15 ms on a 2-CPU host, with the child waiting. The child is a single
  // thread, so moving the thread moves the process. Empty for the other
  // drivers (clone_fd(), or apply()). Valid after create().
  virtual std::vector<os::UniqueFd> open_tasks_files() const { return {}; }
  // `update`: writes the limits (same rules as create()).
  virtual std::vector<std::string> set(const spec::Resources& resources) = 0;
  // pause / resume: returns when the cgroup is frozen / thawed.
  virtual void freeze() = 0;
  virtual void thaw() = 0;
  // The cgroup is frozen (state shows `paused`).
  virtual bool frozen() const = 0;
  // kill --all: `sig` to every process of the cgroup (cgroup.kill for
  // SIGKILL on v2 where present).
  virtual void kill_all(int sig) = 0;
  // Every pid in the cgroup and its descendants (ps), in our pid namespace.
  virtual std::vector<pid_t> pids() const = 0;
  virtual Stats stats() const = 0;
  // Removes the cgroup (delete): kills what is left in it with SIGKILL, waits
  // until it is empty, removes the directories (and the parents rrun created
  // that are empty now). Succeeds when it is already gone.
  virtual void destroy() = 0;
};

// Where the cgroup file systems and our own cgroup are (tests point these at
// temp dirs laid out like cgroupfs).
struct Roots {
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string proc_self_cgroup = "/proc/self/cgroup";
};

struct ManagerRequest {
  std::string id;
  std::string cgroups_path;  // linux.cgroupsPath, "" for the default
  bool rootless = false;
  bool systemd_flag = false;  // --systemd-cgroup
  Roots roots;
  // Facts make_manager otherwise measures (tests on temp dirs set them):
  // the hierarchy mode (detect_mode(roots.cgroup_root)) and whether
  // systemd answers on the system bus (root) / user bus (rootless).
  std::optional<Mode> mode;
  std::optional<bool> has_dbus_session;
};

// Detects the mode, chooses the driver (choose_driver) and returns its
// manager; nothing is created until create(). Throws os::Error for a
// cgroupsPath the driver cannot use (a systemd path without systemd, a path
// outside the delegated subtree rootless, ...).
//
// Facts gathered: detect_mode(roots.cgroup_root); our cgroup from
// roots.proc_self_cgroup; v2 delegation (v2_subtree_writable of our cgroup,
// or of its parent when we sit in the leaf `init` an earlier rrun made, see
// v2.hpp); the bus (only probed when the choice depends on it).
// A "slice:prefix:name" cgroupsPath given to a cgroupfs driver (rootless
// without a user bus) is ignored: the default path is used.
//
// path() per driver: v2 the absolute cgroup directory; v1 a JSON object
// controller -> absolute directory; systemd a JSON object (systemd.hpp);
// none "".
std::unique_ptr<Manager> make_manager(const ManagerRequest& req);
// The manager of an existing container, from what state.json recorded
// (driver_name() and path()). Throws os::Error for an unknown driver.
std::unique_ptr<Manager> open_manager(const std::string& driver, const std::string& path, const Roots& roots = {});

// The human message for the none driver: which limits `r` asks for that were
// not applied, and `remedy` (NoneManager::remedy()). "" when `r` asks for none.
std::string describe_missing_limits(const spec::Resources& r, const std::string& remedy);

// delegation_remedy() for this host and a rootless caller, measured now
// (the bus is asked only when nothing is delegated on v2).
std::string delegation_remedy_here(const Roots& roots = {});

// Running without cgroups: apply/set/destroy do nothing, pids() and stats()
// are empty, kill_all does nothing (the caller signals the init instead).
// freeze/thaw throw os::Error: pausing needs a cgroup.
class NoneManager final : public Manager {
 public:
  // `remedy`: how to get a delegated cgroup here, as make_manager found it;
  // "" to measure it when needed.
  explicit NoneManager(std::string remedy = "") : remedy_(std::move(remedy)) {}
  std::string remedy() const;

  Driver driver() const override { return Driver::none; }
  std::string path() const override { return ""; }
  std::vector<std::string> create(const spec::Resources*) override { return {}; }
  int clone_fd() const override { return -1; }
  void apply(pid_t) override {}
  std::vector<std::string> set(const spec::Resources&) override { return {}; }
  void freeze() override;
  void thaw() override;
  bool frozen() const override { return false; }
  void kill_all(int) override {}
  std::vector<pid_t> pids() const override { return {}; }
  Stats stats() const override { return {}; }
  void destroy() override {}

 private:
  std::string remedy_;
};

}  // namespace rrun::cgroups
