// The container init, from clone() to execve() of the user process. Reads
// top-down in the order of DESIGN.md "The create flow", step 4. Every step
// returns 0 or -1 with the failure filled; nothing here throws or returns.

#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <rrun/os/fd.hpp>
#include <rrun/os/step.hpp>
#include <rrun/os/syscall.hpp>
#include <rrun/rootfs/resolve.hpp>
#include <rrun/rootfs/setup.hpp>

#include "exe_guard.hpp"
#include "fuse_overlays.hpp"
#include "hooks.hpp"
#include "init.hpp"
#include "init_steps.hpp"
#include "lsm.hpp"
#include "netlo.hpp"
#include "pid1.hpp"
#include "sync.hpp"

namespace rrun::core {

namespace {

// The state JSON for the hooks run in the container (createContainer,
// startContainer): the parent's, made before the clone with pid 0, with the
// pid as seen by the container (runtime.md "State") and `status`.
std::string container_hook_state(const InitPlan& plan, const char* status) {
  std::string s = plan.hook_state;
  auto replace = [&s](const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    if (at != std::string::npos) s.replace(at, from.size(), to);
  };
  replace("\"pid\":0", "\"pid\":" + std::to_string(::getpid()));
  replace("\"status\":\"creating\"", std::string("\"status\":\"") + status + "\"");
  return s;
}

// After `committed`, failures no longer go to the parent (it has exited) but
// into the exec FIFO, where `start` reads them.
[[noreturn]] void die(const InitPlan& plan, const os::StepFailure& f, int fifo_fd = -1) noexcept {
  if (fifo_fd >= 0) {
    char line[sizeof f.step + sizeof f.detail + 160];
    int n = std::snprintf(line, sizeof line, "%s: %s%s%s\n", f.step, f.detail, f.err ? ": " : "",
                          f.err ? std::strerror(f.err) : "");
    if (n > 0) {
      ssize_t ignored = ::write(fifo_fd, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1);
      (void)ignored;
    }
  } else {
    send_failure(plan.sync_fd, f);
  }
  ::_exit(1);
}

int expect(const InitPlan& plan, Msg m, os::StepFailure& f) noexcept {
  Packet p;
  if (recv_packet(plan.sync_fd, p) < 0) return os::fail_step(f, errno, "sync", "receive %s from rrun", msg_name(m));
  if (p.type == Msg::none) ::_exit(1);  // rrun is gone: nobody to report to
  if (p.type != m) return os::fail_step(f, EPROTO, "sync", "expected %s, got %s", msg_name(m), msg_name(p.type));
  return 0;
}

int send(const InitPlan& plan, Msg m, os::StepFailure& f, int fd = -1) noexcept {
  Packet p;
  p.type = m;
  if (send_packet(plan.sync_fd, p, fd) < 0) return os::fail_step(f, errno, "sync", "send %s to rrun", msg_name(m));
  return 0;
}

int become_root_in_user_namespace(const InitPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.become_root) return 0;
  if (::setresgid(0, 0, 0) < 0) return os::fail_step(f, errno, "setresgid", "become gid 0 in the user namespace");
  if (::setresuid(0, 0, 0) < 0) return os::fail_step(f, errno, "setresuid", "become uid 0 in the user namespace");
  return 0;
}

// `timens_fd`: /proc/self/timens_offsets, opened while we were still
// dumpable (afterwards our /proc files belong to global root, which a
// rootless init is not); -1 without timeOffsets.
int join_and_unshare_namespaces(const InitPlan& plan, int timens_fd, os::StepFailure& f) noexcept {
  for (const auto& j : plan.joins) {
    if (::setns(j.fd, j.nstype) < 0) return os::fail_step(f, errno, "setns", "join namespace (type %#x)", j.nstype);
    ::close(j.fd);
  }
  if (plan.unshare_flags && ::unshare(static_cast<int>(plan.unshare_flags)) < 0)
    return os::fail_step(f, errno, "unshare", "create namespaces (flags %#lx)", plan.unshare_flags);
  if (!plan.timens_offsets.empty()) {
    int fd = timens_fd;
    if (fd < 0) return os::fail_step(f, EBADF, "timens", "open `/proc/self/timens_offsets`");
    ssize_t n = ::write(fd, plan.timens_offsets.data(), plan.timens_offsets.size());
    int err = errno;
    ::close(fd);
    if (n < 0) return os::fail_step(f, err, "timens", "write linux.timeOffsets");
  }
  return 0;
}

// The init of a foreground `run` dies with rrun (bubblewrap's
// --die-with-parent): SIGKILL, which reaches it as pid 1 of its pid
// namespace too, since rrun is outside that namespace. The kernel forgets the
// signal when the credentials change (setresuid, capabilities gained) and on
// a set-id exec, so this comes after apply_user and apply_capabilities, and
// after a second fork's middle process was reaped (rrun reaps it before
// hooks_done): our parent is then rrun, the child subreaper. If rrun died
// before this, `committed` never comes: we see EOF there and exit.
int set_parent_death_signal(const InitPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.die_with_parent) return 0;
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    return os::fail_step(f, errno, "prctl", "die with rrun (PR_SET_PDEATHSIG)");
  return 0;
}

