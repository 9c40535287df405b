#include "plan.hpp"

#include <cstdint>
#include <cstdio>
#include <limits>

#include <rrun/os/error.hpp>

namespace rrun::userns {
namespace {

using spec::IdMapping;

struct MapKind {
  const char* id;     // "uid"
  const char* field;  // "linux.uidMappings"
  const std::string& file;
  const std::string& other_file;
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

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
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

// The complaint about one map, empty when every host range is allowed.
struct Problem {
  std::string message;
  bool no_range = false;
  std::vector<std::string> lines;  // the subid lines to add
};

Problem check_rootless(const std::vector<IdMapping>& map, uint32_t own, const std::vector<SubRange>& subs,
                       const std::string& owner, const MapKind& k) {
  std::vector<const IdMapping*> outside;
  for (const IdMapping& m : map)
    if (!is_own_id(m, own) && !covered(m.host_id, m.size, subs)) outside.push_back(&m);
  Problem p;
  if (outside.empty()) return p;
  std::vector<std::string> quoted_lines;
  for (const IdMapping* m : outside) {
    p.lines.push_back(owner + ":" + std::to_string(m->host_id) + ":" + std::to_string(m->size));
    quoted_lines.push_back(quoted(p.lines.back()));
  }
  if (subs.empty()) {
    p.no_range = true;
    p.message = "user " + quoted(owner) + " has no subordinate " + k.id + "s in " + k.file + ": add " +
                join_and(quoted_lines) + " to " + k.file;
  } else {
    std::vector<std::string> described;
    for (const IdMapping* m : outside) described.push_back(describe(*m));
    std::string what = std::string(k.id) + (outside.size() == 1 ? " mapping " : " mappings ");
    for (size_t i = 0; i < described.size(); ++i) what += (i ? ", " : "") + described[i];
    p.message = what + (outside.size() == 1 ? " is" : " are") + " outside the subordinate ids of " + quoted(owner) +
                ": add " + join_and(quoted_lines) + " to " + k.file;
  }
  return p;
}

const char* kOwnIdHint = ", or use a single mapping of your own id";

[[noreturn]] void throw_problems(const Problem& u, const Problem& g, const MapKind& uk) {
  if (u.message.empty()) throw os::Error(g.message + (g.no_range ? kOwnIdHint : ""));
  if (g.message.empty()) throw os::Error(u.message + (u.no_range ? kOwnIdHint : ""));
  if (u.no_range && g.no_range && u.lines == g.lines)
    throw os::Error(u.message + " (and to " + uk.other_file + ")" + kOwnIdHint);
  throw os::Error(u.message + (u.no_range ? kOwnIdHint : "") + "; " + g.message + (g.no_range ? kOwnIdHint : ""));
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
    // sscanf, not a stream: no locale set-up on the create path.
    unsigned long inside = 0, outside = 0, count = 0;
    std::string line = text.substr(at, nl - at);
    if (std::sscanf(line.c_str(), "%lu %lu %lu", &inside, &outside, &count) == 3)
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
  const MapKind uk{"uid", "linux.uidMappings", in.subuid_path, in.subgid_path};
  const MapKind gk{"gid", "linux.gidMappings", in.subgid_path, in.subuid_path};
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
    plan.fallback_to_single = plan.use_helpers;
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
  Problem u = check_rootless(plan.uid_map, in.uid, in.sub_uids, owner, uk);
  Problem g = check_rootless(plan.gid_map, in.gid, in.sub_gids, owner, gk);
  if (!u.message.empty() || !g.message.empty()) throw_problems(u, g, uk);
  plan.use_helpers = true;
  return plan;
}

}  // namespace rrun::userns
