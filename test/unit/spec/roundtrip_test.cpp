// parse -> serialize -> parse keeps everything, unknown fields are ignored,
// unknown top-level members survive.

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

using nlohmann::json;
using namespace rrun::spec;

namespace {

std::string data(const std::string& name) {
  return rrun::os::read_file(std::string(RRUN_TEST_DATA) + "/" + name);
}

// Members whose value is a map keyed by user data, not a schema object.
const std::set<std::string> kMapMembers = {"annotations", "sysctl", "unified", "rdma", "netDevices", "timeOffsets"};

// Adds an unknown member to every schema object below `j`.
void add_unknown_members(json& j, bool is_map) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) add_unknown_members(it.value(), kMapMembers.count(it.key()) > 0);
    if (!is_map) j["xUnknown"] = json{{"type", 42}, {"path", {1, 2}}, {"args", "not an array"}};
  } else if (j.is_array()) {
    for (auto& v : j) add_unknown_members(v, false);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spec_roundtrip)

BOOST_AUTO_TEST_CASE(full_config_round_trips) {
  const std::string text = data("full_config.json");
  const Spec s = parse_spec(text);

  // Serializing gives back the same JSON document, member for member: every
  // field of the model has its spec name and its value.
  BOOST_TEST(json::parse(serialize_spec(s)) == json::parse(text));
  BOOST_TEST(json::parse(serialize_spec(s, false)) == json::parse(text));
  BOOST_TEST(serialize_spec(s, false).find('\n') == std::string::npos);

  BOOST_TEST((parse_spec(serialize_spec(s)) == s));
  BOOST_TEST((parse_spec(serialize_spec(s, false)) == s));
}

BOOST_AUTO_TEST_CASE(full_config_values) {
  const Spec s = parse_spec(data("full_config.json"));
  BOOST_TEST(s.process->user.umask.value() == 18u);
  BOOST_TEST(s.process->rlimits[1].hard == UINT64_MAX);
  BOOST_TEST(*s.process->oom_score_adj == -500);
  BOOST_TEST(*s.process->scheduler->nice == -5);
  BOOST_TEST(s.process->io_priority->io_class == "IOPRIO_CLASS_BE");
  BOOST_TEST(s.process->exec_cpu_affinity->initial == "0-3,7");
  BOOST_TEST(s.mounts[1].uid_mappings[0].host_id == 100000u);
  BOOST_TEST(s.hooks->prestart[0].timeout.value() == 5);
  BOOST_TEST(s.linux->namespaces.size() == 8u);
  BOOST_TEST(s.linux->find_namespace(NamespaceType::network)->path == "/var/run/netns/neta");
  BOOST_TEST(s.linux->time_offsets.at("monotonic").secs == -86400);
  BOOST_TEST(s.linux->resources->rdma.at("mlx5_1").hca_objects.value() == 10000u);
  BOOST_TEST(s.linux->resources->memory->disable_oom_killer.value() == false);
  BOOST_TEST(s.linux->seccomp->syscalls[1].args[1].value_two == 8u);
  BOOST_TEST(s.linux->devices[1].type == "p");
  BOOST_TEST(s.linux->net_devices.at("eth1").name == "net1");
  BOOST_TEST(s.linux->intel_rdt->enable_mbm.value() == false);
  BOOST_TEST(s.linux->memory_policy->flags[0] == "MPOL_F_STATIC_NODES");
  BOOST_TEST(s.extensions.size() == 2u);
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored_at_every_level) {
  const std::string text = data("full_config.json");
  json doc = json::parse(text);
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (it.key() != "vm" && it.key() != "org.example.extension")
      add_unknown_members(it.value(), kMapMembers.count(it.key()) > 0);
  BOOST_TEST((parse_spec(doc.dump()) == parse_spec(text)));
}

BOOST_AUTO_TEST_CASE(unknown_top_level_members_are_kept) {
  const Spec s = parse_spec(
      R"({"ociVersion": "1.0.2", "zzz": {"b": [1, 2.5, null], "a": "x"}, "windows": {"layerFolders": ["C:\\a"]}})");
  BOOST_TEST(s.extensions.size() == 2u);
  BOOST_TEST(s.extensions.at("zzz") == R"({"b":[1,2.5,null],"a":"x"})");
  const json out = json::parse(serialize_spec(s));
  BOOST_TEST(out["zzz"] == json::parse(R"({"a": "x", "b": [1, 2.5, null]})"));
  BOOST_TEST(out["windows"]["layerFolders"][0] == "C:\\a");
  BOOST_TEST((parse_spec(serialize_spec(s)) == s));
}

BOOST_AUTO_TEST_CASE(empty_and_absent_values_are_left_out) {
  Spec s;
  s.oci_version = kOciVersion;
  s.process.emplace();
  s.process->args = {"true"};
  s.process->cwd = "/";
  s.linux.emplace();
  s.linux->resources.emplace();
  BOOST_TEST(serialize_spec(s, false) ==
             R"({"ociVersion":"1.3.0","process":{"user":{"uid":0,"gid":0},"args":["true"],"cwd":"/"},)"
             R"("linux":{"resources":{}}})");
  BOOST_TEST((parse_spec(serialize_spec(s)) == s));
}

// `exec --process` takes what the file leaves out from the container: the
// parse keeps "absent" apart from "present and empty / false".
BOOST_AUTO_TEST_CASE(process_absent_and_empty_members_differ) {
  const std::string base = R"("user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/")";
  const Process absent = parse_process("{" + base + "}");
  BOOST_TEST(!absent.capabilities.has_value());
  BOOST_TEST(!absent.no_new_privileges.has_value());
  BOOST_TEST(!absent.oom_score_adj.has_value());
  const Process empty = parse_process("{" + base + R"(, "capabilities": {}, "noNewPrivileges": false})");
  BOOST_REQUIRE(empty.capabilities.has_value());
  BOOST_TEST(empty.capabilities->bounding.empty());
  BOOST_REQUIRE(empty.no_new_privileges.has_value());
  BOOST_TEST(*empty.no_new_privileges == false);
  // Both survive a round trip through config.json (the state dir's copy).
  Spec s = parse_spec(R"({"ociVersion": "1.0.2", "process": {)" + base + "}}");
  s.process = empty;
  const json out = json::parse(serialize_spec(s));
  BOOST_TEST(out["process"]["capabilities"] == json::object());
  BOOST_TEST(out["process"]["noNewPrivileges"] == false);
  BOOST_TEST((parse_spec(serialize_spec(s)) == s));
}

BOOST_AUTO_TEST_SUITE_END()