int set_hostname(const InitPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.hostname.empty() && ::sethostname(plan.hostname.data(), plan.hostname.size()) < 0)
    return os::fail_step(f, errno, "sethostname", "set hostname `%s`", plan.hostname.c_str());
  if (!plan.domainname.empty() && ::setdomainname(plan.domainname.data(), plan.domainname.size()) < 0)
    return os::fail_step(f, errno, "setdomainname", "set domainname `%s`", plan.domainname.c_str());
  return 0;
}

// Before pivot_root, through the container's /proc (mounted inside the
// rootfs, resolved without leaving it): readonlyPaths make /proc/sys
// read-only in finalize_rootfs, as runc writes sysctls before them. Sharing
// rrun's mount namespace, the container has no /proc of its own: the keys
// (all of namespaces the container owns) go through rrun's.
int apply_sysctl(const InitPlan& plan, os::StepFailure& f) noexcept {
  if (plan.sysctl.empty()) return 0;
  const char* dir = plan.rootfs.own_mount_ns ? plan.rootfs.rootfs.c_str() : "/";
  os::UniqueFd root(::open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return os::fail_step(f, errno, "sysctl", "open the rootfs `%s`", dir);
  for (const auto& [key, value] : plan.sysctl) {
    char path[512];
    std::snprintf(path, sizeof path, "/proc/sys/%s", key.c_str());
    os::UniqueFd target(rootfs::open_in_root(root.get(), path));
    if (!target.valid()) return os::fail_step(f, errno, "sysctl", "open `%s` in the container", path);
    char reopen[64];
    std::snprintf(reopen, sizeof reopen, "/proc/self/fd/%d", target.get());
    int fd = ::open(reopen, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return os::fail_step(f, errno, "sysctl", "open `%s` in the container", path);
    ssize_t n = ::write(fd, value.data(), value.size());
    int err = errno;
    ::close(fd);
    if (n < 0) return os::fail_step(f, err, "sysctl", "write `%s` to `%s`", value.c_str(), path);
  }
  return 0;
}

int join_session_keyring(const InitPlan& plan, os::StepFailure& f) noexcept {
  if (plan.no_new_keyring) return 0;
  if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, plan.keyring_name.c_str()) < 0) {
    // As runc: the keyring is best effort where the kernel or a seccomp
    // profile of the caller refuses it.
    if (errno == ENOSYS || errno == EPERM || errno == EACCES || errno == EDQUOT) return 0;
    return os::fail_step(f, errno, "keyctl", "join session keyring `%s`", plan.keyring_name.c_str());
  }
  return 0;
}

// process.cwd is created when missing (0755, as runc does), inside the
// rootfs (the current directory here), before root.readonly applies.
int create_cwd(const InitPlan& plan, os::StepFailure& f) noexcept {
  int root = ::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return os::fail_step(f, errno, "cwd", "open the rootfs");
  int fd = rootfs::create_in_root(root, plan.cwd.c_str(), true);
  int err = errno;
  ::close(root);
  if (fd < 0) return os::fail_step(f, err, "cwd", "create process.cwd `%s` in the rootfs", plan.cwd.c_str());
  ::close(fd);
  return 0;
}

int change_to_cwd(const InitPlan& plan, os::StepFailure& f) noexcept {
  if (::chdir(plan.cwd.c_str()) < 0)
    return os::fail_step(f, errno, "cwd", "change to process.cwd `%s`", plan.cwd.c_str());
  return 0;
}

