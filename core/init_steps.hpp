#pragma once
// Steps the container init (child.cpp) and an `exec` process (exec.cpp)
// share, between clone and execve. Like everything that runs in the child
// they never throw and never allocate where a caller could have forked a
// multi-threaded parent; they return 0 or -1 with the os::StepFailure filled.

#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <rrun/os/step.hpp>

#include "process_setup.hpp"
#include "seccomp.hpp"

namespace rrun::core {

// setsid(): the process that becomes the container's (init or exec'd)
// leaves the caller's session and process group, as with runc and crun, so
// that signals to the caller's group (Slurm kills the group of `create`
// when it returns; Ctrl-C reaches `run`, which forwards it) do not reach it
// directly.
int start_session(os::StepFailure& f) noexcept;

// A new pty from /dev/ptmx: the master (close-on-exec) unlocked, and its
// slave opened through it (TIOCGPTPEER) with O_RDWR | O_NOCTTY | slave_flags.
int open_pty(int slave_flags, int* master_out, int* slave_out, os::StepFailure& f) noexcept;

// A pty inside the container (its /dev/ptmx): the slave becomes stdio and
// the controlling terminal of our session (start_session() must have made
// it, with no terminal yet); the master is returned in `master_out` for the
// parent. rows/cols 0: the kernel's default size.
int setup_terminal(unsigned short rows, unsigned short cols, int* master_out, os::StepFailure& f) noexcept;

// args[0] found like execvp does, with the PATH of `env` (else the default
// PATH), into `out`; checked now so that a missing program is reported
// before the process is committed.
int resolve_executable(const std::vector<std::string>& args, const std::vector<std::string>& env, char* out,
                       size_t out_size, os::StepFailure& f) noexcept;

// fds 3 .. 3+preserve_fds-1 stay open (without CLOEXEC); every fd above is
// close-on-exec, so nothing of rrun reaches the process (CVE-2024-21626).
int close_fds_on_exec(unsigned preserve_fds, os::StepFailure& f) noexcept;

// The container's v1 cgroups (cgroups::Manager::open_tasks_files), joined
// by the child itself before anything else: "0" written to each `tasks` file
// moves this thread, all of a process that has no other. Each fd is closed.
int join_cgroups(const std::vector<int>& tasks_fds, os::StepFailure& f) noexcept;

// The fds of rrun's that a child still needs when it closes the others.
struct KeptFds {
  int fd[32];
  size_t n = 0;
  // fd < 0 (absent) and stdio are ignored.
  void add(int f) noexcept {
    if (f >= 3 && n < std::size(fd)) fd[n++] = f;
  }
};

// Closes every fd above the preserved ones (3 .. 3+preserve_fds-1) except
// those in `keep` (sorted here in place).
void close_fds_except(unsigned preserve_fds, KeptFds& keep) noexcept;

// A joined pid namespace or a new time namespace takes effect for children
// only: forks once more. Returns 0 in the child, once the parent has sent
// Msg::init_pid with the child's pid on `sync_fd` and exited (so that rrun
// reads init_pid before anything the child sends); -1 with `f` filled.
int fork_and_report_pid(int sync_fd, os::StepFailure& f) noexcept;

// The seccomp filter, loaded before the capabilities are dropped unless it
// can wait until just before exec. Without no_new_privs, loading needs
// CAP_SYS_ADMIN (seccomp.hpp); a filter with a notify listener is loaded now
// in any case (with no_new_privs set first if asked for) and the listener
// goes to rrun as Msg::seccomp_fd on `sync_fd`. *late says whether the
// caller still has to load it last (apply_seccomp after apply_no_new_privs).
int load_seccomp_early(const std::optional<SeccompPlan>& seccomp, const ProcessPlan& process, int sync_fd, bool* late,
                       os::StepFailure& f) noexcept;

// Whether our user namespace denies setgroups(2) (/proc/self/setgroups).
bool userns_denies_setgroups() noexcept;

// "HOME=DIR" for a process of `uid` whose `env` has no HOME, as runc: DIR is
// the user's home in the container's /etc/passwd (read from the current
// root, before seccomp), or "/" when the file has no such user or can't be
// read. nullptr when `env` sets HOME. Points to static storage.
const char* home_env(uid_t uid, const std::vector<std::string>& env) noexcept;

// A sealed program executed in place of the process, which then executes
// the process itself: the exec trampoline (exe_guard.hpp) or rrun's init
// (pid1.hpp). It insists on `marker` as argv[0] and takes the path of the
// process next. fd -1: none, the process is executed directly.
struct ExecVia {
  int fd = -1;
  const char* marker = nullptr;
};

// execve of `exe` with `args`/`env` (and `extra_env` when not null), through
// `via` when it has an fd. Returns only on failure, with errno.
void exec_process(const char* exe, const std::vector<std::string>& args, const std::vector<std::string>& env,
                  ExecVia via, const char* extra_env = nullptr) noexcept;

}  // namespace rrun::core
