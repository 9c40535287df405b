#include "detect.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

namespace rrun::cgroups {

namespace {

FsType fs_type(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return FsType::absent;
  switch (static_cast<unsigned long>(st.f_type)) {
    case CGROUP2_SUPER_MAGIC:
      return FsType::cgroup2;
    case CGROUP_SUPER_MAGIC:
      return FsType::cgroup1;
    case TMPFS_MAGIC:
      return FsType::tmpfs;
    default:
      return FsType::other;
  }
}

bool writable(const std::string& path) {
  return ::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0;
}

}  // namespace

Mode decide_mode(const MountFacts& facts) {
  if (facts.root == FsType::cgroup2) return Mode::v2;
  if (facts.root != FsType::tmpfs) return Mode::none;
  if (facts.unified == FsType::cgroup2) return Mode::hybrid;
  if (facts.v1_controllers) return Mode::v1;
  return Mode::none;
}

MountFacts probe_mounts(const std::string& cgroup_root) {
  MountFacts facts;
  facts.root = fs_type(cgroup_root);
  if (facts.root != FsType::tmpfs) return facts;
  facts.unified = fs_type(cgroup_root + "/unified");
  for (const char* c : {"memory", "cpu", "cpuacct", "pids", "cpuset", "devices", "freezer", "blkio", "systemd"}) {
    if (fs_type(cgroup_root + "/" + c) == FsType::cgroup1) {
      facts.v1_controllers = true;
      break;
    }
  }
  return facts;
}

Mode detect_mode(const std::string& cgroup_root) {
  return decide_mode(probe_mounts(cgroup_root));
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::v1:
      return "v1";
    case Mode::hybrid:
      return "hybrid";
    case Mode::v2:
      return "v2";
    case Mode::none:
      break;
  }
  return "none";
}

const char* driver_name(Driver d) {
  switch (d) {
    case Driver::v2:
      return "v2";
    case Driver::systemd:
      return "systemd";
    case Driver::v1:
      return "v1";
    case Driver::none:
      break;
  }
  return "none";
}

bool is_systemd_cgroups_path(const std::string& cgroups_path) {
  if (cgroups_path.empty() || cgroups_path[0] == '/') return false;
  size_t first = cgroups_path.find(':');
  if (first == std::string::npos) return false;
  size_t second = cgroups_path.find(':', first + 1);
  if (second == std::string::npos) return false;
  return cgroups_path.find(':', second + 1) == std::string::npos;
}

Driver choose_driver(const DetectInput& in) {
  if (in.mode == Mode::none) return Driver::none;
  bool want_systemd = in.systemd_flag || is_systemd_cgroups_path(in.cgroups_path);
  if (!in.rootless) {
    if (want_systemd) return Driver::systemd;
    return in.mode == Mode::v2 ? Driver::v2 : Driver::v1;
  }
  // Rootless: v1 controllers are never delegated, and a user systemd cannot
  // delegate them either (runc refuses rootless systemd on v1).
  if (in.mode != Mode::v2) return Driver::none;
  if (want_systemd && in.has_dbus_session) return Driver::systemd;
  if (in.v2_delegated) return Driver::v2;
  if (in.has_dbus_session) return Driver::systemd;
  return Driver::none;
}

std::string own_cgroup_v2(const std::string& proc_self_cgroup_text) {
  std::string out;
  bool found = false;
  os::for_each_line(proc_self_cgroup_text, [&](std::string_view line) {
    if (!found && line.substr(0, 3) == "0::") {
      out = line.substr(3);
      found = true;
    }
  });
  return out;
}

bool v2_subtree_writable(const std::string& cgroup_dir) {
  return writable(cgroup_dir) && writable(cgroup_dir + "/cgroup.procs") &&
         writable(cgroup_dir + "/cgroup.subtree_control");
}

std::vector<std::string> available_controllers(const std::string& cgroup_dir) {
  std::vector<std::string> out;
  auto text = os::read_file_if_exists(cgroup_dir + "/cgroup.controllers");
  if (!text) return out;
  return os::words(*text);
}

namespace {

const char* const kChownSubtree =
    "have an administrator delegate a cgroup v2 subtree to you (chown the directory, its cgroup.procs, "
    "cgroup.subtree_control and cgroup.threads)";

}  // namespace

std::string delegation_remedy(const DelegationFacts& f) {
  if (f.mode == Mode::none) return "as root: mount cgroup2 on /sys/fs/cgroup";
  if (f.mode != Mode::v2) {
    const std::string why = "cgroup v1 controllers are never delegated to users; ";
    if (f.systemd_init)
      return why + "as root: boot with cgroup v2 (`systemd.unified_cgroup_hierarchy=1` on the kernel command line)";
    return why +
           "as root: have the host mount cgroup v2 alone at boot (cgroup2 on /sys/fs/cgroup, `cgroup_no_v1=all` on "
           "the kernel command line), then delegate a subtree to the user (chown the directory, its cgroup.procs, "
           "cgroup.subtree_control and cgroup.threads)";
  }
  if (f.delegated) {
    if (f.systemd_init)
      return "as root: delegate the controllers to user sessions (`Delegate=cpu cpuset io memory pids` in a drop-in "
             "for user@.service)";
    return "have an administrator enable the controllers in the parent's cgroup.subtree_control";
  }
  if (f.user_manager) return std::string("run rrun under `systemd-run --user --scope -p Delegate=yes rrun ...`, or ") + kChownSubtree;
  if (f.systemd_init)
    return std::string("start your systemd user manager (log in through a PAM session, or as root `loginctl "
                       "enable-linger USER`): rrun then asks it for a delegated scope; or ") +
           kChownSubtree;
  return kChownSubtree;
}

bool systemd_is_init(const std::string& run_root) {
  struct stat st {};
  return ::lstat((run_root + "/systemd/system").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace rrun::cgroups
