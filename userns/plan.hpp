#pragma once
// The id-mapping plan of a new user namespace: which uid_map and gid_map
// lines to write, and how (directly or through newuidmap/newgidmap). Pure:
// computed in the parent before the clone, from the spec and the caller's
// subordinate ranges; written by write_id_maps (idmap.hpp).

#include <sys/types.h>

#include <string>
#include <vector>

#include <rrun/spec/spec.hpp>

#include "subid.hpp"

namespace rrun::userns {

struct PlanInput {
  // linux.uidMappings / linux.gidMappings of the spec; both empty means
  // "rrun adds the user namespace" (the rootless default, as crun does).
  std::vector<spec::IdMapping> uid_mappings;
  std::vector<spec::IdMapping> gid_mappings;
  uid_t uid = 0;  // the caller's effective uid and gid
  gid_t gid = 0;
  std::string user_name;  // empty when the uid has no passwd entry
  bool rootless = false;
  std::vector<SubRange> sub_uids;  // the caller's subordinate ranges
  std::vector<SubRange> sub_gids;
  // Only for messages: the files a missing range should be added to, read
  // (on the error path only) for a free range to propose.
  std::string subuid_path = "/etc/subuid";
  std::string subgid_path = "/etc/subgid";
};

struct MappingPlan {
  std::vector<spec::IdMapping> uid_map;
  std::vector<spec::IdMapping> gid_map;
  bool use_helpers = false;     // newuidmap/newgidmap write the maps
  bool deny_setgroups = false;  // write "deny" to /proc/PID/setgroups first (direct path)
  // Set when rrun made the mappings up (the spec had none): if newuidmap or
  // newgidmap is missing or fails, that map becomes the single mapping of the
  // caller's own id (container 0), as crun does. write_id_maps updates the plan.
  bool fallback_to_single = false;
  uid_t own_uid = 0;
  gid_t own_gid = 0;

  std::string uid_map_text() const;  // "0 1000 1\n1 100000 65536\n"
  std::string gid_map_text() const;
};

// The kernel's limit of lines in one map (since Linux 4.15).
inline constexpr size_t kMaxMapLines = 340;

// "0 1000 1\n1 100000 65536\n", the format of /proc/PID/uid_map.
std::string map_text(const std::vector<spec::IdMapping>& map);

// The lines of a /proc/PID/uid_map or gid_map ("inside outside count", any
// spacing) as mappings; a line that is not three numbers is skipped.
std::vector<spec::IdMapping> parse_map_text(const std::string& text);

// The ids a process of the user namespace whose map is `text` (our own
// /proc/self/uid_map) can use, as mappings of those ids onto themselves:
// what a container that shares that namespace maps.
std::vector<spec::IdMapping> own_ids(const std::string& text);

// Plans the maps.
// - Not rootless, or uid 0 (root in the user namespace we run in): the spec's
//   mappings are written directly; the kernel checks them.
// - Rootless with mappings in the spec: a uid map of exactly the caller's own
//   uid (size 1) and a gid map of exactly the caller's own gid are written
//   directly with setgroups denied. Otherwise every host range must be the
//   caller's own id or lie inside its subordinate ranges, and the helpers
//   write the maps; a range outside them is an os::Error that names the file
//   and the line to add.
// - Rootless without mappings: container 0 is the caller, 1..N the first
//   subordinate range (through the helpers); without a range a single
//   mapping, setgroups denied.
// A range outside the caller's ids is an os::Error that says which ids the
// caller has, the largest mapping that fits them, and a range free in
// /etc/subuid (/etc/subgid) for root to add (advice.hpp).
// Malformed mappings (size 0, past the id space, more than 340 lines, only one
// of the two maps given) are an os::Error naming the spec field.
MappingPlan plan_mappings(const PlanInput& in);

}  // namespace rrun::userns
