#pragma once
// What to tell a rootless user whose ids do not fit: the ids they have, a
// range that is free in /etc/subuid (/etc/subgid) for root to add, and the
// largest mapping that fits what they have. The mapping plan (plan.cpp),
// `rrun doctor` and the YAML front-end's `user:` check all use these, so that
// they propose the same free range in the same words.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rrun/spec/spec.hpp>

#include "subid.hpp"

namespace rrun::userns {

// The size of the range useradd gives (and most images need: nobody is 65534).
inline constexpr uint64_t kDefaultSubids = 65536;

enum class IdKind { uid, gid };

// The caller's ids of one kind.
struct CallerIds {
  IdKind kind = IdKind::uid;
  uint32_t own = 0;             // the caller's uid (gid)
  std::string owner;            // the user's name, or the uid as text
  std::vector<SubRange> ranges; // the caller's subordinate ranges
  std::string file;             // /etc/subuid or /etc/subgid
};

// The lowest start, from 100000 up, of `count` ids that no range of the
// subuid/subgid file's text touches, nor any of `taken` (the caller's own
// ranges, which may come from libsubid): useradd's first fit, ids no other
// user has.
uint32_t free_subid_start(std::string_view file_text, uint64_t count = kDefaultSubids,
                          const std::vector<SubRange>& taken = {});
// The same for the file at `path`; an absent or unreadable file counts as
// empty.
uint32_t free_subid_start_of(const std::string& path, uint64_t count = kDefaultSubids,
                             const std::vector<SubRange>& taken = {});

// "100000-165535 (65536 ids)", ranges joined with " and "; "" for none.
std::string describe_ranges(const std::vector<SubRange>& ranges);

// "0 -> 1000, 1-65536 -> 100000-165535": mappings as container -> host.
std::string describe_map(const std::vector<spec::IdMapping>& map);

// The largest map of the caller's own ids: container 0 is the caller,
// 1.. its subordinate ranges in order.
std::vector<spec::IdMapping> largest_map(const CallerIds& c);

// "you (alice) have uid 1000 and the subordinate uids 100000-165535 (65536
// ids) in /etc/subuid" or "... and no subordinate uids in /etc/subuid".
// With `also` (the other kind, with the same own id and ranges): "you
// (alice) have uid and gid 1000 and no subordinate ids in /etc/subuid and
// /etc/subgid".
std::string describe_caller(const CallerIds& c, const CallerIds* also = nullptr);

// The line root adds and the usermod command that adds it:
// "add `alice:165536:65536` to /etc/subuid (`usermod --add-subuids
// 165536-231071 alice`)". With `also`, the same range for the other kind in
// the same sentence ("... to /etc/subuid and /etc/subgid (`usermod
// --add-subuids ... --add-subgids ... alice`)").
std::string add_range_remedy(const CallerIds& c, uint32_t start, uint64_t count, const CallerIds* also = nullptr);

// The YAML front-end's complaint about `user:` naming an id that the
// sandbox's map `map` (container side) leaves out, after "uid 1000": what
// the sandbox maps, the caller's ids, and the remedies (a uid that fits,
// `user: root`, `user: keep` when `id` is the caller's, a free range for
// root to add, found in c.file).
std::string unmapped_user_hint(uint32_t id, const std::vector<spec::IdMapping>& map, const CallerIds& c);

}  // namespace rrun::userns
