#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include <rrun/cgroups/cgfs.hpp>
#include <rrun/cgroups/manager.hpp>
#include <rrun/cgroups/v2.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "../temp_dir.hpp"
#include "fake_cgroupfs.hpp"

namespace cg = rrun::cgroups;
namespace spec = rrun::spec;
namespace os = rrun::os;

namespace {

using rrun::test::get;
using rrun::test::put;
using rrun::test::WriteLog;

// A cgroup directory as the kernel fills it (only the files the tests use).
void fake_cgroup(const std::string& dir, const std::string& controllers, bool root = false) {
  put(dir + "/cgroup.procs", "");
  put(dir + "/cgroup.subtree_control", "");
  if (!controllers.empty() || root) put(dir + "/cgroup.controllers", controllers + "\n");
}

void fake_leaf(const std::string& dir) {
  for (const char* f : {"cgroup.procs", "cgroup.freeze", "cgroup.kill", "memory.max", "memory.swap.max", "pids.max",
                        "cpu.max", "cpu.weight", "hugetlb.2MB.max"})
    put(dir + "/" + f, "");
  put(dir + "/cgroup.events", "populated 0\nfrozen 0\n");
}

spec::Resources memory_and_pids() {
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.pids = spec::PidsResources{32};
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_v2)

BOOST_AUTO_TEST_CASE(location_as_root) {
  auto l = cg::resolve_v2_location("/R", "/user.slice/u.scope", false, "", "c1", false);
  BOOST_TEST(l.dir == "/R/rrun/c1");
  BOOST_TEST(l.delegation_root == "/R");
  BOOST_TEST(cg::resolve_v2_location("/R", "/user.slice/u.scope", false, "/machine/c1", "c1", false).dir ==
             "/R/machine/c1");
  // Relative: below the parent of our own cgroup (runc fs2).
  BOOST_TEST(cg::resolve_v2_location("/R", "/user.slice/u.scope", false, "pods/p1", "c1", false).dir ==
             "/R/user.slice/pods/p1");
  BOOST_TEST(cg::resolve_v2_location("/R", "/", false, "x", "c1", false).dir == "/R/x");
  BOOST_TEST(cg::resolve_v2_location("/R", "/", false, "/../../x", "c1", false).dir == "/R/x");
  BOOST_CHECK_THROW(cg::resolve_v2_location("/R", "/", false, "/", "c1", false), os::Error);
}

// Issue 11 point 11: a relative cgroupsPath is cleaned as if rooted before
// it is joined (runc CleanPath), so ".." cannot leave the parent of our
// cgroup as root, nor the delegated cgroup rootless.
BOOST_AUTO_TEST_CASE(location_relative_dotdot_is_cleaned_first) {
  const std::string own = "/user.slice/user-1000.slice/session-1.scope";
  BOOST_TEST(cg::resolve_v2_location("/R", own, false, "../../../../x", "c1", false).dir ==
             "/R/user.slice/user-1000.slice/x");
  BOOST_TEST(cg::resolve_v2_location("/R", own, false, "a/../../b", "c1", false).dir ==
             "/R/user.slice/user-1000.slice/b");
  BOOST_TEST(cg::resolve_v2_location("/R", own, false, "../../x", "c1", true).dir == "/R" + own + "/x");
  for (bool rootless : {false, true}) {
    for (const char* self : {".", "a/..", "../"}) {
      try {
        cg::resolve_v2_location("/R", own, false, self, "c1", rootless);
        BOOST_ERROR("no error for " << self);
      } catch (const os::Error& e) {
        std::string msg = e.what();
        BOOST_TEST(msg.find(rootless ? "names the delegated cgroup itself"
                                     : "names the parent of rrun's cgroup itself") != std::string::npos,
                   msg);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(location_rootless) {
  const std::string own = "/user.slice/user-1000.slice/session-1.scope";
  auto l = cg::resolve_v2_location("/R", own, false, "", "c1", true);
  BOOST_TEST(l.dir == "/R" + own + "/rrun/c1");
  BOOST_TEST(l.delegation_root == "/R" + own);
  BOOST_TEST(cg::resolve_v2_location("/R", own, false, "a/b", "c1", true).dir == "/R" + own + "/a/b");
  BOOST_TEST(cg::resolve_v2_location("/R", own, false, own + "/x", "c1", true).dir == "/R" + own + "/x");
  // Already in the leaf an earlier rrun made: the delegation is the parent.
  auto leaf = cg::resolve_v2_location("/R", own + "/init", true, "", "c1", true);
  BOOST_TEST(leaf.dir == "/R" + own + "/rrun/c1");
  BOOST_TEST(leaf.delegation_root == "/R" + own);
  for (const char* bad : {"/system.slice/x", "/user.slice/user-1000.slice", "init", own.c_str()}) {
    try {
      cg::resolve_v2_location("/R", own, false, bad, "c1", true);
      BOOST_ERROR("no error for " << bad);
    } catch (const os::Error& e) {
      std::string msg = e.what();
      BOOST_TEST(msg.find("outside the cgroup delegated to this user (`" + own + "`)") != std::string::npos, msg);
    }
  }
}

BOOST_AUTO_TEST_CASE(controllers_needed_and_wanted) {
  spec::Resources r = memory_and_pids();
  r.hugepage_limits = {{"2MB", 0}};
  r.unified["cgroup.max.depth"] = "2";
  auto c = cg::v2_controllers(&r);
  BOOST_TEST(c.needed == (std::vector<std::string>{"memory", "pids", "hugetlb"}));
  BOOST_TEST(c.wanted == (std::vector<std::string>{"cpu", "io"}));
  auto none = cg::v2_controllers(nullptr);
  BOOST_TEST(none.needed.empty());
  BOOST_TEST(none.wanted == (std::vector<std::string>{"cpu", "io", "memory", "pids"}));
}

BOOST_AUTO_TEST_CASE(create_enables_from_the_root_down_then_writes) {
  rrun::test::TempDir t;
  std::string R = t.path;
  fake_cgroup(R, "cpuset cpu io memory pids", true);
  fake_cgroup(R + "/rrun", "");  // new: offers what the root enabled
  fake_leaf(R + "/rrun/c1");
  cg::V2Manager m(R + "/rrun/c1", R, R + "/user.slice/u.scope", false);
  WriteLog log(R);
  spec::Resources r = memory_and_pids();
  BOOST_TEST(m.create(&r).empty());
  std::vector<std::string> want = {
      "/cgroup.subtree_control=+memory +pids +cpu +io",
      "/rrun/cgroup.subtree_control=+memory +pids +cpu +io",
      "/rrun/c1/memory.max=1048576",
      "/rrun/c1/pids.max=32",
  };
  BOOST_TEST(log.writes == want, boost::test_tools::per_element());
  BOOST_TEST(m.clone_fd() >= 0);
  BOOST_TEST(m.path() == R + "/rrun/c1");
  // Already enabled controllers are not written again.
  log.writes.clear();
  put(R + "/cgroup.subtree_control", "cpu io memory pids\n");
  put(R + "/rrun/cgroup.subtree_control", "cpu io memory pids\n");
  cg::V2Manager again(R + "/rrun/c1", R, "", false);
  again.create(&r);
  BOOST_TEST(log.writes == (std::vector<std::string>{"/rrun/c1/memory.max=1048576", "/rrun/c1/pids.max=32"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(missing_controller_root_error_rootless_warning) {
  rrun::test::TempDir t;
  std::string R = t.path;
  fake_cgroup(R, "cpu memory pids", true);  // no hugetlb
  spec::Resources r = memory_and_pids();
  r.hugepage_limits = {{"2MB", 4 << 20}};
  {
    cg::V2Manager m(R + "/rrun/c1", R, "", false);
    try {
      m.create(&r);
      BOOST_FAIL("expected an error");
    } catch (const os::Error& e) {
      BOOST_TEST(std::string(e.what()) == "linux.resources: the cgroup v2 controller `hugetlb` is not available in `" +
                                              R + "` (cgroup.controllers: cpu memory pids)");
    }
    BOOST_TEST(!os::path_exists(R + "/rrun"));  // nothing left behind
  }
  fake_cgroup(R + "/rrun", "");
  fake_leaf(R + "/rrun/c1");
  cg::V2Manager m(R + "/rrun/c1", R, "", true);
  WriteLog log(R);
  auto warnings = m.create(&r);
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_TEST(warnings[0].find("the cgroup v2 controller `hugetlb` is not available in `" + R + "`") == 0u);
  BOOST_TEST(warnings[0].find("so the hugetlb limits were not applied") != std::string::npos);
  for (const auto& w : log.writes) BOOST_TEST(w.find("hugetlb") == std::string::npos, w);
  BOOST_TEST(get(R + "/rrun/c1/memory.max") == "1048576");
  BOOST_TEST(m.missing_controllers() == (std::vector<std::string>{"hugetlb"}));
}

// The no-internal-processes rule: our own cgroup has processes, so
// enabling a controller for its children fails with EBUSY until they move
// to the leaf `init`.
BOOST_AUTO_TEST_CASE(own_processes_move_to_the_leaf) {
  rrun::test::TempDir t;
  std::string R = t.path;
  std::string D = R + "/user.slice/s.scope";
  fake_cgroup(D, "cpu memory pids");
  put(D + "/cgroup.procs", "4242\n4243\n");
  fake_cgroup(D + "/rrun", "");
  fake_leaf(D + "/rrun/c1");
  cg::V2Manager m(D + "/rrun/c1", D, D, true);
  WriteLog log(R);
  bool moved = false;
  log.fail = [&](const std::string& rel, const std::string&) {
    if (rel == "/user.slice/s.scope/init/cgroup.procs") {
      moved = true;
      return -1;  // pretend: the fake leaf has no cgroup.procs of its own
    }
    if (rel == "/user.slice/s.scope/cgroup.subtree_control" && !moved) return EBUSY;
    return 0;
  };
  spec::Resources r = memory_and_pids();
  BOOST_TEST(m.create(&r).empty());
  std::vector<std::string> want = {
      "/user.slice/s.scope/cgroup.subtree_control=+memory +pids +cpu",  // EBUSY
      "/user.slice/s.scope/cgroup.subtree_control=+memory",             // EBUSY
      "/user.slice/s.scope/init/cgroup.procs=4242",
      "/user.slice/s.scope/init/cgroup.procs=4243",
      "/user.slice/s.scope/cgroup.subtree_control=+memory",
      "/user.slice/s.scope/cgroup.subtree_control=+pids",
      "/user.slice/s.scope/cgroup.subtree_control=+cpu",
      "/user.slice/s.scope/rrun/cgroup.subtree_control=+memory +pids +cpu",
      "/user.slice/s.scope/rrun/c1/memory.max=1048576",
      "/user.slice/s.scope/rrun/c1/pids.max=32",
  };
  BOOST_TEST(log.writes == want, boost::test_tools::per_element());
  BOOST_TEST(os::path_exists(D + "/init"));
}

BOOST_AUTO_TEST_CASE(ebusy_elsewhere_moves_nothing) {
  rrun::test::TempDir t;
  std::string R = t.path;
  std::string D = R + "/s.scope";
  fake_cgroup(D, "memory pids");
  put(D + "/cgroup.procs", "4242\n");
  fake_cgroup(D + "/rrun", "");
  fake_leaf(D + "/rrun/c1");
  WriteLog log(R);
  log.fail = [&](const std::string& rel, const std::string&) {
    return rel == "/s.scope/cgroup.subtree_control" ? EBUSY : 0;
  };
  spec::Resources r = memory_and_pids();
  // Not our own cgroup (own_dir differs): no move; root: an error naming the rule.
  cg::V2Manager root(D + "/rrun/c1", D, R + "/other", false);
  try {
    root.create(&r);
    BOOST_FAIL("expected an error");
  } catch (const os::Error& e) {
    BOOST_TEST(std::string(e.what()).find("no-internal-processes") != std::string::npos, e.what());
  }
  cg::V2Manager rootless(D + "/rrun/c1", D, R + "/other", true);
  auto warnings = rootless.create(&r);
  BOOST_TEST(warnings.size() == 2u);  // memory and pids
  for (const auto& w : log.writes) BOOST_TEST(w.find("/init/") == std::string::npos, w);
  BOOST_TEST(!os::path_exists(D + "/init"));
}

BOOST_AUTO_TEST_CASE(failed_create_removes_what_it_made) {
  rrun::test::TempDir t;
  std::string R = t.path;
  fake_cgroup(R, "memory pids", true);
  cg::V2Manager m(R + "/rrun/c1", R, "", false);
  WriteLog log(R);
  // The fake new cgroups have no files: pretend the subtree_control writes
  // worked; memory.max then fails (ENOENT) and both new directories go.
  log.fail = [](const std::string& rel, const std::string&) { return rel == "/rrun/cgroup.subtree_control" ? -1 : 0; };
  spec::Resources r = memory_and_pids();
  BOOST_CHECK_THROW(m.create(&r), os::SystemError);
  BOOST_TEST(!os::path_exists(R + "/rrun"));
  BOOST_TEST(m.clone_fd() == -1);
}

BOOST_AUTO_TEST_CASE(rootless_write_failures_are_warnings) {
  rrun::test::TempDir t;
  std::string R = t.path;
  fake_leaf(R + "/c1");
  WriteLog log(R);
  log.fail = [](const std::string& rel, const std::string&) { return rel == "/c1/pids.max" ? EACCES : 0; };
  cg::V2Manager rootless(R + "/c1", "", "", true);
  auto w = rootless.set(memory_and_pids());
  BOOST_REQUIRE_EQUAL(w.size(), 1u);
  BOOST_TEST(w[0].find("write `32` to `" + R + "/c1/pids.max`") == 0u, w[0]);
  cg::V2Manager root(R + "/c1", "", "", false);
  BOOST_CHECK_THROW(root.set(memory_and_pids()), os::SystemError);
  // Devices rootless: skipped (no eBPF for unprivileged users).
  spec::Resources d;
  d.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  BOOST_TEST(rootless.set(d).empty());
}

BOOST_AUTO_TEST_CASE(check_before_update) {
  rrun::test::TempDir t;
  fake_leaf(t.path + "/c1");
  put(t.path + "/c1/memory.current", "5000\n");
  cg::V2Manager m(t.path + "/c1", "", "", false);
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 4000;
  r.memory->check_before_update = true;
  BOOST_CHECK_THROW(m.set(r), os::Error);
  BOOST_TEST(get(t.path + "/c1/memory.max") == "");
  r.memory->limit = 6000;
  m.set(r);
  BOOST_TEST(get(t.path + "/c1/memory.max") == "6000");
}

BOOST_AUTO_TEST_CASE(freeze_kill_and_pids_on_files) {
  rrun::test::TempDir t;
  std::string d = t.path + "/c1";
  fake_leaf(d);
  cg::V2Manager m(d, "", "", false);
  put(d + "/cgroup.events", "populated 1\nfrozen 1\n");
  m.freeze();
  BOOST_TEST(get(d + "/cgroup.freeze") == "1");
  BOOST_TEST(m.frozen());
  put(d + "/cgroup.events", "populated 1\nfrozen 0\n");
  m.thaw();
  BOOST_TEST(get(d + "/cgroup.freeze") == "0");
  BOOST_TEST(!m.frozen());
  m.kill_all(SIGKILL);
  BOOST_TEST(get(d + "/cgroup.kill") == "1");
  put(d + "/cgroup.procs", "11\n12\n");
  put(d + "/sub/cgroup.procs", "13\n");
  BOOST_TEST(m.pids() == (std::vector<pid_t>{11, 12, 13}));
  ::unlink((d + "/cgroup.freeze").c_str());
  try {
    m.freeze();
    BOOST_FAIL("expected an error");
  } catch (const os::Error& e) {
    BOOST_TEST(std::string(e.what()).find("has no cgroup.freeze") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(open_manager_round_trip) {
  rrun::test::TempDir t;
  fake_leaf(t.path + "/c1");
  auto m = cg::open_manager("v2", t.path + "/c1");
  BOOST_TEST(cg::driver_name(m->driver()) == std::string("v2"));
  BOOST_TEST(m->path() == t.path + "/c1");
  BOOST_TEST(m->clone_fd() >= 0);
  auto gone = cg::open_manager("v2", t.path + "/nope");
  BOOST_TEST(gone->clone_fd() == -1);
  gone->destroy();  // nothing there: fine
  BOOST_CHECK_THROW(cg::open_manager("v2", "relative/dir"), os::Error);
  BOOST_CHECK_THROW(cg::open_manager("cgroupfs", "/x"), os::Error);
  BOOST_TEST(cg::driver_name(cg::open_manager("none", "")->driver()) == std::string("none"));
}

BOOST_AUTO_TEST_CASE(make_manager_on_fake_v2_roots) {
  rrun::test::TempDir t;
  std::string R = t.path;
  const std::string own = "/user.slice/user-1000.slice/s.scope";
  fake_cgroup(R + own, "cpu memory pids");
  put(R + "/self", "0::" + own + "\n");
  cg::ManagerRequest req;
  req.id = "c1";
  req.roots = {R, R + "/self"};
  req.mode = cg::Mode::v2;
  req.has_dbus_session = false;
  auto root = cg::make_manager(req);
  BOOST_TEST(cg::driver_name(root->driver()) == std::string("v2"));
  BOOST_TEST(root->path() == R + "/rrun/c1");
  req.rootless = true;
  auto rootless = cg::make_manager(req);
  BOOST_TEST(cg::driver_name(rootless->driver()) == std::string("v2"));
  BOOST_TEST(rootless->path() == R + own + "/rrun/c1");
  // A systemd cgroupsPath without a bus, rootless: the default path.
  req.cgroups_path = "user.slice:rrun:c1";
  BOOST_TEST(cg::make_manager(req)->path() == R + own + "/rrun/c1");
  req.cgroups_path = "/elsewhere";
  BOOST_CHECK_THROW(cg::make_manager(req), os::Error);
  req.cgroups_path = "";
  // In the leaf an earlier rrun made.
  fake_cgroup(R + own + "/init", "");
  put(R + "/self", "0::" + own + "/init\n");
  BOOST_TEST(cg::make_manager(req)->path() == R + own + "/rrun/c1");
  // Nothing delegated (no cgroup.subtree_control to write) and no bus: none.
  ::unlink((R + own + "/cgroup.subtree_control").c_str());
  put(R + "/self", "0::" + own + "\n");
  BOOST_TEST(cg::driver_name(cg::make_manager(req)->driver()) == std::string("none"));
}

BOOST_AUTO_TEST_SUITE_END()
