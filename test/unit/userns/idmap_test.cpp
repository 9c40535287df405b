#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/userns/idmap.hpp>
#include <rrun/userns/plan.hpp>
#include <rrun/userns/subid.hpp>

using rrun::spec::IdMapping;
using rrun::userns::IdMapOptions;
using rrun::userns::MappingPlan;
using rrun::userns::write_id_maps;
using Map = std::vector<IdMapping>;

namespace rrun::spec {
std::ostream& operator<<(std::ostream& os, const IdMapping& m);  // plan_test.cpp
}  // namespace rrun::spec

namespace {

struct TempDir : rrun::test::TempDir {
  std::string script(const std::string& name, const std::string& body) {
    std::string p = path + "/" + name;
    rrun::os::write_file_atomic(p, "#!/bin/sh\n" + body, 0755);
    return p;
  }
};

// A child in a new user namespace, unmapped, waiting until destroyed.
class UsernsChild {
 public:
  UsernsChild() {
    int ready[2], go[2];
    BOOST_REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    BOOST_REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(go[1]);
      char ok = ::unshare(CLONE_NEWUSER) == 0 ? '1' : '0';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
      char c;
      while (::read(go[0], &c, 1) > 0) {
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(go[0]);
    go_ = go[1];
    char ok = '0';
    BOOST_REQUIRE(::read(ready[0], &ok, 1) == 1);
    ::close(ready[0]);
    unshared_ = ok == '1';
  }
  ~UsernsChild() {
    ::close(go_);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  pid_t pid() const { return pid_; }
  bool unshared() const { return unshared_; }
  std::string proc(const std::string& file) const {
    return rrun::os::read_file("/proc/" + std::to_string(pid_) + "/" + file);
  }
  Map map(const std::string& file) const {
    std::istringstream in(proc(file));
    Map out;
    IdMapping m;
    while (in >> m.container_id >> m.host_id >> m.size) out.push_back(m);
    return out;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool unshared_ = false;
};

// Options under which neither helper is found.
IdMapOptions no_helpers() {
  IdMapOptions o;
  o.search_path.emplace();
  o.fallback_dir.clear();
  return o;
}

MappingPlan helper_plan(Map uids, Map gids) {
  MappingPlan p;
  p.uid_map = std::move(uids);
  p.gid_map = std::move(gids);
  p.use_helpers = true;
  p.own_uid = ::geteuid();
  p.own_gid = ::getegid();
  return p;
}

std::string error_of(pid_t pid, MappingPlan plan, const IdMapOptions& opts) {
  try {
    write_id_maps(pid, plan, opts);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

bool root_has_subuids() {
  auto text = rrun::os::read_file_if_exists("/etc/subuid");
  return text && !rrun::userns::parse_subid_file(*text, "root", 0).empty();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idmap)

BOOST_AUTO_TEST_CASE(find_helper_searches_path_then_fallback) {
  TempDir a, b;
  a.script("newuidmap", "exit 0\n");
  IdMapOptions opts;
  opts.search_path = "relative:" + b.path + ":" + a.path;
  opts.fallback_dir = "";
  BOOST_TEST(rrun::userns::find_helper("newuidmap", opts).value_or("") == a.path + "/newuidmap");
  opts.search_path = "";
  BOOST_TEST(!rrun::userns::find_helper("newuidmap", opts).has_value());
  opts.fallback_dir = a.path;
  BOOST_TEST(rrun::userns::find_helper("newuidmap", opts).value_or("") == a.path + "/newuidmap");
  // Not executable: not found.
  ::chmod((a.path + "/newuidmap").c_str(), 0644);
  BOOST_TEST(!rrun::userns::find_helper("newuidmap", opts).has_value());
}

BOOST_AUTO_TEST_CASE(missing_helper_names_the_package) {
  IdMapOptions opts = no_helpers();
  BOOST_TEST(error_of(::getpid(), helper_plan({{0, 1000, 1}}, {{0, 1000, 1}}), opts) ==
             "newuidmap not found: install the \"uidmap\" package (`apt-get install uidmap`; `dnf install "
             "shadow-utils` on Fedora)");
  TempDir dir;
  dir.script("newuidmap", "exit 0\n");
  opts.search_path = dir.path;
  BOOST_TEST(error_of(::getpid(), helper_plan({{0, 1000, 1}}, {{0, 1000, 1}}), opts) ==
             "newgidmap not found: install the \"uidmap\" package (`apt-get install uidmap`; `dnf install "
             "shadow-utils` on Fedora)");
}

BOOST_AUTO_TEST_CASE(helpers_get_pid_and_triples_without_a_shell) {
  TempDir dir;
  dir.script("newuidmap", "echo \"$@\" > " + dir.path + "/uid-args\n");
  dir.script("newgidmap", "echo \"$@\" > " + dir.path + "/gid-args\n");
  IdMapOptions opts;
  opts.search_path = dir.path;
  opts.fallback_dir = "";
  MappingPlan plan = helper_plan({{0, 1000, 1}, {1, 100000, 65536}}, {{0, 1000, 1}, {1, 200000, 10}});
  BOOST_TEST(write_id_maps(4242, plan, opts) == "");
  BOOST_TEST(rrun::os::read_file(dir.path + "/uid-args") == "4242 0 1000 1 1 100000 65536\n");
  BOOST_TEST(rrun::os::read_file(dir.path + "/gid-args") == "4242 0 1000 1 1 200000 10\n");
}

BOOST_AUTO_TEST_CASE(helper_failure_reports_status_and_first_line) {
  TempDir dir;
  dir.script("newuidmap",
             "echo 'newuidmap: uid range [1-65537) -> [200000-265536) not allowed' >&2\n"
             "echo 'second line' >&2\nexit 1\n");
  dir.script("newgidmap", "echo 'newgidmap: write to gid_map failed: Operation not permitted' >&2\nexit 3\n");
  IdMapOptions opts;
  opts.search_path = dir.path;
  opts.fallback_dir = "";
  BOOST_TEST(error_of(1, helper_plan({{0, 1000, 1}}, {{0, 1000, 1}}), opts) ==
             "newuidmap failed (exit status 1): newuidmap: uid range [1-65537) -> [200000-265536) not allowed; "
             "check /etc/subuid");
  dir.script("newuidmap", "exit 0\n");
  BOOST_TEST(error_of(1, helper_plan({{0, 1000, 1}}, {{0, 1000, 1}}), opts) ==
             "newgidmap failed (exit status 3): newgidmap: write to gid_map failed: Operation not permitted; "
             "check /etc/subgid");
  dir.script("newgidmap", "exit 2\n");
  BOOST_TEST(error_of(1, helper_plan({{0, 1000, 1}}, {{0, 1000, 1}}), opts) ==
             "newgidmap failed (exit status 2): no message; check /etc/subgid");
  dir.script("newgidmap", "kill -9 $$\n");
  BOOST_TEST(error_of(1, helper_plan({{0, 1000, 1}}, {{0, 1000, 1}}), opts) ==
             "newgidmap killed by signal 9 (Killed): no message");
}

BOOST_AUTO_TEST_CASE(helpers_inherit_no_fds) {
  TempDir dir;
  dir.script("newuidmap", "ls /proc/self/fd > " + dir.path + "/fds\n");
  dir.script("newgidmap", "exit 0\n");
  int extra = ::open("/dev/null", O_RDONLY);  // not O_CLOEXEC on purpose
  BOOST_REQUIRE(extra >= 0);
  IdMapOptions opts;
  opts.search_path = dir.path;
  opts.fallback_dir = "";
  MappingPlan plan = helper_plan({{0, 1000, 1}}, {{0, 1000, 1}});
  write_id_maps(1, plan, opts);
  ::close(extra);
  // 0, 1, 2 and the fd ls opens for the directory.
  std::istringstream in(rrun::os::read_file(dir.path + "/fds"));
  int fd, count = 0;
  while (in >> fd) {
    BOOST_TEST(fd <= 3);
    ++count;
  }
  BOOST_TEST(count <= 4);
}

BOOST_AUTO_TEST_CASE(direct_single_own_id) {
  UsernsChild child;
  if (!child.unshared()) {
    BOOST_TEST_MESSAGE("skipped: cannot create a user namespace here");
    return;
  }
  MappingPlan plan;
  plan.uid_map = {{0, ::geteuid(), 1}};
  plan.gid_map = {{0, ::getegid(), 1}};
  plan.deny_setgroups = true;
  BOOST_TEST(write_id_maps(child.pid(), plan) == "");
  BOOST_TEST(child.map("uid_map") == plan.uid_map, boost::test_tools::per_element());
  BOOST_TEST(child.map("gid_map") == plan.gid_map, boost::test_tools::per_element());
  BOOST_TEST(child.proc("setgroups") == "deny\n");
}

BOOST_AUTO_TEST_CASE(direct_ranges_as_root) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: writing a range directly needs root");
    return;
  }
  UsernsChild child;
  BOOST_REQUIRE(child.unshared());
  MappingPlan plan;
  plan.uid_map = {{0, 100000, 65536}, {65536, 0, 1}};
  plan.gid_map = {{0, 200000, 1000}};
  write_id_maps(child.pid(), plan);
  BOOST_TEST(child.map("uid_map") == plan.uid_map, boost::test_tools::per_element());
  BOOST_TEST(child.map("gid_map") == plan.gid_map, boost::test_tools::per_element());
  BOOST_TEST(child.proc("setgroups") == "allow\n");
}

BOOST_AUTO_TEST_CASE(direct_write_failure_names_the_map) {
  UsernsChild child;
  if (!child.unshared()) {
    BOOST_TEST_MESSAGE("skipped: cannot create a user namespace here");
    return;
  }
  MappingPlan plan;
  plan.uid_map = {{0, 0, 1}, {0, 5, 1}};  // overlapping: the kernel says EINVAL
  plan.gid_map = {{0, ::getegid(), 1}};
  plan.deny_setgroups = true;
  try {
    write_id_maps(child.pid(), plan);
    BOOST_ERROR("expected an error");
  } catch (const rrun::os::SystemError& e) {
    BOOST_TEST(e.err() == EINVAL);
    BOOST_TEST(std::string(e.what()) == "write the uid map (0 0 1,0 5 1): write `/proc/" + std::to_string(child.pid()) +
                                            "/uid_map`: Invalid argument");
  }
}

BOOST_AUTO_TEST_CASE(real_newuidmap_own_id) {
  if (::geteuid() != 0 || !rrun::userns::find_helper("newuidmap")) {
    BOOST_TEST_MESSAGE("skipped: needs root and the uidmap package");
    return;
  }
  UsernsChild child;
  BOOST_REQUIRE(child.unshared());
  MappingPlan plan = helper_plan({{5, 0, 1}}, {{7, 0, 1}});
  BOOST_TEST(write_id_maps(child.pid(), plan) == "");
  BOOST_TEST(child.map("uid_map") == (Map{{5, 0, 1}}), boost::test_tools::per_element());
  BOOST_TEST(child.map("gid_map") == (Map{{7, 0, 1}}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(real_newuidmap_refuses_a_range) {
  if (::geteuid() != 0 || !rrun::userns::find_helper("newuidmap") || root_has_subuids()) {
    BOOST_TEST_MESSAGE("skipped: needs root without subordinate ids and the uidmap package");
    return;
  }
  UsernsChild child;
  BOOST_REQUIRE(child.unshared());
  std::string err = error_of(child.pid(), helper_plan({{0, 0, 1}, {1, 100000, 65536}}, {{0, 0, 1}}), {});
  BOOST_TEST_MESSAGE("newuidmap said: " << err);
  BOOST_TEST(err.rfind("newuidmap failed (exit status 1): newuidmap: ", 0) == 0);
  BOOST_TEST(err.find("not allowed") != std::string::npos);
  BOOST_TEST(err.ends_with("; check /etc/subuid"));
}

BOOST_AUTO_TEST_CASE(fallback_to_single_mapping) {
  UsernsChild child;
  if (!child.unshared()) {
    BOOST_TEST_MESSAGE("skipped: cannot create a user namespace here");
    return;
  }
  IdMapOptions opts = no_helpers();
  MappingPlan plan = helper_plan({{0, ::geteuid(), 1}, {1, 100000, 65536}}, {{0, ::getegid(), 1}, {1, 100000, 65536}});
  plan.fallback_to_single = true;
  std::string reason = write_id_maps(child.pid(), plan, opts);
  BOOST_TEST(reason ==
             "newuidmap not found: install the \"uidmap\" package (`apt-get install uidmap`; `dnf install shadow-utils` on Fedora); mapped only uid " +
                 std::to_string(::geteuid()) +
                 "; newgidmap not found: install the \"uidmap\" package (`apt-get install uidmap`; `dnf install shadow-utils` on Fedora); "
                 "mapped only gid " +
                 std::to_string(::getegid()));
  BOOST_TEST(plan.uid_map == (Map{{0, ::geteuid(), 1}}), boost::test_tools::per_element());
  BOOST_TEST(plan.gid_map == (Map{{0, ::getegid(), 1}}), boost::test_tools::per_element());
  BOOST_TEST(plan.deny_setgroups);
  BOOST_TEST(child.map("uid_map") == plan.uid_map, boost::test_tools::per_element());
  BOOST_TEST(child.map("gid_map") == plan.gid_map, boost::test_tools::per_element());
  BOOST_TEST(child.proc("setgroups") == "deny\n");
}

// Missing helpers are settled before the clone: the single mapping where
// rrun chose the maps and process.user still fits, else one error naming the
// helper, its package and the single mapping.
BOOST_AUTO_TEST_CASE(check_helpers_before_the_clone) {
  const IdMapOptions none = no_helpers();
  MappingPlan plan = helper_plan({{0, 1000, 1}, {1, 100000, 65536}}, {{0, 1000, 1}, {1, 100000, 65536}});
  plan.own_uid = plan.own_gid = 1000;
  MappingPlan chosen = plan;
  chosen.fallback_to_single = chosen.rrun_chose = true;
  BOOST_TEST(rrun::userns::check_helpers(chosen, none).rfind("newuidmap not found: install the \"uidmap\"", 0) == 0);
  BOOST_TEST(chosen.uid_map == (Map{{0, 1000, 1}}), boost::test_tools::per_element());
  BOOST_TEST(chosen.gid_map == (Map{{0, 1000, 1}}), boost::test_tools::per_element());
  BOOST_TEST(!chosen.use_helpers);
  BOOST_TEST(chosen.deny_setgroups);
  // A user's explicit mappings: an error, the plan unchanged.
  MappingPlan given = plan;
  try {
    rrun::userns::check_helpers(given, none);
    BOOST_FAIL("no error");
  } catch (const rrun::os::Error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "newuidmap not found: linux.uidMappings and linux.gidMappings map more than your own id, which only "
               "newuidmap and newgidmap can do; install the \"uidmap\" package (`apt-get install uidmap`; `dnf "
               "install shadow-utils` on Fedora), or map only your own ids (uid 0 -> 1000, gid 0 -> 1000)");
  }
  BOOST_TEST(given.uid_map.size() == 2u);
  // rrun's choice, but process.user needs the range.
  MappingPlan user = plan;
  user.rrun_chose = true;
  try {
    rrun::userns::check_helpers(user, none);
    BOOST_FAIL("no error");
  } catch (const rrun::os::Error& e) {
    BOOST_TEST(std::string(e.what()).find("process.user needs more than a single mapping") != std::string::npos);
  }
  // Both helpers present: nothing to say.
  TempDir dir;
  dir.script("newuidmap", "exit 0\n");
  dir.script("newgidmap", "exit 0\n");
  IdMapOptions both;
  both.search_path = dir.path;
  both.fallback_dir = "";
  MappingPlan fine = plan;
  BOOST_TEST(rrun::userns::check_helpers(fine, both) == "");
  BOOST_TEST(fine.use_helpers);
}

// End to end as an unprivileged user with subordinate ranges (run the test
// binary as such a user, e.g. `setpriv --reuid=rrun-test ...`): libsubid,
// the default plan and the real newuidmap/newgidmap.
BOOST_AUTO_TEST_CASE(rootless_default_plan_with_real_helpers) {
  const passwd* pw = ::getpwuid(::geteuid());
  if (::geteuid() == 0 || pw == nullptr || !rrun::userns::find_helper("newuidmap")) {
    BOOST_TEST_MESSAGE("skipped: needs an unprivileged user with a name and the uidmap package");
    return;
  }
  rrun::userns::PlanInput in;
  in.uid = ::geteuid();
  in.gid = ::getegid();
  in.user_name = pw->pw_name;
  in.rootless = true;
  in.sub_uids = rrun::userns::subordinate_uids(in.user_name, in.uid);
  in.sub_gids = rrun::userns::subordinate_gids(in.user_name, in.uid);
  if (in.sub_uids.empty() || in.sub_gids.empty()) {
    BOOST_TEST_MESSAGE("skipped: user " << in.user_name << " has no subordinate ranges");
    return;
  }
  UsernsChild child;
  BOOST_REQUIRE(child.unshared());
  MappingPlan plan = rrun::userns::plan_mappings(in);
  BOOST_REQUIRE(plan.use_helpers);
  BOOST_TEST(write_id_maps(child.pid(), plan) == "");
  BOOST_TEST(child.map("uid_map") == plan.uid_map, boost::test_tools::per_element());
  BOOST_TEST(child.map("gid_map") == plan.gid_map, boost::test_tools::per_element());
  BOOST_TEST(child.map("uid_map").size() == 2u);
}

BOOST_AUTO_TEST_CASE(rootless_outside_range_real_helper_message) {
  const passwd* pw = ::getpwuid(::geteuid());
  if (::geteuid() == 0 || pw == nullptr || !rrun::userns::find_helper("newuidmap")) {
    BOOST_TEST_MESSAGE("skipped: needs an unprivileged user with a name and the uidmap package");
    return;
  }
  UsernsChild child;
  BOOST_REQUIRE(child.unshared());
  // Bypass the plan's check to see newuidmap's own refusal.
  std::string err =
      error_of(child.pid(), helper_plan({{0, ::geteuid(), 1}, {1, 4000000000u, 10}}, {{0, ::getegid(), 1}}), {});
  BOOST_TEST_MESSAGE("newuidmap said: " << err);
  BOOST_TEST(err.rfind("newuidmap failed (exit status 1): newuidmap: ", 0) == 0);
  BOOST_TEST(err.find("not allowed") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
