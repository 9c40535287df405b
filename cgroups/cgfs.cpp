#include "cgfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <limits>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include "common.hpp"

namespace rrun::cgroups::cgfs {

namespace {

std::vector<std::string> subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.push_back(join(dir, name));
  }
  ::closedir(d);
  return out;
}

WriteHook& write_hook() {
  static WriteHook hook;
  return hook;
}

}  // namespace

void set_write_hook(WriteHook hook) {
  write_hook() = std::move(hook);
}

int try_write(const std::string& dir, const std::string& file, const std::string& value) {
  std::string path = join(dir, file);
  if (write_hook()) {
    int err = write_hook()(path, value);
    if (err < 0) return 0;
    if (err > 0) return err;
  }
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno;
  os::UniqueFd owned(fd);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) != value.size()) return EIO;
  return 0;
}

void write(const std::string& dir, const std::string& file, const std::string& value) {
  int err = try_write(dir, file, value);
  if (err) os::throw_errno(err, "write " + os::quote(value) + " to " + os::quote(join(dir, file)));
}

void apply(const std::string& dir, const FileWrite& w) {
  int err = try_write(dir, w.file, w.value);
  if (err == ENOENT && !w.fallback_file.empty()) {
    int err2 = try_write(dir, w.fallback_file, w.fallback_value);
    if (err2 == 0) return;
    if (err2 != ENOENT)
      os::throw_errno(err2, "write " + os::quote(w.fallback_value) + " to " + os::quote(join(dir, w.fallback_file)));
  }
  if (err == ENOENT && w.skip_if_missing) return;
  if (err) os::throw_errno(err, "write " + os::quote(w.value) + " to " + os::quote(join(dir, w.file)));
}

std::optional<std::string> read(const std::string& dir, const std::string& file) {
  try {
    return os::read_file_if_exists(join(dir, file));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<uint64_t> read_u64(const std::string& dir, const std::string& file) {
  auto text = read(dir, file);
  if (!text) return std::nullopt;
  std::vector<std::string> ws = os::words(*text);
  if (ws.empty()) return std::nullopt;
  const std::string& word = ws.front();
  if (word == "max") return std::numeric_limits<uint64_t>::max();
  try {
    size_t used = 0;
    uint64_t v = std::stoull(word, &used);
    if (used != word.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    // "-1" (v1 limits) and garbage: not a usable number.
    return std::nullopt;
  }
}

std::map<std::string, uint64_t> parse_keyed(const std::string& text) {
  std::map<std::string, uint64_t> out;
  for (const std::string& line : os::split(text, '\n')) {
    std::vector<std::string> kv = os::words(line);
    if (kv.size() < 2) continue;
    const std::string& key = kv[0];
    const std::string& value = kv[1];
    if (value == "max") {
      out[key] = std::numeric_limits<uint64_t>::max();
      continue;
    }
    try {
      out[key] = std::stoull(value);
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::map<std::string, uint64_t> read_keyed(const std::string& dir, const std::string& file) {
  auto text = read(dir, file);
  return text ? parse_keyed(*text) : std::map<std::string, uint64_t>{};
}

std::vector<uint64_t> parse_numbers(const std::string& text) {
  std::vector<uint64_t> out;
  for (const std::string& word : os::words(text)) {
    try {
      out.push_back(std::stoull(word));
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::vector<pid_t> procs(const std::string& dir, bool recursive) {
  std::vector<pid_t> out;
  if (auto text = read(dir, "cgroup.procs")) {
    for (uint64_t p : parse_numbers(*text))
      if (p > 0) out.push_back(static_cast<pid_t>(p));
  }
  if (recursive) {
    for (const auto& sub : subdirs(dir)) {
      auto more = procs(sub, true);
      out.insert(out.end(), more.begin(), more.end());
    }
  }
  return out;
}

void signal_all(const std::string& dir, int sig) {
  for (pid_t pid : procs(dir, true)) {
    if (::kill(pid, sig) < 0 && errno != ESRCH)
      os::throw_errno("send signal " + std::to_string(sig) + " to pid " + std::to_string(pid) + " of " +
                      os::quote(dir));
  }
}

void remove(const std::string& dir) {
  for (const auto& sub : subdirs(dir)) remove(sub);
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY || attempt >= 100) os::throw_errno("remove cgroup " + os::quote(dir));
    // Still populated: kill what is left (a process may have been forked or
    // moved in meanwhile) and give the kernel time to reap it.
    for (pid_t pid : procs(dir, false)) ::kill(pid, SIGKILL);
    sleep_ms(attempt < 10 ? 1 : 10);
  }
}

bool make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
    errno = EEXIST;
  }
  os::throw_errno("create cgroup " + os::quote(dir));
}

std::string dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  bool a_slash = a.back() == '/';
  bool b_slash = b.front() == '/';
  if (a_slash && b_slash) return a + b.substr(1);
  if (a_slash || b_slash) return a + b;
  return a + "/" + b;
}

std::string clean(const std::string& path) {
  bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  for (const std::string& part : os::split(path, '/')) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += "/";
    out += parts[i];
  }
  return out;
}

bool is_within(const std::string& path, const std::string& base) {
  if (base == "/") return !path.empty() && path[0] == '/';
  if (path.compare(0, base.size(), base) != 0) return false;
  return path.size() == base.size() || path[base.size()] == '/';
}

}  // namespace rrun::cgroups::cgfs
