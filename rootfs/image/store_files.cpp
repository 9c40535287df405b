#include "store_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/os/text.hpp>

namespace rrun::image::store_files {

namespace {

constexpr time_t kForeignGrace = 24 * 60 * 60;
// A lock held longer than kQuietTries * kQuietStepUs (0.2 s) is announced.
constexpr int kQuietTries = 40;
constexpr useconds_t kQuietStepUs = 5000;

struct Creator {
  pid_t pid = 0;
  uint64_t start = 0;
  uint64_t pidns = 0;
};

uint64_t own_pidns() {
  struct stat st;
  return ::stat("/proc/self/ns/pid", &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

const Creator& self() {
  // Computed per process: a forked child (a test, a helper) names its own entries.
  static pid_t for_pid = -1;
  static Creator c;
  if (for_pid != ::getpid()) {
    for_pid = ::getpid();
    c.pid = for_pid;
    c.start = os::process_start_time(for_pid).value_or(0);
    c.pidns = own_pidns();
  }
  return c;
}

std::optional<uint64_t> parse_u64(const std::string& s) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::strtoull(s.c_str(), nullptr, 10);
}

std::optional<Creator> creator_of(const std::string& name) {
  size_t at = name.rfind('@');
  if (at == std::string::npos) return std::nullopt;
  std::vector<std::string> f = os::split(std::string_view(name).substr(at + 1), '-');
  if (f.size() != 4) return std::nullopt;
  auto pid = parse_u64(f[0]), start = parse_u64(f[1]), ns = parse_u64(f[2]);
  if (!pid || !start || !ns || *pid == 0 || *pid > 4194304) return std::nullopt;
  return Creator{static_cast<pid_t>(*pid), *start, *ns};
}

uint64_t random_bits() {
  uint64_t v = 0;
  if (::getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v) v = static_cast<uint64_t>(::time(nullptr)) ^ ::getpid();
  return v;
}

void say_waiting(const std::string& waiting) {
  std::string line = "rrun: " + waiting + "\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;  // nothing to do when stderr is gone
}

bool same_file(int fd, const std::string& path) {
  struct stat held, now;
  if (::fstat(fd, &held) < 0) os::throw_errno("stat " + os::quote(path));
  if (::stat(path.c_str(), &now) < 0) {
    if (errno == ENOENT) return false;
    os::throw_errno("stat " + os::quote(path));
  }
  return now.st_dev == held.st_dev && now.st_ino == held.st_ino;
}

int flock_retry(int fd, int op) {
  int r;
  do {
    r = ::flock(fd, op);
  } while (r < 0 && errno == EINTR);
  return r;
}

// Tries the lock for a short while: most holders (a write of images.json,
// a small blob) are done within milliseconds, and a waiting line for those
// would be noise. False when it is still held.
bool take_soon(int fd, int op, const std::string& path) {
  for (int i = 0;; ++i) {
    if (flock_retry(fd, op | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK) os::throw_errno("lock " + os::quote(path));
    if (i == kQuietTries) return false;
    ::usleep(kQuietStepUs);
  }
}

void add_bytes(int parent, const char* name, std::set<std::pair<dev_t, ino_t>>& seen, uint64_t& total) {
  struct stat st;
  if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return;
  if (S_ISREG(st.st_mode)) {
    if (st.st_nlink == 1 || seen.insert({st.st_dev, st.st_ino}).second) total += static_cast<uint64_t>(st.st_size);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;
  int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return;
  }
  while (struct dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    add_bytes(::dirfd(d), e->d_name, seen, total);
  }
  ::closedir(d);
}

}  // namespace

std::string read_bounded(const std::string& path, size_t limit, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) os::throw_errno("open " + what + " " + os::quote(path));
  os::UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) < 0) os::throw_errno("stat " + what + " " + os::quote(path));
  if (!S_ISREG(st.st_mode)) throw os::Error(what + " " + os::quote(path) + " is not a regular file");
  auto too_big = [&](uint64_t n) {
    return os::Error(what + " " + os::quote(path) + " is too large (" + std::to_string(n) + " bytes, the limit is " +
                     std::to_string(limit) + ")");
  };
  if (static_cast<uint64_t>(st.st_size) > limit) throw too_big(static_cast<uint64_t>(st.st_size));
  std::string out(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      if (got > limit) throw too_big(got);
      out.resize(std::min(limit + 1, out.size() * 2 + 4096));
    }
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      os::throw_errno("read " + what + " " + os::quote(path));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > limit) throw too_big(got);
  out.resize(got);
  return out;
}

std::string tmp_name(const std::string& prefix) {
  static std::atomic<uint32_t> counter{0};
  const Creator& c = self();
  return prefix + "@" + std::to_string(c.pid) + "-" + std::to_string(c.start) + "-" + std::to_string(c.pidns) + "-" +
         std::to_string(++counter) + "x" + std::to_string(random_bits() & 0xffffffff);
}

bool tmp_creator_gone(const std::string& name, time_t mtime) {
  bool old = ::time(nullptr) - mtime > kForeignGrace;
  std::optional<Creator> c = creator_of(name);
  if (!c || c->pidns != self().pidns) return old;
  return !os::process_alive(c->pid, c->start);
}

void write_atomic(const std::string& tmp_dir, const std::string& path, std::string_view data) {
  std::string tmp = tmp_dir + "/" + tmp_name(path.substr(path.rfind('/') + 1));
  os::UniqueFd fd = os::open_file(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  try {
    os::write_all(fd, data);
    if (::fsync(fd.get()) < 0) os::throw_errno("fsync");
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) < 0) os::throw_errno("rename to " + os::quote(path));
  } catch (...) {
    ::unlink(tmp.c_str());
    os::rethrow_with_context("write " + os::quote(path));
  }
}

os::UniqueFd lock_path(const std::string& path, bool shared, const std::string& waiting) {
  const int op = shared ? LOCK_SH : LOCK_EX;
  bool said = false;
  for (;;) {
    os::UniqueFd fd = os::open_file(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (!take_soon(fd.get(), op, path)) {
      if (!said) say_waiting(waiting);
      said = true;
      if (flock_retry(fd.get(), op) < 0) os::throw_errno("lock " + os::quote(path));
    }
    if (same_file(fd.get(), path)) return fd;
  }
}

os::UniqueFd try_lock_path(const std::string& path) {
  os::UniqueFd fd = os::open_file(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
  if (flock_retry(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno != EWOULDBLOCK) os::throw_errno("lock " + os::quote(path));
    return os::UniqueFd();
  }
  if (!same_file(fd.get(), path)) return os::UniqueFd();  // removed meanwhile: someone else's now
  return fd;
}

uint64_t disk_bytes(const std::string& path) {
  std::set<std::pair<dev_t, ino_t>> seen;
  uint64_t total = 0;
  add_bytes(AT_FDCWD, path.c_str(), seen, total);
  return total;
}

}  // namespace rrun::image::store_files
