#include "terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/syscall.hpp>

namespace rrun::core {

namespace {

// Puts stdin in raw mode for the life of the object when it is a terminal.
class RawMode {
 public:
  RawMode() {
    if (!::isatty(0) || ::tcgetattr(0, &saved_) < 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(0, TCSANOW, &raw) == 0) active_ = true;
  }
  ~RawMode() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  struct termios saved_ {};
  bool active_ = false;
};

void copy_winsize(int master) {
  struct winsize ws;
  // A terminal that reports 0x0 (script(1) without a tty on stdin) would
  // replace process.consoleSize with nothing.
  if (::ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) ::ioctl(master, TIOCSWINSZ, &ws);
}

// Copies what is readable from `from` to `to`; false on EOF or error.
bool pump(int from, int to) {
  char buf[8192];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return n < 0 && errno == EAGAIN;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    off += w;
  }
  return true;
}

int shell_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

sigset_t forwarded_signals() {
  sigset_t set;
  sigfillset(&set);
  for (int s : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) sigdelset(&set, s);
  return set;
}

int wait_and_forward(pid_t pid, int pidfd, const sigset_t& forward, int console_master, int term_signal) {
  os::UniqueFd sfd(::signalfd(-1, &forward, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sfd) os::throw_errno("create a signalfd to forward signals");
  std::optional<RawMode> raw;
  bool stdin_open = console_master >= 0;
  bool master_open = console_master >= 0;
  if (console_master >= 0) {
    raw.emplace();
    copy_winsize(console_master);
  }
  int status = 0;
  bool exited = false;
  auto reap = [&] {
    // As subreaper we also collect orphans of the container; only the init's
    // status matters.
    for (;;) {
      int st;
      pid_t w = ::waitpid(-1, &st, WNOHANG);
      if (w <= 0) break;
      if (w == pid) {
        status = st;
        exited = true;
      }
    }
  };
  reap();
  while (!exited) {
    struct pollfd p[3];
    int n = 0;
    p[n++] = {sfd.get(), POLLIN, 0};
    int i_stdin = -1, i_master = -1;
    if (stdin_open) {
      p[n] = {0, POLLIN, 0};
      i_stdin = n++;
    }
    if (master_open) {
      p[n] = {console_master, POLLIN, 0};
      i_master = n++;
    }
    int r = ::poll(p, n, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      os::throw_errno("wait for the container");
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (::read(sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
          reap();
        } else if (sig == SIGWINCH && console_master >= 0) {
          copy_winsize(console_master);
        } else {
          if (sig == SIGTERM) sig = term_signal;  // the container's stop signal (an image's StopSignal)
          if (pidfd >= 0)
            os::sys::pidfd_send_signal(pidfd, sig);
          else
            ::kill(pid, sig);
        }
      }
    }
    if (i_stdin >= 0 && (p[i_stdin].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!pump(0, console_master)) stdin_open = false;
    }
    if (i_master >= 0 && (p[i_master].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!pump(console_master, 1)) master_open = false;
    }
  }
  // Whatever the process printed just before it exited.
  if (master_open) {
    ::fcntl(console_master, F_SETFL, O_NONBLOCK);
    char buf[8192];
    ssize_t n;
    while ((n = ::read(console_master, buf, sizeof buf)) > 0) {
      ssize_t ignored = ::write(1, buf, static_cast<size_t>(n));
      (void)ignored;
    }
  }
  return shell_status(status);
}

}  // namespace rrun::core
