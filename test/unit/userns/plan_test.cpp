#include <boost/test/unit_test.hpp>

#include <string>

#include <rrun/os/error.hpp>
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
  return in;
}

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
  BOOST_TEST(error_of(in) ==
             "uid mapping 0 -> 100000 (20 ids) is outside the subordinate ids of \"alice\": "
             "add \"alice:100000:20\" to /etc/subuid");
}

BOOST_AUTO_TEST_CASE(rootless_outside_range_names_the_line_to_add) {
  BOOST_TEST(error_of(alice({{0, 1000, 1}, {1, 200000, 65536}}, {{0, 1000, 1}})) ==
             "uid mapping 1 -> 200000 (65536 ids) is outside the subordinate ids of \"alice\": "
             "add \"alice:200000:65536\" to /etc/subuid");
  BOOST_TEST(error_of(alice({{0, 1000, 1}}, {{0, 1000, 1}, {1, 99999, 2}})) ==
             "gid mapping 1 -> 99999 (2 ids) is outside the subordinate ids of \"alice\": "
             "add \"alice:99999:2\" to /etc/subgid");
  // A size-1 mapping of an id that is not the caller's own.
  BOOST_TEST(error_of(alice({{0, 1001, 1}}, {{0, 1000, 1}})) ==
             "uid mapping 0 -> 1001 (1 id) is outside the subordinate ids of \"alice\": "
             "add \"alice:1001:1\" to /etc/subuid");
}

BOOST_AUTO_TEST_CASE(rootless_several_outside_ranges) {
  BOOST_TEST(error_of(alice({{0, 200000, 10}, {10, 100000, 5}, {20, 300000, 1}}, {{0, 1000, 1}})) ==
             "uid mappings 0 -> 200000 (10 ids), 20 -> 300000 (1 id) are outside the subordinate ids of \"alice\": "
             "add \"alice:200000:10\" and \"alice:300000:1\" to /etc/subuid");
}

BOOST_AUTO_TEST_CASE(rootless_without_any_range) {
  PlanInput in = alice({{0, 1000, 1}, {1, 100000, 65536}}, {{0, 1000, 1}, {1, 100000, 65536}});
  in.sub_uids.clear();
  in.sub_gids.clear();
  BOOST_TEST(error_of(in) ==
             "user \"alice\" has no subordinate uids in /etc/subuid: add \"alice:100000:65536\" to /etc/subuid "
             "(and to /etc/subgid), or use a single mapping of your own id");
  // Only the uid side lacks a range.
  in.sub_gids = {{100000, 65536}};
  BOOST_TEST(error_of(in) ==
             "user \"alice\" has no subordinate uids in /etc/subuid: add \"alice:100000:65536\" to /etc/subuid, "
             "or use a single mapping of your own id");
  // Both lack one, for different ranges.
  in.sub_gids.clear();
  in.gid_mappings = {{0, 1000, 1}, {1, 200000, 10}};
  BOOST_TEST(error_of(in) ==
             "user \"alice\" has no subordinate uids in /etc/subuid: add \"alice:100000:65536\" to /etc/subuid, "
             "or use a single mapping of your own id; "
             "user \"alice\" has no subordinate gids in /etc/subgid: add \"alice:200000:10\" to /etc/subgid, "
             "or use a single mapping of your own id");
}

BOOST_AUTO_TEST_CASE(rootless_user_without_name_is_named_by_uid) {
  PlanInput in = alice({{0, 1000, 1}, {1, 200000, 65536}}, {{0, 1000, 1}});
  in.user_name.clear();
  BOOST_TEST(error_of(in) ==
             "uid mapping 1 -> 200000 (65536 ids) is outside the subordinate ids of \"1000\": "
             "add \"1000:200000:65536\" to /etc/subuid");
}

BOOST_AUTO_TEST_CASE(messages_name_the_injected_files) {
  PlanInput in = alice({{0, 1000, 1}, {1, 200000, 65536}}, {{0, 1000, 1}});
  in.subuid_path = "/tmp/x/subuid";
  BOOST_TEST(error_of(in) ==
             "uid mapping 1 -> 200000 (65536 ids) is outside the subordinate ids of \"alice\": "
             "add \"alice:200000:65536\" to /tmp/x/subuid");
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
