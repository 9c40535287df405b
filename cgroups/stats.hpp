#pragma once
// Reading `events --stats` numbers from cgroup files (runc
// libcontainer/cgroups/fs and fs2 `GetStats`). Missing files leave their
// fields 0; nothing here throws.

#include <map>
#include <string>

#include "manager.hpp"

namespace rrun::cgroups {

// cgroup v1: `dirs` maps a controller name ("cpuacct", "memory", ...) to the
// cgroup's directory in that hierarchy. `clock_ticks` converts cpuacct.stat
// (USER_HZ) to ns.
Stats read_v1_stats(const std::map<std::string, std::string>& dirs, long clock_ticks);

// cgroup v2: the cgroup directory.
Stats read_v2_stats(const std::string& dir);

}  // namespace rrun::cgroups