// Stdio that is the caller's /dev/null (conmon gives a detached container
// one) becomes the container's own /dev/null, as runc does: a file of the
// host's /dev is on a mount the container does not have, which CRIU cannot
// dump ("Can't lookup mount"). Best effort: left as is when the container
// has no /dev/null to open. Costs three fstat() on the plain path.
void reopen_dev_null() noexcept {
  int null_fd = -1;
  for (int fd = 0; fd < 3; ++fd) {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) continue;
    if (null_fd < 0) null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) return;
    ::dup3(null_fd, fd, 0);
  }
  if (null_fd >= 0) ::close(null_fd);
}

// Blocks until `start` opens the FIFO; returns the write end. The FIFO is
// reopened through our O_PATH fd, which needs no search permission on the
// 0700 state directory (process.user may not be its owner), only /proc:
// the container's, or `proc_fds` (rrun's /proc/self/fd, opened before the
// chroot of a container without a mount namespace), -1 for none.
int wait_for_start(const InitPlan& plan, int proc_fds, os::StepFailure& f) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "%s%d", proc_fds < 0 ? "/proc/self/fd/" : "", plan.fifo_fd);
  int fd;
  do {
    fd = ::openat(proc_fds < 0 ? AT_FDCWD : proc_fds, path, O_WRONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (proc_fds >= 0) ::close(proc_fds);
  if (fd < 0)
    return os::fail_step(f, errno, "start", "open the exec FIFO through `%s` (the container needs /proc mounted)",
                         path);
  ::close(plan.fifo_fd);
  if (::write(fd, "0", 1) != 1) return os::fail_step(f, errno, "start", "write the exec FIFO");
  return fd;
}

// rrun's own fds (the state lock above all: a flock belongs to the open file,
// so a copy here would keep `start` waiting) are closed at once; only stdio,
// the preserved fds and those the plan names stay.
void close_inherited_fds(const InitPlan& plan) noexcept {
  KeptFds keep;
  keep.add(plan.sync_fd);
  keep.add(plan.fifo_fd);
  keep.add(plan.trampoline_fd);
  keep.add(plan.rrun_init_fd);
  keep.add(plan.proc_fd);
  if (plan.seccomp) keep.add(plan.seccomp->bpf.get());
  for (const auto& j : plan.joins) keep.add(j.fd);
  for (int fd : plan.cgroup_tasks_fds) keep.add(fd);
  close_fds_except(plan.preserve_fds, keep);
}

// rrun's init (pid1.hpp) runs the process; without it, the trampoline or nothing.
ExecVia exec_via(const InitPlan& plan) noexcept {
  if (plan.rrun_init_fd >= 0) return {plan.rrun_init_fd, kInitMarker};
  return {plan.trampoline_fd, kTrampolineMarker};
}

// For rrun's init, from the clone on: the mask survives execve, so a signal
// sent to the container before the init's first instruction (`kill` of a
// created container, a job's SIGTERM right after `start`) waits for it
// instead of being dropped (PID 1 of a pid namespace ignores the signals it
// neither handles nor blocks); the init forwards it to the process. Hooks
// and helpers the init starts unblock their own. Through the system call:
// glibc keeps two real-time signals out.
void block_all_signals() noexcept {
  unsigned long all = ~0UL;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, sizeof all);
}

}  // namespace

