// `rrun spec` content against golden files adapted from runc 1.1.5's
// `runc spec` / `runc spec --rootless` (hostname "rrun", ociVersion 1.3.0, the
// cgroup namespace runc adds on cgroup v2 hosts, ids 1000).

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

using nlohmann::json;
using namespace rrun::spec;

namespace {

std::string data(const std::string& name) {
  return rrun::os::read_file(std::string(RRUN_TEST_DATA) + "/" + name);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spec_defaults)

BOOST_AUTO_TEST_CASE(default_spec_matches_runc) {
  const std::string golden = data("default_config.json");
  BOOST_TEST(json::parse(serialize_spec(default_spec())) == json::parse(golden));
  BOOST_TEST((parse_spec(golden) == default_spec()));
  // Same member order and layout as runc's output.
  BOOST_TEST(serialize_spec(default_spec()) + "\n" == golden);
}

BOOST_AUTO_TEST_CASE(rootless_spec_matches_runc) {
  const std::string golden = data("rootless_config.json");
  const Spec s = default_rootless_spec(RootlessIds{1000, 1000, std::nullopt, std::nullopt});
  BOOST_TEST(json::parse(serialize_spec(s)) == json::parse(golden));
  BOOST_TEST((parse_spec(golden) == s));
  BOOST_TEST(serialize_spec(s) + "\n" == golden);
}

BOOST_AUTO_TEST_CASE(rootless_spec_with_subordinate_ranges) {
  RootlessIds ids;
  ids.uid = 1000;
  ids.gid = 1001;
  ids.sub_uid = IdMapping{1, 100000, 65536};
  ids.sub_gid = IdMapping{1, 200000, 65535};
  const Spec s = default_rootless_spec(ids);
  BOOST_TEST((s.linux->uid_mappings == std::vector<IdMapping>{{0, 1000, 1}, {1, 100000, 65536}}));
  BOOST_TEST((s.linux->gid_mappings == std::vector<IdMapping>{{0, 1001, 1}, {1, 200000, 65535}}));

  // Apart from the mappings it is the plain rootless spec.
  Spec plain = default_rootless_spec(RootlessIds{1000, 1001, std::nullopt, std::nullopt});
  plain.linux->uid_mappings = s.linux->uid_mappings;
  plain.linux->gid_mappings = s.linux->gid_mappings;
  BOOST_TEST((plain == s));
  BOOST_TEST((parse_spec(serialize_spec(s)) == s));
}

BOOST_AUTO_TEST_CASE(rootless_transform_details) {
  const Spec s = default_rootless_spec(RootlessIds{1000, 1000, std::nullopt, std::nullopt});
  BOOST_TEST(!s.linux->has_namespace(NamespaceType::network));
  BOOST_TEST((s.linux->namespaces.back().type == NamespaceType::user));
  BOOST_TEST(s.linux->has_namespace(NamespaceType::cgroup));
  BOOST_TEST(!s.linux->resources.has_value());
  for (const Mount& m : s.mounts) {
    BOOST_TEST(m.type != "sysfs");
    for (const std::string& o : m.options) BOOST_TEST((o.rfind("gid=", 0) != 0 && o.rfind("uid=", 0) != 0), o);
  }
  const Mount& sys = s.mounts[5];
  BOOST_TEST(sys.destination == "/sys");
  BOOST_TEST(sys.source == "/sys");
  BOOST_TEST(sys.type == "none");
  BOOST_TEST((sys.options == std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"}));
}

BOOST_AUTO_TEST_SUITE_END()
