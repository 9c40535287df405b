#include "file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

#include "error.hpp"

namespace rrun::os {

UniqueFd open_file(const std::string& path, int flags, mode_t mode) {
  return open_file_at(AT_FDCWD, path, flags, mode);
}

UniqueFd open_file_at(BorrowedFd dir, const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::openat(dir.get(), path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno("open " + quote(path));
  return UniqueFd(fd);
}

std::string read_fd(BorrowedFd fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string read_file(const std::string& path) {
  UniqueFd fd = open_file(path, O_RDONLY);
  try {
    return read_fd(fd);
  } catch (...) {
    rethrow_with_context("read " + quote(path));
  }
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + quote(path));
  }
  UniqueFd owned(fd);
  return read_fd(owned);
}

namespace {

const char* file_kind(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "not a regular file";
  }
}

Error too_big(const std::string& name, size_t max_bytes) {
  return Error(quote(name) + " is larger than " + std::to_string(max_bytes >> 20) + " MiB, the limit for this file");
}

// Reads `fd` to its end, failing once more than `max_bytes` came: the
// size can change under a stat, and a pipe has none. A non-blocking fd
// (a FIFO opened so, a stdin shared with O_NONBLOCK) waits in poll.
std::string read_capped(BorrowedFd fd, const std::string& name, size_t max_bytes, size_t expected) {
  std::string out;
  out.reserve(std::min(expected, max_bytes));
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {fd.get(), POLLIN, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      throw_errno("read " + quote(name));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) throw too_big(name, max_bytes);
  }
  return out;
}

}  // namespace

std::string read_input_fd(BorrowedFd fd, const std::string& name, size_t max_bytes) {
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) throw_errno("stat " + quote(name));
  if (!S_ISREG(st.st_mode))
    throw Error(quote(name) + " is " + file_kind(st.st_mode) + ", not a regular file: give the path of a file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) throw too_big(name, max_bytes);
  return read_capped(fd, name, max_bytes, static_cast<size_t>(st.st_size));
}

std::string read_input_stream(BorrowedFd fd, const std::string& name, size_t max_bytes) {
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) throw_errno("stat " + quote(name));
  if (S_ISREG(st.st_mode)) return read_input_fd(fd, name, max_bytes);
  const bool stream = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (S_ISCHR(st.st_mode) && ::isatty(fd.get()));
  if (!stream) throw Error(quote(name) + " is " + file_kind(st.st_mode) + ": give a file, a pipe or a terminal");
  return read_capped(fd, name, max_bytes, 0);
}

std::optional<std::string> read_input_file_if_exists(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + quote(path));
  }
  UniqueFd owned(fd);
  return read_input_fd(owned, path, max_bytes);
}

void write_all(BorrowedFd fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void write_file(const std::string& path, std::string_view data) {
  UniqueFd fd = open_file(path, O_WRONLY);
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0) throw_errno("write " + quote(path));
  if (static_cast<size_t>(n) != data.size()) throw SystemError(EIO, "short write to " + quote(path));
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}());
  UniqueFd fd = open_file(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  try {
    write_all(fd, data);
  } catch (...) {
    ::unlink(tmp.c_str());
    rethrow_with_context("write " + quote(tmp));
  }
  fd.reset();
  // An existing file is exchanged with the temp file, which is then removed:
  // a plain rename over it makes ext4 (auto_da_alloc) start writing the new
  // file's data back to disk, and the rename can wait for the block layer
  // (0.3 ms of a run's two state.json updates here). Readers see the old or
  // the new file either way. No target, or no RENAME_EXCHANGE: rename.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) {
    ::unlink(tmp.c_str());
    return;
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_errno(err, "rename " + quote(tmp) + " to " + quote(path));
  }
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void mkdir_p(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) throw_errno("create directory " + quote(cur));
  }
}

namespace {

void remove_tree_at(int parent, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return;
    throw_errno(std::string("stat ") + quote(name));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(parent, name, 0) < 0 && errno != ENOENT) throw_errno(std::string("remove ") + quote(name));
    return;
  }
  if (st.st_dev != dev)
    throw SystemError(EXDEV, std::string("refusing to remove ") + quote(name) + " on another file system");
  int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno(std::string("open ") + quote(name));
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    throw_errno(std::string("open ") + quote(name));
  }
  try {
    while (struct dirent* e = ::readdir(d)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      remove_tree_at(::dirfd(d), e->d_name, dev);
    }
  } catch (...) {
    ::closedir(d);
    throw;
  }
  ::closedir(d);
  if (::unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) throw_errno(std::string("remove ") + quote(name));
}

}  // namespace

void remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + quote(path));
  }
  try {
    remove_tree_at(AT_FDCWD, path.c_str(), st.st_dev);
  } catch (...) {
    rethrow_with_context("remove " + quote(path));
  }
}

void remove_tree_at(BorrowedFd dir, const std::string& name) {
  struct stat st;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + quote(name));
  }
  remove_tree_at(dir.get(), name.c_str(), st.st_dev);
}

}  // namespace rrun::os
