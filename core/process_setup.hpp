#pragma once
// The per-process settings of process.* (and linux.personality) that the
// container init applies just before exec: rlimits, user and groups, umask,
// no_new_privs, oomScoreAdj, personality, scheduler, ioPriority, CPU
// affinity. plan_process() runs in the parent and throws os::Error naming
// the JSON path; the apply_* functions run in the child, never throw, and
// return 0 or -1 with the os::StepFailure filled.
//
// Child order (see also caps.hpp and seccomp.hpp):
//   apply_rlimits()      — while privileged. Raising a hard limit needs
//                          CAP_SYS_RESOURCE in the *initial* user namespace:
//                          when the child is already in a new user namespace
//                          and the caller is root, use set_rlimits_of() from
//                          the parent instead (as runc does with prlimit).
//   apply_misc()         — umask, personality, oom_score_adj, scheduler,
//                          ioprio: while privileged (lowering oom_score_adj
//                          needs CAP_SYS_RESOURCE, real-time policies
//                          CAP_SYS_NICE), while /proc is reachable.
//   apply_user()         — setgroups, setresgid, setresuid with keepcaps.
//   apply_capabilities() — caps.hpp.
//   apply_no_new_privs(), apply_seccomp() — seccomp.hpp for which first.
//   apply_exec_cpu_affinity(plan, true) — last, just before exec (only for
//                          `exec`: runtime-spec says execCPUAffinity does not
//                          apply to the container's init process).

#include <sched.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <rrun/os/step.hpp>
#include <rrun/spec/spec.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rrun::core {

struct RlimitPlan {
  int resource = 0;  // RLIMIT_NOFILE, ...
  struct rlimit limit {};
};

// The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0 fields + util clamps).
struct SchedPlan {
  uint32_t policy = 0;
  uint64_t flags = 0;
  int32_t nice = 0;
  uint32_t priority = 0;
  uint64_t runtime = 0;
  uint64_t deadline = 0;
  uint64_t period = 0;
};

struct ProcessPlan {
  std::vector<RlimitPlan> rlimits;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::optional<mode_t> umask;
  bool no_new_privs = false;
  std::optional<int> oom_score_adj;
  std::optional<unsigned long> personality;  // persona value for personality(2)
  std::optional<SchedPlan> scheduler;
  std::optional<int> ioprio;  // IOPRIO_PRIO_VALUE(class, level)
  std::optional<cpu_set_t> cpu_affinity_initial;
  std::optional<cpu_set_t> cpu_affinity_final;
  std::string apparmor_profile;  // applied at exec (lsm.hpp)
};

// Throws os::Error, e.g. `process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"`.
// `personality` is linux.personality (it lives outside process in the spec).
ProcessPlan plan_process(const spec::Process& process,
                         const std::optional<spec::Personality>& personality = std::nullopt);

// The members the init's plan and exec's share that come straight from the
// spec's process: terminal, console size, cwd, args and env.
template <class Plan>
void copy_process_basics(Plan& plan, const spec::Process& process) {
  plan.terminal = process.terminal;
  if (process.console_size) {
    plan.console_rows = static_cast<unsigned short>(process.console_size->height);
    plan.console_cols = static_cast<unsigned short>(process.console_size->width);
  }
  plan.cwd = process.cwd;
  plan.args = process.args;
  plan.env = process.env;
}

// `exec --process`: what process.json leaves out comes from the container's
// own process, as runc takes it from the container's config
// (newInitConfig, finalizeNamespace): capabilities when absent (a present,
// empty object means none, and so does a container without them), rlimits
// when absent or empty, apparmorProfile and selinuxLabel when empty,
// oomScoreAdj when absent. noNewPrivileges when absent too: stricter than
// runc, whose command line always passes the file's value (false when
// absent).
void inherit_container_process(spec::Process& process, const spec::Process& container);

// "0-3,7" -> set. Throws os::Error prefixed with `path`.
cpu_set_t parse_cpu_list(const std::string& list, const std::string& path);

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 if unknown.
int rlimit_resource(const std::string& name);

// Parent side: prlimit(pid, ...) for each rlimit; throws os::SystemError.
void set_rlimits_of(pid_t pid, const ProcessPlan& plan);

// Child side.
int apply_rlimits(const ProcessPlan& plan, os::StepFailure& f) noexcept;
// setgroups(additional gids) only if `setgroups_allowed` (/proc/PID/setgroups
// is "allow" and the gids are mapped); with setgroups denied and
// additionalGids requested, fails with a message saying what to change.
int apply_user(const ProcessPlan& plan, bool setgroups_allowed, os::StepFailure& f) noexcept;
int apply_umask(const ProcessPlan& plan, os::StepFailure& f) noexcept;
int apply_personality(const ProcessPlan& plan, os::StepFailure& f) noexcept;
int apply_oom_score_adj(const ProcessPlan& plan, os::StepFailure& f) noexcept;
int apply_scheduler(const ProcessPlan& plan, os::StepFailure& f) noexcept;
int apply_io_priority(const ProcessPlan& plan, os::StepFailure& f) noexcept;
// umask, personality, oom_score_adj, scheduler, io priority, in this order.
int apply_misc(const ProcessPlan& plan, os::StepFailure& f) noexcept;
int apply_no_new_privs(const ProcessPlan& plan, os::StepFailure& f) noexcept;
// Applies cpu_affinity_final (final = true) or cpu_affinity_initial.
int apply_exec_cpu_affinity(const ProcessPlan& plan, bool final, os::StepFailure& f) noexcept;

}  // namespace rrun::core
