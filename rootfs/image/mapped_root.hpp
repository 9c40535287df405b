#pragma once
// Work done as root of a user namespace with a given mapping: unpacking a
// layer rootless (the files get the image's owners through the caller's
// subordinate ids) and removing what such an unpack made (files of
// subordinate ids, directories without write permission for the caller).

#include <functional>
#include <vector>

#include <rrun/spec/spec.hpp>

namespace rrun::image {

// Forks a child that unshares a user namespace, waits until this process
// has written its maps (`uid_map`, `gid_map`: container -> host, through
// newuidmap/newgidmap when they map more than the caller's own ids), and
// runs `in_child` as that namespace's root; meanwhile `in_parent` runs
// here. `fallback_to_single`: helpers that are missing or fail leave the
// single mapping of the caller's own ids (enough for a removal). The
// child's exception becomes an os::Error with its message; the child is
// always reaped, killed when this side fails.
void run_as_mapped_root(const std::vector<spec::IdMapping>& uid_map, const std::vector<spec::IdMapping>& gid_map,
                        const std::function<void()>& in_child, const std::function<void()>& in_parent,
                        bool fallback_to_single = false);

}  // namespace rrun::image
