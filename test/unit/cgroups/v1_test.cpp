#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rrun/cgroups/cgfs.hpp>
#include <rrun/cgroups/manager.hpp>
#include <rrun/cgroups/v1.hpp>
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

const char* const kSelf =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/abc\n3:cpuset:/\n2:cpu,cpuacct:/\n0::/\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_v1)

BOOST_AUTO_TEST_CASE(hierarchies_from_proc_self_cgroup) {
  rrun::test::TempDir t;
  for (const char* d : {"pids", "blkio", "freezer", "devices", "memory", "cpuset", "cpu,cpuacct", "systemd"})
    os::mkdir_p(t.path + "/" + d);
  auto h = cg::v1_hierarchies(t.path, kSelf);
  // name=systemd and the unified line are skipped.
  BOOST_REQUIRE_EQUAL(h.size(), 7u);
  BOOST_TEST(h[4].controllers == (std::vector<std::string>{"memory"}));
  BOOST_TEST(h[4].own == "/process_api/abc");
  BOOST_TEST(h[4].mount == t.path + "/memory");
  BOOST_TEST(h[0].own == "/");
  BOOST_TEST(h[6].controllers == (std::vector<std::string>{"cpu", "cpuacct"}));
  BOOST_TEST(h[6].mount == t.path + "/cpu,cpuacct");
}

BOOST_AUTO_TEST_CASE(hierarchies_separate_mounts_and_missing_ones) {
  rrun::test::TempDir t;
  // This host's layout: cpu and cpuacct are separate mounts; no hugetlb.
  for (const char* d : {"cpu", "cpuacct", "memory"}) os::mkdir_p(t.path + "/" + d);
  auto h = cg::v1_hierarchies(t.path, "3:hugetlb:/\n2:cpuacct:/\n1:cpu:/\n4:memory:/x\n");
  BOOST_REQUIRE_EQUAL(h.size(), 3u);
  BOOST_TEST(h[0].mount == t.path + "/cpuacct");
  BOOST_TEST(h[1].mount == t.path + "/cpu");
  // "cpu,cpuacct" listed but mounted as the symlink-less "cpu": the first controller.
  os::mkdir_p(t.path + "/cpu");
  auto h2 = cg::v1_hierarchies(t.path, "2:cpu,cpuacct:/\n");
  BOOST_REQUIRE_EQUAL(h2.size(), 1u);
  BOOST_TEST(h2[0].mount == t.path + "/cpu");
}

// A line whose controller list holds only commas names no controller: it is
// skipped, not read past (test/fuzz/corpus/cgroup/crash-empty-controllers).
BOOST_AUTO_TEST_CASE(hierarchies_skip_a_list_without_controllers) {
  rrun::test::TempDir t;
  os::mkdir_p(t.path + "/memory");
  auto h = cg::v1_hierarchies(t.path, "3:,:/x\n2:,,:/\n4:memory:/y\n");
  BOOST_REQUIRE_EQUAL(h.size(), 1u);
  BOOST_TEST(h[0].own == "/y");
}

BOOST_AUTO_TEST_CASE(systemd_hierarchy_from_proc_self_cgroup) {
  rrun::test::TempDir t;
  BOOST_TEST(!cg::v1_systemd_hierarchy(t.path, kSelf));  // not mounted
  os::mkdir_p(t.path + "/systemd");
  auto h = cg::v1_systemd_hierarchy(t.path, "1:name=systemd:/user.slice/x\n4:memory:/\n");
  BOOST_REQUIRE(h);
  BOOST_TEST(h->controllers == (std::vector<std::string>{"name=systemd"}));
  BOOST_TEST(h->own == "/user.slice/x");
  BOOST_TEST(h->mount == t.path + "/systemd");
  BOOST_TEST(!cg::v1_systemd_hierarchy(t.path, "4:memory:/\n0::/\n"));
  auto dirs = cg::v1_cgroup_dirs({*h}, "", "c1");
  BOOST_TEST(dirs.at("name=systemd") == t.path + "/systemd/user.slice/x/rrun/c1");
}

