#include "subid.hpp"

#include <dlfcn.h>
#include <shadow/subid.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

namespace rrun::userns {
namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// A range must fit the 32-bit id space: ids 0 .. 2^32-2 (2^32-1 is -1).
bool fits_id_space(uint64_t start, uint64_t count) {
  constexpr uint64_t kIdSpace = std::numeric_limits<uint32_t>::max();
  return count != 0 && start < kIdSpace && count <= kIdSpace - start;
}

std::optional<uint64_t> parse_number(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// libsubid is loaded with dlopen on first use, and used only when
// nsswitch.conf has a "subid:" line. Without one, libsubid reads /etc/subuid
// and /etc/subgid itself, which parse_subid_file does too; linking it would
// make every rrun start load it and the ten libraries it needs (PAM, SELinux,
// audit, libcrypt, ...), most of rrun's dynamic-linking time.
struct Libsubid {
  decltype(&subid_get_uid_ranges) uid_ranges = nullptr;
  decltype(&subid_get_gid_ranges) gid_ranges = nullptr;
};

// The loaded library, or null when it can't be loaded (the files answer).
const Libsubid* libsubid() {
  static const Libsubid* lib = []() -> const Libsubid* {
    void* h = ::dlopen("libsubid.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) return nullptr;
    auto init = reinterpret_cast<decltype(&subid_init)>(::dlsym(h, "subid_init"));
    static Libsubid l;
    l.uid_ranges = reinterpret_cast<decltype(&subid_get_uid_ranges)>(::dlsym(h, "subid_get_uid_ranges"));
    l.gid_ranges = reinterpret_cast<decltype(&subid_get_gid_ranges)>(::dlsym(h, "subid_get_gid_ranges"));
    if (!init || !l.uid_ranges || !l.gid_ranges) return nullptr;
    // libsubid writes its diagnostics to stderr under the name "(libsubid)"
    // unless told otherwise; give them our name. (subid_init with a null FILE
    // would open /dev/null without O_CLOEXEC, an fd that could leak.)
    init("rrun", stderr);
    return &l;
  }();
  return lib;
}

// Whether nsswitch.conf (at PATH) has a "subid:" line.
bool nss_names_subid(const std::string& path) {
  std::optional<std::string> text;
  try {
    text = os::read_file_if_exists(path);
  } catch (...) {
    return true;  // can't tell: let libsubid decide
  }
  if (!text) return false;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.substr(0, 6) == "subid:") return true;
  }
  return false;
}

enum class Kind { uid, gid };

std::vector<SubRange> subordinate_ids(Kind kind, const std::string& user, uid_t uid, const SubidSources& src) {
  const Libsubid* lib = nullptr;
  if (src.use_libsubid && !user.empty() && nss_names_subid(src.nsswitch_path)) lib = libsubid();
  if (lib) {
    struct subid_range* ranges = nullptr;
    int n = kind == Kind::uid ? lib->uid_ranges(user.c_str(), &ranges) : lib->gid_ranges(user.c_str(), &ranges);
    std::vector<SubRange> out;
    for (int i = 0; i < n; ++i) {
      if (!fits_id_space(ranges[i].start, ranges[i].count)) continue;
      out.push_back({static_cast<uint32_t>(ranges[i].start), static_cast<uint32_t>(ranges[i].count)});
    }
    std::free(ranges);
    if (!out.empty()) return out;
  }
  const std::string& path = kind == Kind::uid ? src.subuid_path : src.subgid_path;
  std::optional<std::string> text;
  try {
    text = os::read_file_if_exists(path);
  } catch (...) {
    os::rethrow_with_context(std::string("read the subordinate ") + (kind == Kind::uid ? "uids" : "gids"));
  }
  if (!text) return {};
  return parse_subid_file(*text, user, uid);
}

}  // namespace

namespace {

// Calls `take(owner, range)` for every well-formed line of a subuid/subgid
// file's text.
template <typename Take>
void for_each_subid_line(std::string_view text, Take take) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);

    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    auto c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    if (line.find(':', c2 + 1) != std::string_view::npos) continue;  // too many fields

    std::string_view owner = trim(line.substr(0, c1));
    if (owner.empty()) continue;
    auto start = parse_number(line.substr(c1 + 1, c2 - c1 - 1));
    auto count = parse_number(line.substr(c2 + 1));
    if (!start || !count || !fits_id_space(*start, *count)) continue;
    take(owner, SubRange{static_cast<uint32_t>(*start), static_cast<uint32_t>(*count)});
  }
}

}  // namespace

std::vector<SubRange> parse_subid_file(std::string_view text, const std::string& user_name, uid_t uid) {
  std::vector<SubRange> out;
  const std::string uid_text = std::to_string(uid);
  for_each_subid_line(text, [&](std::string_view owner, SubRange r) {
    if (owner == user_name || owner == uid_text) out.push_back(r);
  });
  return out;
}

std::vector<SubRange> parse_all_subid_ranges(std::string_view text) {
  std::vector<SubRange> out;
  for_each_subid_line(text, [&](std::string_view, SubRange r) { out.push_back(r); });
  return out;
}

bool libsubid_loadable() {
  return libsubid() != nullptr;
}

std::vector<SubRange> subordinate_uids(const std::string& user, uid_t uid, const SubidSources& src) {
  return subordinate_ids(Kind::uid, user, uid, src);
}

std::vector<SubRange> subordinate_gids(const std::string& user, uid_t uid, const SubidSources& src) {
  return subordinate_ids(Kind::gid, user, uid, src);
}

}  // namespace rrun::userns
