#pragma once
// The foreground side of `run`: wait for the init, forward signals to it,
// and proxy the pty when process.terminal is set and no console socket was
// given.

#include <signal.h>
#include <sys/types.h>

namespace rrun::core {

// The signals `run` and `exec` forward to the process in the foreground:
// all but those that cannot be caught and those the kernel sends for a
// fault of rrun itself.
sigset_t forwarded_signals();

// Waits until `pid` (our child, or an orphan we reap as subreaper) exits.
// Signals in `forward` (blocked by the caller) are sent on to it; SIGCHLD
// and SIGWINCH are handled here. With `console_master` >= 0, copies stdin to
// it and its output to stdout, in raw mode when stdin is a terminal.
// A SIGTERM is sent on as `term_signal` (`run`: the container's stop signal).
// Returns the exit code a shell would show: the status, or 128+N for a
// signal N.
int wait_and_forward(pid_t pid, int pidfd, const sigset_t& forward, int console_master, int term_signal = SIGTERM);

}  // namespace rrun::core
