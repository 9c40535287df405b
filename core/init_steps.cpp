#include "init_steps.hpp"

#include <fcntl.h>
#include <linux/limits.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <rrun/os/syscall.hpp>

#include "sync.hpp"

namespace rrun::core {

int start_session(os::StepFailure& f) noexcept {
  if (::setsid() < 0) return os::fail_step(f, errno, "setsid", "start a session of the container's own");
  return 0;
}

int open_pty(int slave_flags, int* master_out, int* slave_out, os::StepFailure& f) noexcept {
  *master_out = *slave_out = -1;
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return os::fail_step(f, errno, "terminal", "open `/dev/ptmx`");
  int unlock = 0;
  const char* failed = "unlock the pty";
  int slave = -1;
  if (::ioctl(master, TIOCSPTLCK, &unlock) == 0) {
    failed = "open the pty slave";
    slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | slave_flags);
  }
  if (slave < 0) {
    int err = errno;
    ::close(master);
    return os::fail_step(f, err, "terminal", "%s", failed);
  }
  *master_out = master;
  *slave_out = slave;
  return 0;
}

int setup_terminal(unsigned short rows, unsigned short cols, int* master_out, os::StepFailure& f) noexcept {
  *master_out = -1;
  int master, slave;
  if (open_pty(0, &master, &slave, f) < 0) return -1;
  if (rows || cols) {
    struct winsize ws = {};
    ws.ws_row = rows;
    ws.ws_col = cols;
    ::ioctl(slave, TIOCSWINSZ, &ws);
  }
  if (::ioctl(slave, TIOCSCTTY, 0) < 0)
    return os::fail_step(f, errno, "terminal", "make the pty the controlling terminal");
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave, fd) < 0) return os::fail_step(f, errno, "terminal", "dup the pty to fd %d", fd);
  if (slave > 2) ::close(slave);
  *master_out = master;
  return 0;
}

int resolve_executable(const std::vector<std::string>& args, const std::vector<std::string>& env, char* out,
                       size_t out_size, os::StepFailure& f) noexcept {
  const char* name = args[0].c_str();
  if (std::strchr(name, '/')) {
    if (::access(name, X_OK) < 0) return os::fail_step(f, errno, "exec", "process.args[0] `%s`", name);
    // A directory passes X_OK; execve would fail on it only after `start`.
    struct stat st;
    if (::stat(name, &st) == 0 && S_ISDIR(st.st_mode))
      return os::fail_step(f, EISDIR, "exec", "process.args[0] `%s`", name);
    std::snprintf(out, out_size, "%s", name);
    return 0;
  }
  const char* path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.c_str() + 5;
  int last_err = ENOENT;
  for (const char* p = path;;) {
    const char* end = std::strchr(p, ':');
    size_t len = end ? static_cast<size_t>(end - p) : std::strlen(p);
    std::snprintf(out, out_size, "%.*s%s%s", static_cast<int>(len), p, len ? "/" : "", name);
    struct stat st;
    if (::stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(out, X_OK) == 0) return 0;
      last_err = errno;
    }
    if (!end) break;
    p = end + 1;
  }
  return os::fail_step(f, last_err, "exec", "process.args[0] `%s` not found in PATH `%s`", name, path);
}

int join_cgroups(const std::vector<int>& tasks_fds, os::StepFailure& f) noexcept {
  for (int fd : tasks_fds) {
    if (::write(fd, "0", 1) != 1)
      return os::fail_step(f, errno, "cgroup", "join the container's cgroup (write 0 to a v1 `tasks` file)");
    ::close(fd);
  }
  return 0;
}