void container_init(const InitPlan& plan) noexcept {
  close_inherited_fds(plan);
  os::StepFailure f;
  if (plan.rrun_init_fd >= 0) {
    block_all_signals();
  } else {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }

  // In its cgroups before anything else, so that everything it does counts
  // there; the parent meanwhile writes the id maps.
  if (join_cgroups(plan.cgroup_tasks_fds, f) < 0) die(plan, f);
  if (expect(plan, Msg::maps_written, f) < 0) die(plan, f);
  // While still dumpable: /proc/self/oom_score_adj is ours to open only now.
  if (apply_oom_score_adj(plan.process, f) < 0) die(plan, f);
  // Opened while still dumpable, like oom_score_adj above.
  int timens_fd = -1;
  if (!plan.timens_offsets.empty()) {
    timens_fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (timens_fd < 0) {
      os::fail_step(f, errno, "timens", "open `/proc/self/timens_offsets`");
      die(plan, f);
    }
  }
  // Not dumpable until exec: no other process of the container can open
  // /proc/PID/exe (the rrun binary) or ptrace us (CVE-2019-5736). Only now:
  // a non-dumpable process's /proc files belong to root, and a rootless
  // parent had to write our uid_map first.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (join_and_unshare_namespaces(plan, timens_fd, f) < 0) die(plan, f);
  bool setgroups_allowed = plan.setgroups_allowed && !userns_denies_setgroups();
  if (become_root_in_user_namespace(plan, f) < 0) die(plan, f);
  if (plan.fork_again && fork_and_report_pid(plan.sync_fd, f) < 0) die(plan, f);
  if (start_session(f) < 0) die(plan, f);
  if (set_hostname(plan, f) < 0) die(plan, f);
  if (plan.loopback_up && bring_up_loopback(f) < 0) die(plan, f);
  SyncFuseStarter fuse(plan.sync_fd);
  if (rootfs::prepare_rootfs(plan.rootfs, f, &fuse) < 0) die(plan, f);
  if (send(plan, Msg::rootfs_ready, f) < 0) die(plan, f);
  if (expect(plan, Msg::hooks_done, f) < 0) die(plan, f);
  for (size_t i = 0; i < plan.create_container_hooks.size(); ++i)
    if (run_hook(plan.create_container_hooks[i], container_hook_state(plan, "creating"), "createContainer", i, f) < 0)
      die(plan, f);
  if (create_cwd(plan, f) < 0) die(plan, f);
  if (apply_misc(plan.process, f) < 0) die(plan, f);
  if (apply_sysctl(plan, f) < 0) die(plan, f);
  int proc_fds = plan.rootfs.own_mount_ns ? -1 : ::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfs::finalize_rootfs(plan.rootfs, f) < 0) die(plan, f);
  if (plan.rootfs.own_mount_ns) reopen_dev_null();
  if (join_session_keyring(plan, f) < 0) die(plan, f);
  int master = -1;
  if (plan.terminal && setup_terminal(plan.console_rows, plan.console_cols, &master, f) < 0) die(plan, f);
  if (change_to_cwd(plan, f) < 0) die(plan, f);
  if (plan.rlimits_in_child && apply_rlimits(plan.process, f) < 0) die(plan, f);
  // A notify listener's fd must reach rrun, which is gone once `create`
  // returns: such a filter is loaded here in any case.
  // Before seccomp (it may deny open): runc sets HOME from /etc/passwd too.
  const char* home = home_env(plan.process.uid, plan.env);
  bool seccomp_late = false;
  if (load_seccomp_early(plan.seccomp, plan.process, plan.sync_fd, &seccomp_late, f) < 0) die(plan, f);
  if (apply_user(plan.process, setgroups_allowed, f) < 0) die(plan, f);
  if (apply_capabilities(plan.caps, f) < 0) die(plan, f);
  if (set_parent_death_signal(plan, f) < 0) die(plan, f);
  char exe[4096];
  if (resolve_executable(plan.args, plan.env, exe, sizeof exe, f) < 0) die(plan, f);
  // Before `ready`, as runc: a profile that is not loaded fails `create`.
  // It takes effect at the next exec (startContainer hooks included, as in runc).
  if (apply_apparmor_profile(plan.proc_fd, plan.process.apparmor_profile, f) < 0) die(plan, f);
  if (send(plan, Msg::ready, f, master) < 0) die(plan, f);
  if (master >= 0) ::close(master);
  if (expect(plan, Msg::committed, f) < 0) die(plan, f);
  ::close(plan.sync_fd);

  int fifo = wait_for_start(plan, proc_fds, f);
  if (fifo < 0) {
    // Nobody to tell but our stderr: start sees EOF without "0" and reports it.
    dprintf(2, "rrun: %s: %s: %s\n", f.step, f.detail, std::strerror(f.err));
    ::_exit(1);
  }
  for (size_t i = 0; i < plan.start_container_hooks.size(); ++i)
    if (run_hook(plan.start_container_hooks[i], container_hook_state(plan, "created"), "startContainer", i, f) < 0)
      die(plan, f, fifo);
  if (apply_no_new_privs(plan.process, f) < 0) die(plan, f, fifo);
  if (plan.seccomp && seccomp_late && apply_seccomp(*plan.seccomp, nullptr, f) < 0) die(plan, f, fifo);
  if (close_fds_on_exec(plan.preserve_fds, f) < 0) die(plan, f, fifo);

  exec_process(exe, plan.args, plan.env, exec_via(plan), home);
  os::fail_step(f, errno, "exec", "execute `%s`", exe);
  die(plan, f, fifo);
}

}  // namespace rrun::core
