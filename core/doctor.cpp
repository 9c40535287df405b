#include "doctor.hpp"

#include <fcntl.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include <rrun/userns/advice.hpp>
#include <rrun/userns/plan.hpp>

#include "state.hpp"
#include "version.hpp"

namespace rrun::core::doctor {

namespace {

std::string err_text(int err) {
  return std::strerror(err);
}

Check make(const char* name, Status s, std::string detail, std::string remedy = "") {
  return {name, s, std::move(detail), s == Status::ok ? "" : std::move(remedy)};
}

bool contains_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::warn:
      return "warn";
    case Status::fail:
      break;
  }
  return "fail";
}

// ---------------------------------------------------------------- verdicts

Check check_userns(const UsernsFacts& f) {
  std::string sysctls;
  if (f.max_user_namespaces) sysctls += "user.max_user_namespaces=" + std::to_string(*f.max_user_namespaces);
  if (f.unprivileged_userns_clone)
    sysctls += (sysctls.empty() ? "" : ", ") + std::string("kernel.unprivileged_userns_clone=") +
               std::to_string(*f.unprivileged_userns_clone);
  if (f.apparmor_restrict)
    sysctls += (sysctls.empty() ? "" : ", ") + std::string("kernel.apparmor_restrict_unprivileged_userns=") +
               std::to_string(*f.apparmor_restrict);
  std::string facts = sysctls.empty() ? "" : " (" + sysctls + ")";
  if (f.probe.ok()) return make("userns", Status::ok, "a user namespace with your id as root works" + facts);

  std::string detail = "cannot use a user namespace: " + f.probe.step + ": " + err_text(f.probe.error) + facts;
  std::string remedy;
  if (f.max_user_namespaces && *f.max_user_namespaces == 0) {
    remedy = "as root: `sysctl -w user.max_user_namespaces=28633`, and set it in /etc/sysctl.d/ to keep it";
  } else if (f.unprivileged_userns_clone && *f.unprivileged_userns_clone == 0) {
    remedy = "as root: `sysctl -w kernel.unprivileged_userns_clone=1`, and set it in /etc/sysctl.d/ to keep it";
  } else if (f.apparmor_restrict && *f.apparmor_restrict != 0) {
    remedy =
        "AppArmor restricts unprivileged user namespaces: as root, give rrun a profile with `userns,` in "
        "/etc/apparmor.d/, or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`";
  } else if (f.probe.error == ENOSPC) {
    remedy = "the user namespace limit is reached: raise user.max_user_namespaces";
  } else {
    remedy =
        "the kernel needs CONFIG_USER_NS; inside a container, the outer runtime's seccomp profile or LSM must allow "
        "unshare(CLONE_NEWUSER) and mounts in it";
  }
  return make("userns", Status::fail, detail, remedy);
}

Check check_idmap_tool(const IdmapToolFacts& f, bool rootless) {
  const char* name = f.tool == "newgidmap" ? "newgidmap" : "newuidmap";
  const char* cap = f.tool == "newgidmap" ? "cap_setgid" : "cap_setuid";
  if (f.path.empty()) {
    if (!rootless) return make(name, Status::ok, "not installed; not needed as root (root writes any mapping)");
    return make(name, Status::warn, std::string("not installed: ") + userns::kWithoutHelpers,
                "install it: `apt-get install uidmap` (Debian, Ubuntu) or `dnf install shadow-utils`");
  }
  if (f.setuid_root) return make(name, Status::ok, f.path + " (setuid root)");
  if (f.file_cap) return make(name, Status::ok, f.path + " (file capability " + std::string(cap) + ")");
  if (!rootless) return make(name, Status::ok, f.path + " (neither setuid nor capable; not needed as root)");
  return make(name, Status::warn,
              f.path + " is neither setuid root nor has " + cap + ": it cannot map subordinate ids, so " +
                  userns::kWithoutHelpers,
              "as root: `chmod u+s " + f.path + "`, or `setcap " + cap + "=ep " + f.path + "`");
}

