#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <rrun/core/caps.hpp>
#include <rrun/core/process_setup.hpp>
#include <rrun/os/error.hpp>
#include "fork_child.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

using namespace rrun;
using rrun::test::exit_code;
using rrun::test::run_in_child;

namespace {

constexpr uint64_t bit(int cap) {
  return uint64_t{1} << cap;
}

// "CapEff" -> value from /proc/self/status.
uint64_t status_caps(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::string prefix = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.compare(0, prefix.size(), prefix) == 0) return std::stoull(line.substr(prefix.size()), nullptr, 16);
  return ~uint64_t{0};
}

int report(const os::StepFailure& f, int code) {
  std::fprintf(stderr, "child: %s: %s: %s\n", f.step, f.detail, std::strerror(f.err));
  return code;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(caps)

BOOST_AUTO_TEST_CASE(names_to_masks) {
  spec::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_KILL", "cap_net_raw", "Cap_Setuid"};
  c.effective = {"CAP_CHOWN"};
  c.permitted = {"CAP_CHOWN", "CAP_KILL"};
  c.inheritable = {"CAP_KILL"};
  c.ambient = {"CAP_KILL"};
  std::vector<std::string> warnings;
  auto p = core::plan_capabilities(c, 40, &warnings);
  BOOST_TEST(p.last_cap == 40u);
  BOOST_TEST(p.bounding == (bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_RAW) | bit(CAP_SETUID)));
  BOOST_TEST(p.effective == bit(CAP_CHOWN));
  BOOST_TEST(p.permitted == (bit(CAP_CHOWN) | bit(CAP_KILL)));
  BOOST_TEST(p.inheritable == bit(CAP_KILL));
  BOOST_TEST(p.ambient == bit(CAP_KILL));
  BOOST_TEST(warnings.empty());
}

// runc's finalizeNamespace: no capabilities key, no capabilities.
BOOST_AUTO_TEST_CASE(absent_means_none) {
  auto p = core::plan_capabilities(std::nullopt, 40);
  BOOST_TEST(p.last_cap == 40u);
  BOOST_TEST((p.bounding | p.effective | p.permitted | p.inheritable | p.ambient) == 0u);
  if (::geteuid() != 0) return;  // dropping the bounding set needs CAP_SETPCAP
  int status = run_in_child([&] {
    os::StepFailure f;
    if (core::apply_capabilities(p, f) < 0) return report(f, 90);
    for (const char* set : {"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"})
      if (status_caps(set) != 0) return 1;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(unknown_and_too_new_names_are_ignored_with_a_warning) {
  spec::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_FLY", "CAP_AUDIT_READ"};  // CAP_AUDIT_READ is 37
  std::vector<std::string> warnings;
  auto p = core::plan_capabilities(c, 36, &warnings);
  BOOST_TEST(p.bounding == bit(CAP_CHOWN));
  BOOST_REQUIRE(warnings.size() == 2u);
  BOOST_TEST(warnings[0] == "unknown capability `CAP_FLY` ignored");
  BOOST_TEST(warnings[1] == "capability `CAP_AUDIT_READ` is not supported by the running kernel, ignored");
}

BOOST_AUTO_TEST_CASE(ambient_needs_permitted_and_inheritable) {
  spec::Capabilities c;
  c.permitted = {"CAP_KILL", "CAP_CHOWN"};
  c.inheritable = {"CAP_KILL"};
  c.ambient = {"CAP_KILL", "CAP_CHOWN"};
  std::vector<std::string> warnings;
  auto p = core::plan_capabilities(c, 40, &warnings);
  BOOST_TEST(p.ambient == bit(CAP_KILL));
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0] ==
             "ambient capability `CAP_CHOWN` ignored: it is not in both the permitted and inheritable sets");
}

BOOST_AUTO_TEST_CASE(a_name_without_the_prefix_is_an_error) {
  spec::Capabilities c;
  c.effective = {"CAP_CHOWN", "12"};
  try {
    (void)core::plan_capabilities(c, 40);
    BOOST_FAIL("no error");
  } catch (const os::Error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "process.capabilities.effective[1]: \"12\" is not a capability name such as \"CAP_CHOWN\"");
  }
}

BOOST_AUTO_TEST_CASE(read_last_cap_matches_proc) {
  unsigned v = core::read_last_cap();
  BOOST_TEST(v >= 36u);
  BOOST_TEST(v < 64u);
}

BOOST_AUTO_TEST_CASE(apply_as_root_keeps_only_the_planned_sets) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root");
    return;
  }
  spec::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.permitted = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.effective = {"CAP_CHOWN", "CAP_KILL"};
  c.inheritable = {"CAP_NET_BIND_SERVICE"};
  c.ambient = {"CAP_NET_BIND_SERVICE"};
  auto plan = core::plan_capabilities(c, core::read_last_cap());
  int status = run_in_child([&] {
    os::StepFailure f;
    if (core::apply_capabilities(plan, f) < 0) return report(f, 90);
    if (status_caps("CapBnd") != plan.bounding) return 1;
    if (status_caps("CapEff") != plan.effective) return 2;
    if (status_caps("CapPrm") != plan.permitted) return 3;
    if (status_caps("CapInh") != plan.inheritable) return 4;
    if (status_caps("CapAmb") != plan.ambient) return 5;
    if (::prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0) return 6;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(apply_after_switching_to_a_user) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root");
    return;
  }
  spec::Process proc;
  proc.user.uid = 1000;
  proc.user.gid = 1000;
  auto pp = core::plan_process(proc);
  spec::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_SETUID"};
  c.permitted = {"CAP_CHOWN", "CAP_KILL"};
  c.effective = {"CAP_CHOWN", "CAP_KILL"};
  auto plan = core::plan_capabilities(c, core::read_last_cap());
  int status = run_in_child([&] {
    os::StepFailure f;
    if (core::apply_user(pp, true, f) < 0) return report(f, 90);
    if (::getuid() != 1000 || ::geteuid() != 1000 || ::getgid() != 1000) return 1;
    if (core::apply_capabilities(plan, f) < 0) return report(f, 91);
    if (status_caps("CapEff") != (bit(CAP_CHOWN) | bit(CAP_KILL))) return 2;
    if (status_caps("CapBnd") != plan.bounding) return 3;
    if (status_caps("CapInh") != 0) return 4;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
