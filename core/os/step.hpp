#pragma once
// The failure record of the container init (STYLE.md "Errors": nothing
// unwinds across the clone). A child step returns 0 or -1; on -1 it has
// filled a StepFailure, which the child writes to the sync socket as is
// (fixed size, no pointers) and the parent turns into an exception.

#include <cstddef>

namespace rrun::os {

struct StepFailure {
  int err = 0;            // errno, 0 when the failure is not a system error
  char step[48] = {};     // short step name: "setresuid", "seccomp", ...
  char detail[400] = {};  // "what was tried `object`: hint" (no strerror: the parent adds it)
};

// Fills `f` (step and a printf-formatted detail, both truncated to fit) and
// returns -1, so that a step can end with `return fail_step(f, errno, ...)`.
// Async-signal-safe enough for the child: vsnprintf, no allocation.
int fail_step(StepFailure& f, int err, const char* step, const char* fmt, ...) noexcept
    __attribute__((format(printf, 4, 5)));

}  // namespace rrun::os
