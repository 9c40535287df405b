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

std::string basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Our own cgroup and whether it is delegated to us.
struct OwnCgroup {
  Mode mode = Mode::none;
  std::string self_text;  // /proc/self/cgroup
  std::string own;        // the v2 path, "" on other modes
  std::string own_dir;
  bool own_is_leaf = false;  // rootless in the leaf an earlier rrun made: the delegation is its parent
  bool delegated = false;
};

OwnCgroup find_own_cgroup(const Roots& roots, std::optional<Mode> mode, bool rootless) {
  OwnCgroup o;
  o.mode = mode ? *mode : detect_mode(roots.cgroup_root);
  try {
    o.self_text = os::read_file_if_exists(roots.proc_self_cgroup).value_or("");
  } catch (const std::exception&) {
  }
  o.own = o.mode == Mode::v2 ? own_cgroup_v2(o.self_text) : "";
  o.own_dir = o.own.empty() ? "" : cgfs::clean(roots.cgroup_root + "/" + o.own);
  if (o.mode == Mode::v2 && !o.own.empty()) {
    if (rootless && basename(o.own) == kLeafName && o.own != "/" + std::string(kLeafName) &&
        v2_subtree_writable(cgfs::dirname(o.own_dir)))
      o.own_is_leaf = true;
    o.delegated = v2_subtree_writable(o.own_is_leaf ? cgfs::dirname(o.own_dir) : o.own_dir);
  }
  return o;
}

}  // namespace

std::string delegation_remedy_here(const Roots& roots) {
  OwnCgroup o = find_own_cgroup(roots, std::nullopt, true);
  DelegationFacts f{o.mode, o.delegated, false, systemd_is_init()};
  if (o.mode == Mode::v2 && !o.delegated) f.user_manager = systemd_bus_reachable(true);
  return delegation_remedy(f);
}

std::unique_ptr<Manager> make_manager(const ManagerRequest& req) {
  const Roots& roots = req.roots;
  const OwnCgroup o = find_own_cgroup(roots, req.mode, req.rootless);
  const Mode mode = o.mode;
  const std::string& self_text = o.self_text;
  const std::string& own = o.own;
  const std::string& own_dir = o.own_dir;
  const bool own_is_leaf = o.own_is_leaf;
  const bool delegated = o.delegated;

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
      if (!req.rootless) return std::make_unique<NoneManager>();
      return std::make_unique<NoneManager>(
          delegation_remedy({mode, delegated, in.has_dbus_session, systemd_is_init()}));
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

std::string describe_missing_limits(const spec::Resources& r, const std::string& remedy) {
  std::vector<std::string> limits = requested_limits(r);
  if (limits.empty()) return "";
  std::string msg = "no cgroup is delegated to this user, so these limits were not applied: ";
  for (size_t i = 0; i < limits.size(); ++i) {
    if (i) msg += ", ";
    msg += limits[i];
  }
  return msg + "; to get a delegated cgroup: " + remedy;
}

std::string NoneManager::remedy() const {
  return remedy_.empty() ? delegation_remedy_here() : remedy_;
}

void NoneManager::freeze() {
  throw os::Error("cannot pause the container: it has no cgroup (none driver); to get a delegated cgroup: " +
                  remedy());
}

void NoneManager::thaw() {
  throw os::Error("cannot resume the container: it has no cgroup (none driver); to get a delegated cgroup: " +
                  remedy());
}

}  // namespace rrun::cgroups
