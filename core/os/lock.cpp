#include "lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "error.hpp"
#include "file.hpp"

namespace rrun::os {

FileLock::FileLock(const std::string& path) {
  acquire(path, true);
}

std::optional<FileLock> FileLock::try_lock(const std::string& path) {
  FileLock l;
  if (!l.acquire(path, false)) return std::nullopt;
  return l;
}

bool FileLock::acquire(const std::string& path, bool wait) {
  // The lock file may be unlinked by its holder (the state store removes a
  // container's lock with the container). A waiter that then gets the lock
  // holds it on a dead inode, so it retries until the file it locked is the
  // one at `path`.
  for (;;) {
    fd_ = open_file(path, O_RDWR | O_CREAT, 0600);
    while (::flock(fd_.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
      if (errno == EWOULDBLOCK && !wait) {
        fd_.reset();
        return false;
      }
      if (errno != EINTR) throw_errno("lock " + quote(path));
    }
    struct stat held, now;
    if (::fstat(fd_.get(), &held) < 0) throw_errno("stat " + quote(path));
    if (::stat(path.c_str(), &now) < 0) {
      if (errno != ENOENT) throw_errno("stat " + quote(path));
    } else if (now.st_dev == held.st_dev && now.st_ino == held.st_ino) {
      return true;
    }
    fd_.reset();
  }
}

}  // namespace rrun::os