Check check_subids(const SubidFacts& f, bool rootless) {
  const bool uid = f.kind != "subgid";
  const char* name = uid ? "subuid" : "subgid";
  const std::string file = uid ? "/etc/subuid" : "/etc/subgid";
  if (!rootless) return make(name, Status::ok, "not needed as root (root maps any id)");
  const std::string user = f.user.empty() ? "YOUR_USER" : f.user;
  const userns::CallerIds caller{uid ? userns::IdKind::uid : userns::IdKind::gid, 0, user, f.ranges, file};
  const std::string add = userns::add_range_remedy(caller, f.suggested_start, userns::kDefaultSubids);
  if (!f.error.empty())
    return make(name, Status::warn, "could not read the subordinate ids: " + f.error,
                "make " + file + " readable (mode 0644), or fix the libsubid source in /etc/nsswitch.conf");
  if (f.ranges.empty())
    return make(name, Status::warn,
                "no subordinate " + std::string(uid ? "uids" : "gids") + " for " + user + " in " + file +
                    " (nor from libsubid): containers get a single mapping (your own id as root)",
                "as root: " + add);
  uint64_t total = 0;
  for (const auto& r : f.ranges) total += r.count;
  std::string detail = user + ": " + userns::describe_ranges(f.ranges);
  if (total < userns::kDefaultSubids)
    return make(name, Status::warn,
                detail + "; fewer than " + std::to_string(userns::kDefaultSubids) +
                    ": images with ids up to 65534 (nobody) will not fit",
                "as root: give " + user + " a range of " + std::to_string(userns::kDefaultSubids) + ": " + add);
  return make(name, Status::ok, detail);
}

Check check_xdg_runtime_dir(const RuntimeDirFacts& f, bool rootless, uid_t uid) {
  const std::string fallback = "/tmp/rrun-" + std::to_string(uid);
  if (!rootless)
    return make("xdg_runtime_dir", Status::ok,
                "not used as root" + (f.set ? " (set to " + f.value + ")" : std::string()));
  const std::string remedy = "log in through a PAM session (systemd-logind creates /run/user/" + std::to_string(uid) +
                             "), or `loginctl enable-linger`; or pass --root";
  if (!f.set)
    return make("xdg_runtime_dir", Status::warn,
                "not set: rrun keeps its state in " + fallback + " (not removed at logout)", remedy);
  if (!f.is_dir || !f.writable)
    return make("xdg_runtime_dir", Status::warn,
                f.value + " is not a writable directory: rrun keeps its state in " + fallback, remedy);
  return make("xdg_runtime_dir", Status::ok, f.value);
}

Check check_state_dir(const StateDirFacts& f) {
  if (!f.error.empty())
    return make("state_dir", Status::fail, f.error,
                "pass --root DIR (a directory you own, mode 0700), or fix the directory named above");
  if (f.exists) return make("state_dir", Status::ok, f.root);
  if (f.parent_writable) return make("state_dir", Status::ok, f.root + " (made on first use)");
  return make("state_dir", Status::fail, f.root + " does not exist and its parent directory is not writable",
              "pass --root DIR with a directory you can write");
}

