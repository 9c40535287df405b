#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <dlfcn.h>
#include <pwd.h>

#include <cstdlib>
#include <string>

#include <rrun/os/file.hpp>
#include <rrun/userns/subid.hpp>

using rrun::userns::parse_subid_file;
using rrun::userns::SubidSources;
using rrun::userns::SubRange;
using Ranges = std::vector<SubRange>;

namespace {

using rrun::test::TempDir;

}  // namespace

namespace rrun::userns {
std::ostream& operator<<(std::ostream& os, const SubRange& r) {
  return os << r.start << ":" << r.count;
}
}  // namespace rrun::userns

BOOST_AUTO_TEST_SUITE(subid)

BOOST_AUTO_TEST_CASE(matches_by_name) {
  auto r = parse_subid_file("alice:100000:65536\nbob:165536:65536\n", "alice", 1000);
  BOOST_TEST(r == (Ranges{{100000, 65536}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(matches_by_numeric_uid) {
  auto r = parse_subid_file("1000:200000:10\nbob:165536:65536\n", "alice", 1000);
  BOOST_TEST(r == (Ranges{{200000, 10}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(user_without_name_matches_by_uid) {
  auto r = parse_subid_file(":1:1\n1000:200000:10\n", "", 1000);
  BOOST_TEST(r == (Ranges{{200000, 10}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(several_ranges_in_file_order) {
  auto r = parse_subid_file("alice:300000:10\nbob:1:2\n1000:100000:65536\nalice:500000:1\n", "alice", 1000);
  BOOST_TEST(r == (Ranges{{300000, 10}, {100000, 65536}, {500000, 1}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(comments_blank_and_malformed_lines_are_skipped) {
  const char* text =
      "# alice:1:1\n"
      "\n"
      "   \n"
      "alice\n"
      "alice:100000\n"
      "alice:100000:65536:extra\n"
      "alice:x:65536\n"
      "alice:100000:y\n"
      "alice:-5:10\n"
      "alice:100000:0\n"
      "alice:4294967295:1\n"
      "alice:4294967000:1000\n"
      "alice::10\n"
      "alicex:1:1\n"
      "10000:1:1\n"
      "  alice : 7 : 3 \r\n"
      "alice:4294967294:1";  // last line without newline; the last valid id
  auto r = parse_subid_file(text, "alice", 1000);
  BOOST_TEST(r == (Ranges{{7, 3}, {4294967294u, 1}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_text_has_no_ranges) {
  BOOST_TEST(parse_subid_file("", "alice", 1000).empty());
}

BOOST_AUTO_TEST_CASE(files_without_libsubid) {
  TempDir dir;
  SubidSources src{dir.path + "/subuid", dir.path + "/subgid", false};
  rrun::os::write_file_atomic(src.subuid_path, "alice:100000:65536\n");
  rrun::os::write_file_atomic(src.subgid_path, "1000:200000:1000\n");
  BOOST_TEST(rrun::userns::subordinate_uids("alice", 1000, src) == (Ranges{{100000, 65536}}),
             boost::test_tools::per_element());
  BOOST_TEST(rrun::userns::subordinate_gids("alice", 1000, src) == (Ranges{{200000, 1000}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(absent_files_mean_no_ranges) {
  TempDir dir;
  SubidSources src{dir.path + "/subuid", dir.path + "/subgid", false};
  BOOST_TEST(rrun::userns::subordinate_uids("alice", 1000, src).empty());
  BOOST_TEST(rrun::userns::subordinate_gids("alice", 1000, src).empty());
}

BOOST_AUTO_TEST_CASE(without_a_subid_line_in_nsswitch_libsubid_is_not_loaded) {
  // The files answer, and libsubid (with PAM, SELinux, audit, ...) stays out
  // of the process.
  if (::dlopen("libsubid.so.4", RTLD_LAZY | RTLD_NOLOAD) != nullptr) {
    BOOST_TEST_MESSAGE("skipped: an earlier test already loaded libsubid");
    return;
  }
  TempDir dir;
  SubidSources src{dir.path + "/subuid", dir.path + "/subgid", true, dir.path + "/nsswitch.conf"};
  rrun::os::write_file_atomic(src.nsswitch_path, "passwd: files\n# subid: sss\ngroup: files\n");
  rrun::os::write_file_atomic(src.subuid_path, "alice:100000:65536\n");
  BOOST_TEST(rrun::userns::subordinate_uids("alice", 1000, src) == (Ranges{{100000, 65536}}),
             boost::test_tools::per_element());
  BOOST_TEST(::dlopen("libsubid.so.4", RTLD_LAZY | RTLD_NOLOAD) == nullptr);
}

BOOST_AUTO_TEST_CASE(libsubid_unknown_user_falls_back_to_file) {
  // libsubid finds nothing for a user that does not exist anywhere; the
  // fallback file then answers.
  TempDir dir;
  SubidSources src{dir.path + "/subuid", dir.path + "/subgid", true, dir.path + "/nsswitch.conf"};
  rrun::os::write_file_atomic(src.nsswitch_path, "subid: files\n");
  rrun::os::write_file_atomic(src.subuid_path, "rrun-no-such-user-x:100000:5\n");
  BOOST_TEST(rrun::userns::subordinate_uids("rrun-no-such-user-x", 4000000000u, src) == (Ranges{{100000, 5}}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(libsubid_agrees_with_the_file) {
  // With no "subid:" line in nsswitch.conf libsubid reads /etc/subuid itself:
  // both paths must give the same ranges for the first user listed there.
  auto nss = rrun::os::read_file_if_exists("/etc/nsswitch.conf");
  auto text = rrun::os::read_file_if_exists("/etc/subuid");
  if ((nss && nss->find("\nsubid:") != std::string::npos) || !text || text->empty()) {
    BOOST_TEST_MESSAGE("skipped: /etc/subuid is empty or nsswitch.conf names a subid module");
    return;
  }
  std::string name = text->substr(0, text->find(':'));
  const passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) {
    BOOST_TEST_MESSAGE("skipped: the first owner in /etc/subuid is not a user");
    return;
  }
  auto expected = parse_subid_file(*text, name, pw->pw_uid);
  // A "subid:" line makes rrun ask libsubid (which reads the real files).
  TempDir dir;
  rrun::os::write_file_atomic(dir.path + "/nsswitch.conf", "subid:\tfiles\n");
  auto got = rrun::userns::subordinate_uids(
      name, pw->pw_uid, SubidSources{"/nonexistent", "/nonexistent", true, dir.path + "/nsswitch.conf"});
  BOOST_TEST(got == expected, boost::test_tools::per_element());
  BOOST_TEST(!got.empty());
}

BOOST_AUTO_TEST_SUITE_END()
