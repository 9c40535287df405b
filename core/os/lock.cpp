#include "lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include "error.hpp"
#include "file.hpp"

namespace rrun::os {

FileLock::FileLock(const std::string& path) : fd_(open_file(path, O_RDWR | O_CREAT, 0600)) {
  while (::flock(fd_.get(), LOCK_EX) < 0) {
    if (errno != EINTR) throw_errno("lock " + quote(path));
  }
}

}  // namespace rrun::os
