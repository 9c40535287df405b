#pragma once
// An exclusive advisory lock on a file (flock), held while the object lives.

#include <optional>
#include <string>

#include "fd.hpp"

namespace rrun::os {

class FileLock {
 public:
  // Opens (creating if needed) `path` and blocks until the lock is held.
  explicit FileLock(const std::string& path);
  // The same without waiting: nullopt when another open file holds it.
  static std::optional<FileLock> try_lock(const std::string& path);
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;

 private:
  FileLock() = default;
  // Takes the lock; false (with `wait` false) when someone else holds it.
  bool acquire(const std::string& path, bool wait);

  UniqueFd fd_;
};

}  // namespace rrun::os
