#pragma once
// The cgroup v1 driver (root on v1 and hybrid hosts; runc's fs driver, crun
// `enter_cgroup_v1`). One directory per mounted v1 controller hierarchy,
// and one in the name=systemd hierarchy (as runc: the container's
// /proc/PID/cgroup names its own cgroup there too, and a cgroup namespace
// is rooted at it); the unified (v2) mount of a hybrid host and other named
// hierarchies are not used.
//
// Paths, per hierarchy (as runc's fs driver): an absolute cgroupsPath lies
// under the hierarchy's root (/sys/fs/cgroup/memory/PATH); a relative one,
// and the default "rrun/ID", lie under rrun's own cgroup in that hierarchy
// (/sys/fs/cgroup/memory/<own>/rrun/ID), so that a supervisor's memory
// cgroup keeps covering the containers.
//
// path() is a JSON object mapping every controller to its absolute
// directory: {"cpu":"/sys/fs/cgroup/cpu/rrun/c1","memory":"/sys/fs/cgroup/
// memory/process_api/x/rrun/c1","name=systemd":"/sys/fs/cgroup/systemd/
// rrun/c1",...}. Controllers sharing one hierarchy (cpu,cpuacct) map to the
// same directory.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "manager.hpp"

namespace rrun::cgroups {

struct V1Hierarchy {
  std::vector<std::string> controllers;  // "cpu", "cpuacct"
  std::string mount;                     // /sys/fs/cgroup/cpu,cpuacct
  std::string own;                       // our cgroup in it: "/" or "/process_api/x"
};

// The v1 hierarchies of /proc/self/cgroup text whose mount exists under
// `cgroup_root` (ROOT/<controllers as listed>, else ROOT/<first
// controller>). The unified line and name= hierarchies are skipped.
std::vector<V1Hierarchy> v1_hierarchies(const std::string& cgroup_root, const std::string& proc_self_cgroup_text);

// The name=systemd line of /proc/self/cgroup text, as a hierarchy whose one
// "controller" is "name=systemd", when ROOT/systemd exists; else nothing.
std::optional<V1Hierarchy> v1_systemd_hierarchy(const std::string& cgroup_root,
                                                const std::string& proc_self_cgroup_text);

// controller -> absolute directory of the container's cgroup (see above).
// Throws os::Error for a cgroupsPath that is not usable as a path.
std::map<std::string, std::string> v1_cgroup_dirs(const std::vector<V1Hierarchy>& hierarchies,
                                                  const std::string& cgroups_path, const std::string& id);

class V1Manager final : public Manager {
 public:
  explicit V1Manager(std::map<std::string, std::string> dirs) : dirs_(std::move(dirs)) {}
  // From path(); throws os::Error for text that is not such an object.
  static std::unique_ptr<V1Manager> from_path(const std::string& path);

  Driver driver() const override { return Driver::v1; }
  std::string path() const override;
  std::vector<std::string> create(const spec::Resources* r) override;
  int clone_fd() const override { return -1; }
  void apply(pid_t pid) override;
  std::vector<os::UniqueFd> open_tasks_files() const override;
  std::vector<std::string> set(const spec::Resources& resources) override;
  void freeze() override;
  void thaw() override;
  bool frozen() const override;
  void kill_all(int sig) override;
  std::vector<pid_t> pids() const override;
  Stats stats() const override;
  void destroy() override;

  const std::map<std::string, std::string>& dirs() const { return dirs_; }

 private:
  std::vector<std::string> unique_dirs() const;
  const std::string* dir_of(const std::string& controller) const;
  // The directory whose cgroup.procs lists the container's processes.
  std::string procs_dir() const;
  void set_freezer(const char* state);

  std::map<std::string, std::string> dirs_;
};

}  // namespace rrun::cgroups