Check check_cgroups(const CgroupFacts& f, bool rootless) {
  const std::string mode = cgroups::mode_name(f.mode);
  const std::string own = f.own_cgroup.empty() ? "?" : f.own_cgroup;
  // The remedy the runs' warnings give too (cgroups::delegation_remedy).
  const std::string remedy = cgroups::delegation_remedy({f.mode, f.delegated, f.user_bus, f.systemd_init});
  if (f.mode == cgroups::Mode::none)
    return make("cgroups", Status::warn, "no cgroup file system at /sys/fs/cgroup: containers run without limits",
                remedy);
  if (!rootless) {
    if (f.mode == cgroups::Mode::v2)
      return make("cgroups", Status::ok,
                  "cgroup v2; controllers: " + (f.controllers.empty() ? "none" : join(f.controllers)));
    return make("cgroups", Status::ok, "cgroup " + mode + ": rrun uses the v1 controllers as root");
  }
  if (f.mode != cgroups::Mode::v2)
    return make("cgroups", Status::warn, "cgroup " + mode + ": rootless containers run without limits", remedy);
  if (f.delegated) {
    if (f.controllers.empty())
      return make("cgroups", Status::warn, "cgroup v2; " + own + " is delegated to you but offers no controllers",
                  remedy);
    return make("cgroups", Status::ok,
                "cgroup v2; " + own + " is delegated to you; controllers: " + join(f.controllers));
  }
  if (f.user_bus)
    return make("cgroups", Status::ok,
                "cgroup v2; " + own + " is not delegated, rrun asks systemd (user bus) for a delegated scope" +
                    (f.user_manager_controllers.empty()
                         ? std::string()
                         : "; controllers: " + join(f.user_manager_controllers)));
  return make("cgroups", Status::warn,
              "cgroup v2, but " + own +
                  " is not delegated to you and there is no user D-Bus: containers run without resource limits",
              remedy);
}

Check check_kernel_overlay(const OverlayFacts& f) {
  const std::string fallback = "rrun falls back to fuse-overlayfs (see dev_fuse and fuse_overlayfs)";
  if (f.probe.ok())
    return make(
        "kernel_overlay", Status::ok,
        "overlay with userxattr mounts in a user namespace, with copy-up, directory rename and whiteouts (tried "
        "under " +
            f.where + ")");
  const std::string what = f.probe.step + ": " + err_text(f.probe.error);
  const std::string& step = f.probe.step;
  if (step == "mount overlay") {
    std::string why;
    if (f.probe.error == ENODEV)
      why = "the overlay module is not loaded";
    else if (f.probe.error == EINVAL)
      why = "the kernel refuses `userxattr` (Linux < 5.11) or " + f.where + " lacks user xattrs";
    else if (f.probe.error == EPERM)
      why = "the kernel does not allow overlay in a user namespace (Linux < 5.11)";
    std::string remedy = f.probe.error == ENODEV ? "as root: `modprobe overlay`; or " + fallback : fallback;
    return make("kernel_overlay", Status::warn,
                "kernel overlay in a user namespace refused: " + what + (why.empty() ? "" : " (" + why + ")"), remedy);
  }
  if (step == "copy-up" || step == "rename a lower directory" || step == "remove a lower directory")
    return make("kernel_overlay", Status::warn,
                "kernel overlay mounts in a user namespace, but " + what + " (under " + f.where + ")", fallback);
  return make("kernel_overlay", Status::warn, "not tried: " + what, fallback);
}

Check check_dev_fuse(const FuseFacts& f) {
  if (!f.dev_exists)
    return make("dev_fuse", Status::warn, "/dev/fuse does not exist: fuse-overlayfs cannot run",
                "as root: `modprobe fuse`");
  if (f.open_error == 0) return make("dev_fuse", Status::ok, "/dev/fuse opens read-write");
  if (f.open_error == EACCES || f.open_error == EPERM)
    return make("dev_fuse", Status::warn,
                "/dev/fuse: " + err_text(f.open_error) + ": fuse-overlayfs cannot run for you",
                "as root: `chmod 0666 /dev/fuse` (the mode distributions ship; keep it with a udev rule "
                "`KERNEL==\"fuse\", MODE=\"0666\"`)");
  return make("dev_fuse", Status::warn, "/dev/fuse: " + err_text(f.open_error), "check the fuse module and /dev/fuse");
}

Check check_fuse_overlayfs(const FuseFacts& f) {
  if (!f.fuse_overlayfs.empty()) return make("fuse_overlayfs", Status::ok, f.fuse_overlayfs);
  return make("fuse_overlayfs", Status::warn,
              "not installed: no fallback where kernel overlay is refused in a user namespace",
              "install it: `apt-get install fuse-overlayfs`");
}

