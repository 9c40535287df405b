#include "fuse_daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include <rrun/os/error.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/os/syscall.hpp>

extern char** environ;

namespace rrun::rootfs {

namespace {

[[noreturn]] void helper_fail(const char* what, int err) noexcept {
  dprintf(2, "rrun (fuse-overlayfs helper): %s: %s\n", what, std::strerror(err));
  ::_exit(127);
}

// Moves `fd` to exactly `target` (no CLOEXEC).
void place_fd(int fd, int target) noexcept {
  if (fd == target) {
    int flags = ::fcntl(fd, F_GETFD);
    ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  } else if (::dup2(fd, target) < 0) {
    helper_fail("arrange the daemon's fds", errno);
  }
}

struct HelperArgs {
  int fuse_fd;
  int userns_fd;
  int err_fd;
  int null_fd;
  const char* ephemeral_dir;  // nullptr unless ephemeral
  const char* upper;          // ephemeral: DIR/upper, DIR/work
  const char* work;
  const char* lower;  // ephemeral: the lower root, whose owner upper/ gets
  mode_t root_mode;
  char* const* argv;
};

[[noreturn]] void run_helper(const HelperArgs& a) noexcept {
  // stderr first, so that every failure below reaches rrun.
  if (::dup2(a.err_fd, 2) < 0) ::_exit(127);
  ::setsid();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
  if (a.userns_fd >= 0) {
    if (::setns(a.userns_fd, CLONE_NEWUSER) != 0) helper_fail("join the container's user namespace", errno);
    // Container root when it is mapped (rootless: it is us); else stay.
    (void)::setgroups(0, nullptr);
    (void)::setresgid(0, 0, 0);
    (void)::setresuid(0, 0, 0);
  }
  if (a.ephemeral_dir) {
    if (::unshare(CLONE_NEWNS) != 0) helper_fail("create a mount namespace for the ephemeral upper layer", errno);
    if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) helper_fail("make `/` rslave", errno);
    // By path: an fd opened before unshare names a mount of rrun's namespace.
    if (::mount("tmpfs", a.ephemeral_dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0)
      helper_fail("mount the tmpfs for the ephemeral upper layer", errno);
    if (::mkdir(a.upper, 0700) != 0 || ::chmod(a.upper, a.root_mode) != 0 || ::mkdir(a.work, 0700) != 0)
      helper_fail("create upper/ and work/ on the tmpfs", errno);
    // The root shows the upper layer's owner: the lower root's, as the
    // kernel path has it (not the daemon's, which differs with `user: keep`).
    struct stat st {};
    if (::stat(a.lower, &st) == 0) (void)::chown(a.upper, st.st_uid, st.st_gid);
  }
  if (::chdir("/") != 0) helper_fail("chdir to `/`", errno);
  // 0, 1: /dev/null; 2: the pipe (done); 3: the connection. First move the
  // connection out of the way of 0..3.
  int fuse = ::fcntl(a.fuse_fd, F_DUPFD_CLOEXEC, 10);
  if (fuse < 0) helper_fail("dup the fuse connection", errno);
  place_fd(a.null_fd, 0);
  place_fd(a.null_fd, 1);
  place_fd(fuse, 3);
  os::sys::close_range(4, ~0U, 0);
  ::execve(a.argv[0], a.argv, environ);
  helper_fail(a.argv[0], errno);
}

}  // namespace

FuseDaemon spawn_fuse_overlayfs(const FuseSpawn& spawn) {
  const OverlayMount& om = *spawn.overlay;
  OverlayData data = om.data;
  if (om.ephemeral) {
    data.upperdir = spawn.ephemeral_dir + "/upper";
    data.workdir = spawn.ephemeral_dir + "/work";
    if (::mkdir(spawn.ephemeral_dir.c_str(), 0700) != 0 && errno != EEXIST)
      os::throw_errno("create " + os::quote(spawn.ephemeral_dir) + " for the ephemeral upper layer");
  }
  std::vector<std::string> args =
      fuse_overlayfs_argv(om.fuse_binary, data, 3, om.squash_to_root, om.fuse_uidmapping, om.fuse_gidmapping);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) os::throw_errno("create a pipe for fuse-overlayfs");
  os::UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  os::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) os::throw_errno("open `/dev/null`");
  HelperArgs a{spawn.fuse_fd,
               spawn.userns_fd,
               wr.get(),
               null.get(),
               om.ephemeral ? spawn.ephemeral_dir.c_str() : nullptr,
               data.upperdir.c_str(),
               data.workdir.c_str(),
               data.lowerdirs.empty() ? "/" : data.lowerdirs.front().c_str(),
               om.root_mode,
               argv.data()};
  pid_t pid = ::fork();
  if (pid < 0) os::throw_errno("fork fuse-overlayfs");
  if (pid == 0) run_helper(a);
  FuseDaemon d;
  d.pid = pid;
  d.pidfd.reset(os::sys::pidfd_open(pid));
  d.start_time = os::process_start_time(pid).value_or(0);
  int flags = ::fcntl(rd.get(), F_GETFL);
  ::fcntl(rd.get(), F_SETFL, flags | O_NONBLOCK);
  d.stderr_pipe = std::move(rd);
  return d;
}

std::string fuse_daemon_messages(const FuseDaemon& d) {
  std::string all;
  char buf[4096];
  // The daemon has exited when this is asked (or is still starting): wait a
  // moment for its last words.
  if (d.pidfd) {
    struct pollfd p = {d.pidfd.get(), POLLIN, 0};
    ::poll(&p, 1, 1000);
  }
  for (;;) {
    ssize_t n = ::read(d.stderr_pipe.get(), buf, sizeof buf);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
    if (all.size() > 16384) break;
  }
  std::string out;
  std::istringstream in(all);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("unknown argument ignored", 0) == 0) continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

std::string format_fuse_daemons(const std::vector<FuseDaemon>& daemons) {
  std::string out;
  for (const auto& d : daemons) out += std::to_string(d.pid) + " " + std::to_string(d.start_time) + "\n";
  return out;
}

void stop_fuse_daemons(const std::string& text, int timeout_ms) {
  struct Entry {
    pid_t pid;
    os::UniqueFd pidfd;
  };
  std::vector<Entry> live;
  std::istringstream in(text);
  long long pid = 0;
  unsigned long long start = 0;
  while (in >> pid >> start) {
    if (pid <= 0) continue;
    os::UniqueFd fd(os::sys::pidfd_open(static_cast<pid_t>(pid)));
    if (!fd) continue;  // gone
    auto now = os::process_start_time(static_cast<pid_t>(pid));
    if (!now || *now != start) continue;  // someone else now
    live.push_back({static_cast<pid_t>(pid), std::move(fd)});
  }
  struct timespec t0 {};
  ::clock_gettime(CLOCK_MONOTONIC, &t0);
  for (auto& e : live) {
    struct timespec t {};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
    struct pollfd p = {e.pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(spent < timeout_ms ? timeout_ms - spent : 0)) == 1) {
      ::waitpid(e.pid, nullptr, WNOHANG);  // our child under `run`
      continue;
    }
    os::sys::pidfd_send_signal(e.pidfd.get(), SIGKILL);
    p.revents = 0;
    ::poll(&p, 1, 1000);
    ::waitpid(e.pid, nullptr, WNOHANG);
  }
}

}  // namespace rrun::rootfs
