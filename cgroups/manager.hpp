#pragma once
// One interface for the four cgroup drivers (DESIGN.md "cgroups/"; crun
// `cgroup-internal.h` `libcrun_cgroup_manager`). choose_driver() in
// detect.hpp picks the driver; core/ talks only to Manager.
//
// What each driver will do (only NoneManager exists yet):
// - v2 (cgroupfs): apply() creates the cgroup (cgroupsPath absolute under the
//   hierarchy root as root, or /rrun/ID; rootless, inside the subtree the
//   caller's own cgroup delegates), enables in the parents'
//   cgroup.subtree_control the controllers controllers_of(v2_resource_writes())
//   needs that cgroup.controllers offers (moving rrun's own process into a
//   leaf first when the no-internal-processes rule demands it) and writes
//   cgroup.procs — or the pid is cloned there with CLONE_INTO_CGROUP.
//   set() writes v2_resource_writes(); devices become an eBPF program (root).
//   freeze/thaw: cgroup.freeze; kill_all: cgroup.kill, else every pid.
// - systemd: a transient scope with Delegate=yes over D-Bus (system bus as
//   root, user bus rootless), then the v2 (or v1) files for what systemd
//   properties do not cover.
// - v1: one directory per hierarchy (memory, cpu, cpuacct, cpuset, pids,
//   devices, freezer, blkio, hugetlb, net_cls/net_prio); set() writes
//   v1_resource_writes(); freezer.state for freeze/thaw.
// - none: nothing is created or moved (Slurm's job cgroup keeps applying);
//   describe_missing_limits() says what was not applied.
// A limit that cannot be applied is an error as root and one warning
// rootless (crun).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rrun/spec/spec.hpp>

#include "detect.hpp"

namespace rrun::cgroups {

// The numbers `events --stats` reports (runc's shapes), those a driver can
// read; absent when the controller is not there.
struct Stats {
  std::optional<uint64_t> cpu_usage_ns;  // cpu.stat usage_usec * 1000, cpuacct.usage
  std::optional<uint64_t> memory_usage;  // memory.current, memory.usage_in_bytes
  std::optional<uint64_t> memory_limit;
  std::optional<uint64_t> pids_current;
  std::optional<uint64_t> pids_limit;
  std::optional<uint64_t> oom_kills;  // memory.events oom_kill, memory.oom_control
  bool operator==(const Stats&) const = default;
};

class Manager {
 public:
  virtual ~Manager() = default;

  virtual Driver driver() const = 0;
  // The container's cgroup as recorded in state.json ("" for none).
  virtual std::string path() const = 0;

  // Creates the cgroup if needed and moves `pid` into it.
  virtual void apply(pid_t pid) = 0;
  // Writes the limits (create and `update`).
  virtual void set(const spec::Resources& resources) = 0;
  // pause / resume.
  virtual void freeze() = 0;
  virtual void thaw() = 0;
  // kill --all: `sig` to every process of the cgroup.
  virtual void kill_all(int sig) = 0;
  // Every pid in the cgroup and its descendants (ps).
  virtual std::vector<pid_t> pids() const = 0;
  virtual Stats stats() const = 0;
  // Removes the cgroup (delete); succeeds when it is already gone.
  virtual void destroy() = 0;
};

// The human message for the none driver: which limits `r` asks for that were
// not applied, and how to get a delegated cgroup. "" when `r` asks for none.
std::string describe_missing_limits(const spec::Resources& r);

// Running without cgroups: apply/set/destroy do nothing, pids() and stats()
// are empty, kill_all does nothing (the caller signals the init instead).
// freeze/thaw throw os::Error: pausing needs a cgroup.
class NoneManager final : public Manager {
 public:
  Driver driver() const override { return Driver::none; }
  std::string path() const override { return ""; }
  void apply(pid_t) override {}
  void set(const spec::Resources&) override {}
  void freeze() override;
  void thaw() override;
  void kill_all(int) override {}
  std::vector<pid_t> pids() const override { return {}; }
  Stats stats() const override { return {}; }
  void destroy() override {}
};

}  // namespace rrun::cgroups
