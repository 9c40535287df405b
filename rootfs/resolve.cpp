#include "resolve.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <rrun/os/syscall.hpp>

namespace rrun::rootfs {

namespace {

bool g_openat2_missing = false;
bool g_force_manual = false;

constexpr int kMaxLinks = 40;   // as the kernel's MAXSYMLINKS
constexpr int kMaxDepth = 256;  // directories held open during a walk

void close_keep_errno(int fd) noexcept {
  int saved = errno;
  ::close(fd);
  errno = saved;
}

// The walk for kernels without openat2: one component at a time with
// O_NOFOLLOW; a symlink's text replaces it in the remaining path (restarting
// at the root when absolute); ".." at the root stays at the root.
int open_manual(int rootfd, const char* path) noexcept {
  char buf[2 * PATH_MAX];
  char tmp[2 * PATH_MAX];
  size_t len = std::strlen(path);
  if (len >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(buf, path, len + 1);

  int stack[kMaxDepth];
  int depth = 0;
  int links = 0;
  size_t pos = 0;
  auto fail = [&]() noexcept {
    int saved = errno;
    while (depth > 0) ::close(stack[--depth]);
    errno = saved;
    return -1;
  };

  for (;;) {
    while (buf[pos] == '/') ++pos;
    if (buf[pos] == '\0') break;
    size_t end = pos;
    while (buf[end] != '\0' && buf[end] != '/') ++end;
    char name[NAME_MAX + 1];
    size_t n = end - pos;
    if (n > NAME_MAX) {
      errno = ENAMETOOLONG;
      return fail();
    }
    std::memcpy(name, buf + pos, n);
    name[n] = '\0';
    pos = end;
    if (std::strcmp(name, ".") == 0) continue;
    if (std::strcmp(name, "..") == 0) {
      if (depth > 0) ::close(stack[--depth]);
      continue;
    }
    int cur = depth > 0 ? stack[depth - 1] : rootfd;
    int fd = ::openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return fail();
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      close_keep_errno(fd);
      return fail();
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxLinks) {
        ::close(fd);
        errno = ELOOP;
        return fail();
      }
      char target[PATH_MAX];
      ssize_t tl = ::readlinkat(fd, "", target, sizeof target - 1);
      close_keep_errno(fd);
      if (tl < 0) return fail();
      target[tl] = '\0';
      size_t rest = std::strlen(buf + pos);
      if (static_cast<size_t>(tl) + 1 + rest + 1 > sizeof tmp) {
        errno = ENAMETOOLONG;
        return fail();
      }
      std::memcpy(tmp, target, tl);
      tmp[tl] = '/';
      std::memcpy(tmp + tl + 1, buf + pos, rest + 1);
      std::memcpy(buf, tmp, tl + 1 + rest + 1);
      pos = 0;
      if (target[0] == '/')
        while (depth > 0) ::close(stack[--depth]);
      continue;
    }
    if (depth == kMaxDepth) {
      ::close(fd);
      errno = ENAMETOOLONG;
      return fail();
    }
    stack[depth++] = fd;
  }
  int result;
  if (depth > 0) {
    result = stack[--depth];
  } else {
    result = ::openat(rootfd, ".", O_PATH | O_CLOEXEC);
    if (result < 0) return fail();
  }
  while (depth > 0) ::close(stack[--depth]);
  return result;
}

}  // namespace

void force_manual_resolution(bool on) noexcept {
  g_force_manual = on;
}

int open_in_root(int rootfd, const char* path) noexcept {
  while (*path == '/') ++path;
  const char* rel = *path != '\0' ? path : ".";
  if (!g_openat2_missing && !g_force_manual) {
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0; attempt < 64; ++attempt) {
      int fd = os::sys::openat2(rootfd, rel, &how, sizeof how);
      if (fd >= 0) return fd;
      if (errno == EAGAIN) continue;  // a concurrent rename; the kernel asks to retry
      if (errno == ENOSYS) {
        g_openat2_missing = true;
        break;
      }
      return -1;
    }
    if (!g_openat2_missing) return -1;
  }
  return open_manual(rootfd, rel);
}

int create_in_root(int rootfd, const char* path, bool directory) noexcept {
  int fd = open_in_root(rootfd, path);
  if (fd >= 0 || errno != ENOENT) return fd;

  size_t len = std::strlen(path);
  if (len >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  char prefix[PATH_MAX];
  size_t i = 0;
  for (;;) {
    while (path[i] == '/') ++i;
    if (path[i] == '\0') break;
    size_t start = i;
    while (path[i] != '\0' && path[i] != '/') ++i;
    size_t end = i;
    size_t k = i;
    while (path[k] == '/') ++k;
    bool last = path[k] == '\0';

    std::memcpy(prefix, path, end);
    prefix[end] = '\0';
    int pfd = open_in_root(rootfd, prefix);
    if (pfd >= 0) {
      if (last) return pfd;
      ::close(pfd);
      continue;
    }
    if (errno != ENOENT) return -1;

    // Create the component in its resolved parent.
    prefix[start] = '\0';
    int dfd = open_in_root(rootfd, prefix);
    if (dfd < 0) return -1;
    char name[NAME_MAX + 1];
    if (end - start > NAME_MAX) {
      ::close(dfd);
      errno = ENAMETOOLONG;
      return -1;
    }
    std::memcpy(name, path + start, end - start);
    name[end - start] = '\0';
    int rc;
    if (last && !directory) {
      rc = ::openat(dfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
      if (rc >= 0) {
        ::close(rc);
        rc = 0;
      }
    } else {
      rc = ::mkdirat(dfd, name, 0755);
    }
    close_keep_errno(dfd);
    if (rc < 0 && errno != EEXIST) return -1;

    std::memcpy(prefix, path, end);
    prefix[end] = '\0';
    pfd = open_in_root(rootfd, prefix);
    if (pfd < 0) return -1;
    if (last) return pfd;
    ::close(pfd);
  }
  // Only slashes: the root itself.
  return open_in_root(rootfd, "/");
}

}  // namespace rrun::rootfs
