#pragma once
// linux.seccomp (config-linux.md "Seccomp"), planned in the parent and
// loaded by the child (STYLE.md "plan in the parent, execute in the child";
// crun setup_seccomp -> libcrun_apply_seccomp).
//
// The parent compiles the filter with libseccomp and exports the classic BPF
// program into a sealed memfd; the child maps that memfd and loads it with
// the seccomp(2) system call, so the child never calls into libseccomp.
//
// Order in the child (as runc): load the filter as late as possible, after
// the capabilities and the user are set. Loading needs no_new_privs or
// CAP_SYS_ADMIN: with process.noNewPrivileges, call apply_no_new_privs()
// then apply_seccomp() last before exec; without it, call apply_seccomp()
// before apply_capabilities() drops CAP_SYS_ADMIN (and before apply_user()
// when the user is not root).

#include <rrun/os/fd.hpp>
#include <rrun/os/step.hpp>
#include <rrun/spec/spec.hpp>

#include <string>
#include <vector>

namespace rrun::core {

struct SeccompPlan {
  os::UniqueFd bpf;               // memfd holding the struct sock_filter array, offset 0
  bool notify = false;            // a rule uses SCMP_ACT_NOTIFY: load with NEW_LISTENER
  unsigned flags = 0;             // SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER)
  std::string listener_path;      // linux.seccomp.listenerPath (set when notify)
  std::string listener_metadata;  // linux.seccomp.listenerMetadata
};

// Compiles the filter into a memfd. A syscall name unknown to libseccomp is
// skipped and appended to `skipped_names` (for a debug line, as runc does).
// Throws os::Error naming the JSON path for an invalid spec, e.g.
// `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
os::UniqueFd compile_seccomp(const spec::Seccomp& seccomp, std::vector<std::string>* skipped_names = nullptr);

// compile_seccomp plus the flags and the notify facts. Also validates the
// flags (`linux.seccomp.flags[0]: unknown flag "..."`) and that a filter
// with SCMP_ACT_NOTIFY has a listenerPath.
SeccompPlan plan_seccomp(const spec::Seccomp& seccomp, std::vector<std::string>* skipped_names = nullptr);

// What linux.seccomp accepts, for `rrun features` (features-linux.md
// "Seccomp"): action, operator and flag names in the order of rrun's tables;
// the architectures the linked libseccomp resolves; and the known flags the
// running kernel accepts (probed with seccomp(2) on a null program, which
// never installs anything).
std::vector<std::string> seccomp_known_actions();
std::vector<std::string> seccomp_known_operators();
std::vector<std::string> seccomp_known_archs();
std::vector<std::string> seccomp_known_flags();
std::vector<std::string> seccomp_supported_flags();

// Child side: loads the filter. When p.notify, the listener fd is stored in
// *notify_fd_out (close-on-exec; the caller sends it to the parent, which
// calls send_seccomp_listener). Returns 0, or -1 with `f` filled.
int apply_seccomp(const SeccompPlan& p, int* notify_fd_out, os::StepFailure& f) noexcept;

// Parent side: connects to the unix socket at `listener_path` and sends
// `state_json` (the container state with "fds": ["seccompFd"] and
// "metadata": listenerMetadata, see config-linux.md "seccomp listener")
// with `notify_fd` attached by SCM_RIGHTS. Throws os::SystemError.
void send_seccomp_listener(const std::string& listener_path, int notify_fd, const std::string& state_json);

}  // namespace rrun::core
