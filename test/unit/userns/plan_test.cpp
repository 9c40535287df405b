#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/userns/plan.hpp>

using rrun::spec::IdMapping;
using rrun::userns::MappingPlan;
using rrun::userns::plan_mappings;
using rrun::userns::PlanInput;
using Map = std::vector<IdMapping>;

namespace rrun::spec {
std::ostream& operator<<(std::ostream& os, const IdMapping& m) {
  return os << m.container_id << " " << m.host_id << " " << m.size;
}
}  // namespace rrun::spec

namespace {

PlanInput alice(Map uids = {}, Map gids = {}) {
  PlanInput in;
  in.uid_mappings = std::move(uids);
  in.gid_mappings = std::move(gids);
  in.uid = 1000;
  in.gid = 1000;
  in.user_name = "alice";
  in.rootless = true;
  in.sub_uids = {{100000, 65536}};
  in.sub_gids = {{100000, 65536}};
  in.subuid_path = "/no/subuid";
  in.subgid_path = "/no/subgid";
  return in;
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// A subuid and a subgid file with the same text, for the free range the
// messages propose.
struct TempSubid {
  rrun::test::TempDir dir;
  std::string uid = dir.path + "/subuid", gid = dir.path + "/subgid";
  explicit TempSubid(const std::string& text) {
    rrun::os::write_file_atomic(uid, text, 0644);
    rrun::os::write_file_atomic(gid, text, 0644);
  }
  void use(PlanInput& in) const {
    in.subuid_path = uid;
    in.subgid_path = gid;
  }
};

std::string error_of(const PlanInput& in) {
  try {
    plan_mappings(in);
  } catch (const rrun::os::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plan)

BOOST_AUTO_TEST_CASE(map_text_format) {
  MappingPlan p;
  p.uid_map = {{0, 1000, 1}, {1, 100000, 65536}};
  p.gid_map = {{0, 1000, 1}};
  BOOST_TEST(p.uid_map_text() == "0 1000 1\n1 100000 65536\n");
  BOOST_TEST(p.gid_map_text() == "0 1000 1\n");
  BOOST_TEST(rrun::userns::map_text({}) == "");
}

BOOST_AUTO_TEST_CASE(map_text_parsed_as_the_kernel_prints_it) {
  // /proc/self/uid_map of rootless Podman's namespace, with the kernel's padding.
  const std::string text = "         0       1000          1\n         1     100000      65536\n";
  BOOST_TEST(rrun::userns::parse_map_text(text) == (Map{{0, 1000, 1}, {1, 100000, 65536}}),
             boost::test_tools::per_element());
  BOOST_TEST(rrun::userns::parse_map_text("0 0 4294967295").size() == 1u);
  BOOST_TEST(rrun::userns::parse_map_text("").empty());
  BOOST_TEST(rrun::userns::parse_map_text("garbage\n0 5 1\n") == (Map{{0, 5, 1}}), boost::test_tools::per_element());
  // The ids a process of that namespace uses, onto themselves.
  BOOST_TEST(rrun::userns::own_ids(text) == (Map{{0, 0, 1}, {1, 1, 65536}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(root_writes_spec_mappings_directly) {
  PlanInput in;
  in.uid_mappings = {{0, 100000, 65536}};
  in.gid_mappings = {{0, 200000, 65536}};
  MappingPlan p = plan_mappings(in);
  BOOST_TEST(p.uid_map == in.uid_mappings, boost::test_tools::per_element());
  BOOST_TEST(p.gid_map == in.gid_mappings, boost::test_tools::per_element());
  BOOST_TEST(!p.use_helpers);
  BOOST_TEST(!p.deny_setgroups);
  BOOST_TEST(!p.fallback_to_single);
}

BOOST_AUTO_TEST_CASE(root_without_mappings_maps_itself) {
  PlanInput in;
  MappingPlan p = plan_mappings(in);
  BOOST_TEST(p.uid_map == (Map{{0, 0, 1}}), boost::test_tools::per_element());
  BOOST_TEST(!p.use_helpers);
  BOOST_TEST(!p.deny_setgroups);
}

BOOST_AUTO_TEST_CASE(root_in_a_user_namespace_is_not_checked_against_subids) {
  PlanInput in = alice({{0, 0, 65536}}, {{0, 0, 65536}});
  in.uid = 0;
  in.gid = 0;
  in.sub_uids.clear();
  in.sub_gids.clear();
  MappingPlan p = plan_mappings(in);
  BOOST_TEST(!p.use_helpers);
  BOOST_TEST(p.uid_map == (Map{{0, 0, 65536}}), boost::test_tools::per_element());
  // Without mappings its subordinate ranges (host ids) are not used.
  PlanInput none = alice();
  none.uid = 0;
  none.gid = 0;
  MappingPlan q = plan_mappings(none);
  BOOST_TEST(q.uid_map == (Map{{0, 0, 1}}), boost::test_tools::per_element());
  BOOST_TEST(!q.use_helpers);
}

BOOST_AUTO_TEST_CASE(rootless_default_with_subordinate_range) {
  MappingPlan p = plan_mappings(alice());
  BOOST_TEST(p.uid_map == (Map{{0, 1000, 1}, {1, 100000, 65536}}), boost::test_tools::per_element());
  BOOST_TEST(p.gid_map == (Map{{0, 1000, 1}, {1, 100000, 65536}}), boost::test_tools::per_element());
  BOOST_TEST(p.use_helpers);
  BOOST_TEST(!p.deny_setgroups);
  BOOST_TEST(p.fallback_to_single);
  BOOST_TEST(p.own_uid == 1000u);
  BOOST_TEST(p.own_gid == 1000u);
}

BOOST_AUTO_TEST_CASE(rootless_default_uses_first_range) {
  PlanInput in = alice();
  in.sub_uids = {{300000, 10}, {100000, 65536}};
  MappingPlan p = plan_mappings(in);
  BOOST_TEST(p.uid_map == (Map{{0, 1000, 1}, {1, 300000, 10}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rootless_default_without_subordinate_range) {
  PlanInput in = alice();
  in.sub_uids.clear();
  in.sub_gids.clear();
  MappingPlan p = plan_mappings(in);
  BOOST_TEST(p.uid_map == (Map{{0, 1000, 1}}), boost::test_tools::per_element());
  BOOST_TEST(p.gid_map == (Map{{0, 1000, 1}}), boost::test_tools::per_element());
  BOOST_TEST(!p.use_helpers);
  BOOST_TEST(p.deny_setgroups);
  BOOST_TEST(!p.fallback_to_single);
}

BOOST_AUTO_TEST_CASE(rootless_default_with_uid_range_only) {
  PlanInput in = alice();
  in.sub_gids.clear();
  MappingPlan p = plan_mappings(in);
  BOOST_TEST(p.uid_map == (Map{{0, 1000, 1}, {1, 100000, 65536}}), boost::test_tools::per_element());
  BOOST_TEST(p.gid_map == (Map{{0, 1000, 1}}), boost::test_tools::per_element());
  BOOST_TEST(p.use_helpers);
}

BOOST_AUTO_TEST_CASE(rootless_single_own_id_is_written_directly) {
  for (uint32_t inside : {0u, 1000u, 42u}) {
    PlanInput in = alice({{inside, 1000, 1}}, {{inside, 1000, 1}});
    in.sub_uids.clear();  // needs no range
    in.sub_gids.clear();
    MappingPlan p = plan_mappings(in);
    BOOST_TEST(!p.use_helpers);
    BOOST_TEST(p.deny_setgroups);
    BOOST_TEST(p.uid_map_text() == std::to_string(inside) + " 1000 1\n");
  }
}

BOOST_AUTO_TEST_CASE(rootless_inside_range_uses_helpers) {
  MappingPlan p = plan_mappings(alice({{0, 1000, 1}, {1, 100000, 65536}}, {{0, 1000, 1}, {1, 100010, 100}}));
  BOOST_TEST(p.use_helpers);
  BOOST_TEST(!p.deny_setgroups);
  BOOST_TEST(!p.fallback_to_single);
  BOOST_TEST(p.uid_map_text() == "0 1000 1\n1 100000 65536\n");
  BOOST_TEST(p.gid_map_text() == "0 1000 1\n1 100010 100\n");
}

BOOST_AUTO_TEST_CASE(rootless_own_uid_with_gid_range_uses_helpers) {
  MappingPlan p = plan_mappings(alice({{0, 1000, 1}}, {{0, 100000, 10}}));
  BOOST_TEST(p.use_helpers);
}

BOOST_AUTO_TEST_CASE(rootless_range_across_adjacent_subordinate_ranges) {
  PlanInput in = alice({{0, 100000, 20}}, {{0, 100000, 10}});
  in.sub_uids = {{100010, 10}, {100000, 10}};
  BOOST_TEST(plan_mappings(in).use_helpers);
  in.sub_uids = {{100000, 10}, {100011, 10}};  // a hole at 100010
  const std::string e = error_of(in);
  BOOST_TEST(has(e, "linux.uidMappings: 0 -> 100000 (20 ids) maps host uids that are not all yours: you (alice) have "
                    "uid 1000 and the subordinate uids 100000-100009 and 100011-100020 (20 ids) in /no/subuid; "
                    "map at most 21 ids: 0 -> 1000, 1-10 -> 100000-100009, 11-20 -> 100011-100020"));
}

// A config.json copied from another user (uid 1001, range 100000-165535)
// by alice, uid 1000, whose range is elsewhere: what she has, what fits,
// and a range free in the file (not bob's, not hers).
BOOST_AUTO_TEST_CASE(rootless_outside_range_states_own_ids_and_a_free_range) {
  TempSubid files("alice:300000:65536\nbob:100000:65536\nbob:165536:65536\n");
  PlanInput in = alice({{0, 1001, 1}, {1, 100000, 65536}}, {{0, 1001, 1}, {1, 100000, 65536}});
  files.use(in);
  in.sub_uids = in.sub_gids = {{300000, 65536}};
  BOOST_TEST(error_of(in) ==
             "linux.uidMappings and linux.gidMappings: 0 -> 1001 (1 id) and 1 -> 100000 (65536 ids) map host ids "
             "that are not yours: you (alice) have uid and gid 1000 and the subordinate ids 300000-365535 (65536 "
             "ids) in " + files.uid + " and " + files.gid + "; map at most 65537 ids: 0 -> 1000, 1-65536 -> "
             "300000-365535, or, as root, add `alice:231072:65536` to " + files.uid + " and " + files.gid +
             " (`usermod --add-subuids 231072-296607 --add-subgids 231072-296607 alice`) and map 0 -> 1000, "
             "1-65536 -> 231072-296607");
}

BOOST_AUTO_TEST_CASE(rootless_without_any_range) {
  TempSubid files("bob:100000:65536\n");
  PlanInput in = alice({{0, 1001, 1}, {1, 100000, 65536}}, {{0, 1001, 1}, {1, 100000, 65536}});
  files.use(in);
  in.sub_uids.clear();
  in.sub_gids.clear();
  BOOST_TEST(error_of(in) ==
             "linux.uidMappings and linux.gidMappings: 0 -> 1001 (1 id) and 1 -> 100000 (65536 ids) map host ids "
             "that are not yours: you (alice) have uid and gid 1000 and no subordinate ids in " + files.uid +
             " and " + files.gid + "; map only your own ids (0 -> 1000), or, as root, add `alice:165536:65536` to " +
             files.uid + " and " + files.gid +
             " (`usermod --add-subuids 165536-231071 --add-subgids 165536-231071 alice`) and map 0 -> 1000, "
             "1-65536 -> 165536-231071");
  // Only the uid side lacks a range: one complaint.
  in.sub_gids = {{100000, 65536}};
  in.gid_mappings = {{0, 1000, 1}, {1, 100000, 65536}};
  std::string e = error_of(in);
  BOOST_TEST(e.rfind("linux.uidMappings: 0 -> 1001 (1 id) and 1 -> 100000 (65536 ids) map host uids that are not "
                     "yours: you (alice) have uid 1000 and no subordinate uids in " + files.uid + "; map only your own "
                     "uid (0 -> 1000), or, as root, add `alice:165536:65536` to " + files.uid +
                     " (`usermod --add-subuids 165536-231071 alice`)",
                     0) == 0);
  BOOST_TEST(!has(e, "gid"));
  // Different complaints for the two kinds: both, one after the other.
  in.sub_gids.clear();
  in.gid_mappings = {{0, 1000, 1}, {1, 200000, 10}};
  e = error_of(in);
  BOOST_TEST(has(e, "; linux.gidMappings: 1 -> 200000 (10 ids) maps host gids that are not yours: you (alice) have "
                    "gid 1000 and no subordinate gids in " + files.gid));
}

// More ids than the range holds: the message names the ids there are.
BOOST_AUTO_TEST_CASE(rootless_request_larger_than_the_range) {
  TempSubid files("alice:100000:65536\n");
  PlanInput in = alice({{0, 1000, 1}, {1, 100000, 70000}}, {{0, 1000, 1}, {1, 100000, 65536}});
  files.use(in);
  BOOST_TEST(error_of(in) ==
             "linux.uidMappings: 1 -> 100000 (70000 ids) maps host uids that are not all yours: you (alice) have uid "
             "1000 and the subordinate uids 100000-165535 (65536 ids) in " + files.uid + "; map at most 65537 ids: "
             "0 -> 1000, 1-65536 -> 100000-165535, or, as root, add `alice:165536:70000` to " + files.uid +
             " (`usermod --add-subuids 165536-235535 alice`) and map 0 -> 1000, 1-70000 -> 165536-235535");
}

// The YAML front-end's mappings (kFallbackAnnotation): replaceable by the
// single mapping of the caller's id, where the plan put it, while
// process.user still maps; a user's own mappings never are.
BOOST_AUTO_TEST_CASE(fallback_only_for_mappings_rrun_chose) {
  const Map keep{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}};
  PlanInput in = alice(keep, keep);
  BOOST_TEST(!plan_mappings(in).fallback_to_single);
  BOOST_TEST(!plan_mappings(in).rrun_chose);
  in.replaceable = true;
  MappingPlan p = plan_mappings(in);
  BOOST_TEST(p.rrun_chose);
  BOOST_TEST(!p.fallback_to_single);  // process.user is 0, which the single mapping (1000 -> 1000) leaves out
  in.process_uid = in.process_gid = 1000;
  p = plan_mappings(in);
  BOOST_TEST(p.fallback_to_single);
  BOOST_TEST(p.own_container_uid == 1000u);
  rrun::userns::use_single_mapping(p, true, true);
  BOOST_TEST(p.uid_map == (Map{{1000, 1000, 1}}), boost::test_tools::per_element());
  BOOST_TEST(!p.use_helpers);
  BOOST_TEST(p.deny_setgroups);
  in.additional_gids = true;  // setgroups is denied with a single gid mapping
  BOOST_TEST(!plan_mappings(in).fallback_to_single);
  // rrun's own default (no mappings in the spec) asks the same of process.user.
  PlanInput def = alice();
  def.process_uid = 5;
  BOOST_TEST(!plan_mappings(def).fallback_to_single);
  BOOST_TEST(plan_mappings(def).rrun_chose);
}

BOOST_AUTO_TEST_CASE(rootless_user_without_name_is_named_by_uid) {
  PlanInput in = alice({{0, 1000, 1}, {1, 200000, 65536}}, {{0, 1000, 1}});
  in.user_name.clear();
  BOOST_TEST(has(error_of(in), "you (1000) have uid 1000"));
  BOOST_TEST(has(error_of(in), "add `1000:165536:65536`"));
}

BOOST_AUTO_TEST_CASE(malformed_mappings) {
  PlanInput in;  // root: the spec is still validated
  in.uid_mappings = {{0, 0, 0}};
  in.gid_mappings = {{0, 0, 1}};
  BOOST_TEST(error_of(in) == "linux.uidMappings[0]: size must be at least 1");
  in.uid_mappings = {{0, 0, 10}, {5, 100, 10}};
  BOOST_TEST(error_of(in) == "linux.uidMappings[1]: container ids overlap linux.uidMappings[0]");
  in.uid_mappings = {{0, 100, 10}, {10, 105, 10}};
  BOOST_TEST(error_of(in) == "linux.uidMappings[1]: host ids overlap linux.uidMappings[0]");
  in.uid_mappings = {{0, 4294967290u, 10}};
  BOOST_TEST(error_of(in) == "linux.uidMappings[0]: host ids 4294967290 + 10 go past the uid space");
  in.uid_mappings = {{0, 0, 1}};
  in.gid_mappings = {{4294967290u, 0, 10}};
  BOOST_TEST(error_of(in) == "linux.gidMappings[0]: container ids 4294967290 + 10 go past the gid space");
  in.gid_mappings.clear();
  BOOST_TEST(error_of(in) == "linux.gidMappings: empty while linux.uidMappings is set; a user namespace needs both");
  in.gid_mappings = {{0, 0, 1}};
  in.uid_mappings = Map(341, IdMapping{0, 0, 1});
  BOOST_TEST(error_of(in) == "linux.uidMappings: 341 mappings, the kernel allows at most 340");
  // The whole id space but the last id is fine.
  in.uid_mappings = {{0, 0, 4294967295u}};
  BOOST_TEST(error_of(in) == "(no error)");
}

BOOST_AUTO_TEST_SUITE_END()