Check check_seccomp(const SeccompFacts& f) {
  const std::string lib = "libseccomp " + (f.libseccomp.empty() ? std::string("?") : f.libseccomp);
  if (!f.kernel)
    return make("seccomp", Status::warn, "the kernel has no seccomp: a spec with linux.seccomp fails",
                "a kernel with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER");
  if (!contains_word(f.actions_avail, "user_notif"))
    return make("seccomp", Status::warn,
                "seccomp filters work (" + lib + "), but the kernel has no user notification: SCMP_ACT_NOTIFY fails",
                "Linux 5.0 or later");
  return make("seccomp", Status::ok, "filters and user notification (SCMP_ACT_NOTIFY); " + lib);
}

Check check_syscall(const std::string& name, int error) {
  std::string use = name == "clone3"       ? "rrun falls back to clone (no CLONE_INTO_CGROUP)"
                    : name == "pidfd_open" ? "rrun signals by pid, which a reused pid can confuse"
                                           : "mount destinations are resolved in user space (slower)";
  std::string need = name == "openat2" ? "Linux 5.6" : "Linux 5.3";
  if (error == 0) return make(name.c_str(), Status::ok, "available");
  if (error == ENOSYS)
    return make(name.c_str(), Status::warn, "missing (" + need + " adds it): " + use, "a newer kernel");
  if (error == EPERM)
    return make(name.c_str(), Status::warn, "refused by a seccomp filter around rrun: " + use,
                "allow " + name + " in the outer runtime's seccomp profile");
  return make(name.c_str(), Status::warn, err_text(error) + ": " + use, "a newer kernel");
}

Check check_idmapped_mounts(const IdmapFacts& f, bool rootless) {
  if (f.probe.ok()) return make("idmapped_mounts", Status::ok, "mount_setattr(MOUNT_ATTR_IDMAP) works");
  const std::string what = f.probe.step + ": " + err_text(f.probe.error);
  const bool kernel_lacks = f.probe.error == ENOSYS;
  if (kernel_lacks)
    return make("idmapped_mounts", Status::warn, "missing (" + what + "): mounts with `idmap` fail",
                "Linux 5.12 or later");
  if (rootless && f.probe.step == "mount_setattr" && (f.probe.error == EPERM || f.probe.error == EINVAL))
    return make("idmapped_mounts", Status::ok,
                "the kernel has them, but only root may idmap a host directory (" + what +
                    "); not needed for rootless containers");
  return make("idmapped_mounts", Status::warn, what + " (tried under " + f.where + "): mounts with `idmap` fail",
              "idmapped mounts need Linux 5.12 and a file system that supports them (ext4, xfs, btrfs, tmpfs 6.3+)");
}

// ---------------------------------------------------------------- the run

bool Report::ok() const {
  return std::none_of(checks.begin(), checks.end(), [](const Check& c) { return c.status == Status::fail; });
}

Report evaluate(const Facts& f) {
  Report r;
  r.checks.push_back(check_userns(f.userns));
  // Root in a user namespace (rootless Podman, rootlesskit) needs neither:
  // containers share its namespace, or get maps it writes itself.
  const bool needs_subids = f.rootless && f.uid != 0;
  r.checks.push_back(check_idmap_tool(f.newuidmap, needs_subids));
  r.checks.push_back(check_idmap_tool(f.newgidmap, needs_subids));
  r.checks.push_back(check_subids(f.subuid, needs_subids));
  r.checks.push_back(check_subids(f.subgid, needs_subids));
  r.checks.push_back(check_xdg_runtime_dir(f.xdg, f.rootless, f.uid));
  r.checks.push_back(check_state_dir(f.state));
  r.checks.push_back(check_cgroups(f.cgroup, f.rootless));
  r.checks.push_back(check_kernel_overlay(f.overlay));
  r.checks.push_back(check_dev_fuse(f.fuse));
  r.checks.push_back(check_fuse_overlayfs(f.fuse));
  r.checks.push_back(check_seccomp(f.seccomp));
  r.checks.push_back(check_syscall("clone3", f.clone3));
  r.checks.push_back(check_syscall("pidfd_open", f.pidfd_open));
  r.checks.push_back(check_syscall("openat2", f.openat2));
  r.checks.push_back(check_idmapped_mounts(f.idmap, f.rootless));
  return r;
}

