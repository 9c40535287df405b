// `exec`: a new process in a running container, top-down. The parent plans
// everything (process spec, namespaces to join, cgroup), clones the child
// into the container's cgroup, and the child joins the container's
// namespaces through the init's pidfd, sets the process up the way the init
// did (same order as child.cpp) and execs. Like the init, the child never
// throws and reports a failure over the sync socket; the socket is
// close-on-exec, so EOF after `ready` means the exec succeeded.

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <rrun/os/error.hpp>
#include <rrun/os/fault.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/os/syscall.hpp>
#include <rrun/rootfs/plan.hpp>
#include <rrun/spec/parse.hpp>
#include <rrun/userns/plan.hpp>

#include "caps.hpp"
#include "container.hpp"
#include "exe_guard.hpp"
#include "id.hpp"
#include "init_steps.hpp"
#include "lifecycle.hpp"
#include "log.hpp"
#include "lsm.hpp"
#include "process_setup.hpp"
#include "seccomp.hpp"
#include "state.hpp"
#include "sync.hpp"
#include "terminal.hpp"

namespace rrun::core {

namespace {

struct ExecPlan {
  int sync_fd = -1;
  int init_pidfd = -1;
  unsigned long join_flags = 0;  // CLONE_NEW* of the init's namespaces that differ from ours
  bool fork_again = false;       // a joined pid or time namespace applies to children only
  ProcessPlan process;
  CapsPlan caps;
  std::optional<SeccompPlan> seccomp;
  bool terminal = false;
  unsigned short console_rows = 0, console_cols = 0;
  std::string cwd;
  std::vector<std::string> args;
  std::vector<std::string> env;
  unsigned preserve_fds = 0;
  int trampoline_fd = -1;
  std::vector<int> cgroup_tasks_fds;  // v1: joined by the child (init_steps.hpp join_cgroups)
  int proc_fd = -1;                   // rrun's /proc for the AppArmor profile (lsm.hpp)
  int root_fd = -1;                   // the init's root, for a container without a mount namespace
  int guard_lock_fd = -1;             // ExecGuardLock, held until the process is executed
};

[[noreturn]] void die(const ExecPlan& plan, const os::StepFailure& f) noexcept {
  send_failure(plan.sync_fd, f);
  ::_exit(1);
}

int send(const ExecPlan& plan, Msg m, os::StepFailure& f, int fd = -1) noexcept {
  Packet p;
  p.type = m;
  if (send_packet(plan.sync_fd, p, fd) < 0) return os::fail_step(f, errno, "sync", "send %s to rrun", msg_name(m));
  return 0;
}

// The root of a container that shares rrun's mount namespace: its init only
// chrooted into the rootfs (child.cpp), so joining namespaces leaves us at
// rrun's "/". chroot needs CAP_SYS_CHROOT, which we hold after setns in the
// container's user namespace, as root in any case.
int enter_init_root(int root_fd, os::StepFailure& f) noexcept {
  if (::fchdir(root_fd) < 0 || ::chroot(".") < 0)
    return os::fail_step(f, errno, "chroot", "chroot into the root of the container init");
  ::close(root_fd);
  return 0;
}

[[noreturn]] void exec_child(const ExecPlan& plan) noexcept {
  KeptFds keep;
  keep.add(plan.sync_fd);
  keep.add(plan.init_pidfd);
  keep.add(plan.trampoline_fd);
  keep.add(plan.proc_fd);
  keep.add(plan.root_fd);
  keep.add(plan.guard_lock_fd);
  if (plan.seccomp) keep.add(plan.seccomp->bpf.get());
  for (int fd : plan.cgroup_tasks_fds) keep.add(fd);
  close_fds_except(plan.preserve_fds, keep);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  os::StepFailure f;

  Packet go;
  if (recv_packet(plan.sync_fd, go) < 0 || go.type != Msg::go) ::_exit(1);
  if (join_cgroups(plan.cgroup_tasks_fds, f) < 0) die(plan, f);
  // Still in rrun's user namespace: raising a hard limit needs
  // CAP_SYS_RESOURCE here, and /proc/self is still ours to write.
  if (apply_rlimits(plan.process, f) < 0) die(plan, f);
  if (apply_oom_score_adj(plan.process, f) < 0) die(plan, f);
  // Not dumpable until exec (exe_guard.hpp): the container must not reach
  // /proc/PID/exe, the host's rrun.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (plan.join_flags && ::setns(plan.init_pidfd, static_cast<int>(plan.join_flags)) < 0)
    os::fail_step(f, errno, "setns", "join the container's namespaces (flags %#lx; needs Linux 5.8)", plan.join_flags),
        die(plan, f);
  ::close(plan.init_pidfd);
  if (plan.fork_again && fork_and_report_pid(plan.sync_fd, f) < 0) die(plan, f);
  if (start_session(f) < 0) die(plan, f);
  // Through the container's /proc, which shows us only once we are in its
  // pid namespace (after the fork).
  bool setgroups_allowed = !userns_denies_setgroups();
  // The last look at rrun's /proc (setgroups above): from here on, a
  // container without a mount namespace sees its own root.
  if (plan.root_fd >= 0 && enter_init_root(plan.root_fd, f) < 0) die(plan, f);
  if (::chdir(plan.cwd.c_str()) < 0)
    os::fail_step(f, errno, "cwd", "change to `%s` in the container", plan.cwd.c_str()), die(plan, f);
  if (apply_umask(plan.process, f) < 0 || apply_personality(plan.process, f) < 0 ||
      apply_scheduler(plan.process, f) < 0 || apply_io_priority(plan.process, f) < 0)
    die(plan, f);
  int master = -1;
  if (plan.terminal && setup_terminal(plan.console_rows, plan.console_cols, &master, f) < 0) die(plan, f);
  // Before seccomp (it may deny open): runc sets HOME from /etc/passwd too.
  const char* home = home_env(plan.process.uid, plan.env);
  bool seccomp_late = false;
  if (load_seccomp_early(plan.seccomp, plan.process, plan.sync_fd, &seccomp_late, f) < 0) die(plan, f);
  if (apply_user(plan.process, setgroups_allowed, f) < 0) die(plan, f);
  if (apply_capabilities(plan.caps, f) < 0) die(plan, f);
  char exe[4096];
  if (resolve_executable(plan.args, plan.env, exe, sizeof exe, f) < 0) die(plan, f);
  if (apply_apparmor_profile(plan.proc_fd, plan.process.apparmor_profile, f) < 0) die(plan, f);
  if (apply_exec_cpu_affinity(plan.process, true, f) < 0) die(plan, f);
  if (apply_no_new_privs(plan.process, f) < 0) die(plan, f);
  if (plan.seccomp && seccomp_late && apply_seccomp(*plan.seccomp, nullptr, f) < 0) die(plan, f);
  if (close_fds_on_exec(plan.preserve_fds, f) < 0) die(plan, f);
  if (send(plan, Msg::ready, f, master) < 0) die(plan, f);
  if (master >= 0) ::close(master);
  exec_process(exe, plan.args, plan.env, {plan.trampoline_fd, kTrampolineMarker}, home);
  os::fail_step(f, errno, "exec", "execute `%s`", exe);
  die(plan, f);
}

// "UID[:GID]" of --user.
void parse_user(const std::string& text, spec::User& user) {
  auto number = [&](const std::string& s) -> uint32_t {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(s.c_str(), &end, 10);
    if (s.empty() || *end || errno || v > 0xfffffffeUL || s[0] == '-')
      throw os::Error("--user " + os::quote(text) + ": expected UID[:GID] with numeric ids");
    return static_cast<uint32_t>(v);
  };
  size_t colon = text.find(':');
  user.uid = number(text.substr(0, colon));
  if (colon != std::string::npos) user.gid = number(text.substr(colon + 1));
}

// The process to run: --process FILE, or the container's process with the
// command line's overrides (runc `exec`).
spec::Process exec_process_spec(const spec::Spec& container, const ExecRequest& req) {
  spec::Process p;
  if (!req.process_file.empty()) {
    std::optional<std::string> text;
    try {
      text = os::read_input_file_if_exists(req.process_file);
    } catch (const os::SystemError& e) {
      throw os::SystemError(e.err(), "--process: cannot read " + os::quote(req.process_file));
    } catch (const os::Error& e) {
      throw os::Error(std::string("--process: ") + e.what());
    }
    if (!text) throw os::SystemError(ENOENT, "--process: cannot read " + os::quote(req.process_file));
    try {
      p = spec::parse_process(*text);
    } catch (const os::Error& e) {
      throw os::Error("--process " + os::quote(req.process_file) + ": " + e.what());
    }
    if (container.process) inherit_container_process(p, *container.process);
  } else {
    if (req.args.empty()) throw os::Error("exec: no command given; usage: rrun exec ID COMMAND [ARG...]");
    p = *container.process;
    p.args = req.args;
    p.command_line.clear();
    p.terminal = req.tty;
    p.console_size.reset();
    if (!req.cwd.empty()) p.cwd = req.cwd;
    // runc: an exec process never inherits the init's apparmor profile
    // override nor its oom score; it gets the container's.
  }
  if (!req.cwd.empty()) p.cwd = req.cwd;
  if (p.cwd.empty() || p.cwd[0] != '/') throw os::Error("--cwd " + os::quote(p.cwd) + ": must be an absolute path");
  for (const auto& e : req.env) {
    if (e.find('=') == std::string::npos) throw os::Error("--env " + os::quote(e) + ": expected KEY=VALUE");
    p.env.push_back(e);
  }
  if (req.tty) p.terminal = true;
  if (!req.user.empty()) {
    p.user.uid = 0;
    p.user.gid = 0;
    parse_user(req.user, p.user);
  }
  for (const auto& g : req.additional_gids) {
    char* end = nullptr;
    unsigned long v = std::strtoul(g.c_str(), &end, 10);
    if (g.empty() || *end || g[0] == '-' || v > 0xfffffffeUL)
      throw os::Error("--additional-gids " + os::quote(g) + ": expected a numeric gid");
    p.user.additional_gids.push_back(static_cast<uint32_t>(v));
  }
  if (!req.caps.empty()) {
    if (!p.capabilities) p.capabilities.emplace();
    for (std::string c : req.caps) {
      for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
      for (auto* set : {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted})
        set->push_back(c);
    }
  }
  if (req.no_new_privs) p.no_new_privileges = true;
  if (!req.apparmor.empty()) p.apparmor_profile = req.apparmor;
  if (!req.process_label.empty()) p.selinux_label = req.process_label;
  check_apparmor_profile(req.apparmor.empty() ? "process.apparmorProfile" : "--apparmor", p.apparmor_profile);
  std::string ignored =
      check_selinux_label(req.process_label.empty() ? "process.selinuxLabel" : "--process-label", p.selinux_label);
  if (!ignored.empty()) log_debug(ignored);
  return p;
}

const struct {
  const char* name;
  unsigned long flag;
} kNamespaces[] = {
    {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},  {"pid", CLONE_NEWPID},       {"net", CLONE_NEWNET},
    {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

// The namespaces of `pid` that are not ours.
unsigned long namespaces_to_join(pid_t pid) {
  unsigned long flags = 0;
  for (const auto& ns : kNamespaces) {
    struct stat theirs, ours;
    std::string p = "/proc/" + std::to_string(pid) + "/ns/" + ns.name;
    std::string o = std::string("/proc/self/ns/") + ns.name;
    if (::stat(p.c_str(), &theirs) < 0) {
      if (errno == ENOENT) continue;  // a kernel without that namespace type
      os::throw_errno("inspect the namespaces of the container init (" + p + ")");
    }
    if (::stat(o.c_str(), &ours) < 0 || theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev) flags |= ns.flag;
  }
  return flags;
}

// The root of the init (/proc/PID/root, through rrun's /proc) of a container
// without a mount namespace of its own, opened before the exec process enters
// any of its namespaces. `pidfd` (checked against the start time) proves
// that the pid was still the init's when the root was opened.
os::UniqueFd open_init_root(const State& st, int pidfd) {
  std::string path = "/proc/" + std::to_string(st.pid) + "/root";
  os::UniqueFd root(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) os::throw_errno("open the root of the container init `" + path + "`");
  if (os::sys::pidfd_send_signal(pidfd, 0) < 0 && errno == ESRCH)
    throw os::Error("cannot exec in container " + os::quote(st.id) + ": it is stopped");
  return root;
}

// The uid map of the container's user namespace, as IdMappings.
std::vector<spec::IdMapping> read_uid_map(pid_t pid) {
  return userns::parse_map_text(os::read_file("/proc/" + std::to_string(pid) + "/uid_map"));
}

// The lock of exec's CVE-2019-5736 guard: flock(2) on the container's
// directory. Every exec holds it shared from before it reads the state until
// its process is executed (the child inherits it, close-on-exec, above the
// preserved fds); an exec that may give a process CAP_SYS_PTRACE takes it
// exclusively to record ptraceExec. Then no exec that read ptraceExec unset
// is still running rrun's code in the container when a process that may
// hold CAP_SYS_PTRACE exists there.
class ExecGuardLock {
 public:
  ExecGuardLock(StateStore& store, const std::string& id, unsigned preserve_fds) {
    os::UniqueFd dir = store.open_container_dir(id);
    if (!dir) return;  // no such container: the state load says so
    fd_.reset(::fcntl(dir.get(), F_DUPFD_CLOEXEC, static_cast<int>(3 + preserve_fds)));
    if (!fd_) os::throw_errno("lock container " + os::quote(id) + " for exec");
    take(LOCK_SH);
  }
  int fd() const { return fd_.get(); }
  // Ours is no longer needed once the process is executed.
  void release() { fd_.reset(); }

  // Records ptraceExec in the state, exclusively; true when an exec had
  // recorded it before (so this one re-executes as well).
  bool record_ptrace_exec(StateStore& store, const std::string& id) {
    take(LOCK_EX);
    bool before;
    {
      auto lock = store.lock(id);
      LockFileJanitor janitor(store, id);
      State s = store.load_or_throw(id);
      before = s.ptrace_exec;
      if (!before) {
        s.ptrace_exec = true;
        store.save(s);
      }
    }
    take(LOCK_SH);
    return before;
  }

 private:
  void take(int how) {
    if (!fd_) return;
    while (::flock(fd_.get(), how) < 0)
      if (errno != EINTR) os::throw_errno("lock the container directory for exec");
  }
  os::UniqueFd fd_;
};

}  // namespace

int exec_container(const Context& ctx, const ExecRequest& req) {
  validate_container_id(req.id);
  if (req.tty && req.detach && req.console_socket.empty())
    throw os::Error("exec -t -d: a detached process with a terminal needs --console-socket to hand the terminal to");
  if (!req.cgroup.empty()) throw os::Error("exec --cgroup: sub-cgroups are not supported by rrun yet");
  StateStore store(ctx.state_root);
  State st;
  spec::Spec spec;
  Status live;
  // Taken before the state is read, so that the state's ptraceExec is final
  // for this exec unless it takes the lock exclusively itself.
  ExecGuardLock guard_lock(store, req.id, req.preserve_fds);
  {
    auto lock = store.lock(req.id);
    LockFileJanitor janitor(store, req.id);
    st = store.load_or_throw(req.id);
    live = store.status_of(st);
    if (live == Status::paused && !req.ignore_paused)
      throw os::Error("cannot exec in container " + os::quote(req.id) +
                      ": it is paused; resume it first or use --ignore-paused");
    if (live != Status::created && live != Status::running && live != Status::paused)
      throw os::Error("cannot exec in container " + os::quote(req.id) + ": it is " + status_name(live));
    spec = load_container_spec(store, req.id);
    os::fault_point("exec.locked");
  }
  os::fault_point("exec.unlocked");
  // Plan.
  spec::Process proc = exec_process_spec(spec, req);
  std::vector<std::string> warnings;
  const CapsPlan caps = plan_capabilities(proc.capabilities, read_last_cap(), &warnings);
  if (st.init_runs_binary && live == Status::created && may_hold_ptrace(caps))
    throw os::Error("cannot exec a process that may hold CAP_SYS_PTRACE in container " + os::quote(req.id) +
                    " before it is started: its init runs rrun's binary until then (CVE-2019-5736); start it first");
  ExecPlan plan;
  plan.join_flags = namespaces_to_join(st.pid);
  // When the container's user namespace is ours or one it joined, a process
  // of the container that holds CAP_SYS_PTRACE there could open the exe of
  // our child (exe_guard.hpp), and rrun then goes on from a view of its
  // binary before its child enters the container.
  bool in_user_ns = plan.join_flags & CLONE_NEWUSER;
  const spec::Namespace* user_ns = spec.linux ? spec.linux->find_namespace(spec::NamespaceType::user) : nullptr;
  bool joined_user_ns = user_ns && !user_ns->path.empty();
  bool shares_user_ns = !in_user_ns || joined_user_ns;
  // A container whose init could never hold CAP_SYS_PTRACE (create did not
  // re-execute: initRunsBinary) is safe to enter without re-executing as
  // long as no exec gave one of its processes CAP_SYS_PTRACE (ptraceExec).
  // An exec that may give it records that first, exclusively: it waits for
  // the execs between their check and their exec, and every exec after it
  // re-executes. It needs no re-execution itself when none came before it.
  bool ptrace_possible = joined_user_ns || !st.init_runs_binary || st.ptrace_exec;
  if (shares_user_ns && !ptrace_possible && may_hold_ptrace(caps))
    ptrace_possible = guard_lock.record_ptrace_exec(store, req.id);
  if (shares_user_ns && ptrace_possible) run_from_sealed_copy();
  log_debug(shares_user_ns && !ptrace_possible
                ? "exec: no process of the container may hold CAP_SYS_PTRACE: no re-execution"
                : "exec: running from a view of rrun's binary or in the container's own user namespace");
  plan.guard_lock_fd = guard_lock.fd();
  os::UniqueFd init_pidfd = open_init_pidfd(st);
  if (!init_pidfd) throw os::Error("cannot exec in container " + os::quote(req.id) + ": it is stopped");
  plan.init_pidfd = init_pidfd.get();
  plan.fork_again = plan.join_flags & (CLONE_NEWPID | CLONE_NEWTIME);
  plan.process = plan_process(proc, spec.linux ? spec.linux->personality : std::nullopt);
  plan.caps = caps;
  for (const auto& w : warnings) log_debug(w);
  if (spec.linux && spec.linux->seccomp) plan.seccomp = plan_seccomp(*spec.linux->seccomp);
  copy_process_basics(plan, proc);
  plan.preserve_fds = req.preserve_fds;
  os::UniqueFd trampoline;
  bool owner_mapped = in_user_ns && binary_owner_mapped("/proc/self/exe", read_uid_map(st.pid));
  if (choose_exe_guard(shares_user_ns, ptrace_possible, owner_mapped) == ExeGuard::trampoline) {
    trampoline = make_exec_trampoline();
    plan.trampoline_fd = trampoline.get();
  }
  os::UniqueFd proc_for_profile = open_proc_for_profile(proc.apparmor_profile);
  plan.proc_fd = proc_for_profile.get();
  os::UniqueFd init_root;
  if (!rootfs::owns_mount_namespace(spec)) init_root = open_init_root(st, init_pidfd.get());
  plan.root_fd = init_root.get();
  std::unique_ptr<cgroups::Manager> cgroup = container_cgroup(st);
  // v1: the child moves itself into the cgroups (Manager::open_tasks_files).
  std::vector<os::UniqueFd> tasks_files = cgroup->open_tasks_files();
  for (const auto& t : tasks_files) plan.cgroup_tasks_fds.push_back(t.get());

  // Clone into the cgroup; the child waits for `go`.
  if (!req.detach) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigset_t forward = forwarded_signals(), old;
  // Blocked from before the clone (the child unblocks them): a signal sent
  // to rrun once the process may run is for the process; wait_and_forward
  // reads it from a signalfd.
  if (!req.detach) ::sigprocmask(SIG_BLOCK, &forward, &old);
  struct MaskRestore {
    const sigset_t* old;
    ~MaskRestore() {
      if (old) ::sigprocmask(SIG_SETMASK, old, nullptr);
    }
  } restore{req.detach ? nullptr : &old};
  os::UniqueFd parent_end, child_end;
  make_sync_pair(parent_end, child_end);
  plan.sync_fd = child_end.get();
  int pidfd = -1;
  bool in_cgroup = false;
  pid_t pid = clone_child(0, cgroup->clone_fd(), &pidfd, &in_cgroup);
  if (pid < 0) os::throw_errno("clone the exec process");
  if (pid == 0) exec_child(plan);
  os::fault_point("exec.cloned");
  child_end.reset();
  tasks_files.clear();
  if (!plan.cgroup_tasks_fds.empty()) in_cgroup = true;
  os::UniqueFd child_pidfd(pidfd);
  pid_t clone_pid = pid;
  bool committed = false;
  struct Reaper {
    pid_t& clone_pid;
    pid_t& pid;
    bool& committed;
    ~Reaper() {
      if (committed) return;
      ::kill(clone_pid, SIGKILL);
      ::waitpid(clone_pid, nullptr, 0);
      if (pid != clone_pid) ::kill(pid, SIGKILL);
    }
  } reaper{clone_pid, pid, committed};

  if (!in_cgroup) cgroup->apply(pid);
  send_or_throw(parent_end.get(), Msg::go);
  os::fault_point("exec.go");
  if (plan.fork_again) {
    Packet p = expect_msg(parent_end.get(), Msg::init_pid);
    pid = static_cast<pid_t>(p.value);
    child_pidfd.reset(os::sys::pidfd_open(pid));
    ::waitpid(clone_pid, nullptr, 0);
    os::fault_point("exec.init_pid");
  }
  if (plan.seccomp && plan.seccomp->notify) {
    State exec_state = st;
    exec_state.pid = pid;
    send_seccomp_agent(parent_end.get(), *plan.seccomp, exec_state);
  }
  os::UniqueFd master;
  expect_msg(parent_end.get(), Msg::ready, &master);
  os::fault_point("exec.ready");
  // EOF: the exec succeeded (the socket is close-on-exec); else its failure.
  expect_msg(parent_end.get(), Msg::none);
  guard_lock.release();
  os::fault_point("exec.execd");
  write_pid_file(req.pid_file, pid);
  os::fault_point("exec.pid_file");
  if (proc.terminal && !req.console_socket.empty()) {
    send_console(req.console_socket, master.get());
    master.reset();
  }
  committed = true;
  if (req.detach) return 0;

  os::fault_point("exec.waiting");
  int status = wait_and_forward(pid, child_pidfd.get(), forward, master ? master.get() : -1);
  os::fault_point("exec.exited");
  return status;
}

}  // namespace rrun::core
