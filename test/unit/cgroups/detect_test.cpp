#include <boost/test/unit_test.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <rrun/cgroups/detect.hpp>
#include <rrun/os/file.hpp>

namespace cg = rrun::cgroups;
using cg::Driver;
using cg::FsType;
using cg::Mode;

namespace {

// A temp dir laid out like a delegated cgroup v2 directory.
struct FakeCgroup {
  std::string root;
  std::string dir;
  FakeCgroup() {
    char tmpl[] = "/tmp/rrun-cgroups-test-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    root = tmpl;
    BOOST_REQUIRE(::chmod(root.c_str(), 0755) == 0);  // let the unprivileged child in
    dir = root + "/user.slice/user-1000.slice/session-1.scope";
    rrun::os::mkdir_p(dir);
    file("cgroup.procs", "");
    file("cgroup.subtree_control", "");
    file("cgroup.controllers", "cpuset cpu io memory pids\n");
  }
  ~FakeCgroup() { rrun::os::remove_tree(root); }
  void file(const std::string& name, const std::string& text) { rrun::os::write_file_atomic(dir + "/" + name, text); }
  void chown_all(uid_t uid, gid_t gid) {
    BOOST_REQUIRE(::chown(dir.c_str(), uid, gid) == 0);
    for (const char* f : {"cgroup.procs", "cgroup.subtree_control"}) {
      std::string p = dir + "/" + f;
      if (::access(p.c_str(), F_OK) == 0) BOOST_REQUIRE(::chown(p.c_str(), uid, gid) == 0);
    }
  }
};

constexpr uid_t kNobody = 65534;

// v2_subtree_writable(dir) as `kNobody`, in a child process (root only).
bool writable_as_nobody(const std::string& dir) {
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0)
      ::_exit(2);
    ::_exit(cg::v2_subtree_writable(dir) ? 0 : 1);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE(WIFEXITED(status));
  BOOST_REQUIRE(WEXITSTATUS(status) != 2);
  return WEXITSTATUS(status) == 0;
}

cg::DetectInput input(Mode mode, bool rootless) {
  cg::DetectInput in;
  in.mode = mode;
  in.rootless = rootless;
  return in;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_detect)

BOOST_AUTO_TEST_CASE(mode_decision_table) {
  struct Row {
    FsType root, unified;
    bool v1;
    Mode want;
  };
  const Row rows[] = {
      {FsType::cgroup2, FsType::absent, false, Mode::v2},
      {FsType::cgroup2, FsType::cgroup2, true, Mode::v2},  // the root decides
      {FsType::tmpfs, FsType::cgroup2, true, Mode::hybrid},
      {FsType::tmpfs, FsType::cgroup2, false, Mode::hybrid},
      {FsType::tmpfs, FsType::absent, true, Mode::v1},
      {FsType::tmpfs, FsType::tmpfs, true, Mode::v1},  // `unified` not a cgroup2 mount
      {FsType::tmpfs, FsType::absent, false, Mode::none},
      {FsType::absent, FsType::absent, false, Mode::none},
      {FsType::other, FsType::cgroup2, true, Mode::none},
      {FsType::cgroup1, FsType::absent, true, Mode::none},
  };
  for (const auto& r : rows) {
    cg::MountFacts f{r.root, r.unified, r.v1};
    BOOST_TEST(cg::mode_name(cg::decide_mode(f)) == cg::mode_name(r.want));
  }
}

BOOST_AUTO_TEST_CASE(detect_mode_on_plain_directories_is_none) {
  BOOST_TEST(cg::mode_name(cg::detect_mode("/nonexistent/rrun-cgroup")) == std::string("none"));
  FakeCgroup fake;  // a directory on /tmp: neither tmpfs with v1 mounts nor cgroup2
  BOOST_TEST(cg::mode_name(cg::detect_mode(fake.root)) == std::string("none"));
  // The real host: whatever it is, probing must not throw.
  BOOST_TEST_MESSAGE("host cgroup mode: " << cg::mode_name(cg::detect_mode()));
}

BOOST_AUTO_TEST_CASE(systemd_cgroups_path_form) {
  BOOST_TEST(cg::is_systemd_cgroups_path("system.slice:rrun:abc"));
  BOOST_TEST(cg::is_systemd_cgroups_path("user.slice:rrun:abc"));
  BOOST_TEST(cg::is_systemd_cgroups_path("::abc"));  // runc: empty slice and prefix take defaults
  BOOST_TEST(!cg::is_systemd_cgroups_path("/rrun/abc"));
  BOOST_TEST(!cg::is_systemd_cgroups_path("/a:b:c"));
  BOOST_TEST(!cg::is_systemd_cgroups_path("a:b"));
  BOOST_TEST(!cg::is_systemd_cgroups_path("a:b:c:d"));
  BOOST_TEST(!cg::is_systemd_cgroups_path(""));
}

