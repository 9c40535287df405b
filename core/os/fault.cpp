#include "fault.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace rrun::os {

namespace fault_detail {

const char* kill_at = nullptr;

void reach(const char* name) noexcept {
  if (std::strcmp(kill_at, "list") == 0) {
    // One write, so that lines of concurrent processes don't interleave.
    char line[160];
    size_t n = 0;
    auto add = [&](const char* s) {
      for (; *s && n < sizeof line - 1; ++s) line[n++] = *s;
    };
    add("rrun-fault-point: ");
    add(name);
    line[n++] = '\n';
    ssize_t ignored = ::write(STDERR_FILENO, line, n);
    (void)ignored;
    return;
  }
  if (std::strcmp(kill_at, name) == 0) ::kill(::getpid(), SIGKILL);
}

}  // namespace fault_detail

void init_fault_points() noexcept {
  const char* v = std::getenv("RRUN_TEST_KILL_AT");
  fault_detail::kill_at = v && *v ? v : nullptr;
}

}  // namespace rrun::os
