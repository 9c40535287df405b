#pragma once
// An exclusive advisory lock on a file (flock), held while the object lives.

#include <string>

#include "fd.hpp"

namespace rrun::os {

class FileLock {
 public:
  // Opens (creating if needed) `path` and blocks until the lock is held.
  explicit FileLock(const std::string& path);
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;

 private:
  UniqueFd fd_;
};

}  // namespace rrun::os
