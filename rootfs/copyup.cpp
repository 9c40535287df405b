#include "copyup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <rrun/os/fd.hpp>

namespace rrun::rootfs {

namespace {

using os::fail_step;
using os::StepFailure;
using os::UniqueFd;

// Deeper than any /run or /tmp of an image; each level holds two fds and a
// getdents buffer on the stack.
constexpr int kMaxDepth = 64;

// Used between two calls, never across the recursion (the init is
// single-threaded).
char g_data[64 * 1024];
char g_names[XATTR_LIST_MAX];
char g_value[XATTR_SIZE_MAX];

struct Walk {
  const char* origin;
  const char* dest;
  StepFailure& f;
  char path[PATH_MAX];  // the entry being copied, below dest (for messages)
  size_t len;
};

int fail(Walk& w, int err, const char* what) noexcept {
  return fail_step(w.f, err, "tmpcopyup", "%s: tmpcopyup into the tmpfs on `%s`: %s `%s%s`", w.origin, w.dest, what,
                   w.dest, w.path);
}

// What the container's credentials can't reproduce (an owner its user
// namespace does not map, a trusted.* attribute, a file system without
// xattrs): the attribute is left out.
bool cannot_reproduce(int err) noexcept {
  return err == EPERM || err == EACCES || err == EINVAL || err == EOPNOTSUPP || err == ERANGE || err == E2BIG ||
         err == ENODATA;
}

int copy_xattrs(Walk& w, int in, int out) noexcept {
  ssize_t n = ::flistxattr(in, g_names, sizeof g_names);
  if (n <= 0) return 0;  // none, or none that can be read
  for (const char* name = g_names; name < g_names + n; name += std::strlen(name) + 1) {
    ssize_t v = ::fgetxattr(in, name, g_value, sizeof g_value);
    if (v < 0) continue;
    if (::fsetxattr(out, name, g_value, static_cast<size_t>(v), 0) != 0 && !cannot_reproduce(errno))
      return fail(w, errno, "set the extended attributes of");
  }
  return 0;
}

// Owner first (a chown clears set-id bits and file capabilities), then the
// mode and the xattrs, times last (after the content of a directory is in).
int copy_attrs(Walk& w, int in, int out, const struct stat& st, bool owner, bool mode) noexcept {
  if (owner && ::fchown(out, st.st_uid, st.st_gid) != 0 && !cannot_reproduce(errno))
    return fail(w, errno, "set the owner of");
  if (mode && ::fchmod(out, st.st_mode & 07777) != 0) return fail(w, errno, "set the mode of");
  if (copy_xattrs(w, in, out) != 0) return -1;
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  (void)::futimens(out, times);
  return 0;
}

// The same for an entry that has no fd of its own (symlink, node).
int copy_attrs_at(Walk& w, int dir, const char* name, const struct stat& st, bool mode) noexcept {
  if (::fchownat(dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 && !cannot_reproduce(errno))
    return fail(w, errno, "set the owner of");
  // Made by us a moment ago on our tmpfs: not a symlink.
  if (mode && ::fchmodat(dir, name, st.st_mode & 07777, 0) != 0) return fail(w, errno, "set the mode of");
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  (void)::utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW);
  return 0;
}

int write_all(int fd, const char* p, size_t n) noexcept {
  while (n > 0) {
    ssize_t k = ::write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += k;
    n -= static_cast<size_t>(k);
  }
  return 0;
}

int copy_data(int in, int out) noexcept {
  for (;;) {
    ssize_t n = ::sendfile(out, in, nullptr, size_t{1} << 30);
    if (n > 0) continue;
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    break;  // the source's file system can't splice: read and write
  }
  for (;;) {
    ssize_t n = ::read(in, g_data, sizeof g_data);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (write_all(out, g_data, static_cast<size_t>(n)) != 0) return -1;
  }
}

int copy_file(Walk& w, int src, int dst, const char* name) noexcept {
  // O_NONBLOCK: a fifo swapped in since the stat does not block the open.
  UniqueFd in(::openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!in.valid()) return fail(w, errno, "open");
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return fail(w, errno, "stat");
  if (!S_ISREG(st.st_mode)) return fail(w, EAGAIN, "copy (it changed while being copied)");
  UniqueFd out(::openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return fail(w, errno, "create");
  if (copy_data(in.get(), out.get()) != 0) return fail(w, errno, "copy the content of");
  return copy_attrs(w, in.get(), out.get(), st, true, true);
}

int copy_symlink(Walk& w, int src, int dst, const char* name, const struct stat& st) noexcept {
  char target[PATH_MAX];
  ssize_t n = ::readlinkat(src, name, target, sizeof target);
  if (n < 0) return fail(w, errno, "read the symlink");
  if (static_cast<size_t>(n) >= sizeof target) return fail(w, ENAMETOOLONG, "read the symlink");
  target[n] = '\0';
  if (::symlinkat(target, dst, name) != 0) return fail(w, errno, "create the symlink");
  return copy_attrs_at(w, dst, name, st, false);
}

int copy_node(Walk& w, int dst, const char* name, const struct stat& st) noexcept {
  if (::mknodat(dst, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) {
    // A device node can't be made in a user namespace: left out.
    if (errno == EPERM && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) return 0;
    return fail(w, errno, "create");
  }
  return copy_attrs_at(w, dst, name, st, true);
}

int copy_entries(Walk& w, int src, int dst, int depth) noexcept;

int copy_dir(Walk& w, int src, int dst, const char* name, int depth) noexcept {
  if (depth >= kMaxDepth) return fail(w, ELOOP, "copy (directories nested too deep)");
  UniqueFd in(::openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) return fail(w, errno, "open the directory");
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return fail(w, errno, "stat");
  if (::mkdirat(dst, name, 0700) != 0) return fail(w, errno, "create the directory");
  UniqueFd out(::openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!out.valid()) return fail(w, errno, "open the new directory");
  if (copy_entries(w, in.get(), out.get(), depth + 1) != 0) return -1;
  return copy_attrs(w, in.get(), out.get(), st, true, true);
}

int copy_entry(Walk& w, int src, int dst, const char* name, int depth) noexcept {
  struct stat st {};
  if (::fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return fail(w, errno, "stat");
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      return copy_file(w, src, dst, name);
    case S_IFDIR:
      return copy_dir(w, src, dst, name, depth);
    case S_IFLNK:
      return copy_symlink(w, src, dst, name, st);
    default:
      return copy_node(w, dst, name, st);
  }
}

int copy_entries(Walk& w, int src, int dst, int depth) noexcept {
  alignas(struct dirent64) char buf[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, src, buf, sizeof buf);
    if (n < 0) return fail(w, errno, "read the directory");
    if (n == 0) return 0;
    for (long pos = 0; pos < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + pos);
      pos += d->d_reclen;
      const char* name = d->d_name;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
      size_t saved = w.len;
      size_t nlen = std::strlen(name);
      if (saved + 1 + nlen >= sizeof w.path) return fail(w, ENAMETOOLONG, "copy");
      w.path[saved] = '/';
      std::memcpy(w.path + saved + 1, name, nlen + 1);
      w.len = saved + 1 + nlen;
      int r = copy_entry(w, src, dst, name, depth);
      w.len = saved;
      w.path[saved] = '\0';
      if (r != 0) return -1;
    }
  }
}

}  // namespace

int copy_up(int src, int dst, CopyUpRoot root, const char* origin, const char* dest, StepFailure& f) noexcept {
  Walk w{origin, dest, f, {}, 0};
  struct stat st {};
  if (::fstat(src, &st) != 0) return fail(w, errno, "stat");
  if (copy_entries(w, src, dst, 0) != 0) return -1;
  return copy_attrs(w, src, dst, st, root.owner, root.mode);
}

}  // namespace rrun::rootfs
