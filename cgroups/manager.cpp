#include "manager.hpp"

#include <rrun/os/error.hpp>

#include "resources.hpp"

namespace rrun::cgroups {

namespace {

const char* const kDelegationHint =
    "to get a delegated cgroup, run rrun under `systemd-run --user --scope -p Delegate=yes rrun ...`, "
    "or ask an administrator to delegate a cgroup v2 subtree to you (chown the directory, its cgroup.procs, "
    "cgroup.subtree_control and cgroup.threads)";

}  // namespace

std::string describe_missing_limits(const spec::Resources& r) {
  std::vector<std::string> limits = requested_limits(r);
  if (limits.empty()) return "";
  std::string msg = "no cgroup is delegated to this user, so these limits were not applied: ";
  for (size_t i = 0; i < limits.size(); ++i) {
    if (i) msg += ", ";
    msg += limits[i];
  }
  return msg + "; " + kDelegationHint;
}

void NoneManager::freeze() {
  throw os::Error(std::string("cannot pause the container: it has no cgroup (none driver); ") + kDelegationHint);
}

void NoneManager::thaw() {
  throw os::Error(std::string("cannot resume the container: it has no cgroup (none driver); ") + kDelegationHint);
}

}  // namespace rrun::cgroups
