#pragma once
// File descriptors owned by a type (STYLE.md "Resources"; Android libbase
// unique_fd). close() is never retried: on Linux the fd is gone after EINTR.

#include <unistd.h>
#include <cerrno>

#include <utility>

namespace rrun::os {

class BorrowedFd;

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the current fd (keeping errno) and owns `fd` instead.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      int saved = errno;
      ::close(fd_);
      errno = saved;
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A parameter type for an fd that the callee uses but does not own.
class BorrowedFd {
 public:
  BorrowedFd(int fd) noexcept : fd_(fd) {}                    // NOLINT(google-explicit-constructor)
  BorrowedFd(const UniqueFd& fd) noexcept : fd_(fd.get()) {}  // NOLINT
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace rrun::os
