#include "advice.hpp"

#include <algorithm>
#include <limits>

#include <rrun/os/file.hpp>

namespace rrun::userns {
namespace {

// useradd's SUB_UID_MIN: ranges below it are left to system use.
constexpr uint64_t kFirstSubid = 100000;

const char* id_word(IdKind k) {
  return k == IdKind::uid ? "uid" : "gid";
}

std::string span(uint64_t start, uint64_t count) {
  if (count == 1) return std::to_string(start);
  return std::to_string(start) + "-" + std::to_string(start + count - 1);
}

std::string plural_ids(uint64_t n) {
  return std::to_string(n) + (n == 1 ? " id" : " ids");
}

// The words for one kind, or for both at once (`both`).
struct Words {
  std::string id;     // "uid", "uid and gid"
  std::string ids;    // "uids", "ids"
  std::string files;  // "/etc/subuid", "/etc/subuid and /etc/subgid"
};

Words words(const CallerIds& c, const CallerIds* also) {
  if (!also) return {id_word(c.kind), std::string(id_word(c.kind)) + "s", c.file};
  return {"uid and gid", "ids", c.file + " and " + also->file};
}

std::string usermod_flag(IdKind k, uint32_t start, uint64_t count) {
  return std::string(k == IdKind::uid ? "--add-subuids " : "--add-subgids ") + span(start, count) + " ";
}

}  // namespace

uint32_t free_subid_start(std::string_view file_text, uint64_t count, const std::vector<SubRange>& taken) {
  std::vector<SubRange> all = parse_all_subid_ranges(file_text);
  all.insert(all.end(), taken.begin(), taken.end());
  std::sort(all.begin(), all.end(), [](const SubRange& a, const SubRange& b) { return a.start < b.start; });
  uint64_t start = kFirstSubid;
  for (const SubRange& r : all) {
    const uint64_t end = uint64_t{r.start} + r.count;
    if (start + count <= r.start) break;  // the gap before r fits
    start = std::max(start, end);
  }
  // The id space is 2^32-1 ids; a file full up to there leaves nothing to
  // propose but the usual start (root will see the clash).
  constexpr uint64_t kIdSpace = std::numeric_limits<uint32_t>::max();
  return start + count > kIdSpace ? static_cast<uint32_t>(kFirstSubid) : static_cast<uint32_t>(start);
}

uint32_t free_subid_start_of(const std::string& path, uint64_t count, const std::vector<SubRange>& taken) {
  std::string text;
  try {
    text = os::read_file_if_exists(path).value_or("");
  } catch (const std::exception&) {
    // Unreadable: propose from what we know, nothing.
  }
  return free_subid_start(text, count, taken);
}

std::string describe_ranges(const std::vector<SubRange>& ranges) {
  std::string out;
  uint64_t total = 0;
  for (const SubRange& r : ranges) {
    out += (out.empty() ? "" : " and ") + span(r.start, r.count);
    total += r.count;
  }
  return out.empty() ? out : out + " (" + plural_ids(total) + ")";
}

std::string describe_map(const std::vector<spec::IdMapping>& map) {
  std::string out;
  for (const spec::IdMapping& m : map)
    out += (out.empty() ? "" : ", ") + span(m.container_id, m.size) + " -> " + span(m.host_id, m.size);
  return out;
}

std::vector<spec::IdMapping> largest_map(const CallerIds& c) {
  std::vector<spec::IdMapping> map{{0, c.own, 1}};
  uint64_t next = 1;
  for (const SubRange& r : c.ranges) {
    if (map.size() == 340) break;  // the kernel's limit of lines
    map.push_back({static_cast<uint32_t>(next), r.start, r.count});
    next += r.count;
  }
  return map;
}

std::string describe_caller(const CallerIds& c, const CallerIds* also) {
  const Words w = words(c, also);
  std::string out = "you (" + c.owner + ") have " + w.id + " " + std::to_string(c.own) + " and ";
  if (c.ranges.empty()) return out + "no subordinate " + w.ids + " in " + w.files;
  return out + "the subordinate " + w.ids + " " + describe_ranges(c.ranges) + " in " + w.files;
}

std::string add_range_remedy(const CallerIds& c, uint32_t start, uint64_t count, const CallerIds* also) {
  const Words w = words(c, also);
  return "add `" + c.owner + ":" + std::to_string(start) + ":" + std::to_string(count) + "` to " + w.files +
         " (`usermod " + usermod_flag(c.kind, start, count) + (also ? usermod_flag(also->kind, start, count) : "") +
         c.owner + "`)";
}

std::string unmapped_user_hint(uint32_t id, const std::vector<spec::IdMapping>& map, const CallerIds& c) {
  std::string maps;
  uint64_t highest = 0;
  for (const spec::IdMapping& m : map) {
    const bool own = m.host_id == c.own && m.size == 1;
    maps += (maps.empty() ? "" : " and ") + span(m.container_id, m.size) + (own ? " (you)" : "");
    highest = std::max(highest, uint64_t{m.container_id} + m.size - 1);
  }
  const std::string w = id_word(c.kind);
  std::string out = " is not mapped in the sandbox's user namespace, which maps " +
                    std::string(map.size() == 1 ? "only " : "") + maps + ": " + describe_caller(c) + "; use ";
  if (highest > 0) out += "a " + w + " up to " + std::to_string(highest) + ", ";
  out += "`user: root`";
  if (id == c.own) out += " or `user: keep`";
  const uint64_t count = std::max<uint64_t>(kDefaultSubids, id);
  const uint32_t start = free_subid_start_of(c.file, count, c.ranges);
  if (c.ranges.empty()) return out + ", or, as root, " + add_range_remedy(c, start, count);
  // The sandbox maps the first range only: that one must hold `id`.
  const SubRange& first = c.ranges.front();
  return out + ", or, as root, make the first range of " + c.owner + " in " + c.file + " hold at least " +
         plural_ids(id) + " (`usermod --del-sub" + w + "s " + span(first.start, first.count) + " --add-sub" + w +
         "s " + span(start, count) + " " + c.owner + "`)";
}

}  // namespace rrun::userns
