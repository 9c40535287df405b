#pragma once
// Thin wrappers for the Linux system calls glibc 2.36 does not wrap. Each
// returns what the kernel returns (-1 and errno on failure) so that callers
// can treat ENOSYS as a value and fall back (STYLE.md "Errors").

#include <linux/openat2.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>

namespace rrun::os::sys {

inline long clone3(struct clone_args* args, size_t size) {
  return ::syscall(SYS_clone3, args, size);
}

inline int pidfd_open(pid_t pid, unsigned flags = 0) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

inline int pidfd_send_signal(int pidfd, int sig, siginfo_t* info = nullptr, unsigned flags = 0) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

inline int pidfd_getfd(int pidfd, int targetfd, unsigned flags = 0) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, targetfd, flags));
}

inline int openat2(int dirfd, const char* path, struct open_how* how, size_t size) {
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, how, size));
}

inline int close_range(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

}  // namespace rrun::os::sys
