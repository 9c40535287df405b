// What rrun tells a rootless user whose ids do not fit (userns/advice.hpp).

#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <string>

#include <rrun/os/file.hpp>
#include <rrun/userns/advice.hpp>

using namespace rrun::userns;

namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(advice)

// The proposed range touches no line of the file (whoever's) nor the
// caller's own ranges: useradd's first fit from 100000.
BOOST_AUTO_TEST_CASE(free_subid_start_is_free) {
  BOOST_TEST(free_subid_start("") == 100000u);
  BOOST_TEST(free_subid_start("a:100000:65536\nb:165536:65536\n") == 231072u);
  BOOST_TEST(free_subid_start("# comment\nbad line\nc:10:20\n") == 100000u);
  // A gap that fits is taken; one that does not is skipped.
  BOOST_TEST(free_subid_start("a:500000:10\nb:100000:65536\n") == 165536u);
  BOOST_TEST(free_subid_start("a:100000:65536\nb:200000:10\n") == 200010u);
  BOOST_TEST(free_subid_start("a:100000:65536\nb:200000:10\n", 10) == 165536u);
  // Overlapping lines, and ranges that come from elsewhere (libsubid).
  BOOST_TEST(free_subid_start("a:100000:65536\nb:150000:65536\n") == 215536u);
  BOOST_TEST(free_subid_start("", 65536, {{100000, 65536}}) == 165536u);
  // Nothing free up to the end of the id space: the usual start.
  BOOST_TEST(free_subid_start("a:100000:4294860000\n") == 100000u);
  // A file that does not exist is empty.
  BOOST_TEST(free_subid_start_of("/no/such/subuid") == 100000u);
}

BOOST_AUTO_TEST_CASE(ranges_maps_and_the_caller) {
  BOOST_TEST(describe_ranges({}) == "");
  BOOST_TEST(describe_ranges({{100000, 65536}}) == "100000-165535 (65536 ids)");
  BOOST_TEST(describe_ranges({{100000, 1}, {200000, 9}}) == "100000 and 200000-200008 (10 ids)");
  BOOST_TEST(describe_map({{0, 1000, 1}, {1, 100000, 65536}}) == "0 -> 1000, 1-65536 -> 100000-165535");
  CallerIds c{IdKind::uid, 1000, "alice", {{100000, 10}, {300000, 5}}, "/etc/subuid"};
  BOOST_TEST(describe_map(largest_map(c)) == "0 -> 1000, 1-10 -> 100000-100009, 11-15 -> 300000-300004");
  BOOST_TEST(describe_caller(c) ==
             "you (alice) have uid 1000 and the subordinate uids 100000-100009 and 300000-300004 (15 ids) in "
             "/etc/subuid");
  CallerIds g{IdKind::gid, 1000, "alice", {}, "/etc/subgid"};
  BOOST_TEST(describe_caller(g) == "you (alice) have gid 1000 and no subordinate gids in /etc/subgid");
  c.ranges.clear();
  BOOST_TEST(describe_caller(c, &g) ==
             "you (alice) have uid and gid 1000 and no subordinate ids in /etc/subuid and /etc/subgid");
  BOOST_TEST(add_range_remedy(g, 165536, 65536) ==
             "add `alice:165536:65536` to /etc/subgid (`usermod --add-subgids 165536-231071 alice`)");
  BOOST_TEST(add_range_remedy(c, 165536, 65536, &g) ==
             "add `alice:165536:65536` to /etc/subuid and /etc/subgid (`usermod --add-subuids 165536-231071 "
             "--add-subgids 165536-231071 alice`)");
}

// The YAML `user:` complaint: what the sandbox maps, what the caller has,
// and a free range (bob has 100000-165535).
BOOST_AUTO_TEST_CASE(unmapped_user_hint_proposes_a_free_range) {
  rrun::test::TempDir dir;
  const std::string file = dir.path + "/subuid";
  rrun::os::write_file_atomic(file, "bob:100000:65536\n", 0644);
  CallerIds none{IdKind::uid, 1002, "carol", {}, file};
  BOOST_TEST(unmapped_user_hint(1000, {{0, 1002, 1}}, none) ==
             " is not mapped in the sandbox's user namespace, which maps only 0 (you): you (carol) have uid 1002 "
             "and no subordinate uids in " + file + "; use `user: root`, or, as root, add `carol:165536:65536` to " +
             file + " (`usermod --add-subuids 165536-231071 carol`)");
  BOOST_TEST(has(unmapped_user_hint(1002, {{0, 1002, 1}}, none), "`user: root` or `user: keep`"));
  // A range too small for the id: the first range must grow (the sandbox maps that one).
  rrun::os::write_file_atomic(file, "bob:100000:65536\ncarol:165536:500\n", 0644);
  CallerIds small{IdKind::uid, 1002, "carol", {{165536, 500}}, file};
  const std::string h = unmapped_user_hint(1000, {{0, 1002, 1}, {1, 165536, 500}}, small);
  BOOST_TEST(has(h, "which maps 0 (you) and 1-500: you (carol) have uid 1002 and the subordinate uids "
                    "165536-166035 (500 ids)"));
  BOOST_TEST(has(h, "use a uid up to 500, `user: root`"));
  BOOST_TEST(has(h, "`usermod --del-subuids 165536-166035 --add-subuids 166036-231571 carol`"));
}

BOOST_AUTO_TEST_SUITE_END()
