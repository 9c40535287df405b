#pragma once
// Pieces of the lifecycle shared by lifecycle.cpp and create.cpp (internal to
// core).

#include <rrun/os/fd.hpp>

#include "state.hpp"

namespace rrun::core {

// A pidfd for the container init, or an invalid fd when that process (pid +
// start time) no longer exists.
os::UniqueFd open_init_pidfd(const State& s);

// Waits until the process of `pidfd` exits; false on timeout.
bool wait_pidfd_exit(os::BorrowedFd pidfd, int timeout_ms);

// Sends `sig` to the init, and with `all` to every process of its pid
// namespace. Throws when the init is gone.
void signal_container(const State& s, int sig, bool all);

// Kills what runs, removes the state (and later the cgroup), runs poststop
// hooks. Call with the container's lock held.
void destroy_container(StateStore& store, State& s);

}  // namespace rrun::core
