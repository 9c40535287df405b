#pragma once
// linux.resources.devices on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE
// program built by hand (no libbpf), loaded with bpf(2) and attached to the
// container's cgroup with BPF_F_ALLOW_MULTI (crun src/libcrun/ebpf.c, runc
// libcontainer/cgroups/devices/devicefilter; the instruction layout is the
// one systemd introduced).
//
// The program: R1 points at struct bpf_cgroup_dev_ctx {u32 access_type;
// u32 major; u32 minor}. A prologue loads type (access_type & 0xffff) into
// R2, access (access_type >> 16) into R3, major into R4, minor into R5. Then
// one block per rule, the LAST rule of the list first (so that, as with the
// v1 devices.allow/deny writes, a later rule overrides an earlier one):
//   if R2 != type goto next            (no check for type a)
//   R1 = R3; R1 &= access; if R1 != R3 goto next   (no check for rwm)
//   if R4 != major goto next           (no check for a wildcard major)
//   if R5 != minor goto next           (no check for a wildcard minor)
//   R0 = allow ? 1 : 0; exit
// and a final "R0 = 0; exit" (deny what no rule matched). A rule that
// matches everything (type a, or all checks absent) ends the program: the
// rules before it in the list can never match.

#include <linux/bpf.h>

#include <vector>

#include <rrun/os/fd.hpp>
#include <rrun/spec/spec.hpp>

namespace rrun::cgroups {

// The instructions for `rules` (used as given; the driver appends
// default_device_rules()). Type "a" or "" matches every device regardless of
// major/minor (as the v1 line "a"). Throws os::Error for a rule outside the
// program's range (a major or minor above INT32_MAX).
std::vector<struct bpf_insn> device_program(const std::vector<spec::DeviceCgroupRule>& rules);

// Loads `program` (BPF_PROG_LOAD, type CGROUP_DEVICE) and returns its fd.
// Throws os::SystemError; the message includes the verifier log.
os::UniqueFd load_device_program(const std::vector<struct bpf_insn>& program);

// Loads `program` and attaches it to the cgroup directory `cgroup_fd`
// (BPF_F_ALLOW_MULTI), then detaches the device programs that were attached
// there before (an update replaces the rules). Throws os::SystemError; the
// message includes the verifier log when the load fails.
void attach_device_program(int cgroup_fd, const std::vector<struct bpf_insn>& program);

}  // namespace rrun::cgroups
