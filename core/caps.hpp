#pragma once
// process.capabilities (config.md "Linux process"): names turned into bit
// masks in the parent, applied by the child with capset and prctl (no libcap
// in the child).
//
// Child order (runc finalizeNamespace, crun libcrun_set_caps):
//   1. apply_misc() and the other steps that need privilege;
//   2. apply_user()   — setgroups/setresgid/setresuid with PR_SET_KEEPCAPS,
//                       so the permitted set survives a switch away from uid 0;
//   3. apply_capabilities() — regains the effective set from the permitted
//                       one, drops the bounding set (needs CAP_SETPCAP), then
//                       sets inheritable/permitted/effective, then ambient;
//   4. apply_no_new_privs(), apply_seccomp() (see seccomp.hpp for the order).

#include <rrun/os/step.hpp>
#include <rrun/spec/spec.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rrun::core {

struct CapsPlan {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t inheritable = 0;
  uint64_t permitted = 0;
  uint64_t ambient = 0;
  unsigned last_cap = 63;  // highest capability the kernel knows
};

// The value of /proc/sys/kernel/cap_last_cap (CAP_LAST_CAP of the headers
// when it can't be read).
unsigned read_last_cap();

// Names such as "CAP_CHOWN" (any case) to masks. As runc and crun 1.9+:
// an unknown name, and a capability beyond `last_cap` (newer than the
// kernel), is ignored with a line in `warnings`. An ambient capability not
// in both permitted and inheritable can't be raised (capabilities(7)) and
// is dropped from the plan with a warning. A name without the CAP_ prefix
// is an error naming the JSON path (`process.capabilities.bounding[0]: ...`).
// Absent capabilities are five empty sets, as in runc's finalizeNamespace:
// a config without them gets no capability, never all of rrun's.
CapsPlan plan_capabilities(const std::optional<spec::Capabilities>& caps, unsigned last_cap,
                           std::vector<std::string>* warnings = nullptr);

// Child side, after apply_user(). Returns 0, or -1 with `f` filled.
int apply_capabilities(const CapsPlan& plan, os::StepFailure& f) noexcept;

}  // namespace rrun::core
