#pragma once
// Pieces of the lifecycle shared by lifecycle.cpp and create.cpp (internal to
// core).

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <rrun/cgroups/manager.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/spec/spec.hpp>

#include "seccomp.hpp"
#include "state.hpp"

namespace rrun::core {

// A pidfd for the process `pid` that started at `start_time`, or an invalid
// fd when that process no longer exists (or pid is 0). `what` names it in
// errors.
os::UniqueFd open_process_pidfd(pid_t pid, uint64_t start_time, const std::string& what);
// A pidfd for the container init, or an invalid fd when that process (pid +
// start time) no longer exists.
os::UniqueFd open_init_pidfd(const State& s);

// The config.json the container was created from (read_trusted()); throws
// os::Error when it is missing or corrupt.
spec::Spec load_container_spec(const StateStore& store, const std::string& id);

// Starts the created container `s` (its state loaded or written under the
// lock, which the caller holds): opens the exec FIFO, waits for the init to
// exec the process (`pidfd`: the init's, to notice its death), records
// running and runs the poststart hooks, `poststart` when given (run has the
// spec), else those of the container's config.json.
void start_created(StateStore& store, State& s, const std::vector<spec::Hook>* poststart, os::BorrowedFd pidfd);

// Waits until the process of `pidfd` exits; false on timeout.
bool wait_pidfd_exit(os::BorrowedFd pidfd, int timeout_ms);

// Sends `sig` to the init, and with `all` to every process of its pid
// namespace. Throws when the init is gone.
void signal_container(const State& s, int sig, bool all);

// Kills what runs, removes the state (and later the cgroup), runs poststop
// hooks. Call with the container's lock held.
void destroy_container(StateStore& store, State& s);

// A container whose foreground `run` is gone (abandoned_by_runner) is
// ended as that run would have ended it: destroyed (returns false), or with
// run --keep stopped and recorded as an ordinary stopped container. Any
// other is left as it is (true). Call with the lock held, on a state loaded
// under it.
bool settle_abandoned(StateStore& store, State& s);

// clone3 with CLONE_PIDFD and `flags`; into the cgroup `cgroup_fd` with
// CLONE_INTO_CGROUP when it is >= 0 and the kernel can (*into_cgroup says
// whether it did: if not, the caller moves the child before it runs).
// Returns what clone returns (0 in the child, -1 with errno).
// A cgroup namespace is rooted at the cgroup of the process that creates it:
// when the child does not start in its cgroup (`cgroup_fd` -1 as on v1 and
// systemd, or a kernel without CLONE_INTO_CGROUP), CLONE_NEWCGROUP is left
// out of the clone and added to `*late_unshare` (the child's copy of the
// plan), so the child unshares it once the caller has moved it.
pid_t clone_child(unsigned long flags, int cgroup_fd, int* pidfd_out, bool* into_cgroup,
                  unsigned long* late_unshare = nullptr);

// --pid-file: writes `pid` to `path` (relative to the current directory)
// atomically; nothing when `path` is empty.
void write_pid_file(const std::string& path, pid_t pid);

// --console-socket: sends the pty master over SCM_RIGHTS (runc's protocol).
void send_console(const std::string& socket_path, int master);

// SCMP_ACT_NOTIFY: receives the listener fd (Msg::seccomp_fd) and hands it to
// the agent at listenerPath with the container process state.
void send_seccomp_agent(int sync_fd, const SeccompPlan& seccomp, const State& st);

// Every process in the pid namespace of `pid` (`pid` too), unsorted, when
// that namespace is not ours and `pid` is its init; empty when it is ours,
// joined (`pid` is not its pid 1), or `pid` is gone.
// Throws os::SystemError when /proc cannot be read.
std::vector<pid_t> processes_in_pid_namespace_of(pid_t pid);

// Writes ID/cgroup ("DRIVER\nPATH"): the cgroup a create in progress made,
// for `delete --force` after rrun was killed before state.json existed.
void record_cgroup(StateStore& store, const std::string& id, const std::string& driver, const std::string& path);

// The cgroup manager of a created container (from state.json).
std::unique_ptr<cgroups::Manager> container_cgroup(const State& s);

}  // namespace rrun::core
