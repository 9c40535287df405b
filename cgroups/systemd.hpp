#pragma once
// The systemd driver: a transient scope with Delegate=yes, started over
// D-Bus (sd-bus) on the system bus as root and on the user bus rootless
// (runc libcontainer/cgroups/systemd, crun cgroup-systemd.c).
//
// Naming (runc's): cgroupsPath "SLICE:PREFIX:NAME" is the unit
// "PREFIX-NAME.scope" ("NAME.scope" with an empty prefix; NAME itself when it
// ends in ".slice") in SLICE ("" = the default slice). Without a cgroupsPath
// the unit is "rrun-ID.scope". The default slice is system.slice as root and
// user.slice rootless (in the user's systemd).
//
// Flow: create() only validates (a scope needs a pid), clone_fd() is -1,
// apply(pid) starts the unit with PIDs=[pid], Delegate=yes and the resource
// properties systemd knows (systemd_properties), waits for the job, then
// writes every cgroupfs file of the resources in the scope's cgroup (v2, or
// the v1 hierarchies) for what the properties do not cover. destroy() stops
// the unit and removes what is left.
//
// path() is a JSON object: {"unit":"rrun-c1.scope","slice":"system.slice",
// "user":false,"dir":"/sys/fs/cgroup/system.slice/rrun-c1.scope"} on v2, with
// "v1":{controller: dir,...} instead of "dir" on v1 hosts; "dir"/"v1" are
// empty before apply().

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "manager.hpp"
#include "v1.hpp"
#include "v2.hpp"

namespace rrun::cgroups {

struct SystemdUnit {
  std::string slice;  // "system.slice"
  std::string unit;   // "rrun-c1.scope"
};

// The naming rule above. Throws os::Error for a cgroupsPath that is not
// "slice:prefix:name" with a valid slice name and a non-empty name.
SystemdUnit systemd_unit(const std::string& cgroups_path, const std::string& id, bool rootless);

// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice", "-.slice" -> "/"
// (systemd's slice path rule). Throws os::Error for an invalid slice name.
std::string expand_slice(const std::string& slice);

// One D-Bus property of StartTransientUnit: "t" (uint64), "b", "s", "ay"
// (bytes, a CPU or NUMA node bitmask), "au" (uint32 list: PIDs).
struct UnitProperty {
  std::string name;
  std::variant<uint64_t, bool, std::string, std::vector<uint8_t>, std::vector<uint32_t>> value;
  bool operator==(const UnitProperty&) const = default;
};

// The resource properties for `r` (from the same translation the cgroupfs
// drivers write, so the values agree). v2: MemoryMax, MemoryLow,
// MemorySwapMax, TasksMax, CPUWeight, CPUQuotaPerSecUSec (quota*1e6/period
// rounded up to 10 ms, as runc), CPUQuotaPeriodUSec, AllowedCPUs,
// AllowedMemoryNodes, IOWeight. v1: MemoryLimit, TasksMax, CPUShares,
// CPUQuotaPerSecUSec, CPUQuotaPeriodUSec, BlockIOWeight. "no limit" is
// UINT64_MAX (systemd's infinity).
std::vector<UnitProperty> systemd_resource_properties(const spec::Resources& r, bool v2);

// "0-2,5" -> {0b00100111}: bit N%8 of byte N/8 per CPU (systemd's "ay"
// bitmask). Throws os::Error naming `what` for a malformed list.
std::vector<uint8_t> cpu_list_mask(const std::string& list, const std::string& what);

// The bus systemd listens on is reachable: the system bus (root) or the
// user bus (rootless) opens and org.freedesktop.systemd1 answers a ping.
// `why` (optional) gets the reason when it is not.
bool systemd_bus_reachable(bool user_bus, std::string* why = nullptr);

// Whether libsystemd.so.0 loads and has every sd-bus function the driver
// calls (`rrun --version`); `why` (optional) gets the reason when not.
bool libsystemd_loadable(std::string* why = nullptr);

class SystemdManager final : public Manager {
 public:
  SystemdManager(SystemdUnit unit, bool rootless, bool v2, Roots roots);
  // From path(); throws os::Error for text that is not such an object.
  static std::unique_ptr<SystemdManager> from_path(const std::string& path, const Roots& roots);

  Driver driver() const override { return Driver::systemd; }
  std::string path() const override;
  std::vector<std::string> create(const spec::Resources* r) override;
  int clone_fd() const override { return -1; }
  void apply(pid_t pid) override;
  std::vector<std::string> set(const spec::Resources& resources) override;
  void freeze() override;
  void thaw() override;
  bool frozen() const override;
  void kill_all(int sig) override;
  std::vector<pid_t> pids() const override;
  Stats stats() const override;
  void destroy() override;

  // Warnings of the file writes apply() made (rootless: limits systemd's
  // delegation did not allow); apply() cannot return them.
  const std::vector<std::string>& apply_warnings() const { return apply_warnings_; }

 private:
  Manager& inner() const;

  SystemdUnit unit_;
  bool rootless_;
  bool v2_;
  Roots roots_;
  std::optional<spec::Resources> resources_;
  std::unique_ptr<Manager> inner_;  // V2Manager or V1Manager on the scope's cgroup, after apply()
  std::vector<std::string> apply_warnings_;
};

}  // namespace rrun::cgroups