BOOST_AUTO_TEST_CASE(paths_default_relative_absolute) {
  std::vector<cg::V1Hierarchy> h = {{{"memory"}, "/R/memory", "/process_api/abc"},
                                    {{"cpu", "cpuacct"}, "/R/cpu,cpuacct", "/"}};
  auto def = cg::v1_cgroup_dirs(h, "", "c1");
  BOOST_TEST(def.at("memory") == "/R/memory/process_api/abc/rrun/c1");
  BOOST_TEST(def.at("cpu") == "/R/cpu,cpuacct/rrun/c1");
  BOOST_TEST(def.at("cpuacct") == "/R/cpu,cpuacct/rrun/c1");
  auto rel = cg::v1_cgroup_dirs(h, "pods/p1", "c1");
  BOOST_TEST(rel.at("memory") == "/R/memory/process_api/abc/pods/p1");
  BOOST_TEST(rel.at("cpu") == "/R/cpu,cpuacct/pods/p1");
  auto abs = cg::v1_cgroup_dirs(h, "/machine/c1", "c1");
  BOOST_TEST(abs.at("memory") == "/R/memory/machine/c1");
  // ".." cannot climb above the hierarchy root.
  auto up = cg::v1_cgroup_dirs(h, "/../../etc", "c1");
  BOOST_TEST(up.at("memory") == "/R/memory/etc");
  BOOST_CHECK_THROW(cg::v1_cgroup_dirs(h, "/", "c1"), os::Error);
}

// Issue 11 point 11: a relative cgroupsPath is cleaned as if rooted before
// it is joined to our own cgroup (runc CleanPath), so ".." stays below it.
BOOST_AUTO_TEST_CASE(relative_dotdot_stays_below_our_cgroup) {
  std::vector<cg::V1Hierarchy> h = {{{"memory"}, "/R/memory", "/process_api/abc"},
                                    {{"cpu", "cpuacct"}, "/R/cpu,cpuacct", "/"}};
  auto up = cg::v1_cgroup_dirs(h, "../../../../x", "c1");
  BOOST_TEST(up.at("memory") == "/R/memory/process_api/abc/x");
  BOOST_TEST(up.at("cpu") == "/R/cpu,cpuacct/x");
  BOOST_TEST(cg::v1_cgroup_dirs(h, "a/../../b/./c", "c1").at("memory") == "/R/memory/process_api/abc/b/c");
  // Our own cgroup itself is not the container's.
  for (const char* own : {".", "a/..", "../..", "./"}) {
    try {
      cg::v1_cgroup_dirs(h, own, "c1");
      BOOST_ERROR("no error for " << own);
    } catch (const os::Error& e) {
      std::string msg = e.what();
      BOOST_TEST(msg.find("names rrun's own cgroup itself") != std::string::npos, msg);
    }
  }
}

// The same through make_manager and create() on a fake cgroupfs: the
// directories made are below our cgroup, none at the hierarchy's root.
BOOST_AUTO_TEST_CASE(make_manager_relative_dotdot_creates_below_our_cgroup) {
  rrun::test::TempDir t;
  for (const char* d : {"pids", "memory"}) os::mkdir_p(t.path + "/" + d);
  put(t.path + "/self", "8:pids:/a/b\n4:memory:/process_api/abc\n0::/\n");
  cg::ManagerRequest req;
  req.id = "c1";
  req.cgroups_path = "../../../../x";
  req.roots = {t.path, t.path + "/self"};
  req.mode = cg::Mode::hybrid;
  auto m = cg::make_manager(req);
  m->create(nullptr);
  BOOST_TEST(os::path_exists(t.path + "/memory/process_api/abc/x"));
  BOOST_TEST(os::path_exists(t.path + "/pids/a/b/x"));
  BOOST_TEST(!os::path_exists(t.path + "/memory/x"));
  BOOST_TEST(!os::path_exists(t.path + "/pids/x"));
  BOOST_TEST(!os::path_exists(t.path + "/pids/a/x"));
}

