#include "lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "error.hpp"
#include "file.hpp"

namespace rrun::os {

FileLock::FileLock(const std::string& path) {
  // The lock file may be unlinked by its holder (the state store removes a
  // container's lock with the container). A waiter that then gets the lock
  // holds it on a dead inode, so it retries until the file it locked is the
  // one at `path`.
  for (;;) {
    fd_ = open_file(path, O_RDWR | O_CREAT, 0600);
    while (::flock(fd_.get(), LOCK_EX) < 0) {
      if (errno != EINTR) throw_errno("lock " + quote(path));
    }
    struct stat held, now;
    if (::fstat(fd_.get(), &held) < 0) throw_errno("stat " + quote(path));
    if (::stat(path.c_str(), &now) < 0) {
      if (errno != ENOENT) throw_errno("stat " + quote(path));
    } else if (now.st_dev == held.st_dev && now.st_ino == held.st_ino) {
      return;
    }
    fd_.reset();
  }
}

}  // namespace rrun::os
