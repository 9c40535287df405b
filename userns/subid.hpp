#pragma once
// Subordinate id ranges (subuid(5), subgid(5)) of a user: read through
// libsubid when nsswitch.conf has a "subid:" line, so that ranges provided by
// an NSS module (LDAP, SSSD) count, with /etc/subuid and /etc/subgid as the
// fallback; without such a line, from the files directly (libsubid is then
// never loaded).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rrun::userns {

struct SubRange {
  uint32_t start = 0;
  uint32_t count = 0;
  bool operator==(const SubRange&) const = default;
};

// Where the ranges come from. Unit tests point the paths at temp files and
// turn libsubid off.
struct SubidSources {
  std::string subuid_path = "/etc/subuid";
  std::string subgid_path = "/etc/subgid";
  bool use_libsubid = true;                          // when nsswitch.conf names subid
  std::string nsswitch_path = "/etc/nsswitch.conf";  // where to look for "subid:"
};

// Parses the text of a subuid/subgid file: lines `name_or_uid:start:count`.
// A line matches by user name or by numeric uid, as shadow does. Comments,
// blank lines and malformed lines are skipped; ranges come in file order.
std::vector<SubRange> parse_subid_file(std::string_view text, const std::string& user_name, uid_t uid);

// Every range of the file's text, whoever owns it (the ids taken).
std::vector<SubRange> parse_all_subid_ranges(std::string_view text);

// The ranges of `user` (uid `uid`): libsubid first (when enabled, named in
// nsswitch.conf, loadable, and the user has a name); when it fails or finds
// nothing, the file. An absent file is no
// ranges; an unreadable one is an os::SystemError naming it.
std::vector<SubRange> subordinate_uids(const std::string& user, uid_t uid, const SubidSources& src = {});
std::vector<SubRange> subordinate_gids(const std::string& user, uid_t uid, const SubidSources& src = {});

// Whether libsubid.so.4 loads and has what rrun calls (`rrun --version`;
// loading it costs its ten libraries, so only commands that report it ask).
bool libsubid_loadable();

}  // namespace rrun::userns