BOOST_AUTO_TEST_CASE(path_round_trip) {
  cg::V1Manager m({{"memory", "/R/memory/x/rrun/c1"}, {"cpu", "/R/cpu/rrun/c1"}});
  auto j = nlohmann::json::parse(m.path());
  BOOST_TEST(j["memory"].get<std::string>() == "/R/memory/x/rrun/c1");
  auto back = cg::open_manager("v1", m.path());
  BOOST_TEST(cg::driver_name(back->driver()) == std::string("v1"));
  BOOST_TEST(back->path() == m.path());
  BOOST_CHECK_THROW(cg::open_manager("v1", "not json"), os::Error);
  BOOST_CHECK_THROW(cg::open_manager("v1", "[1]"), os::Error);
}

BOOST_AUTO_TEST_CASE(make_manager_v1_on_fake_root) {
  rrun::test::TempDir t;
  for (const char* d : {"pids", "memory", "cpu,cpuacct", "systemd"}) os::mkdir_p(t.path + "/" + d);
  put(t.path + "/self", kSelf);
  cg::ManagerRequest req;
  req.id = "c1";
  req.roots = {t.path, t.path + "/self"};
  req.mode = cg::Mode::hybrid;
  auto m = cg::make_manager(req);
  BOOST_REQUIRE(cg::driver_name(m->driver()) == std::string("v1"));
  auto j = nlohmann::json::parse(m->path());
  BOOST_TEST(j["memory"].get<std::string>() == t.path + "/memory/process_api/abc/rrun/c1");
  BOOST_TEST(j["pids"].get<std::string>() == t.path + "/pids/rrun/c1");
  // The name=systemd hierarchy too, as runc.
  BOOST_TEST(j["name=systemd"].get<std::string>() == t.path + "/systemd/rrun/c1");
  m->create(nullptr);
  BOOST_TEST(os::path_exists(t.path + "/systemd/rrun/c1"));
  BOOST_TEST(m->clone_fd() == -1);
  // Rootless on hybrid: none (v1 is never delegated).
  req.rootless = true;
  BOOST_TEST(cg::driver_name(cg::make_manager(req)->driver()) == std::string("none"));
}

BOOST_AUTO_TEST_CASE(create_writes_in_order_with_cpuset_copy_and_devices_reset) {
  rrun::test::TempDir t;
  std::string R = t.path;
  put(R + "/cpuset/cpuset.cpus", "0-3\n");
  put(R + "/cpuset/cpuset.mems", "0\n");
  // The new cgroups' files, as the kernel would make them.
  for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
    put(R + "/cpuset/rrun/" + f, "");
    put(R + "/cpuset/rrun/c1/" + f, "");
  }
  for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}) put(R + "/memory/rrun/c1/" + f, "");
  for (const char* f : {"devices.allow", "devices.deny"}) put(R + "/devices/rrun/c1/" + f, "");
  put(R + "/pids/rrun/c1/pids.max", "");
  cg::V1Manager m({{"cpuset", R + "/cpuset/rrun/c1"},
                   {"memory", R + "/memory/rrun/c1"},
                   {"devices", R + "/devices/rrun/c1"},
                   {"pids", R + "/pids/rrun/c1"}});
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 1000;
  r.memory->swap = 2000;
  r.pids = spec::PidsResources{-1};
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rw"}};
  WriteLog log(R);
  BOOST_TEST(m.create(&r).empty());
  // cpuset: parent first, copied from its parent.
  BOOST_TEST(get(R + "/cpuset/rrun/cpuset.cpus") == "0-3");
  BOOST_TEST(get(R + "/cpuset/rrun/c1/cpuset.cpus") == "0-3");
  BOOST_TEST(get(R + "/cpuset/rrun/c1/cpuset.mems") == "0");
  BOOST_TEST(get(R + "/memory/rrun/c1/memory.limit_in_bytes") == "1000");
  BOOST_TEST(get(R + "/memory/rrun/c1/memory.memsw.limit_in_bytes") == "2000");
  BOOST_TEST(get(R + "/pids/rrun/c1/pids.max") == "max");
  std::vector<std::string> dev;
  for (const auto& w : log.writes)
    if (w.find("/devices/") == 0) dev.push_back(w);
  BOOST_REQUIRE(dev.size() >= 4u);
  BOOST_TEST(dev[0] == "/devices/rrun/c1/devices.deny=a");  // deny everything first
  BOOST_TEST(dev[1] == "/devices/rrun/c1/devices.deny=a");  // the spec's rule
  BOOST_TEST(dev[2] == "/devices/rrun/c1/devices.allow=c 1:3 rw");
  BOOST_TEST(dev[3] == "/devices/rrun/c1/devices.allow=c *:* m");  // then the default allow list
}