BOOST_AUTO_TEST_CASE(driver_decision_table) {
  struct Row {
    const char* name;
    Mode mode;
    bool rootless, systemd_flag;
    const char* path;
    bool dbus, delegated;
    Driver want;
  };
  const Row rows[] = {
      // root
      {"root v2", Mode::v2, false, false, "/rrun/x", false, false, Driver::v2},
      {"root v2 empty path", Mode::v2, false, false, "", false, false, Driver::v2},
      {"root hybrid", Mode::hybrid, false, false, "", false, false, Driver::v1},
      {"root v1", Mode::v1, false, false, "/rrun/x", false, false, Driver::v1},
      {"root --systemd-cgroup", Mode::v2, false, true, "", false, false, Driver::systemd},
      {"root slice path", Mode::hybrid, false, false, "system.slice:rrun:x", false, false, Driver::systemd},
      {"root no cgroupfs", Mode::none, false, true, "", true, true, Driver::none},
      // rootless on v2
      {"rootless delegated", Mode::v2, true, false, "", false, true, Driver::v2},
      {"rootless delegated with bus", Mode::v2, true, false, "", true, true, Driver::v2},
      {"rootless bus only", Mode::v2, true, false, "", true, false, Driver::systemd},
      {"rootless nothing", Mode::v2, true, false, "", false, false, Driver::none},
      {"rootless --systemd-cgroup with bus", Mode::v2, true, true, "", true, true, Driver::systemd},
      {"rootless slice path with bus", Mode::v2, true, false, "user.slice:rrun:x", true, true, Driver::systemd},
      {"rootless --systemd-cgroup no bus, delegated", Mode::v2, true, true, "", false, true, Driver::v2},
      {"rootless --systemd-cgroup no bus (Slurm)", Mode::v2, true, true, "", false, false, Driver::none},
      // rootless on v1 / hybrid: nothing is delegated
      {"rootless hybrid", Mode::hybrid, true, false, "", true, true, Driver::none},
      {"rootless v1", Mode::v1, true, false, "", false, false, Driver::none},
      {"rootless hybrid --systemd-cgroup with bus", Mode::hybrid, true, true, "", true, false, Driver::none},
  };
  for (const auto& r : rows) {
    cg::DetectInput in = input(r.mode, r.rootless);
    in.systemd_flag = r.systemd_flag;
    in.cgroups_path = r.path;
    in.has_dbus_session = r.dbus;
    in.v2_delegated = r.delegated;
    BOOST_TEST_INFO(r.name);
    BOOST_TEST(cg::driver_name(cg::choose_driver(in)) == cg::driver_name(r.want));
  }
}

BOOST_AUTO_TEST_CASE(own_cgroup_from_proc_self_cgroup) {
  BOOST_TEST(cg::own_cgroup_v2("0::/user.slice/user-1000.slice/session-3.scope\n") ==
             "/user.slice/user-1000.slice/session-3.scope");
  // Hybrid: v1 lines first, the unified line last.
  BOOST_TEST(cg::own_cgroup_v2("12:memory:/system.slice/slurmstepd.scope/job_42\n"
                               "11:cpu,cpuacct:/\n"
                               "1:name=systemd:/system.slice/ssh.service\n"
                               "0::/system.slice/ssh.service\n") == "/system.slice/ssh.service");
  BOOST_TEST(cg::own_cgroup_v2("0::/\n") == "/");
  BOOST_TEST(cg::own_cgroup_v2("0::/no/newline") == "/no/newline");
  BOOST_TEST(cg::own_cgroup_v2("12:memory:/x\n1:name=systemd:/y\n") == "");  // v1 only
  BOOST_TEST(cg::own_cgroup_v2("") == "");
}

BOOST_AUTO_TEST_CASE(controllers_file) {
  FakeCgroup fake;
  std::vector<std::string> want{"cpuset", "cpu", "io", "memory", "pids"};
  BOOST_TEST(cg::available_controllers(fake.dir) == want, boost::test_tools::per_element());
  fake.file("cgroup.controllers", "\n");
  BOOST_TEST(cg::available_controllers(fake.dir).empty());
  BOOST_TEST(cg::available_controllers(fake.root + "/missing").empty());
}

BOOST_AUTO_TEST_CASE(writable_subtree_as_owner) {
  FakeCgroup fake;
  BOOST_TEST(cg::v2_subtree_writable(fake.dir));
  BOOST_TEST(!cg::v2_subtree_writable(fake.root + "/missing"));
  std::string sc = fake.dir + "/cgroup.subtree_control";
  BOOST_REQUIRE(::unlink(sc.c_str()) == 0);
  BOOST_TEST(!cg::v2_subtree_writable(fake.dir));  // a missing file is not writable
}

BOOST_AUTO_TEST_CASE(writable_subtree_needs_all_three) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root to chown the fake cgroup to another user");
    return;
  }
  FakeCgroup fake;
  BOOST_TEST(!writable_as_nobody(fake.dir));  // owned by root: not delegated
  fake.chown_all(kNobody, kNobody);
  BOOST_TEST(writable_as_nobody(fake.dir));  // delegated
  std::string procs = fake.dir + "/cgroup.procs";
  BOOST_REQUIRE(::chown(procs.c_str(), 0, 0) == 0);
  BOOST_TEST(!writable_as_nobody(fake.dir));  // cgroup.procs not ours
  BOOST_REQUIRE(::chown(procs.c_str(), kNobody, kNobody) == 0);
  BOOST_REQUIRE(::chown(fake.dir.c_str(), 0, 0) == 0);
  BOOST_TEST(!writable_as_nobody(fake.dir));  // the directory not ours
  BOOST_REQUIRE(::chown(fake.dir.c_str(), kNobody, kNobody) == 0);
  std::string sc = fake.dir + "/cgroup.subtree_control";
  BOOST_REQUIRE(::chown(sc.c_str(), 0, 0) == 0);
  BOOST_TEST(!writable_as_nobody(fake.dir));  // subtree_control not ours
}

BOOST_AUTO_TEST_SUITE_END()