std::string format_text(const Report& r) {
  std::string out;
  size_t warns = 0, fails = 0;
  for (const auto& c : r.checks) {
    std::string status = status_name(c.status);
    status.resize(6, ' ');
    out += status + c.name + ": " + c.detail;
    if (!c.remedy.empty()) out += "; remedy: " + c.remedy;
    out += '\n';
    warns += c.status == Status::warn;
    fails += c.status == Status::fail;
  }
  auto plural = [](size_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); };
  if (fails)
    out += "rootless containers cannot run here: " + plural(fails, "check") + " failed, " + plural(warns, "warning") +
           "\n";
  else
    out += "rootless containers can run here (" + plural(warns, "warning") + ")\n";
  return out;
}

std::string format_json(const Report& r) {
  nlohmann::ordered_json j;
  j["ok"] = r.ok();
  j["checks"] = nlohmann::ordered_json::array();
  for (const auto& c : r.checks) {
    nlohmann::ordered_json o;
    o["name"] = c.name;
    o["status"] = status_name(c.status);
    o["detail"] = c.detail;
    o["remedy"] = c.remedy;
    j["checks"].push_back(std::move(o));
  }
  return j.dump(2) + "\n";
}

// ---------------------------------------------------------------- gathering

namespace {

std::optional<long> read_sysctl(const std::string& path) {
  try {
    auto text = os::read_file_if_exists(path);
    if (!text) return std::nullopt;
    return std::strtol(text->c_str(), nullptr, 10);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The first executable NAME on $PATH, then in the usual system directories.
std::string find_program(const std::string& name) {
  std::string dirs;
  if (const char* p = std::getenv("PATH")) dirs = p;
  dirs += ":/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
  std::istringstream in(dirs);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty() || dir[0] != '/') continue;
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

IdmapToolFacts idmap_tool_facts(const std::string& tool, cap_value_t needed) {
  IdmapToolFacts f;
  f.tool = tool;
  f.path = find_program(tool);
  if (f.path.empty()) return f;
  struct stat st {};
  if (::stat(f.path.c_str(), &st) == 0) f.setuid_root = st.st_uid == 0 && (st.st_mode & S_ISUID);
  if (cap_t caps = cap_get_file(f.path.c_str())) {
    cap_flag_value_t v = CAP_CLEAR;
    if (cap_get_flag(caps, needed, CAP_PERMITTED, &v) == 0) f.file_cap = v == CAP_SET;
    cap_free(caps);
  }
  return f;
}

SubidFacts subid_facts(const char* kind, const std::string& user, uid_t uid) {
  SubidFacts f;
  f.kind = kind;
  f.user = user;
  const bool is_uid = std::strcmp(kind, "subuid") == 0;
  try {
    f.ranges = is_uid ? userns::subordinate_uids(user, uid) : userns::subordinate_gids(user, uid);
  } catch (const std::exception& e) {
    f.error = e.what();
  }
  std::string text;
  try {
    text = os::read_file_if_exists(is_uid ? "/etc/subuid" : "/etc/subgid").value_or("");
  } catch (const std::exception&) {
  }
  f.suggested_start = userns::free_subid_start(text, userns::kDefaultSubids, f.ranges);
  return f;
}

bool writable_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
         ::faccessat(AT_FDCWD, path.c_str(), W_OK | X_OK, AT_EACCESS) == 0;
}

std::string parent_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  return pos == 0 ? "/" : path.substr(0, pos);
}

}  // namespace