BOOST_AUTO_TEST_CASE(einval_retry_orders) {
  rrun::test::TempDir t;
  std::string R = t.path;
  for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}) put(R + "/memory/c/" + f, "");
  for (const char* f : {"cpu.cfs_period_us", "cpu.cfs_quota_us"}) put(R + "/cpu/c/" + f, "");
  cg::V1Manager m({{"memory", R + "/memory/c"}, {"cpu", R + "/cpu/c"}});
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 4000;
  r.memory->swap = 8000;
  r.cpu = spec::CpuResources{};
  r.cpu->quota = 50000;
  r.cpu->period = 10000;
  WriteLog log(R);
  // The kernel's EINVAL: the limit above the current memsw limit, the period
  // that makes the current quota invalid. Each fails once.
  bool mem_failed = false, cpu_failed = false;
  log.fail = [&](const std::string& rel, const std::string&) {
    if (rel == "/memory/c/memory.limit_in_bytes" && !mem_failed) return mem_failed = true, EINVAL;
    if (rel == "/cpu/c/cpu.cfs_period_us" && !cpu_failed) return cpu_failed = true, EINVAL;
    return 0;
  };
  m.set(r);
  std::vector<std::string> want = {
      "/memory/c/memory.limit_in_bytes=4000", "/memory/c/memory.memsw.limit_in_bytes=8000",
      "/memory/c/memory.limit_in_bytes=4000", "/cpu/c/cpu.cfs_period_us=10000",
      "/cpu/c/cpu.cfs_quota_us=50000",        "/cpu/c/cpu.cfs_period_us=10000",
  };
  BOOST_TEST(log.writes == want, boost::test_tools::per_element());
  // Another errno is not retried.
  log.writes.clear();
  log.fail = [](const std::string& rel, const std::string&) { return rel == "/cpu/c/cpu.cfs_period_us" ? EPERM : 0; };
  BOOST_CHECK_THROW(m.set(r), os::SystemError);
}

BOOST_AUTO_TEST_CASE(missing_hierarchy_is_an_error_and_creates_nothing) {
  rrun::test::TempDir t;
  cg::V1Manager m(std::map<std::string, std::string>{{"memory", t.path + "/memory/rrun/c1"}});
  spec::Resources r;
  r.hugepage_limits = {{"2MB", 1 << 21}};
  try {
    m.create(&r);
    BOOST_FAIL("expected an error");
  } catch (const os::Error& e) {
    BOOST_TEST(std::string(e.what()).find("needs the cgroup v1 controller `hugetlb`") != std::string::npos);
  }
  BOOST_TEST(!os::path_exists(t.path + "/memory"));
}

BOOST_AUTO_TEST_CASE(failed_create_removes_what_it_made) {
  rrun::test::TempDir t;
  os::mkdir_p(t.path + "/pids");
  cg::V1Manager m(std::map<std::string, std::string>{{"pids", t.path + "/pids/rrun/c1"}});
  spec::Resources r;
  r.pids = spec::PidsResources{5};
  // The new directory has no pids.max (a fake): the write fails.
  BOOST_CHECK_THROW(m.create(&r), os::SystemError);
  BOOST_TEST(!os::path_exists(t.path + "/pids/rrun"));
  BOOST_TEST(os::path_exists(t.path + "/pids"));
}

BOOST_AUTO_TEST_CASE(freezer_needs_a_hierarchy) {
  cg::V1Manager m(std::map<std::string, std::string>{{"memory", "/nonexistent/memory/c1"}});
  BOOST_CHECK_THROW(m.freeze(), os::Error);
  BOOST_TEST(!m.frozen());
  m.destroy();  // nothing there: succeeds
}