int close_fds_on_exec(unsigned preserve_fds, os::StepFailure& f) noexcept {
  unsigned first = 3 + preserve_fds;
  if (os::sys::close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    // Before Linux 5.11: walk the possible fds.
    long max = ::sysconf(_SC_OPEN_MAX);
    for (long fd = first; fd < max && fd < 65536; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  }
  for (unsigned fd = 3; fd < first; ++fd) {
    int flags = ::fcntl(static_cast<int>(fd), F_GETFD);
    if (flags >= 0 && ::fcntl(static_cast<int>(fd), F_SETFD, flags & ~FD_CLOEXEC) < 0)
      return os::fail_step(f, errno, "preserve-fds", "keep fd %u open", fd);
  }
  return 0;
}

void close_fds_except(unsigned preserve_fds, KeptFds& keep) noexcept {
  std::sort(keep.fd, keep.fd + keep.n);
  unsigned next = 3 + preserve_fds;
  for (size_t i = 0; i < keep.n; ++i) {
    auto fd = static_cast<unsigned>(keep.fd[i]);
    if (fd < next) continue;
    if (fd > next) os::sys::close_range(next, fd - 1, 0);
    next = fd + 1;
  }
  os::sys::close_range(next, ~0U, 0);
}

// A user namespace we joined, or one made inside a namespace that denies
// setgroups (rrun run by `unshare -r`, or a rootless caller with a single
// mapping), says "deny": read it inside, as runc does, rather than fail on
// setgroups later.
bool userns_denies_setgroups() noexcept {
  int fd = ::open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[16] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n >= 4 && std::strncmp(buf, "deny", 4) == 0;
}

int load_seccomp_early(const std::optional<SeccompPlan>& seccomp, const ProcessPlan& process, int sync_fd, bool* late,
                       os::StepFailure& f) noexcept {
  bool notify = seccomp && seccomp->notify;
  *late = seccomp && process.no_new_privs && !notify;
  if (!seccomp || *late) return 0;
  if (notify && process.no_new_privs && apply_no_new_privs(process, f) < 0) return -1;
  int listener = -1;
  if (apply_seccomp(*seccomp, notify ? &listener : nullptr, f) < 0) return -1;
  if (!notify) return 0;
  Packet p;
  p.type = Msg::seccomp_fd;
  int rc = send_packet(sync_fd, p, listener);
  int err = errno;
  ::close(listener);
  if (rc < 0) return os::fail_step(f, err, "sync", "send %s to rrun", msg_name(Msg::seccomp_fd));
  return 0;
}

int fork_and_report_pid(int sync_fd, os::StepFailure& f) noexcept {
  // The child waits for the parent to exit (EOF on `gate`).
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) < 0) return os::fail_step(f, errno, "fork", "create a pipe");
  pid_t pid = ::fork();
  if (pid < 0) return os::fail_step(f, errno, "fork", "fork into the container's pid/time namespace");
  if (pid == 0) {
    ::close(gate[1]);
    char c;
    while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
    }
    ::close(gate[0]);
    return 0;
  }
  Packet p;
  p.type = Msg::init_pid;
  p.value = pid;
  send_packet(sync_fd, p);
  ::_exit(0);
}

const char* home_env(uid_t uid, const std::vector<std::string>& env) noexcept {
  for (const auto& e : env)
    if (e.compare(0, 5, "HOME=") == 0) return nullptr;
  static char out[PATH_MAX + 6] = "HOME=/";
  static char buf[64 * 1024];  // a larger /etc/passwd is searched in its first 64 KiB
  // O_NONBLOCK and a regular file only: the image controls /etc/passwd.
  int fd = ::open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st {};
  size_t len = 0;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    for (ssize_t n; len < sizeof buf - 1 && (n = ::read(fd, buf + len, sizeof buf - 1 - len)) != 0;) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      len += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  buf[len] = '\0';
  // name:password:uid:gid:gecos:home:shell
  for (char* line = buf; line < buf + len;) {
    char* end = std::strchr(line, '\n');
    if (!end) end = buf + len;
    *end = '\0';
    char* field[7] = {};
    int k = 0;
    for (char* p = line; k < 7; ++k) {
      field[k] = p;
      char* colon = std::strchr(p, ':');
      if (!colon) break;
      *colon = '\0';
      p = colon + 1;
    }
    char* stop = nullptr;
    if (k >= 5 && field[2][0] && std::strtoul(field[2], &stop, 10) == uid && *stop == '\0' && field[5][0] &&
        std::strlen(field[5]) <= PATH_MAX) {
      std::snprintf(out, sizeof out, "HOME=%s", field[5]);
      return out;
    }
    line = end + 1;
  }
  return out;
}

void exec_process(const char* exe, const std::vector<std::string>& args, const std::vector<std::string>& env,
                  ExecVia via, const char* extra_env) noexcept {
  // Sized on the stack: no allocation between fork and exec.
  constexpr size_t kMax = 4096;
  if (args.size() + 3 > kMax || env.size() + 2 > kMax) {
    errno = E2BIG;
    return;
  }
  static char* argv[kMax];
  static char* envp[kMax];
  size_t a = 0;
  if (via.fd >= 0) {
    argv[a++] = const_cast<char*>(via.marker);
    argv[a++] = const_cast<char*>(exe);
  }
  for (const auto& s : args) argv[a++] = const_cast<char*>(s.c_str());
  argv[a] = nullptr;
  size_t e = 0;
  for (const auto& s : env) envp[e++] = const_cast<char*>(s.c_str());
  if (extra_env) envp[e++] = const_cast<char*>(extra_env);
  envp[e] = nullptr;
  if (via.fd >= 0)
    ::syscall(SYS_execveat, via.fd, "", argv, envp, AT_EMPTY_PATH);
  else
    ::execve(exe, argv, envp);
}

}  // namespace rrun::core
