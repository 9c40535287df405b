#pragma once
// Which cgroup hierarchy the host runs, and which driver rrun uses on it.
// The decisions are pure functions over facts (file system types, flags,
// what is writable), so unit tests feed them tables; the thin wrappers that
// gather the facts take the roots (/sys/fs/cgroup, the cgroup directory) as
// parameters, so tests point them at temp dirs laid out like cgroupfs
// (STYLE.md "Pluggable parts"; crun `detect_cgroup_mode`, youki
// `create_cgroup_manager_with_root`).

#include <string>
#include <vector>

namespace rrun::cgroups {

// v1: tmpfs at the root with v1 controller hierarchies below it.
// hybrid: v1 as above plus a cgroup2 mount at ROOT/unified.
// v2: the root itself is cgroup2 (the unified hierarchy).
// none: no cgroup file system where we looked.
enum class Mode { v1, hybrid, v2, none };

// The file system type of a path, as statfs reports it.
enum class FsType { absent, cgroup2, cgroup1, tmpfs, other };

struct MountFacts {
  FsType root = FsType::absent;     // ROOT
  FsType unified = FsType::absent;  // ROOT/unified
  bool v1_controllers = false;      // some ROOT/<controller> is a cgroup (v1) mount
};

// The pure decision (crun `detect_cgroup_mode`): cgroup2 at the root is v2;
// a tmpfs root with cgroup2 at `unified` is hybrid; a tmpfs root with v1
// controller mounts is v1; anything else is none.
Mode decide_mode(const MountFacts& facts);

// statfs of ROOT, ROOT/unified and the usual v1 controller directories,
// then decide_mode. Never throws: an unreadable root is Mode::none.
MountFacts probe_mounts(const std::string& cgroup_root = "/sys/fs/cgroup");
Mode detect_mode(const std::string& cgroup_root = "/sys/fs/cgroup");

const char* mode_name(Mode m);  // "v1", "hybrid", "v2", "none"

enum class Driver { v2, systemd, v1, none };

const char* driver_name(Driver d);  // "v2", "systemd", "v1", "none"

struct DetectInput {
  Mode mode = Mode::none;
  bool rootless = false;
  bool systemd_flag = false;      // --systemd-cgroup
  std::string cgroups_path;       // linux.cgroupsPath
  bool has_dbus_session = false;  // the bus systemd listens on is reachable (user bus when rootless)
  bool v2_delegated = false;      // our cgroup, its cgroup.procs and cgroup.subtree_control are writable
};

// True for runc's systemd form "slice:prefix:name" (three fields separated by
// ':', not a path).
bool is_systemd_cgroups_path(const std::string& cgroups_path);

// The driver (issue 4):
// - no cgroup file system: none.
// - systemd when --systemd-cgroup or cgroupsPath is "slice:prefix:name"; as
//   root always (system bus), rootless only on v2 with a user bus. Rootless
//   without one falls back to v2 when delegated, else none.
// - root: v2 on a v2 host, v1 on a v1 or hybrid host.
// - rootless on v2: v2 when our cgroup is delegated; else systemd (a transient
//   scope with Delegate=yes) when the user bus is reachable; else none.
// - rootless on v1 or hybrid: none (v1 controllers are never delegated, not
//   even by systemd; --systemd-cgroup too).
Driver choose_driver(const DetectInput& in);

// The path of the "0::/path" line of /proc/self/cgroup text ("/user.slice/…"),
// or "" when there is none (a v1-only host).
std::string own_cgroup_v2(const std::string& proc_self_cgroup_text);

// The effective ids may write the directory, its cgroup.procs and its
// cgroup.subtree_control (what running containers in a delegated subtree
// needs). Missing files count as not writable.
bool v2_subtree_writable(const std::string& cgroup_dir);

// The words of CGROUP_DIR/cgroup.controllers ("cpuset cpu io memory pids");
// empty when the file is missing.
std::vector<std::string> available_controllers(const std::string& cgroup_dir);

// What lets an unprivileged user's containers have cgroup limits on this
// host: one remedy, used by `rrun doctor` and by every warning and error
// about limits that a rootless container could not get.
struct DelegationFacts {
  Mode mode = Mode::none;
  bool delegated = false;     // our v2 cgroup is delegated (then only controllers can be missing)
  bool user_manager = false;  // a systemd user manager answers on the user bus
  bool systemd_init = false;  // systemd runs the host (systemd_is_init)
};

// - no cgroup file system: mount cgroup2 on /sys/fs/cgroup;
// - v1 or hybrid: v1 controllers are never delegated: boot with cgroup v2
//   (the systemd kernel option where systemd runs the host, else mount
//   cgroup2 alone at boot and delegate a subtree);
// - v2, nothing delegated: `systemd-run --user --scope -p Delegate=yes` when
//   a user manager answers; where systemd runs the host but no user manager
//   does, start one (a PAM login, `loginctl enable-linger`); always: an
//   administrator chowns a subtree to the user;
// - v2, delegated without the controllers: enable them for the user's
//   subtree (systemd's `Delegate=` for user@.service, or the parent's
//   cgroup.subtree_control).
std::string delegation_remedy(const DelegationFacts& f);

// Whether systemd is the init: RUN_ROOT/systemd/system is a directory (sd_booted()).
bool systemd_is_init(const std::string& run_root = "/run");

}  // namespace rrun::cgroups
