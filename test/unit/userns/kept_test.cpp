#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <string>
#include <vector>

#include <rrun/os/file.hpp>
#include <rrun/userns/kept.hpp>

using rrun::spec::IdMapping;
using rrun::userns::kept_map;
using rrun::userns::KeptRequest;
using Map = std::vector<IdMapping>;

namespace rrun::spec {
std::ostream& operator<<(std::ostream& os, const IdMapping& m);  // plan_test.cpp
}

BOOST_AUTO_TEST_SUITE(kept)

BOOST_AUTO_TEST_CASE(kept_map_maps_own_id_and_ranges_onto_themselves_in_order) {
  Map want{{1000, 1000, 1}, {100000, 100000, 65536}};
  BOOST_TEST(kept_map(1000, {{100000, 65536}}) == want, boost::test_tools::per_element());
  // Ranges below the own id come first; an empty range is no line.
  Map two{{50000, 50000, 10}, {1000000, 1000000, 1}, {2000000, 2000000, 5}};
  BOOST_TEST(kept_map(1000000, {{2000000, 5}, {7, 0}, {50000, 10}}) == two, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(kept_map_merges_overlaps_but_keeps_adjacent_ranges_apart) {
  // newuidmap checks each line against one /etc/subuid entry: adjacent
  // entries stay two lines; an own id inside a range is that range.
  Map adjacent{{1000, 1000, 1}, {100000, 100000, 65536}, {165536, 165536, 65536}};
  BOOST_TEST(kept_map(1000, {{100000, 65536}, {165536, 65536}}) == adjacent, boost::test_tools::per_element());
  Map inside{{100000, 100000, 65536}};
  BOOST_TEST(kept_map(100005, {{100000, 65536}}) == inside, boost::test_tools::per_element());
  Map overlap{{1000, 1000, 1}, {100000, 100000, 70000}};
  BOOST_TEST(kept_map(1000, {{100000, 65536}, {110000, 60000}}) == overlap, boost::test_tools::per_element());
}

// The record must be the caller's alone: a file another user may write
// could name a process of theirs to join. Refused before any keeper starts.
BOOST_AUTO_TEST_CASE(a_record_not_the_callers_alone_is_refused) {
  rrun::test::TempDir dir;
  KeptRequest req;
  req.uid = ::getuid();
  req.gid = ::getgid();
  req.record = dir.path + "/rrun-userns";
  rrun::os::write_file_atomic(req.record, "1 1\n", 0600);
  ::chmod(req.record.c_str(), 0620);
  std::string why = rrun::userns::join_kept_namespace(req);
  BOOST_TEST(why == "`" + req.record + "` is not a file of yours alone");

  ::chmod(req.record.c_str(), 0600);
  req.uid = ::getuid() + 4242;  // someone else's
  BOOST_TEST(rrun::userns::join_kept_namespace(req) == why);

  req.uid = ::getuid();
  std::string link = dir.path + "/link";
  BOOST_REQUIRE(::symlink(req.record.c_str(), link.c_str()) == 0);
  req.record = link;
  why = rrun::userns::join_kept_namespace(req);
  BOOST_TEST(why.find("open `" + link + "`: ") == 0, why);
}

BOOST_AUTO_TEST_SUITE_END()
