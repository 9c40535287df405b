// The verdicts of `rrun doctor`, fed tables of facts (no host access), and
// the shapes of its text and JSON output.

#include <errno.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

#include <rrun/core/doctor.hpp>

namespace rrun::core::doctor {
inline std::ostream& operator<<(std::ostream& os, Status s) {
  return os << status_name(s);
}
}  // namespace rrun::core::doctor

using namespace rrun;
using namespace rrun::core::doctor;
using rrun::core::ProbeOutcome;

namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(doctor)

BOOST_AUTO_TEST_CASE(userns_verdicts) {
  struct Row {
    std::optional<long> max, clone, apparmor;
    ProbeOutcome probe;
    Status status;
    const char* in_remedy;
  };
  const Row rows[] = {
      {28633, std::nullopt, std::nullopt, {}, Status::ok, ""},
      {0, std::nullopt, std::nullopt, {"unshare", ENOSPC}, Status::fail, "sysctl -w user.max_user_namespaces="},
      {28633, 0, std::nullopt, {"unshare", EPERM}, Status::fail, "kernel.unprivileged_userns_clone=1"},
      {28633, 1, 1, {"mount tmpfs", EPERM}, Status::fail, "userns,"},
      {28633, std::nullopt, std::nullopt, {"unshare", ENOSPC}, Status::fail, "raise user.max_user_namespaces"},
      {28633, std::nullopt, std::nullopt, {"unshare", EPERM}, Status::fail, "CONFIG_USER_NS"},
  };
  for (const auto& r : rows) {
    UsernsFacts f{r.max, r.clone, r.apparmor, r.probe};
    Check c = check_userns(f);
    BOOST_TEST_INFO("probe " << r.probe.step << " " << r.probe.error);
    BOOST_TEST(c.name == "userns");
    BOOST_TEST(c.status == r.status);
    BOOST_TEST(has(c.remedy, r.in_remedy));
    if (r.status == Status::ok) BOOST_TEST(c.remedy.empty());
    if (r.status != Status::ok) BOOST_TEST(has(c.detail, r.probe.step));
  }
}

BOOST_AUTO_TEST_CASE(newuidmap_verdicts) {
  struct Row {
    IdmapToolFacts f;
    bool rootless;
    Status status;
    const char* in_text;
  };
  const Row rows[] = {
      {{"newuidmap", "/usr/bin/newuidmap", true, false}, true, Status::ok, "setuid root"},
      {{"newuidmap", "/usr/bin/newuidmap", false, true}, true, Status::ok, "cap_setuid"},
      {{"newgidmap", "/usr/bin/newgidmap", false, true}, true, Status::ok, "cap_setgid"},
      {{"newuidmap", "/usr/bin/newuidmap", false, false}, true, Status::warn, "chmod u+s /usr/bin/newuidmap"},
      {{"newgidmap", "", false, false}, true, Status::warn, "apt-get install uidmap"},
      {{"newgidmap", "", false, false}, false, Status::ok, "not needed as root"},
  };
  for (const auto& r : rows) {
    Check c = check_idmap_tool(r.f, r.rootless);
    BOOST_TEST_INFO(r.f.tool << " " << r.f.path);
    BOOST_TEST(c.name == r.f.tool);
    BOOST_TEST(c.status == r.status);
    BOOST_TEST(has(c.detail + c.remedy, r.in_text));
  }
}

