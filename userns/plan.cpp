#include "plan.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>

#include <rrun/os/error.hpp>
#include <rrun/os/text.hpp>

#include "advice.hpp"

namespace rrun::userns {
namespace {

using spec::IdMapping;

struct MapKind {
  const char* id;     // "uid"
  const char* field;  // "linux.uidMappings"
};

std::string at(const MapKind& k, size_t i) {
  return std::string(k.field) + "[" + std::to_string(i) + "]";
}

// The kernel's rules for a map, checked here so that the error names the
// spec field instead of a bare EINVAL from the write.
void validate(const std::vector<IdMapping>& map, const MapKind& k) {
  if (map.size() > kMaxMapLines)
    throw os::Error(std::string(k.field) + ": " + std::to_string(map.size()) + " mappings, the kernel allows at most " +
                    std::to_string(kMaxMapLines));
  constexpr uint64_t kIdSpace = std::numeric_limits<uint32_t>::max();  // ids 0 .. 2^32-2
  for (size_t i = 0; i < map.size(); ++i) {
    const IdMapping& m = map[i];
    if (m.size == 0) throw os::Error(at(k, i) + ": size must be at least 1");
    if (uint64_t{m.container_id} + m.size > kIdSpace)
      throw os::Error(at(k, i) + ": container ids " + std::to_string(m.container_id) + " + " + std::to_string(m.size) +
                      " go past the " + k.id + " space");
    if (uint64_t{m.host_id} + m.size > kIdSpace)
      throw os::Error(at(k, i) + ": host ids " + std::to_string(m.host_id) + " + " + std::to_string(m.size) +
                      " go past the " + k.id + " space");
    for (size_t j = 0; j < i; ++j) {
      const IdMapping& o = map[j];
      auto overlap = [](uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; };
      if (overlap(m.container_id, m.size, o.container_id, o.size))
        throw os::Error(at(k, i) + ": container ids overlap " + at(k, j));
      if (overlap(m.host_id, m.size, o.host_id, o.size)) throw os::Error(at(k, i) + ": host ids overlap " + at(k, j));
    }
  }
}

// Whether [start, start+count) lies inside the union of `ranges` (adjacent
// or overlapping ranges count together, as in shadow's have_range()).
bool covered(uint64_t start, uint64_t count, const std::vector<SubRange>& ranges) {
  const uint64_t end = start + count;
  while (start < end) {
    uint64_t best_end = start;
    for (const SubRange& r : ranges) {
      const uint64_t r_end = uint64_t{r.start} + r.count;
      if (r.start <= start && start < r_end && r_end > best_end) best_end = r_end;
    }
    if (best_end == start) return false;
    start = best_end;
  }
  return true;
}

bool is_own_id(const IdMapping& m, uint32_t own) {
  return m.host_id == own && m.size == 1;
}

bool is_single_own_id(const std::vector<IdMapping>& map, uint32_t own) {
  return map.size() == 1 && is_own_id(map[0], own);
}

std::string join_and(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

std::string describe(const IdMapping& m) {
  return std::to_string(m.container_id) + " -> " + std::to_string(m.host_id) + " (" + std::to_string(m.size) +
         (m.size == 1 ? " id)" : " ids)");
}

// A map that uses host ids the caller does not have: what it asked for,
// what the caller has, and the free range root could add (advice.hpp).
struct Problem {
  const MapKind* kind = nullptr;
  std::vector<IdMapping> outside;  // the mappings past the caller's ids
  CallerIds caller;
  uint64_t wanted = 0;  // ids past the caller's own that the map asks for
  uint32_t free_start = 0;

  explicit operator bool() const { return !outside.empty(); }
  // The same complaint for the other kind: one sentence can say both.
  bool parallels(const Problem& o) const {
    return outside == o.outside && caller.own == o.caller.own && caller.ranges == o.caller.ranges &&
           wanted == o.wanted && free_start == o.free_start;
  }
};

Problem check_rootless(const std::vector<IdMapping>& map, CallerIds caller, const MapKind& k) {
  Problem p;
  p.kind = &k;
  uint64_t total = 0;
  for (const IdMapping& m : map) {
    total += m.size;
    if (!is_own_id(m, caller.own) && !covered(m.host_id, m.size, caller.ranges)) p.outside.push_back(m);
  }
  if (p.outside.empty()) return p;
  p.wanted = std::max<uint64_t>(kDefaultSubids, total - 1);
  p.free_start = free_subid_start_of(caller.file, p.wanted, caller.ranges);
  p.caller = std::move(caller);
  return p;
}

// "linux.uidMappings: 1 -> 100000 (70000 ids) maps host uids that are not
// yours: you (alice) have ...; map at most 65537 ids: 0 -> 1000, 1-65536 ->
// 100000-165535, or, as root, add ... and map 0 -> 1000, 1-70000 -> ...".
// `also`: the parallel problem of the other kind, said in the same words.
std::string complaint(const Problem& p, const Problem* also) {
  const CallerIds& c = p.caller;
  const CallerIds* other = also ? &also->caller : nullptr;
  const std::vector<IdMapping> fits = largest_map(c);
  std::vector<std::string> described;
  bool partly = false;  // some of those host ids are the caller's
  for (const IdMapping& m : p.outside) {
    described.push_back(describe(m));
    for (const IdMapping& f : fits)
      partly = partly || (m.host_id < uint64_t{f.host_id} + f.size && f.host_id < uint64_t{m.host_id} + m.size);
  }
  std::string out = std::string(p.kind->field) + (also ? std::string(" and ") + also->kind->field : "") + ": " +
                    join_and(described) + (p.outside.size() == 1 ? " maps" : " map") + " host " +
                    (also ? "ids" : std::string(p.kind->id) + "s") + " that are not " + (partly ? "all " : "") +
                    "yours: " + describe_caller(c, other) + "; ";
  if (fits.size() == 1)
    out += "map only your own " + std::string(also ? "ids" : p.kind->id) + " (" + describe_map(fits) + ")";
  else
    out += "map at most " + std::to_string(uint64_t{fits.back().container_id} + fits.back().size) +
           " ids: " + describe_map(fits);
  const std::vector<IdMapping> added{{0, c.own, 1}, {1, p.free_start, static_cast<uint32_t>(p.wanted)}};
  return out + ", or, as root, " + add_range_remedy(c, p.free_start, p.wanted, other) + " and map " +
         describe_map(added);
}

[[noreturn]] void throw_problems(const Problem& u, const Problem& g) {
  if (!u) throw os::Error(complaint(g, nullptr));
  if (!g) throw os::Error(complaint(u, nullptr));
  if (u.parallels(g)) throw os::Error(complaint(u, &g));
  throw os::Error(complaint(u, nullptr) + "; " + complaint(g, nullptr));
}

// The container id at which `map` puts host id `own`, if it does.
std::optional<uint32_t> container_id_of(const std::vector<IdMapping>& map, uint32_t own) {
  for (const IdMapping& m : map)
    if (m.host_id <= own && own - m.host_id < m.size) return m.container_id + (own - m.host_id);
  return std::nullopt;
}

// Whether a single mapping of the caller's own ids, where the plan puts
// them, may replace the plan: rrun chose it, and process.user still maps.
void allow_fallback(MappingPlan& plan, const PlanInput& in, bool rrun_chose) {
  plan.rrun_chose = rrun_chose;
  auto cu = container_id_of(plan.uid_map, plan.own_uid);
  auto cg = container_id_of(plan.gid_map, plan.own_gid);
  if (!cu || !cg) return;
  plan.own_container_uid = *cu;
  plan.own_container_gid = *cg;
  plan.fallback_to_single = rrun_chose && plan.use_helpers && in.process_uid == *cu && in.process_gid == *cg &&
                            !in.additional_gids;
}

// Container 0 is the caller; 1..N the first subordinate range, if any.
std::vector<IdMapping> default_map(uint32_t own, const std::vector<SubRange>& subs) {
  std::vector<IdMapping> map{{0, own, 1}};
  if (!subs.empty()) map.push_back({1, subs.front().start, subs.front().count});
  return map;
}

}  // namespace

std::string map_text(const std::vector<spec::IdMapping>& map) {
  std::string out;
  for (const IdMapping& m : map)
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  return out;
}

std::vector<spec::IdMapping> parse_map_text(const std::string& text) {
  std::vector<IdMapping> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    // Neither a stream (no locale set-up on the create path) nor sscanf.
    unsigned long inside = 0, outside = 0, count = 0;
    std::string_view line = std::string_view(text).substr(at, nl - at);
    size_t pos = 0;
    if (os::read_uint(line, pos, inside) && os::read_uint(line, pos, outside) && os::read_uint(line, pos, count))
      out.push_back({static_cast<uint32_t>(inside), static_cast<uint32_t>(outside), static_cast<uint32_t>(count)});
    at = nl + 1;
  }
  return out;
}

std::vector<spec::IdMapping> own_ids(const std::string& text) {
  std::vector<IdMapping> out = parse_map_text(text);
  for (IdMapping& m : out) m.host_id = m.container_id;
  return out;
}

std::string MappingPlan::uid_map_text() const {
  return map_text(uid_map);
}
std::string MappingPlan::gid_map_text() const {
  return map_text(gid_map);
}

MappingPlan plan_mappings(const PlanInput& in) {
  const MapKind uk{"uid", "linux.uidMappings"};
  const MapKind gk{"gid", "linux.gidMappings"};
  const bool privileged = !in.rootless || in.uid == 0;

  MappingPlan plan;
  plan.own_uid = in.uid;
  plan.own_gid = in.gid;

  if (in.uid_mappings.empty() && in.gid_mappings.empty()) {
    // Root inside a user namespace (rootless Podman): /etc/subuid speaks of
    // host ids that this namespace does not see, so use none.
    const bool ranges_usable = !(in.rootless && in.uid == 0);
    plan.uid_map = default_map(in.uid, ranges_usable ? in.sub_uids : std::vector<SubRange>{});
    plan.gid_map = default_map(in.gid, ranges_usable ? in.sub_gids : std::vector<SubRange>{});
    if (privileged) return plan;
    plan.use_helpers = plan.uid_map.size() > 1 || plan.gid_map.size() > 1;
    plan.deny_setgroups = !plan.use_helpers;
    allow_fallback(plan, in, true);
    return plan;
  }
  if (in.uid_mappings.empty())
    throw os::Error("linux.uidMappings: empty while linux.gidMappings is set; a user namespace needs both");
  if (in.gid_mappings.empty())
    throw os::Error("linux.gidMappings: empty while linux.uidMappings is set; a user namespace needs both");
  validate(in.uid_mappings, uk);
  validate(in.gid_mappings, gk);
  plan.uid_map = in.uid_mappings;
  plan.gid_map = in.gid_mappings;
  if (privileged) return plan;

  if (is_single_own_id(plan.uid_map, in.uid) && is_single_own_id(plan.gid_map, in.gid)) {
    plan.deny_setgroups = true;
    return plan;
  }
  const std::string owner = in.user_name.empty() ? std::to_string(in.uid) : in.user_name;
  Problem u = check_rootless(plan.uid_map, {IdKind::uid, in.uid, owner, in.sub_uids, in.subuid_path}, uk);
  Problem g = check_rootless(plan.gid_map, {IdKind::gid, in.gid, owner, in.sub_gids, in.subgid_path}, gk);
  if (u || g) throw_problems(u, g);
  plan.use_helpers = true;
  allow_fallback(plan, in, in.replaceable);
  return plan;
}

void use_single_mapping(MappingPlan& plan, bool uid, bool gid) {
  if (uid) plan.uid_map = {{plan.own_container_uid, plan.own_uid, 1}};
  if (gid) plan.gid_map = {{plan.own_container_gid, plan.own_gid, 1}};
  if (gid) plan.deny_setgroups = true;
  if (uid && gid) plan.use_helpers = false;
}

}  // namespace rrun::userns
