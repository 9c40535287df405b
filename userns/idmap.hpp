#pragma once
// Writing the id maps of a child that waits in its new user namespace. Runs
// in the parent, after the clone: directly through /proc/PID/{setgroups,
// gid_map,uid_map}, or through the setuid helpers newuidmap/newgidmap
// (Debian package "uidmap"), run without a shell.

#include <sys/types.h>

#include <optional>
#include <string>

#include "plan.hpp"

namespace rrun::userns {

struct IdMapOptions {
  // Where to look for newuidmap/newgidmap: this PATH-style list (nullopt: the
  // PATH of the environment), then `fallback_dir` (empty: none). Only
  // absolute directories are searched.
  std::optional<std::string> search_path;
  std::string fallback_dir = "/usr/bin";
  std::string proc_root = "/proc";
};

// Writes `plan` for process `child`. Directly: setgroups "deny" (when
// plan.deny_setgroups), the gid map, the uid map. Through the helpers:
// newuidmap, then newgidmap.
// Failures are os::Error / os::SystemError:
//   `newuidmap not found: install the "uidmap" package (`apt-get install uidmap`; ...)`
//   `newuidmap failed (exit status 1): <its first line of output>; check /etc/subuid`
// With plan.fallback_to_single, a helper that is missing or fails is not an
// error: that map is written directly as the single mapping of the caller's
// own id (container 0), `plan` is updated to what was written, and the
// reason is returned for the caller to warn about once. Returns "" otherwise.
std::string write_id_maps(pid_t child, MappingPlan& plan, const IdMapOptions& opts = {});

// Before the clone, for a plan that needs newuidmap and newgidmap: when one
// is not installed, the plan becomes the single mapping of the caller's own
// ids if it may (plan.fallback_to_single), and the reason is returned for
// the caller to warn about once; otherwise an os::Error names the helper,
// its package and the single mapping that would do without it (when rrun
// chose the mappings, process.user is what needs more). Returns "" when
// nothing is missing; the paths found are recorded in the plan.
std::string check_helpers(MappingPlan& plan, const IdMapOptions& opts = {});

// The path of a helper (such as "newuidmap") as write_id_maps finds it, or
// nullopt when it is absent.
std::optional<std::string> find_helper(const std::string& name, const IdMapOptions& opts = {});

}  // namespace rrun::userns
