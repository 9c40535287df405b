// start, kill, delete, state: the lifecycle operations on an existing
// container. create and run live in create.cpp.

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/fault.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/os/syscall.hpp>
#include <rrun/rootfs/persistent_dir.hpp>
#include <rrun/spec/parse.hpp>

#include "container.hpp"
#include "fuse_overlays.hpp"
#include "hooks.hpp"
#include "id.hpp"
#include "lifecycle.hpp"
#include "log.hpp"
#include "state.hpp"

namespace rrun::core {

namespace {

struct SignalName {
  const char* name;
  int number;
};

constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

// The ns inode of /proc/PID/ns/pid, or 0.
ino_t pid_namespace_of(pid_t pid) {
  struct stat st;
  std::string p = "/proc/" + std::to_string(pid) + "/ns/pid";
  if (::stat(p.c_str(), &st) < 0) return 0;
  return st.st_ino;
}

}  // namespace

int parse_signal(const std::string& name) {
  if (name.empty()) throw os::Error("invalid signal \"\": expected a name such as TERM or a number");
  if (std::isdigit(static_cast<unsigned char>(name[0]))) {
    char* end = nullptr;
    long v = std::strtol(name.c_str(), &end, 10);
    if (*end || v <= 0 || v > SIGRTMAX) throw os::Error("invalid signal \"" + name + "\": not a signal number");
    return static_cast<int>(v);
  }
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind("SIG", 0) == 0) upper = upper.substr(3);
  for (const auto& s : kSignals)
    if (upper == s.name) return s.number;
  // RTMIN, RTMIN+N, RTMAX-N
  if (upper.rfind("RTMIN", 0) == 0 || upper.rfind("RTMAX", 0) == 0) {
    int base = upper[3] == 'I' ? SIGRTMIN : SIGRTMAX;
    std::string rest = upper.substr(5);
    if (rest.empty()) return base;
    char* end = nullptr;
    long off = std::strtol(rest.c_str(), &end, 10);
    if (!*end && (rest[0] == '+' || rest[0] == '-')) {
      long v = base + off;
      if (v >= SIGRTMIN && v <= SIGRTMAX) return static_cast<int>(v);
    }
  }
  throw os::Error("invalid signal \"" + name + "\": expected a name such as TERM, SIGKILL or a number");
}

os::UniqueFd open_process_pidfd(pid_t pid, uint64_t start_time, const std::string& what) {
  if (pid <= 0) return os::UniqueFd();
  int fd = os::sys::pidfd_open(pid);
  if (fd < 0) {
    if (errno == ESRCH) return os::UniqueFd();
    os::throw_errno("open a pidfd for " + what);
  }
  os::UniqueFd pidfd(fd);
  // The pid may have been reused between reading the state and opening the
  // pidfd: the start time tells.
  auto start = os::process_start_time(pid);
  if (!start || *start != start_time) return os::UniqueFd();
  return pidfd;
}

os::UniqueFd open_init_pidfd(const State& s) {
  return open_process_pidfd(s.pid, s.pid_start_time, "the init of " + os::quote(s.id));
}

spec::Spec load_container_spec(const StateStore& store, const std::string& id) {
  const std::string path = store.config_path(id);
  auto text = store.read_trusted(id, "config.json");
  if (!text) throw os::Error("the config of container " + os::quote(id) + " is missing: no " + os::quote(path));
  try {
    return spec::parse_spec(*text);
  } catch (const os::Error& e) {
    throw os::Error(std::string("the config of container ") + os::quote(id) + " in " + os::quote(path) +
                    " is corrupt: " + e.what());
  }
}