Facts gather_facts(const Request& req) {
  Facts f;
  f.rootless = req.rootless;
  f.uid = ::geteuid();
  const std::string user = user_name(f.uid);

  f.userns.max_user_namespaces = read_sysctl("/proc/sys/user/max_user_namespaces");
  f.userns.unprivileged_userns_clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
  f.userns.apparmor_restrict = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  f.userns.probe = probe_user_namespace();

  f.newuidmap = idmap_tool_facts("newuidmap", CAP_SETUID);
  f.newgidmap = idmap_tool_facts("newgidmap", CAP_SETGID);
  f.subuid = subid_facts("subuid", user, f.uid);
  f.subgid = subid_facts("subgid", user, f.uid);

  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  f.xdg.set = xdg && *xdg;
  if (f.xdg.set) {
    f.xdg.value = xdg;
    struct stat st {};
    f.xdg.is_dir = ::stat(xdg, &st) == 0 && S_ISDIR(st.st_mode);
    f.xdg.writable = writable_dir(xdg);
  }

  RootDirRequest rr;
  rr.flag = req.root_flag;
  rr.rootless = req.rootless;
  rr.uid = f.uid;
  rr.xdg_runtime_dir = xdg;
  rr.create = false;
  try {
    f.state.root = resolve_state_root(rr);
    struct stat st {};
    f.state.exists = ::stat(f.state.root.c_str(), &st) == 0;
    if (!f.state.exists) f.state.parent_writable = writable_dir(parent_of(f.state.root));
  } catch (const std::exception& e) {
    f.state.error = e.what();
  }

  f.cgroup.mode = cgroups::detect_mode();
  try {
    f.cgroup.own_cgroup = cgroups::own_cgroup_v2(os::read_file("/proc/self/cgroup"));
  } catch (const std::exception&) {
  }
  if (!f.cgroup.own_cgroup.empty() && f.cgroup.mode != cgroups::Mode::none) {
    std::string base = f.cgroup.mode == cgroups::Mode::v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    std::string dir = base + (f.cgroup.own_cgroup == "/" ? "" : f.cgroup.own_cgroup);
    f.cgroup.delegated = cgroups::v2_subtree_writable(dir);
    f.cgroup.controllers = cgroups::available_controllers(dir);
  }
  const char* bus = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  f.cgroup.user_bus = (bus && *bus) || (f.xdg.set && os::path_exists(f.xdg.value + "/bus"));
  f.cgroup.systemd_init = cgroups::systemd_is_init();
  if (f.cgroup.mode == cgroups::Mode::v2 && f.cgroup.user_bus && !f.cgroup.delegated) {
    // systemd's own layout for the user manager's cgroup.
    const std::string uid = std::to_string(::getuid());
    auto text = os::read_file_if_exists("/sys/fs/cgroup/user.slice/user-" + uid + ".slice/user@" + uid +
                                        ".service/cgroup.subtree_control");
    if (text) f.cgroup.user_manager_controllers = os::words(*text);
  }

  const std::string tmp = probe_tmp_base();
  f.overlay.where = tmp;
  f.overlay.probe = probe_kernel_overlay(tmp);

  struct stat st {};
  f.fuse.dev_exists = ::stat("/dev/fuse", &st) == 0;
  if (f.fuse.dev_exists) {
    int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
    f.fuse.open_error = fd < 0 ? errno : 0;
    if (fd >= 0) ::close(fd);
  }
  f.fuse.fuse_overlayfs = find_program("fuse-overlayfs");

  f.seccomp.kernel = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
  try {
    f.seccomp.actions_avail = os::read_file_if_exists("/proc/sys/kernel/seccomp/actions_avail").value_or("");
  } catch (const std::exception&) {
  }
  f.seccomp.libseccomp = libseccomp_version();

  f.clone3 = probe_clone3();
  f.pidfd_open = probe_pidfd_open();
  f.openat2 = probe_openat2();
  f.idmap.where = tmp;
  f.idmap.probe = probe_idmapped_mount(tmp);
  return f;
}

}  // namespace rrun::core::doctor
