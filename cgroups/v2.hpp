#pragma once
// The cgroup v2 (cgroupfs) driver (runc fs2, crun cgroup-cgroupfs.c).
//
// Paths (cgroup paths below are relative to the hierarchy root R, e.g.
// /sys/fs/cgroup):
// - root: an absolute cgroupsPath P is R/P; the default is R/rrun/ID; a
//   relative P is R/dirname(own)/P, own being rrun's cgroup (runc fs2: the
//   own cgroup most likely has processes, so its parent is used).
// - rootless: only inside the delegated subtree D, which is rrun's own
//   cgroup — or its parent when rrun already sits in the leaf D/init that an
//   earlier rrun made (see below). The default is D/rrun/ID; a relative P is
//   D/P; an absolute P must lie below D, else os::Error naming both.
//
// Controllers: before mkdir, every cgroup from the delegation root (R as
// root, D rootless) down to the container's parent gets in its
// cgroup.subtree_control the controllers the resources need
// (controllers_of(v2_resource_writes)) plus cpu, io, memory and pids for
// `events --stats`, where its cgroup.controllers offers them.
//
// The no-internal-processes rule: a cgroup with processes cannot enable
// controllers for its children (EBUSY). When that cgroup is D (rrun's own,
// holding rrun and maybe the user's shell), its processes move to the leaf
// D/init and the write is retried — what docker-in-docker entrypoints and
// kind do; crun instead ignores EBUSY and runs without those controllers.
// Processes of any other cgroup are never moved.
//
// path() is the absolute directory of the container's cgroup
// (/sys/fs/cgroup/rrun/c1).

#include <string>
#include <vector>

#include <rrun/os/fd.hpp>

#include "manager.hpp"

namespace rrun::cgroups {

// The leaf rrun moves the processes of its own cgroup into (see above).
inline constexpr const char* kLeafName = "init";

struct V2Location {
  std::string dir;              // absolute directory of the container's cgroup
  std::string delegation_root;  // absolute directory controllers are enabled from
};

// The pure path rule above. `own` is the 0:: path of /proc/self/cgroup;
// `own_is_leaf` says that own is D/init with D delegated (rootless only).
// Throws os::Error for a rootless path outside D and for the root cgroup.
V2Location resolve_v2_location(const std::string& cgroup_root, const std::string& own, bool own_is_leaf,
                               const std::string& cgroups_path, const std::string& id, bool rootless);

// The controllers to enable for `r`: the needed ones (controllers_of the
// writes, in first-use order) and the wanted ones for stats.
struct V2Controllers {
  std::vector<std::string> needed;
  std::vector<std::string> wanted;  // cpu io memory pids, minus those needed
};
V2Controllers v2_controllers(const spec::Resources* r);

class V2Manager final : public Manager {
 public:
  // `dir`: the container's cgroup; `delegation_root`: where enabling starts
  // ("" for a manager from open_manager, which does not create);
  // `own_dir`: rrun's own cgroup directory (whose processes may be moved to
  // the leaf); `rootless`: warnings instead of errors.
  V2Manager(std::string dir, std::string delegation_root, std::string own_dir, bool rootless);

  Driver driver() const override { return Driver::v2; }
  std::string path() const override { return dir_; }
  std::vector<std::string> create(const spec::Resources* r) override;
  int clone_fd() const override { return fd_.get(); }
  void apply(pid_t pid) override;
  std::vector<std::string> set(const spec::Resources& resources) override;
  void freeze() override;
  void thaw() override;
  bool frozen() const override;
  void kill_all(int sig) override;
  std::vector<pid_t> pids() const override;
  Stats stats() const override;
  void destroy() override;

  // Opens the cgroup directory for clone_fd() when it exists.
  void open_dir();
  // What create() left out: the controllers it could not enable (rootless).
  const std::vector<std::string>& missing_controllers() const { return missing_; }

 private:
  // Enables `controllers` in DIR/cgroup.subtree_control; returns those that
  // could not be enabled (with the reason in `why`).
  std::vector<std::string> enable(const std::string& dir, const std::vector<std::string>& controllers,
                                  std::string& why);
  void move_processes_to_leaf(const std::string& dir);
  std::vector<std::string> write_resources(const spec::Resources& r);
  void set_frozen(bool frozen);

  std::string dir_;
  std::string delegation_root_;
  std::string own_dir_;
  bool rootless_;
  os::UniqueFd fd_;
  std::vector<std::string> missing_;
};

}  // namespace rrun::cgroups
