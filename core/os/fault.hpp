#pragma once
// Fault points: a test hook that SIGKILLs rrun at a named step of a command
// (issue 15, "Faults"; test/integration/test_fault_points.sh).
//
//   RRUN_TEST_KILL_AT=NAME   rrun kills itself with SIGKILL at point NAME
//   RRUN_TEST_KILL_AT=list   rrun prints "rrun-fault-point: NAME" to stderr
//                            at every point it reaches, and goes on
//
// The environment is read once, by main (init_fault_points); unset, a point
// costs one load and a not-taken branch: no syscall, no string compare.
// A point is async-signal-safe and allocation-free, so it may sit in a
// child between clone and exec too.

namespace rrun::os {

namespace fault_detail {
extern const char* kill_at;  // the variable's value, nullptr when unset
void reach(const char* name) noexcept;
}  // namespace fault_detail

// Reads RRUN_TEST_KILL_AT; call once, early, single-threaded.
void init_fault_points() noexcept;

// Point `name` ("create.cloned"): the step before it is done, the next one
// not begun.
inline void fault_point(const char* name) noexcept {
  if (__builtin_expect(fault_detail::kill_at != nullptr, 0)) fault_detail::reach(name);
}

}  // namespace rrun::os
