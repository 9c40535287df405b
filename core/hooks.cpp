#include "hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/syscall.hpp>

namespace rrun::core {

namespace {

// write(2) to a pipe whose reader may be gone (a hook that exits without
// reading its stdin): EPIPE instead of a SIGPIPE that would kill rrun. The
// signal is blocked for the write and a SIGPIPE it raised is taken back;
// the disposition is never changed, so processes rrun starts later still
// get the default SIGPIPE.
ssize_t write_no_sigpipe(int fd, const char* data, size_t size) noexcept {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t w = ::write(fd, data, size);
  int err = errno;
  if (w < 0 && err == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return w;
}

long long now_ms() noexcept {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// Keeps the last bytes the hook printed, for the error message.
struct Tail {
  char buf[240] = {};
  size_t len = 0;
  void add(const char* data, size_t n) noexcept {
    if (n >= sizeof buf) {
      std::memcpy(buf, data + n - sizeof buf, sizeof buf);
      len = sizeof buf;
      return;
    }
    if (len + n > sizeof buf) {
      size_t drop = len + n - sizeof buf;
      std::memmove(buf, buf + drop, len - drop);
      len -= drop;
    }
    std::memcpy(buf + len, data, n);
    len += n;
  }
  // The last non-empty line, NUL-terminated in place.
  const char* last_line() noexcept {
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) --len;
    if (len == sizeof buf) --len;
    buf[len] = 0;
    char* nl = std::strrchr(buf, '\n');
    return nl ? nl + 1 : buf;
  }
};

}  // namespace

int run_hook(const spec::Hook& hook, const std::string& state_json, const char* phase, size_t index,
             os::StepFailure& f) noexcept {
  const char* path = hook.path.c_str();
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) < 0) return os::fail_step(f, errno, phase, "hook #%zu `%s`: create pipe", index, path);
  os::UniqueFd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return os::fail_step(f, errno, phase, "hook #%zu `%s`: create pipe", index, path);
  os::UniqueFd out_r(out[0]), out_w(out[1]);

  // argv and envp are built before the fork; the parent of a hook is single-threaded.
  std::vector<char*> argv, envp;
  if (hook.args.empty()) {
    argv.push_back(const_cast<char*>(path));
  } else {
    for (const auto& a : hook.args) argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  for (const auto& e : hook.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return os::fail_step(f, errno, phase, "hook #%zu `%s`: fork", index, path);
  if (pid == 0) {
    ::dup2(in_r.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(out_w.get(), 2);
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::execve(path, argv.data(), envp.data());
    int err = errno;
    dprintf(2, "exec `%s`: %s\n", path, std::strerror(err));
    ::_exit(127);
  }
  in_r.reset();
  out_w.reset();
  os::UniqueFd pidfd(os::sys::pidfd_open(pid));

  ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (state_json.empty()) in_w.reset();
  Tail tail;
  long long deadline = hook.timeout ? now_ms() + *hook.timeout * 1000LL : -1;
  bool exited = false;
  int status = 0;
  bool timed_out = false;
  while (!exited) {
    struct pollfd p[3];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_pid = -1;
    if (in_w) {
      p[n] = {in_w.get(), POLLOUT, 0};
      idx_in = n++;
    }
    if (out_r) {
      p[n] = {out_r.get(), POLLIN, 0};
      idx_out = n++;
    }
    if (pidfd) {
      p[n] = {pidfd.get(), POLLIN, 0};
      idx_pid = n++;
    }
    int wait_ms = 100;  // without a pidfd, poll waitpid
    if (pidfd) wait_ms = -1;
    if (deadline >= 0) {
      long long left = deadline - now_ms();
      if (left <= 0) {
        timed_out = true;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      if (wait_ms < 0 || left < wait_ms) wait_ms = static_cast<int>(left);
    }
    int r = ::poll(p, n, wait_ms);
    if (r < 0 && errno != EINTR) break;
    if (idx_in >= 0 && (p[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write_no_sigpipe(in_w.get(), state_json.data() + written, state_json.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN) in_w.reset();  // EPIPE: the hook does not read stdin
      if (written == state_json.size()) in_w.reset();
    }
    if (idx_out >= 0 && (p[idx_out].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[1024];
      ssize_t got = ::read(out_r.get(), buf, sizeof buf);
      if (got > 0)
        tail.add(buf, static_cast<size_t>(got));
      else if (got == 0 || errno != EAGAIN)
        out_r.reset();
    }
    if (idx_pid < 0 || (p[idx_pid].revents & POLLIN) || !pidfd) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) exited = true;
    }
  }
  // Drain what is left of the output.
  if (out_r) {
    char buf[1024];
    ssize_t got;
    while ((got = ::read(out_r.get(), buf, sizeof buf)) > 0) tail.add(buf, static_cast<size_t>(got));
  }
  if (timed_out) return os::fail_step(f, 0, phase, "hook #%zu `%s`: timed out after %d s", index, path, *hook.timeout);
  if (!exited && !timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return os::fail_step(f, errno, phase, "hook #%zu `%s`: wait", index, path);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  const char* line = tail.last_line();
  if (WIFSIGNALED(status))
    return os::fail_step(f, 0, phase, "hook #%zu `%s`: killed by signal %d%s%s", index, path, WTERMSIG(status),
                         *line ? ": " : "", line);
  return os::fail_step(f, 0, phase, "hook #%zu `%s`: exited with status %d%s%s", index, path, WEXITSTATUS(status),
                       *line ? ": " : "", line);
}

namespace {

std::string failure_text(const os::StepFailure& f) {
  std::string msg = std::string(f.step) + " " + f.detail;
  if (f.err) msg += std::string(": ") + std::strerror(f.err);
  return msg;
}

}  // namespace

void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& state_json, const char* phase) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    os::StepFailure f;
    if (run_hook(hooks[i], state_json, phase, i, f) < 0) throw os::Error(failure_text(f));
  }
}

std::vector<std::string> run_hooks_collect_failures(const std::vector<spec::Hook>& hooks, const std::string& state_json,
                                                    const char* phase) {
  std::vector<std::string> failures;
  for (size_t i = 0; i < hooks.size(); ++i) {
    os::StepFailure f;
    if (run_hook(hooks[i], state_json, phase, i, f) < 0) failures.push_back(failure_text(f));
  }
  return failures;
}

}  // namespace rrun::core