BOOST_AUTO_TEST_CASE(subid_verdicts) {
  using R = userns::SubRange;
  struct Row {
    SubidFacts f;
    bool rootless;
    Status status;
    const char* in_text;
  };
  const Row rows[] = {
      {{"subuid", "alice", {R{100000, 65536}}, "", 165536}, true, Status::ok, "100000-165535 (65536 ids)"},
      {{"subgid", "alice", {R{100000, 30000}, R{200000, 40000}}, "", 240000}, true, Status::ok, "(70000 ids)"},
      {{"subuid", "alice", {R{100000, 1000}}, "", 165536}, true, Status::warn, "fewer than 65536"},
      {{"subuid", "bob", {}, "", 165536}, true, Status::warn, "`bob:165536:65536` to /etc/subuid"},
      {{"subgid", "bob", {}, "", 165536}, true, Status::warn, "usermod --add-subgids 165536-231071 bob"},
      {{"subuid", "bob", {}, "read /etc/subuid: Permission denied", 100000}, true, Status::warn, "mode 0644"},
      {{"subuid", "root", {}, "", 100000}, false, Status::ok, "not needed as root"},
  };
  for (const auto& r : rows) {
    Check c = check_subids(r.f, r.rootless);
    BOOST_TEST_INFO(r.f.kind << " " << r.f.user << " " << r.in_text);
    BOOST_TEST(c.name == r.f.kind);
    BOOST_TEST(c.status == r.status);
    BOOST_TEST(has(c.detail + " | " + c.remedy, r.in_text));
  }
}

BOOST_AUTO_TEST_CASE(runtime_and_state_dir_verdicts) {
  BOOST_TEST(check_xdg_runtime_dir({true, "/run/user/1000", true, true}, true, 1000).status == Status::ok);
  Check unset = check_xdg_runtime_dir({}, true, 1000);
  BOOST_TEST(unset.status == Status::warn);
  BOOST_TEST(has(unset.detail, "/tmp/rrun-1000"));
  BOOST_TEST(check_xdg_runtime_dir({true, "/nope", false, false}, true, 1000).status == Status::warn);
  BOOST_TEST(check_xdg_runtime_dir({}, false, 0).status == Status::ok);

  BOOST_TEST(check_state_dir({"/run/user/1000/rrun", "", true, false}).status == Status::ok);
  BOOST_TEST(check_state_dir({"/tmp/rrun-1000", "", false, true}).status == Status::ok);
  Check bad = check_state_dir({"", "state directory \"/tmp/rrun-1000\" is owned by uid 0", false, false});
  BOOST_TEST(bad.status == Status::fail);
  BOOST_TEST(has(bad.remedy, "--root"));
  BOOST_TEST(check_state_dir({"/x/rrun", "", false, false}).status == Status::fail);
}

BOOST_AUTO_TEST_CASE(cgroup_verdicts) {
  using cgroups::Mode;
  struct Row {
    CgroupFacts f;
    bool rootless;
    Status status;
    const char* in_text;
  };
  const Row rows[] = {
      {{Mode::v2, "/user.slice/u", true, {"cpu", "memory", "pids"}, false, true}, true, Status::ok, "cpu memory pids"},
      {{Mode::v2, "/user.slice/u", true, {}, false, true}, true, Status::warn, "Delegate=cpu cpuset io memory pids"},
      {{Mode::v2, "/user.slice/u", true, {}, false, false}, true, Status::warn, "subtree_control"},
      {{Mode::v2, "/user.slice/u", false, {}, true, true}, true, Status::ok, "user bus"},
      {{Mode::v2, "/system.slice/x", false, {}, true, true, {"cpu", "memory", "pids"}},
       true,
       Status::ok,
       "scope; controllers: cpu memory pids"},
      {{Mode::v2, "/slurm/job1", false, {}, false, true}, true, Status::warn, "loginctl enable-linger"},
      {{Mode::v2, "/slurm/job1", false, {}, false, false}, true, Status::warn, "chown the directory"},
      {{Mode::hybrid, "/", false, {}, true, true}, true, Status::warn, "systemd.unified_cgroup_hierarchy=1"},
      {{Mode::hybrid, "/", false, {}, false, false}, true, Status::warn, "cgroup_no_v1=all"},
      {{Mode::v1, "", false, {}, false, false}, true, Status::warn, "never delegated"},
      {{Mode::hybrid, "/", false, {}, false, false}, false, Status::ok, "v1 controllers as root"},
      {{Mode::v2, "/", true, {"memory"}, false, false}, false, Status::ok, "controllers: memory"},
      {{Mode::none, "", false, {}, false}, true, Status::warn, "mount cgroup2"},
  };
  for (const auto& r : rows) {
    Check c = check_cgroups(r.f, r.rootless);
    BOOST_TEST_INFO(cgroups::mode_name(r.f.mode) << " " << r.f.own_cgroup << " rootless=" << r.rootless);
    BOOST_TEST(c.status == r.status);
    BOOST_TEST(has(c.detail + " | " + c.remedy, r.in_text));
    // systemd-run only where a user manager answers (and no remedy is needed).
    if (!r.f.user_bus) BOOST_TEST(!has(c.remedy, "systemd-run"));
    if (c.status == Status::warn)
      BOOST_TEST(c.remedy == cgroups::delegation_remedy({r.f.mode, r.f.delegated, r.f.user_bus, r.f.systemd_init}));
  }
}

