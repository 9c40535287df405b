#pragma once
// Linux security module labels: process.selinuxLabel, linux.mountLabel,
// process.apparmorProfile, and exec's --process-label and --apparmor.
//
// SELinux: where it is not enabled a label is a no-op (a debug line), as in
// crun and go-selinux: Podman and CRI tools send labels from their
// defaults. Where SELinux is enabled rrun cannot apply labels yet and
// refuses them, naming the field.
// AppArmor, as runc: a profile is applied to the process at its exec
// (aa_change_onexec: "exec PROFILE" written to
// /proc/thread-self/attr/apparmor/exec, or attr/exec before Linux 5.8). runc
// writes it whether or not AppArmor is enabled, and fails where it is not;
// rrun refuses such a profile before anything starts.

#include <rrun/os/fd.hpp>
#include <rrun/os/step.hpp>

#include <string>

namespace rrun::core {

// The debug line saying `label` is ignored where SELinux is not enabled
// (`sys`/fs/selinux/enforce absent); "" for an empty label. Where SELinux is
// enabled a label throws os::Error naming `field` (not supported yet).
std::string check_selinux_label(const std::string& field, const std::string& label, const std::string& sys = "/sys");

// Whether AppArmor is enabled: `sys`/module/apparmor/parameters/enabled says Y.
bool apparmor_enabled(const std::string& sys = "/sys");
// Throws os::Error naming `field` when `profile` is set and AppArmor is not
// enabled under `sys`.
void check_apparmor_profile(const std::string& field, const std::string& profile, const std::string& sys = "/sys");

// The parent's /proc (O_PATH) for apply_apparmor_profile when `profile` is
// set, else an empty fd: the profile is written through the runtime's
// procfs, not through a /proc the container could have mounted over.
os::UniqueFd open_proc_for_profile(const std::string& profile);

// Child side, just before exec: the profile for the next exec, through
// `proc_fd` (open_proc_for_profile). 0 when `profile` is empty.
int apply_apparmor_profile(int proc_fd, const std::string& profile, os::StepFailure& f) noexcept;

}  // namespace rrun::core
