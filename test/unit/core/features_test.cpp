// `rrun features`: the features.md document's shape and the lists it takes
// from rrun's own tables.

#include <errno.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <rrun/core/features.hpp>
#include <rrun/core/seccomp.hpp>
#include <rrun/os/error.hpp>
#include <rrun/rootfs/plan.hpp>
#include <rrun/spec/spec.hpp>

using namespace rrun;
using nlohmann::json;

namespace {

bool contains(const json& array, const std::string& s) {
  return std::find(array.begin(), array.end(), json(s)) != array.end();
}

core::HostFeatures sample_host(bool idmap) {
  core::HostFeatures h;
  h.idmapped_mounts = idmap;
  h.seccomp_archs = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64"};
  h.seccomp_flags = {"SECCOMP_FILTER_FLAG_LOG"};
  h.libseccomp_version = "2.5.4";
  return h;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(features)

BOOST_AUTO_TEST_CASE(document_shape) {
  std::string text = core::features_json(sample_host(true));
  BOOST_TEST(text.substr(0, 6) == "{\n    ");  // runc's four-space indent
  BOOST_TEST(text.back() == '\n');
  json j = json::parse(text);
  BOOST_TEST(j["ociVersionMin"] == "1.0.0");
  BOOST_TEST(j["ociVersionMax"] == spec::kOciVersion);
  BOOST_TEST(j["hooks"] ==
             json({"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}));
  BOOST_TEST(j["linux"]["namespaces"] == json({"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}));
  BOOST_TEST(j["linux"]["cgroup"] ==
             json({{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", true}, {"rdma", true}}));
  const json& sc = j["linux"]["seccomp"];
  BOOST_TEST(sc["enabled"] == true);
  BOOST_TEST(contains(sc["actions"], "SCMP_ACT_NOTIFY"));
  BOOST_TEST(contains(sc["actions"], "SCMP_ACT_KILL_PROCESS"));
  BOOST_TEST(sc["operators"].size() == 7u);
  BOOST_TEST(sc["archs"] == json({"SCMP_ARCH_X86", "SCMP_ARCH_X86_64"}));
  BOOST_TEST(contains(sc["knownFlags"], "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
  BOOST_TEST(sc["supportedFlags"] == json({"SECCOMP_FILTER_FLAG_LOG"}));
  BOOST_TEST(j["linux"]["apparmor"]["enabled"] == false);
  BOOST_TEST(j["linux"]["selinux"]["enabled"] == false);
  BOOST_TEST(j["linux"]["intelRdt"]["enabled"] == false);
  BOOST_TEST(j["linux"]["mountExtensions"]["idmap"]["enabled"] == true);
  BOOST_TEST(j["annotations"]["io.github.seccomp.libseccomp.version"] == "2.5.4");

  json no_idmap = json::parse(core::features_json(sample_host(false)));
  BOOST_TEST(no_idmap["linux"]["mountExtensions"]["idmap"]["enabled"] == false);

  // Every key features.md and features-linux.md define, nothing else.
  std::vector<std::string> top;
  for (auto it = j.begin(); it != j.end(); ++it) top.push_back(it.key());
  std::vector<std::string> want = {"annotations", "hooks", "linux", "mountOptions", "ociVersionMax", "ociVersionMin"};
  BOOST_TEST(top == want, boost::test_tools::per_element());
}

// mountOptions is what parse_mount_options() recognizes: each one parses
// without ending up in the file-system data (`tmpcopyup` included).
BOOST_AUTO_TEST_CASE(mount_options_are_the_parser_tables) {
  json j = json::parse(core::features_json(sample_host(false)));
  std::vector<std::string> opts = j["mountOptions"];
  BOOST_TEST(std::is_sorted(opts.begin(), opts.end()));
  for (const char* o : {"bind", "rbind", "ro", "rro", "rrw", "rnosuid", "rprivate", "idmap", "ridmap", "nosymfollow",
                        "strictatime", "remount", "tmpcopyup"})
    BOOST_TEST(std::count(opts.begin(), opts.end(), o) == 1, o);
  for (const auto& o : opts) {
    rootfs::MountOptions mo;
    BOOST_CHECK_NO_THROW(mo = rootfs::parse_mount_options({o}, "mounts[0]"));
    BOOST_TEST(mo.data.empty(), o << " is passed through as data");
  }
  BOOST_TEST(rootfs::parse_mount_options({"tmpcopyup"}, "mounts[0]").copy_up);
}

BOOST_AUTO_TEST_CASE(capabilities_from_libcap) {
  auto caps = core::known_capabilities();
  BOOST_REQUIRE(caps.size() >= 38u);
  BOOST_TEST(caps.front() == "CAP_CHOWN");
  BOOST_TEST(std::count(caps.begin(), caps.end(), "CAP_SYS_ADMIN") == 1);
  BOOST_TEST(std::count(caps.begin(), caps.end(), "CAP_AUDIT_READ") == 1);
  for (const auto& c : caps) BOOST_TEST(c.rfind("CAP_", 0) == 0u, c);
}

// The seccomp lists are what plan_seccomp accepts.
BOOST_AUTO_TEST_CASE(seccomp_lists_are_accepted) {
  auto archs = core::seccomp_known_archs();
  BOOST_TEST(std::count(archs.begin(), archs.end(), "SCMP_ARCH_X86_64") == 1);
  for (const auto& action : core::seccomp_known_actions()) {
    spec::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    spec::SeccompSyscall rule;
    rule.names = {"getcwd"};
    rule.action = action;
    s.syscalls.push_back(rule);
    if (action == "SCMP_ACT_NOTIFY") s.listener_path = "/run/agent.sock";
    BOOST_CHECK_NO_THROW(core::plan_seccomp(s));
  }
  for (const auto& op : core::seccomp_known_operators()) {
    spec::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    spec::SeccompSyscall rule;
    rule.names = {"getcwd"};
    rule.action = "SCMP_ACT_ERRNO";
    spec::SeccompArg arg;
    arg.index = 0;
    arg.op = op;
    rule.args.push_back(arg);
    s.syscalls.push_back(rule);
    BOOST_CHECK_NO_THROW(core::compile_seccomp(s));
  }
  // Each listed architecture is resolved; libseccomp may still refuse to mix
  // one of another byte order into a filter with the native one (EDOM).
  for (const auto& arch : archs) {
    spec::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    s.architectures = {arch};
    try {
      core::compile_seccomp(s);
    } catch (const os::SystemError& e) {
      BOOST_TEST(e.code().value() == EDOM, arch << ": " << e.what());
    }
  }
  auto known = core::seccomp_known_flags();
  for (const auto& flag : core::seccomp_supported_flags())
    BOOST_TEST(std::count(known.begin(), known.end(), flag) == 1, flag);
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"};
  BOOST_CHECK_NO_THROW(core::plan_seccomp(s));
}

BOOST_AUTO_TEST_SUITE_END()
