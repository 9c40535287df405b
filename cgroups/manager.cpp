#include "manager.hpp"

#include <unistd.h>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "cgfs.hpp"
#include "resources.hpp"
#include "systemd.hpp"
#include "v1.hpp"
#include "v2.hpp"

namespace rrun::cgroups {

namespace {

const char* const kDelegationHint =
    "to get a delegated cgroup, run rrun under `systemd-run --user --scope -p Delegate=yes rrun ...`, "
    "or ask an administrator to delegate a cgroup v2 subtree to you (chown the directory, its cgroup.procs, "
    "cgroup.subtree_control and cgroup.threads)";

std::string basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::unique_ptr<Manager> make_manager(const ManagerRequest& req) {
  const Roots& roots = req.roots;
  Mode mode = req.mode ? *req.mode : detect_mode(roots.cgroup_root);
  std::string self_text;
  try {
    self_text = os::read_file_if_exists(roots.proc_self_cgroup).value_or("");
  } catch (const std::exception&) {
  }
  std::string own = mode == Mode::v2 ? own_cgroup_v2(self_text) : "";
  std::string own_dir = own.empty() ? "" : cgfs::clean(roots.cgroup_root + "/" + own);

  // Rootless in the leaf an earlier rrun made: the delegation is its parent.
  bool own_is_leaf = false;
  bool delegated = false;
  if (mode == Mode::v2 && !own.empty()) {
    if (req.rootless && basename(own) == kLeafName && own != "/" + std::string(kLeafName) &&
        v2_subtree_writable(cgfs::dirname(own_dir)))
      own_is_leaf = true;
    delegated = v2_subtree_writable(own_is_leaf ? cgfs::dirname(own_dir) : own_dir);
  }

  bool want_systemd = req.systemd_flag || is_systemd_cgroups_path(req.cgroups_path);
  DetectInput in;
  in.mode = mode;
  in.rootless = req.rootless;
  in.systemd_flag = req.systemd_flag;
  in.cgroups_path = req.cgroups_path;
  in.v2_delegated = delegated;
  // The bus matters for systemd as root, and rootless on v2 when asked for
  // or when nothing is delegated.
  std::string bus_why;
  bool bus_matters =
      mode != Mode::none && (req.rootless ? mode == Mode::v2 && (want_systemd || !delegated) : want_systemd);
  if (req.has_dbus_session)
    in.has_dbus_session = *req.has_dbus_session;
  else if (bus_matters)
    in.has_dbus_session = systemd_bus_reachable(req.rootless, &bus_why);

  std::string path = req.cgroups_path;
  Driver driver = choose_driver(in);
  if (driver != Driver::systemd && is_systemd_cgroups_path(path)) path = "";

  switch (driver) {
    case Driver::none:
      return std::make_unique<NoneManager>();
    case Driver::systemd: {
      if (!in.has_dbus_session) {
        if (bus_why.empty()) bus_why = "not reachable";
        throw os::Error(std::string(req.systemd_flag ? "--systemd-cgroup" : "linux.cgroupsPath " + os::quote(path)) +
                        ": no systemd on the " + (req.rootless ? "user" : "system") + " bus (" + bus_why +
                        "); use the cgroupfs driver (drop --systemd-cgroup and give linux.cgroupsPath as a path)");
      }
      return std::make_unique<SystemdManager>(systemd_unit(path, req.id, req.rootless), req.rootless, mode == Mode::v2,
                                              roots);
    }
    case Driver::v1: {
      auto hierarchies = v1_hierarchies(roots.cgroup_root, self_text);
      if (hierarchies.empty())
        throw os::Error("no cgroup v1 hierarchy of " + os::quote(roots.proc_self_cgroup) + " is mounted under " +
                        os::quote(roots.cgroup_root));
      if (auto systemd = v1_systemd_hierarchy(roots.cgroup_root, self_text)) hierarchies.push_back(std::move(*systemd));
      return std::make_unique<V1Manager>(v1_cgroup_dirs(hierarchies, path, req.id));
    }
    case Driver::v2: {
      if (own.empty() && req.rootless)
        throw os::Error("cannot find this process's cgroup v2 (no `0::` line in " + os::quote(roots.proc_self_cgroup) +
                        ")");
      V2Location loc = resolve_v2_location(roots.cgroup_root, own, own_is_leaf, path, req.id, req.rootless);
      // The cgroup whose processes may move to the leaf: the delegated one.
      std::string movable = own_is_leaf ? cgfs::dirname(own_dir) : own_dir;
      return std::make_unique<V2Manager>(loc.dir, loc.delegation_root, movable, req.rootless);
    }
  }
  return std::make_unique<NoneManager>();
}

std::unique_ptr<Manager> open_manager(const std::string& driver, const std::string& path, const Roots& roots) {
  if (driver == driver_name(Driver::none)) return std::make_unique<NoneManager>();
  if (driver == driver_name(Driver::v1)) return V1Manager::from_path(path);
  if (driver == driver_name(Driver::systemd)) return SystemdManager::from_path(path, roots);
  if (driver == driver_name(Driver::v2)) {
    if (path.empty() || path[0] != '/')
      throw os::Error("cgroup v2 path " + os::quote(path) + ": expected an absolute directory");
    // Rootless or not only matters for warnings on update; an unprivileged
    // caller gets EPERM as warnings.
    auto m = std::make_unique<V2Manager>(path, "", "", ::geteuid() != 0);
    m->open_dir();
    return m;
  }
  throw os::Error("unknown cgroup driver " + os::quote(driver) + " (known: v2, systemd, v1, none)");
}

std::string describe_missing_limits(const spec::Resources& r) {
  std::vector<std::string> limits = requested_limits(r);
  if (limits.empty()) return "";
  std::string msg = "no cgroup is delegated to this user, so these limits were not applied: ";
  for (size_t i = 0; i < limits.size(); ++i) {
    if (i) msg += ", ";
    msg += limits[i];
  }
  return msg + "; " + kDelegationHint;
}

void NoneManager::freeze() {
  throw os::Error(std::string("cannot pause the container: it has no cgroup (none driver); ") + kDelegationHint);
}

void NoneManager::thaw() {
  throw os::Error(std::string("cannot resume the container: it has no cgroup (none driver); ") + kDelegationHint);
}

}  // namespace rrun::cgroups
