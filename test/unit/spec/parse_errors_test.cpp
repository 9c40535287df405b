// Every class of bad config.json gives one line naming the JSON path and what
// was expected.

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include <rrun/os/error.hpp>
#include <rrun/spec/parse.hpp>

using nlohmann::json;
using namespace rrun::spec;

namespace {

const char* const kMinimal = R"({
  "ociVersion": "1.3.0",
  "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
  "root": {"path": "rootfs"},
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
})";

json base() {
  return json::parse(kMinimal);
}

std::string error_of_text(std::string_view text) {
  try {
    parse_spec(text);
  } catch (const rrun::os::Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string error_of(const json& doc) {
  return error_of_text(doc.dump());
}

// The error after setting the member at JSON pointer `ptr` to `value`.
std::string error_with(const std::string& ptr, const json& value) {
  json doc = base();
  doc[json::json_pointer(ptr)] = value;
  return error_of(doc);
}

std::string error_without(const std::string& ptr) {
  json doc = base();
  json::json_pointer p(ptr);
  doc[p.parent_pointer()].erase(p.back());
  return error_of(doc);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spec_parse_errors)

BOOST_AUTO_TEST_CASE(minimal_config_parses) {
  Spec s = parse_spec(kMinimal);
  BOOST_TEST(s.oci_version == "1.3.0");
  BOOST_REQUIRE(s.process.has_value());
  BOOST_TEST(s.process->args.size() == 1u);
  BOOST_TEST(s.root->path == "rootfs");
  BOOST_TEST(!s.root->readonly);
  BOOST_TEST(s.linux->has_namespace(NamespaceType::mount));
  BOOST_TEST(!s.linux->has_namespace(NamespaceType::user));
}

BOOST_AUTO_TEST_CASE(wrong_types_name_the_path) {
  BOOST_TEST(error_with("/process/args/0", 3) == "process.args[0]: expected a string, got number");
  BOOST_TEST(error_with("/process/terminal", "yes") == "process.terminal: expected a boolean, got string");
  BOOST_TEST(error_with("/process", "x") == "process: expected an object, got string");
  BOOST_TEST(error_with("/mounts", json::object()) == "mounts: expected an array, got object");
  BOOST_TEST(error_with("/process/env", json::array({"A=1", true})) ==
             "process.env[1]: expected a string, got boolean");
  BOOST_TEST(error_with("/process/user/uid", "0") == "process.user.uid: expected an integer, got string");
  BOOST_TEST(error_with("/annotations", json{{"a.b", 1}}) == "annotations[\"a.b\"]: expected a string, got number");
  BOOST_TEST(error_with("/linux/resources", json{{"rdma", {{"mlx5", {{"hcaHandles", "x"}}}}}}) ==
             "linux.resources.rdma[\"mlx5\"].hcaHandles: expected an integer, got string");
  BOOST_TEST(error_with("/linux/seccomp", json{{"defaultAction", "SCMP_ACT_ALLOW"},
                                               {"syscalls", {{{"names", {"read"}}, {"action", 1}}}}}) ==
             "linux.seccomp.syscalls[0].action: expected a string, got number");
  BOOST_TEST(error_with("/process/args", json::array({json()})) == "process.args[0]: expected a string, got null");
}

BOOST_AUTO_TEST_CASE(null_optional_members_are_absent) {
  json doc = base();
  doc["hostname"] = nullptr;
  doc["mounts"] = nullptr;
  doc["process"]["env"] = nullptr;
  doc["process"]["capabilities"] = nullptr;
  Spec s = parse_spec(doc.dump());
  BOOST_TEST(s.hostname.empty());
  BOOST_TEST(s.mounts.empty());
  BOOST_TEST(!s.process->capabilities.has_value());
}

BOOST_AUTO_TEST_CASE(required_fields) {
  BOOST_TEST(error_without("/ociVersion") == "ociVersion: required field missing");
  BOOST_TEST(error_without("/root/path") == "root.path: required field missing");
  BOOST_TEST(error_without("/process/cwd") == "process.cwd: required field missing");
  BOOST_TEST(error_without("/process/args") == "process.args: required field missing");
  BOOST_TEST(error_with("/process/args", json::array()) == "process.args: must not be empty");
  BOOST_TEST(error_without("/process/user") == "process.user: required field missing");
  BOOST_TEST(error_without("/process/user/uid") == "process.user.uid: required field missing");
  BOOST_TEST(error_without("/process/user/gid") == "process.user.gid: required field missing");
  BOOST_TEST(error_with("/mounts", json::array({json{{"type", "tmpfs"}}})) ==
             "mounts[0].destination: required field missing");
  BOOST_TEST(error_with("/linux/namespaces/1", json{{"path", "/proc/1/ns/mnt"}}) ==
             "linux.namespaces[1].type: required field missing");
  BOOST_TEST(error_with("/process/rlimits", json::array({json{{"type", "RLIMIT_NOFILE"}, {"hard", 1}}})) ==
             "process.rlimits[0].soft: required field missing");
  BOOST_TEST(error_with("/linux/uidMappings", json::array({json{{"containerID", 0}, {"size", 1}}})) ==
             "linux.uidMappings[0].hostID: required field missing");
  BOOST_TEST(error_with("/linux/seccomp", json::object()) == "linux.seccomp.defaultAction: required field missing");
  // Root and process themselves are optional.
  json doc = base();
  doc.erase("root");
  doc.erase("process");
  doc.erase("linux");
  BOOST_TEST(error_of(doc) == "<no error>");
}

BOOST_AUTO_TEST_CASE(malformed_json_carries_the_byte_offset) {
  BOOST_TEST(error_of_text(R"({"ociVersion": })") ==
             "config.json is not valid JSON: at byte 16 (line 1, column 16): syntax error while parsing value - "
             "unexpected '}'; expected '[', '{', or a literal");
  const std::string truncated = error_of_text("{\n  \"ociVersion\": \"1.3.0\",\n");
  BOOST_TEST(truncated.rfind("config.json is not valid JSON: at byte 28 (line 3, column 1): ", 0) == 0, truncated);
  BOOST_TEST(error_of_text("").rfind("config.json is not valid JSON: at byte ", 0) == 0);
  BOOST_TEST(error_of_text("[]") == "expected a JSON object at the top level, got array");
}

BOOST_AUTO_TEST_CASE(versions) {
  for (const char* ok : {"1.0.0", "1.3.0", "1.0.2-dev", "1.0.0-rc5", "1.10.2+build.5", "1.2.1-rc.1+abc"}) {
    json doc = base();
    doc["ociVersion"] = ok;
    BOOST_TEST(error_of(doc) == "<no error>", ok);
  }
  BOOST_TEST(error_with("/ociVersion", "2.0.0") == "ociVersion: unsupported version \"2.0.0\" (rrun supports 1.x)");
  BOOST_TEST(error_with("/ociVersion", "0.6.0") == "ociVersion: unsupported version \"0.6.0\" (rrun supports 1.x)");
  BOOST_TEST(error_with("/ociVersion", "1.0") ==
             "ociVersion: invalid version \"1.0\", expected a semantic version such as \"1.3.0\"");
  BOOST_TEST(error_with("/ociVersion", "one") ==
             "ociVersion: invalid version \"one\", expected a semantic version such as \"1.3.0\"");
  BOOST_TEST(error_with("/ociVersion", "1.0.0-") ==
             "ociVersion: invalid version \"1.0.0-\", expected a semantic version such as \"1.3.0\"");
  BOOST_TEST(error_with("/ociVersion", 1) == "ociVersion: expected a string, got number");
}

BOOST_AUTO_TEST_CASE(absolute_paths) {
  BOOST_TEST(error_with("/mounts", json::array({json{{"destination", "/proc"}}, json{{"destination", "tmp"}}})) ==
             "mounts[1].destination: must be an absolute path, got \"tmp\"");
  BOOST_TEST(error_with("/process/cwd", "x") == "process.cwd: must be an absolute path, got \"x\"");
  BOOST_TEST(error_with("/process/cwd", "") == "process.cwd: must be an absolute path, got \"\"");
  BOOST_TEST(error_with("/hooks", json{{"poststop", {{{"path", "bin/true"}}}}}) ==
             "hooks.poststop[0].path: must be an absolute path, got \"bin/true\"");
  BOOST_TEST(
      error_with("/linux/devices", json::array({json{{"type", "c"}, {"path", "dev/x"}, {"major", 1}, {"minor", 3}}})) ==
      "linux.devices[0].path: must be an absolute path, got \"dev/x\"");
}

BOOST_AUTO_TEST_CASE(namespaces) {
  json doc = base();
  doc["linux"]["namespaces"] = json::array({json{{"type", "pid"}}, json{{"type", "mount"}}, json{{"type", "foo"}}});
  BOOST_TEST(error_of(doc) == "linux.namespaces[2].type: unknown namespace type \"foo\"");
  doc["linux"]["namespaces"] =
      json::array({json{{"type", "pid"}}, json{{"type", "mount"}}, json{{"type", "ipc"}}, json{{"type", "pid"}}});
  BOOST_TEST(error_of(doc) == "linux.namespaces[3]: duplicate namespace type \"pid\"");
  doc["linux"]["namespaces"] = json::array({json{{"type", "user"}}, json{{"type", "user"}, {"path", "/x"}}});
  BOOST_TEST(error_of(doc) == "linux.namespaces[1]: duplicate namespace type \"user\"");
}

BOOST_AUTO_TEST_CASE(mappings_need_a_user_namespace) {
  const json mapping = json::array({json{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}});
  BOOST_TEST(error_with("/linux/uidMappings", mapping) ==
             "linux.uidMappings: mappings need a user namespace, but linux.namespaces has no \"user\" entry");
  BOOST_TEST(error_with("/linux/gidMappings", mapping) ==
             "linux.gidMappings: mappings need a user namespace, but linux.namespaces has no \"user\" entry");
  json doc = base();
  doc["linux"]["namespaces"].push_back(json{{"type", "user"}});
  doc["linux"]["uidMappings"] = mapping;
  doc["linux"]["gidMappings"] = mapping;
  BOOST_TEST(error_of(doc) == "<no error>");
  // Idmapped mounts do not need one.
  doc = base();
  doc["mounts"] = json::array({json{{"destination", "/data"}, {"uidMappings", mapping}}});
  BOOST_TEST(error_of(doc) == "<no error>");
}

BOOST_AUTO_TEST_CASE(numbers) {
  BOOST_TEST(error_with("/process/user/uid", -1) == "process.user.uid: expected a non-negative integer, got -1");
  BOOST_TEST(error_with("/process/user/uid", 4294967296ULL) ==
             "process.user.uid: expected an integer from 0 to 4294967295, got 4294967296");
  BOOST_TEST(error_with("/process/user/uid", 1.5) == "process.user.uid: expected an integer, got 1.5");
  BOOST_TEST(error_with("/process/oomScoreAdj", 2147483648LL) ==
             "process.oomScoreAdj: expected an integer from -2147483648 to 2147483647, got 2147483648");
  BOOST_TEST(error_with("/process/oomScoreAdj", -2147483649LL) ==
             "process.oomScoreAdj: expected an integer from -2147483648 to 2147483647, got -2147483649");
  BOOST_TEST(
      error_with("/process/rlimits", json::array({json{{"type", "RLIMIT_NOFILE"}, {"hard", 1.0}, {"soft", 1}}})) ==
      "process.rlimits[0].hard: expected an integer, got 1.0");
  // Past uint64 the JSON parser has only a double.
  BOOST_TEST(error_of_text(R"({"ociVersion":"1.3.0","process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/",)"
                           R"("rlimits":[{"type":"RLIMIT_CORE","hard":18446744073709551616,"soft":0}]}})") ==
             "process.rlimits[0].hard: expected an integer, got 1.8446744073709552e+19");
  BOOST_TEST(error_with("/linux/resources", json{{"blockIO", {{"weight", 65536}}}}) ==
             "linux.resources.blockIO.weight: expected an integer from 0 to 65535, got 65536");
  BOOST_TEST(error_with("/linux/resources", json{{"memory", {{"swappiness", -1}}}}) ==
             "linux.resources.memory.swappiness: expected a non-negative integer, got -1");
  // Negative where the type is signed is fine; fileMode is a plain number.
  json doc = base();
  doc["linux"]["resources"] = json{{"memory", {{"limit", -1}}}};
  doc["linux"]["devices"] =
      json::array({json{{"type", "c"}, {"path", "/dev/null"}, {"major", 1}, {"minor", 3}, {"fileMode", 438}}});
  Spec s = parse_spec(doc.dump());
  BOOST_TEST(*s.linux->resources->memory->limit == -1);
  BOOST_TEST(*s.linux->devices[0].file_mode == 0666u);
  doc["linux"]["devices"][0]["fileMode"] = "0666";
  BOOST_TEST(error_of(doc) == "linux.devices[0].fileMode: expected an integer, got string");
}

BOOST_AUTO_TEST_CASE(other_values) {
  BOOST_TEST(error_with("/hooks", json{{"prestart", {{{"path", "/bin/true"}, {"timeout", 0}}}}}) ==
             "hooks.prestart[0].timeout: must be greater than zero, got 0");
  BOOST_TEST(error_with("/linux/devices", json::array({json{{"type", "x"}, {"path", "/dev/x"}}})) ==
             "linux.devices[0].type: unknown device type \"x\" (expected \"c\", \"b\", \"u\" or \"p\")");
  BOOST_TEST(error_with("/linux/devices", json::array({json{{"type", "c"}, {"path", "/dev/x"}, {"minor", 1}}})) ==
             "linux.devices[0].major: required field missing");
  BOOST_TEST(error_with("/linux/devices", json::array({json{{"type", "p"}, {"path", "/dev/fifo"}}})) == "<no error>");
  BOOST_TEST(error_with("/linux/seccomp", json{{"defaultAction", "SCMP_ACT_ALLOW"},
                                               {"syscalls", {{{"names", json::array()}, {"action", "x"}}}}}) ==
             "linux.seccomp.syscalls[0].names: must not be empty");
}

BOOST_AUTO_TEST_CASE(namespace_type_names) {
  for (NamespaceType t : {NamespaceType::pid, NamespaceType::network, NamespaceType::mount, NamespaceType::ipc,
                          NamespaceType::uts, NamespaceType::user, NamespaceType::cgroup, NamespaceType::time})
    BOOST_TEST((parse_namespace_type(namespace_type_name(t)) == t));
  BOOST_TEST(std::string(namespace_type_name(NamespaceType::network)) == "network");
  BOOST_CHECK_EXCEPTION(parse_namespace_type("net"), rrun::os::Error, [](const rrun::os::Error& e) {
    return std::string(e.what()) == "unknown namespace type \"net\"";
  });
}

BOOST_AUTO_TEST_SUITE_END()
