#pragma once
// A user namespace kept between rootless runs (README Performance 10).
//
// A run whose maps reach beyond the caller's own id needs newuidmap and
// newgidmap: two setuid programs, each an exec and five libraries linked
// (~3 ms apiece on the benchmark's machine, a third of a run). Instead, the
// first such run starts a keeper: a process in a user namespace that maps
// the caller's own uid and gid and every subordinate range onto themselves,
// mapped once by the helpers. Later runs join that namespace before the
// clone (setns through a pidfd); there they hold CAP_SETUID and CAP_SETGID
// over the container's new namespace and write its maps themselves. The kept
// maps being the identity, the container's maps are written as the spec
// gives them, and the container reads the same /proc/self/uid_map as it
// would without the keeper.
//
// The keeper holds no file, directory or terminal. It exits when its record
// is gone or names another process, or when no run has joined it for
// its idle time (RRUN_USERNS_KEEP). It is only a cache: a container made in its namespace
// keeps that namespace alive by itself.
//
// Containers cannot reach it: it is in a user namespace above theirs
// (ptrace and /proc/PID/exe need CAP_SYS_PTRACE in it), and outside their
// pid namespaces.

#include <sys/types.h>

#include <string>
#include <vector>

#include <rrun/spec/spec.hpp>

#include "subid.hpp"

namespace rrun::userns {

// How long a keeper waits for the next run: RRUN_USERNS_KEEP's default.
inline constexpr int kKeptIdleSeconds = 30;

struct KeptRequest {
  // The keeper's record, "PID STARTTIME\n": a file of the caller's alone.
  std::string record;
  uid_t uid = 0;  // the caller's own ids
  gid_t gid = 0;
  std::vector<SubRange> sub_uids;
  std::vector<SubRange> sub_gids;
  std::string newuidmap_path;  // as check_helpers found them
  std::string newgidmap_path;
  int idle_seconds = kKeptIdleSeconds;  // for a keeper this call starts
};

// The kept namespace's map: `own` and each range of `subs` onto itself, in
// ascending order, overlaps merged.
std::vector<spec::IdMapping> kept_map(uint32_t own, const std::vector<SubRange>& subs);

// Joins the kept namespace, starting a keeper first when none is recorded
// whose maps are kept_map's. The caller must be single-threaded. Returns ""
// when joined; otherwise why not, and the caller is where it was (it then
// maps through the helpers as before).
std::string join_kept_namespace(const KeptRequest& req);

}  // namespace rrun::userns
