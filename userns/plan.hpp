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
  // The spec's mappings are rrun's own choice (the YAML front-end's, through
  // kFallbackAnnotation): like mappings rrun adds to a spec without any,
  // they may become a single mapping of the caller's id (fallback_to_single).
  bool replaceable = false;
  // process.user: the fallback is taken only when a single mapping of the
  // caller's own id still maps it (and no additionalGids, since setgroups is
  // then denied).
  uint32_t process_uid = 0;
  uint32_t process_gid = 0;
  bool additional_gids = false;
};

// The annotation by which a spec's author (the YAML front-end) lets rrun
// replace its mappings by a single mapping of the caller's own id when
// newuidmap/newgidmap are missing or fail. The only value: "single".
inline constexpr const char* kFallbackAnnotation = "rrun.userns.fallback";

struct MappingPlan {
  std::vector<spec::IdMapping> uid_map;
  std::vector<spec::IdMapping> gid_map;
  bool use_helpers = false;     // newuidmap/newgidmap write the maps
  bool deny_setgroups = false;  // write "deny" to /proc/PID/setgroups first (direct path)
  // Set when rrun chose the mappings (the spec had none, or
  // PlanInput::replaceable) and a single mapping still maps process.user: if
  // newuidmap or newgidmap is missing or fails, that map becomes the single
  // mapping of the caller's own id (at the container id the plan gave it),
  // as crun does. use_single_mapping / write_id_maps update the plan.
  bool fallback_to_single = false;
  bool rrun_chose = false;  // the spec had no mappings, or PlanInput::replaceable
  uid_t own_uid = 0;
  gid_t own_gid = 0;
  uint32_t own_container_uid = 0;  // where the plan maps own_uid (0 when it does not)
  uint32_t own_container_gid = 0;
  // newuidmap and newgidmap where check_helpers found them (before the
  // clone, off the path the child waits on); empty: write_id_maps looks.
  std::string newuidmap_path;
  std::string newgidmap_path;

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

// Makes the plan the single mapping of the caller's own uid (and gid, when
// `gid` too), written directly; with the gid map, setgroups is denied.
void use_single_mapping(MappingPlan& plan, bool uid, bool gid);

// What happens when newuidmap/newgidmap are missing or cannot map, in the
// words `rrun doctor` and the errors share.
inline constexpr const char* kWithoutHelpers =
    "containers whose mappings rrun chooses (YAML sandboxes, bundles without linux.uidMappings) get a single "
    "mapping (your own id as root), and a config.json that maps more than your own id fails";

}  // namespace rrun::userns
