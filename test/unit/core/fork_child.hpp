#pragma once
// Runs a piece of a unit test in a forked child, for steps that change the
// process for good (seccomp filters, capabilities, rlimits, uids).

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <exception>
#include <functional>

namespace rrun::test {

// Runs `fn` in a forked child and returns its wait status; the child's exit
// code is fn's result (an exception is 99).
inline int run_in_child(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 99;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    // exit_group directly: _exit under AddressSanitizer runs its own
    // teardown (sigaltstack, mmap), which seccomp filters under test refuse.
    ::syscall(SYS_exit_group, rc);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

inline int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace rrun::test
