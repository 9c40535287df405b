#pragma once
// Whether rrun runs in the initial user namespace, and whether it is
// rootless (runc's userns.RunningInUserNS and crun's rootless detection).

#include <sys/types.h>

#include <string>

namespace rrun::userns {

// True when /proc/self/uid_map is the identity map of the whole id space
// ("0 0 4294967295"), i.e. we are not inside a user namespace. An absent
// uid_map (a kernel without user namespaces) counts as the initial one.
bool in_initial_user_namespace(const std::string& proc_root = "/proc");

// Rootless: an effective uid other than 0, or uid 0 inside a user namespace
// that maps only part of the id space (rootless Podman runs runtimes so).
bool running_rootless(uid_t euid, const std::string& proc_root = "/proc");

}  // namespace rrun::userns