bool wait_pidfd_exit(os::BorrowedFd pidfd, int timeout_ms) {
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

void signal_container(const State& s, int sig, bool all) {
  os::UniqueFd pidfd = open_init_pidfd(s);
  if (!pidfd) throw os::Error("container " + os::quote(s.id) + " is not running");
  std::unique_ptr<cgroups::Manager> cgroup;
  if (all) cgroup = container_cgroup(s);
  if (all && cgroup->driver() != cgroups::Driver::none) {
    // Every process of the cgroup (cgroup.kill for SIGKILL on v2); a frozen
    // cgroup is thawed after SIGKILL so that the processes can die.
    cgroup->kill_all(sig);
  } else if (all) {
    // Every process of the container's pid namespace (best effort: the
    // init is signalled below in any case).
    std::vector<pid_t> pids;
    try {
      pids = processes_in_pid_namespace_of(s.pid);
    } catch (const os::SystemError&) {
    }
    for (pid_t pid : pids) {
      if (pid == s.pid) continue;
      int fd = os::sys::pidfd_open(pid);
      if (fd < 0) continue;
      os::sys::pidfd_send_signal(fd, sig);
      ::close(fd);
    }
  }
  if (os::sys::pidfd_send_signal(pidfd.get(), sig) < 0 && errno != ESRCH)
    os::throw_errno("send signal " + std::to_string(sig) + " to container " + os::quote(s.id));
}

std::vector<pid_t> processes_in_pid_namespace_of(pid_t pid) {
  std::vector<pid_t> out;
  ino_t ns = pid_namespace_of(pid);
  if (!ns || ns == pid_namespace_of(::getpid())) return out;
  // A pid namespace the container joined holds others' processes too.
  if (os::innermost_pid(pid) != 1) return out;
  DIR* d = ::opendir("/proc");
  if (!d) os::throw_errno("read /proc");
  while (struct dirent* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    pid_t p = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid_namespace_of(p) == ns) out.push_back(p);
  }
  ::closedir(d);
  return out;
}

void record_cgroup(StateStore& store, const std::string& id, const std::string& driver, const std::string& path) {
  // No fsync: if the machine goes down, so does the cgroup.
  const std::string file = store.container_dir(id) + "/cgroup";
  os::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) os::throw_errno("record the cgroup in " + os::quote(file));
  os::write_all(fd, driver + "\n" + path);
}

std::unique_ptr<cgroups::Manager> container_cgroup(const State& s) {
  if (s.cgroup_driver.empty()) return std::make_unique<cgroups::NoneManager>();
  return cgroups::open_manager(s.cgroup_driver, s.cgroup_path);
}

namespace {

// The cgroup of a half-created container (ID/cgroup, see record_cgroup).
void destroy_recorded_cgroup(const StateStore& store, const std::string& id) {
  auto text = store.read_trusted(id, "cgroup");
  if (!text) return;
  size_t nl = text->find('\n');
  if (nl == std::string::npos) return;
  cgroups::open_manager(text->substr(0, nl), text->substr(nl + 1))->destroy();
}

}  // namespace

void start_container(const Context& ctx, const std::string& id) {
  StateStore store(ctx.state_root);
  auto lock = store.lock(id);
  LockFileJanitor janitor(store, id);
  os::fault_point("start.locked");
  State s = store.load_or_throw(id);
  Status live = store.status_of(s);
  if (live != Status::created)
    throw os::Error("cannot start container " + os::quote(id) + ": it is " + status_name(live) + ", not created");
  os::UniqueFd pidfd = open_init_pidfd(s);
  start_created(store, s, nullptr, pidfd);
}