BOOST_AUTO_TEST_CASE(overlay_and_fuse_verdicts) {
  struct Row {
    ProbeOutcome probe;
    Status status;
    const char* in_text;
  };
  const Row rows[] = {
      {{}, Status::ok, "userxattr"},
      {{"mount overlay", EINVAL}, Status::warn, "Linux < 5.11"},
      {{"mount overlay", ENODEV}, Status::warn, "modprobe overlay"},
      {{"rename a lower directory", EIO}, Status::warn, "but rename a lower directory"},
      {{"unshare", EPERM}, Status::warn, "not tried"},
  };
  for (const auto& r : rows) {
    Check c = check_kernel_overlay({r.probe, "/tmp"});
    BOOST_TEST_INFO(r.probe.step);
    BOOST_TEST(c.status == r.status);
    BOOST_TEST(has(c.detail + " | " + c.remedy, r.in_text));
    // Never a fail: rrun falls back to fuse-overlayfs, and plain bundles need no overlay.
    if (r.status != Status::ok) BOOST_TEST(has(c.remedy, "fuse-overlayfs"));
  }

  BOOST_TEST(check_dev_fuse({true, 0, ""}).status == Status::ok);
  Check denied = check_dev_fuse({true, EACCES, ""});
  BOOST_TEST(denied.status == Status::warn);
  BOOST_TEST(has(denied.remedy, "chmod 0666 /dev/fuse"));
  BOOST_TEST(has(check_dev_fuse({false, 0, ""}).remedy, "modprobe fuse"));
  BOOST_TEST(check_fuse_overlayfs({true, 0, "/usr/bin/fuse-overlayfs"}).status == Status::ok);
  BOOST_TEST(has(check_fuse_overlayfs({true, 0, ""}).remedy, "apt-get install fuse-overlayfs"));
}

BOOST_AUTO_TEST_CASE(seccomp_syscall_and_idmap_verdicts) {
  BOOST_TEST(check_seccomp({true, "kill_process kill_thread trap errno user_notif trace log allow", "2.5.4"}).status ==
             Status::ok);
  BOOST_TEST(check_seccomp({true, "kill_thread trap errno trace allow", "2.5.4"}).status == Status::warn);
  BOOST_TEST(check_seccomp({false, "", "2.5.4"}).status == Status::warn);

  BOOST_TEST(check_syscall("clone3", 0).status == Status::ok);
  Check missing = check_syscall("openat2", ENOSYS);
  BOOST_TEST(missing.name == "openat2");
  BOOST_TEST(missing.status == Status::warn);
  BOOST_TEST(has(missing.detail, "Linux 5.6"));
  BOOST_TEST(has(check_syscall("clone3", EPERM).detail, "seccomp filter"));

  BOOST_TEST(check_idmapped_mounts({{}, "/tmp"}, false).status == Status::ok);
  BOOST_TEST(check_idmapped_mounts({{"mount_setattr", EPERM}, "/tmp"}, true).status == Status::ok);
  BOOST_TEST(check_idmapped_mounts({{"mount_setattr", EINVAL}, "/tmp"}, false).status == Status::warn);
  BOOST_TEST(check_idmapped_mounts({{"open_tree", ENOSYS}, "/tmp"}, true).status == Status::warn);
}