// The real thing, as root on this host's v1 hierarchies, below our own
// cgroup in each (rrun-cgtest-PID), removed at the end.
BOOST_AUTO_TEST_CASE(real_v1_lifecycle_as_root) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skip real_v1_lifecycle_as_root: needs root");
    return;
  }
  cg::Mode mode = cg::detect_mode();
  if (mode != cg::Mode::hybrid && mode != cg::Mode::v1) {
    BOOST_TEST_MESSAGE("skip real_v1_lifecycle_as_root: the host is not v1 or hybrid");
    return;
  }
  cg::ManagerRequest req;
  req.id = "c";
  req.cgroups_path = "rrun-cgtest-" + std::to_string(::getpid());
  auto m = cg::make_manager(req);
  BOOST_REQUIRE(cg::driver_name(m->driver()) == std::string("v1"));
  auto dirs = nlohmann::json::parse(m->path()).get<std::map<std::string, std::string>>();
  BOOST_REQUIRE(!dirs.empty());
  for (const auto& [c, d] : dirs) BOOST_TEST_MESSAGE(c << " -> " << d);
  pid_t child = -1;
  struct Cleanup {
    cg::Manager& m;
    pid_t& child;
    ~Cleanup() {
      if (child > 0) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
      }
      try {
        m.destroy();
      } catch (...) {
      }
    }
  } cleanup{*m, child};

  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 256 << 20;
  r.pids = spec::PidsResources{64};
  r.cpu = spec::CpuResources{};
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0";
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  BOOST_TEST(m->create(&r).empty());
  BOOST_TEST(get(dirs.at("memory") + "/memory.limit_in_bytes") == std::to_string(256 << 20));
  BOOST_TEST(get(dirs.at("pids") + "/pids.max") == "64");
  BOOST_TEST(get(dirs.at("cpu") + "/cpu.shares") == "512");
  BOOST_TEST(get(dirs.at("cpu") + "/cpu.cfs_quota_us") == "50000");
  BOOST_TEST(get(dirs.at("cpuset") + "/cpuset.cpus") == "0");
  std::string devices = os::read_file(dirs.at("devices") + "/devices.list");
  BOOST_TEST(devices.find("c 1:3 rwm") != std::string::npos);
  BOOST_TEST(devices.find("a *:* rwm") == std::string::npos);
  // The memory cgroup sits below ours (the supervisor's stays in charge).
  auto self = os::read_file("/proc/self/cgroup");
  auto hier = cg::v1_hierarchies("/sys/fs/cgroup", self);
  for (const auto& h : hier)
    if (h.controllers[0] == "memory")
      BOOST_TEST(dirs.at("memory") == cg::cgfs::clean(h.mount + h.own + "/" + req.cgroups_path));

  child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  m->apply(child);
  auto pids = m->pids();
  BOOST_TEST((std::find(pids.begin(), pids.end(), child) != pids.end()));
  std::string child_cgroup = os::read_file("/proc/" + std::to_string(child) + "/cgroup");
  BOOST_TEST(child_cgroup.find(req.cgroups_path) != std::string::npos);

  m->freeze();
  BOOST_TEST(m->frozen());
  m->thaw();
  BOOST_TEST(!m->frozen());

  cg::Stats s = m->stats();
  BOOST_TEST(s.pids.current >= 1u);
  BOOST_TEST(s.pids.limit == 64u);
  BOOST_TEST(s.memory.usage.limit == uint64_t(256 << 20));
  // (usage may be 0: v1 does not move the child's earlier charges.)
  BOOST_TEST(s.memory.raw.count("rss") == 1u);
  BOOST_TEST(s.cpu.usage.percpu.size() >= 1u);
  BOOST_TEST((s.pids_current && *s.pids_current == s.pids.current));

  m->kill_all(SIGKILL);
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  child = -1;
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGKILL);

  m->destroy();
  for (const auto& [c, d] : dirs) BOOST_TEST(!os::path_exists(d), d << " is left");
  m->destroy();  // twice is fine

  // open_manager finds the same dirs; destroy of a gone cgroup succeeds.
  auto again = cg::open_manager("v1", m->path());
  again->destroy();
}

BOOST_AUTO_TEST_SUITE_END()