void start_created(StateStore& store, State& s, const std::vector<spec::Hook>* poststart, os::BorrowedFd pidfd) {
  const std::string& id = s.id;
  // The init blocks opening the FIFO for writing until we open it for
  // reading; it then writes one byte, runs startContainer hooks and execs
  // the process, which closes its end (CLOEXEC). Anything else it writes is
  // the reason it failed.
  const std::string fifo = store.exec_fifo_path(id);
  os::UniqueFd fd = store.open_trusted(id, "exec.fifo", O_RDONLY | O_NONBLOCK);
  if (!fd)
    throw os::Error("cannot start container " + os::quote(id) + ": its exec FIFO " + os::quote(fifo) + " is gone");
  os::fault_point("start.fifo_opened");
  ::unlink(fifo.c_str());
  os::fault_point("start.fifo_unlinked");
  std::string got;
  bool eof = false;
  while (!eof) {
    struct pollfd p[2] = {{fd.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    int r = ::poll(p, pidfd.get() >= 0 ? 2 : 1, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      os::throw_errno("wait for the container init of " + os::quote(id));
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[512];
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 && !got.empty()) eof = true;  // the writer closed its end after writing
      if (n < 0 && errno != EAGAIN) os::throw_errno("read the exec FIFO of " + os::quote(id));
    }
    if (!eof && pidfd.get() >= 0 && (p[1].revents & POLLIN)) {
      // The init is gone: read what it left, then stop.
      char buf[512];
      ssize_t n;
      while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
      eof = true;
      if (got.empty()) got = "0exited before it ran the process";
    }
  }
  if (got.size() > 1 || got.empty() || got[0] != '0') {
    std::string why = got.size() > 1 ? got.substr(1) : "no answer from the container init";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    s.status = Status::stopped;
    store.save(s);
    throw os::Error("start container " + os::quote(id) + ": " + why);
  }
  os::fault_point("start.init_answered");
  s.status = Status::running;
  store.save(s);
  os::fault_point("start.state_saved");

  std::optional<spec::Spec> spec;
  static const std::vector<spec::Hook> none;
  if (!poststart && !s.poststart_hooks) poststart = &none;
  if (!poststart) {
    spec = load_container_spec(store, id);
    poststart = spec->hooks ? &spec->hooks->poststart : &none;
  }
  if (!poststart->empty()) {
    try {
      run_hooks(*poststart, hook_state_json(s, Status::running), "poststart");
    } catch (...) {
      // runtime-spec 1.3: a failing poststart hook stops the container.
      signal_container(s, SIGKILL, true);
      throw;
    }
  }
}

std::string container_state_json(const Context& ctx, const std::string& id) {
  validate_container_id(id);
  StateStore store(ctx.state_root);
  std::optional<State> s = load_settled(store, id);
  if (!s) throw os::Error("container \"" + id + "\" does not exist");
  s->owner = owner_name(store, *s);
  return oci_state_json(*s, store.status_of(*s));
}

int stop_signal(const std::map<std::string, std::string>& annotations) {
  auto it = annotations.find(kStopSignalAnnotation);
  if (it == annotations.end()) return SIGTERM;
  try {
    return parse_signal(it->second);
  } catch (const std::exception& e) {
    throw os::Error(std::string("annotations.") + kStopSignalAnnotation + ": " + e.what());
  }
}

void kill_container(const Context& ctx, const std::string& id, std::optional<int> signal, bool all) {
  StateStore store(ctx.state_root);
  auto lock = store.lock(id);
  LockFileJanitor janitor(store, id);
  State s = store.load_or_throw(id);
  Status live = store.status_of(s);
  if (live != Status::created && live != Status::running && live != Status::paused)
    throw os::Error("cannot kill container " + os::quote(id) + ": it is " + status_name(live));
  signal_container(s, signal ? *signal : stop_signal(s.annotations), all);
}

namespace {

// Kills whatever of the container still runs and waits until its init is gone.
void stop_container(const State& s) {
  if (os::UniqueFd pidfd = open_init_pidfd(s)) {
    signal_container(s, SIGKILL, true);
    if (!wait_pidfd_exit(pidfd, 10000))
      throw os::Error("container " + os::quote(s.id) + " did not exit within 10 s of SIGKILL");
  }
}

}  // namespace

void destroy_container(StateStore& store, State& s) {
  os::fault_point("destroy.begun");
  stop_container(s);
  os::fault_point("destroy.stopped");
  // A create that died before it wrote the final state.json (no init
  // recorded) never ran hooks and left its cgroup in ID/cgroup.
  const bool was_created = s.pid > 0;
  s.status = Status::stopped;
  container_cgroup(s)->destroy();
  if (s.cgroup_driver.empty()) destroy_recorded_cgroup(store, s.id);
  os::fault_point("destroy.cgroup_removed");
  stop_fuse_overlays(store.read_trusted(s.id, kFuseDaemonsFile));
  os::fault_point("destroy.fuse_stopped");
  if (auto dir = rootfs::persistent_overlay_dir(s.annotations))
    rootfs::release_persistent_dir(*dir, s.id, store.root());
  os::fault_point("destroy.persistent_released");
  // poststop hooks run after the container is destroyed; failures only warn.
  std::optional<spec::Spec> spec;
  try {
    if (was_created && s.poststop_hooks) spec = load_container_spec(store, s.id);
  } catch (const std::exception& e) {
    log_warn(std::string("poststop hooks not run: ") + e.what());
  }
  store.remove_container(s.id);
  os::fault_point("destroy.removed");
  if (spec && spec->hooks && !spec->hooks->poststop.empty()) {
    for (const auto& w :
         run_hooks_collect_failures(spec->hooks->poststop, hook_state_json(s, Status::stopped), "poststop"))
      log_warn(w);
  }
}

bool settle_abandoned(StateStore& store, State& s) {
  if (!abandoned_by_runner(s)) return true;
  log_debug("container " + os::quote(s.id) + ": its `run` (pid " + std::to_string(s.creator_pid) +
            ") is gone; ending it as that run would have");
  if (!s.keep) {
    destroy_container(store, s);
    return false;
  }
  // The init normally died with the runner; it lives on if an exec with
  // more privileges (a set-id program, capabilities gained) made the kernel
  // forget that.
  stop_container(s);
  s.status = Status::stopped;
  s.foreground = false;
  store.save(s);
  return true;
}

std::optional<State> load_settled(StateStore& store, const std::string& id) {
  std::optional<State> s = store.load(id);
  if (!s || !abandoned_by_runner(*s)) return s;
  auto lock = store.lock(id);
  LockFileJanitor janitor(store, id);
  s = store.load(id);  // as it is now that we hold the lock
  if (s && !settle_abandoned(store, *s)) s.reset();
  return s;
}

namespace {

// `delete` found the lock held: by a create in progress (which holds it to
// the end) or by another command. A live creator is refused without
// --force, and killed with it (its init dies with it, or with its cgroup).
void stop_creator(const StateStore& store, const std::string& id, bool force) {
  std::optional<State> s = store.load(id);
  if (!s || s->status != Status::creating) return;
  os::UniqueFd pidfd = open_process_pidfd(s->creator_pid, s->creator_start_time, "the creator of " + os::quote(id));
  if (!pidfd || live_status(*s) != Status::creating) return;
  if (!force)
    throw os::Error("cannot delete container " + os::quote(id) + ": it is creating (by rrun process " +
                    std::to_string(s->creator_pid) + "); wait for it or use `delete --force`");
  if (os::sys::pidfd_send_signal(pidfd.get(), SIGKILL) < 0 && errno != ESRCH)
    os::throw_errno("kill the creator of container " + os::quote(id));
  if (!wait_pidfd_exit(pidfd, 10000))
    throw os::Error("the creator of container " + os::quote(id) + " did not exit within 10 s of SIGKILL");
}

}  // namespace

void delete_container(const Context& ctx, const std::string& id, bool force) {
  validate_container_id(id);
  StateStore store(ctx.state_root);
  std::optional<os::FileLock> lock = store.try_lock(id);
  if (!lock) {
    stop_creator(store, id, force);
    lock.emplace(store.lock(id));
  }
  LockFileJanitor janitor(store, id);
  os::fault_point("delete.locked");
  std::optional<State> s = store.load(id);
  if (s && !settle_abandoned(store, *s)) return;  // what delete does, done as its `run` would have
  if (!s) {
    if (force) return;  // as runc
    throw os::Error("container " + os::quote(id) + " does not exist");
  }
  Status live = store.status_of(*s);
  if ((live == Status::running || live == Status::paused || live == Status::creating) && !force)
    throw os::Error("cannot delete container " + os::quote(id) + ": it is " + status_name(live) +
                    "; stop it first or use `delete --force`");
  destroy_container(store, *s);
  os::fault_point("delete.done");
}

}  // namespace rrun::core