// The exit rule: ok() is false exactly when a check failed.
BOOST_AUTO_TEST_CASE(report_text_and_json) {
  Report r;
  r.checks.push_back({"userns", Status::ok, "works", ""});
  r.checks.push_back({"subuid", Status::warn, "no range", "add a line"});
  BOOST_TEST(r.ok());
  std::string text = format_text(r);
  BOOST_TEST(has(text, "ok    userns: works\n"));
  BOOST_TEST(has(text, "warn  subuid: no range; remedy: add a line\n"));
  BOOST_TEST(has(text, "rootless containers can run here (1 warning)\n"));

  auto j = nlohmann::json::parse(format_json(r));
  BOOST_TEST(j["ok"] == true);
  BOOST_REQUIRE(j["checks"].size() == 2u);
  BOOST_TEST(j["checks"][1]["name"] == "subuid");
  BOOST_TEST(j["checks"][1]["status"] == "warn");
  BOOST_TEST(j["checks"][1]["detail"] == "no range");
  BOOST_TEST(j["checks"][1]["remedy"] == "add a line");
  BOOST_TEST(j["checks"][0]["remedy"] == "");

  r.checks.push_back({"state_dir", Status::fail, "bad", "pass --root"});
  BOOST_TEST(!r.ok());
  BOOST_TEST(has(format_text(r), "rootless containers cannot run here: 1 check failed, 1 warning\n"));
  BOOST_TEST(nlohmann::json::parse(format_json(r))["ok"] == false);
}

// evaluate() lists every check once, in a fixed order.
BOOST_AUTO_TEST_CASE(evaluate_lists_every_check) {
  Facts f;
  f.rootless = true;
  f.uid = 1000;
  f.newuidmap.tool = "newuidmap";
  f.newgidmap.tool = "newgidmap";
  f.subuid.kind = "subuid";
  f.subgid.kind = "subgid";
  f.state.root = "/tmp/rrun-1000";
  f.state.parent_writable = true;
  Report r = evaluate(f);
  std::vector<std::string> names;
  for (const auto& c : r.checks) names.push_back(c.name);
  const std::vector<std::string> expected = {"userns",         "newuidmap",       "newgidmap",      "subuid",
                                             "subgid",         "xdg_runtime_dir", "state_dir",      "cgroups",
                                             "kernel_overlay", "dev_fuse",        "fuse_overlayfs", "seccomp",
                                             "clone3",         "pidfd_open",      "openat2",        "idmapped_mounts"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
  BOOST_TEST(r.ok());  // every failure in these facts degrades
  // No subordinate uids for uid 1000.
  BOOST_TEST(r.checks[3].status == Status::warn);
  f.userns.probe = {"unshare", EPERM};
  BOOST_TEST(!evaluate(f).ok());
}

// Root in a user namespace (rootless Podman) shares it with its containers:
// no subordinate ids or helpers are needed there.
BOOST_AUTO_TEST_CASE(evaluate_root_in_a_user_namespace_needs_no_subids) {
  Facts f;
  f.rootless = true;
  f.uid = 0;
  f.newuidmap.tool = "newuidmap";
  f.newgidmap.tool = "newgidmap";
  f.subuid.kind = "subuid";
  f.subgid.kind = "subgid";
  Report r = evaluate(f);
  for (size_t i = 1; i <= 4; ++i) {
    BOOST_TEST_INFO(r.checks[i].name << ": " << r.checks[i].detail);
    BOOST_TEST(r.checks[i].status == Status::ok);
  }
}

BOOST_AUTO_TEST_SUITE_END()
