#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

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

int report(const os::StepFailure& f, int code) {
  std::fprintf(stderr, "child: %s: %s: %s\n", f.step, f.detail, std::strerror(f.err));
  return code;
}

std::string error_of(const spec::Process& p, const std::optional<spec::Personality>& pers = std::nullopt) {
  try {
    (void)core::plan_process(p, pers);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

spec::Rlimit rl(std::string type, uint64_t soft, uint64_t hard) {
  spec::Rlimit r;
  r.type = std::move(type);
  r.soft = soft;
  r.hard = hard;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(process_setup)

BOOST_AUTO_TEST_CASE(rlimit_errors) {
  spec::Process p;
  p.rlimits = {rl("RLIMIT_FOO", 1, 1)};
  BOOST_TEST(error_of(p) == "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
  p.rlimits = {rl("RLIMIT_NOFILE", 1, 2), rl("RLIMIT_NOFILE", 1, 2)};
  BOOST_TEST(error_of(p) == "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
  p.rlimits = {rl("RLIMIT_CORE", 10, 5)};
  BOOST_TEST(error_of(p) == "process.rlimits[0]: soft limit 10 is above the hard limit 5");
}

BOOST_AUTO_TEST_CASE(plan_resolves_everything) {
  spec::Process p;
  p.rlimits = {rl("RLIMIT_NOFILE", 100, 200), rl("RLIMIT_CORE", UINT64_MAX, UINT64_MAX)};
  p.user.uid = 5;
  p.user.gid = 6;
  p.user.additional_gids = {7, 8};
  p.user.umask = 027;
  p.no_new_privileges = true;
  p.oom_score_adj = 300;
  p.io_priority = spec::IoPriority{"IOPRIO_CLASS_BE", 4};
  spec::Scheduler s;
  s.policy = "SCHED_BATCH";
  s.nice = 5;
  s.flags = {"SCHED_FLAG_RESET_ON_FORK"};
  p.scheduler = s;
  p.exec_cpu_affinity = spec::ExecCpuAffinity{"0-1", "0"};
  auto plan = core::plan_process(p, spec::Personality{"LINUX32", {}});
  BOOST_REQUIRE(plan.rlimits.size() == 2u);
  BOOST_TEST(plan.rlimits[0].resource == RLIMIT_NOFILE);
  BOOST_TEST(plan.rlimits[0].limit.rlim_cur == 100u);
  BOOST_TEST(plan.rlimits[0].limit.rlim_max == 200u);
  BOOST_TEST(plan.rlimits[1].limit.rlim_cur == RLIM_INFINITY);
  BOOST_TEST(plan.uid == 5u);
  BOOST_TEST(plan.gid == 6u);
  BOOST_TEST((plan.additional_gids == std::vector<gid_t>{7, 8}));
  BOOST_TEST(*plan.umask == 027u);
  BOOST_TEST(plan.no_new_privs);
  BOOST_TEST(*plan.oom_score_adj == 300);
  BOOST_TEST(*plan.ioprio == ((2 << 13) | 4));
  BOOST_TEST(plan.scheduler->policy == unsigned(SCHED_BATCH));
  BOOST_TEST(plan.scheduler->nice == 5);
  BOOST_TEST(plan.scheduler->flags == 1u);
  BOOST_TEST(*plan.personality == static_cast<unsigned long>(PER_LINUX32));
  BOOST_TEST(CPU_COUNT(&*plan.cpu_affinity_initial) == 2);
  BOOST_TEST(CPU_COUNT(&*plan.cpu_affinity_final) == 1);
}

BOOST_AUTO_TEST_CASE(exec_process_inherits_what_it_leaves_out) {
  spec::Process container;
  container.capabilities = spec::Capabilities{{"CAP_KILL"}, {"CAP_KILL"}, {}, {"CAP_KILL"}, {}};
  container.no_new_privileges = true;
  container.rlimits = {rl("RLIMIT_NOFILE", 256, 512)};
  container.apparmor_profile = "container-profile";
  container.selinux_label = "system_u:system_r:container_t:s0";
  container.oom_score_adj = 100;

  spec::Process bare;
  core::inherit_container_process(bare, container);
  BOOST_TEST((bare.capabilities == container.capabilities));
  BOOST_TEST((bare.no_new_privileges == std::optional<bool>(true)));
  BOOST_TEST((bare.rlimits == container.rlimits));
  BOOST_TEST(bare.apparmor_profile == "container-profile");
  BOOST_TEST(bare.selinux_label == container.selinux_label);
  BOOST_TEST((bare.oom_score_adj == std::optional<int32_t>(100)));

  spec::Process own;
  own.capabilities = spec::Capabilities{};  // present and empty: no capabilities
  own.no_new_privileges = false;
  own.rlimits = {rl("RLIMIT_NOFILE", 200, 300)};
  own.apparmor_profile = "own-profile";
  own.selinux_label = "own-label";
  own.oom_score_adj = 0;
  spec::Process kept = own;
  core::inherit_container_process(kept, container);
  BOOST_TEST((kept == own));
}

BOOST_AUTO_TEST_CASE(other_plan_errors) {
  spec::Process p;
  p.user.umask = 01000;
  BOOST_TEST(error_of(p) == "process.user.umask: 512 is not a mode (0 to 0777)");
  p = {};
  p.oom_score_adj = 1001;
  BOOST_TEST(error_of(p) == "process.oomScoreAdj: 1001 is out of range (-1000 to 1000)");
  p = {};
  p.io_priority = spec::IoPriority{"IOPRIO_CLASS_FAST", 1};
  BOOST_TEST(error_of(p) == "process.ioPriority.class: unknown class \"IOPRIO_CLASS_FAST\"");
  p.io_priority = spec::IoPriority{"IOPRIO_CLASS_RT", 8};
  BOOST_TEST(error_of(p) == "process.ioPriority.priority: 8 is out of range (0 to 7)");
  p = {};
  spec::Scheduler s;
  s.policy = "SCHED_FAST";
  p.scheduler = s;
  BOOST_TEST(error_of(p) == "process.scheduler.policy: unknown policy \"SCHED_FAST\"");
  s.policy = "SCHED_OTHER";
  s.priority = 10;
  p.scheduler = s;
  BOOST_TEST(error_of(p) == "process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR, not SCHED_OTHER");
  s.priority.reset();
  s.runtime = 100;
  p.scheduler = s;
  BOOST_TEST(error_of(p) ==
             "process.scheduler: runtime, deadline and period are only valid with SCHED_DEADLINE, not SCHED_OTHER");
  s.runtime.reset();
  s.flags = {"SCHED_FLAG_NOPE"};
  p.scheduler = s;
  BOOST_TEST(error_of(p) == "process.scheduler.flags[0]: unknown flag \"SCHED_FLAG_NOPE\"");
  p = {};
  BOOST_TEST(error_of(p, spec::Personality{"BSD", {}}) ==
             "linux.personality.domain: unknown domain \"BSD\" (expected \"LINUX\" or \"LINUX32\")");
  BOOST_TEST(error_of(p, spec::Personality{"LINUX", {"ADDR_NO_RANDOMIZE"}}) ==
             "linux.personality.flags[0]: unsupported flag \"ADDR_NO_RANDOMIZE\"");
  p.exec_cpu_affinity = spec::ExecCpuAffinity{"", "3-1"};
  BOOST_TEST(error_of(p) == "process.execCPUAffinity.final: invalid cpu list \"3-1\": range \"3-1\" is reversed");
}

BOOST_AUTO_TEST_CASE(cpu_lists) {
  auto set = core::parse_cpu_list("0-3,7", "x");
  BOOST_TEST(CPU_COUNT(&set) == 5);
  for (int c : {0, 1, 2, 3, 7}) BOOST_TEST(CPU_ISSET(c, &set));
  BOOST_TEST(!CPU_ISSET(4, &set));
  set = core::parse_cpu_list("5\n", "x");
  BOOST_TEST(CPU_COUNT(&set) == 1);
  auto err = [](const std::string& s) {
    try {
      (void)core::parse_cpu_list(s, "p");
    } catch (const os::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  BOOST_TEST(err("") == "p: invalid cpu list \"\": empty");
  BOOST_TEST(err("1,a") == "p: invalid cpu list \"1,a\": \"a\" is not a number");
  BOOST_TEST(err("1,") == "p: invalid cpu list \"1,\": \"\" is not a number");
  BOOST_TEST(err("4096") == "p: invalid cpu list \"4096\": cpu 4096 is beyond 1023");
}

BOOST_AUTO_TEST_CASE(rlimits_apply_in_a_child) {
  spec::Process p;
  p.rlimits = {rl("RLIMIT_NOFILE", 100, 200), rl("RLIMIT_CORE", 0, 0)};
  auto plan = core::plan_process(p);
  int status = run_in_child([&] {
    os::StepFailure f;
    if (core::apply_rlimits(plan, f) < 0) return report(f, 90);
    struct rlimit r;
    if (::getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur != 100 || r.rlim_max != 200) return 1;
    if (::getrlimit(RLIMIT_CORE, &r) < 0 || r.rlim_cur != 0 || r.rlim_max != 0) return 2;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(raising_a_hard_limit_unprivileged_fails_with_a_hint) {
  spec::Process p;
  p.rlimits = {rl("RLIMIT_NOFILE", 10, 20)};
  auto low = core::plan_process(p);
  p.rlimits = {rl("RLIMIT_NOFILE", 10, 30)};
  auto high = core::plan_process(p);
  int status = run_in_child([&] {
    os::StepFailure f;
    if (::geteuid() == 0 && (::setgid(65534) < 0 || ::setuid(65534) < 0)) return 80;
    if (core::apply_rlimits(low, f) < 0) return report(f, 90);
    if (core::apply_rlimits(high, f) == 0) return 1;
    if (f.err != EPERM || std::string(f.step) != "setrlimit") return 2;
    if (std::string(f.detail) !=
        "set process.rlimits[0] (soft 10, hard 30); raising a hard limit above the caller's needs CAP_SYS_RESOURCE "
        "in the initial user namespace")
      return 3;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(set_rlimits_of_another_process) {
  spec::Process p;
  p.rlimits = {rl("RLIMIT_NOFILE", 64, 128)};
  auto plan = core::plan_process(p);
  int pipefd[2];
  BOOST_REQUIRE(::pipe(pipefd) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipefd[1]);
    char c;
    (void)!::read(pipefd[0], &c, 1);
    struct rlimit r;
    ::getrlimit(RLIMIT_NOFILE, &r);
    ::_exit(r.rlim_cur == 64 && r.rlim_max == 128 ? 0 : 1);
  }
  ::close(pipefd[0]);
  core::set_rlimits_of(pid, plan);
  ::close(pipefd[1]);
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(misc_applies_in_a_child) {
  spec::Process p;
  p.user.umask = 027;
  p.oom_score_adj = 500;  // raising needs no privilege
  p.io_priority = spec::IoPriority{"IOPRIO_CLASS_BE", 6};
  spec::Scheduler s;
  s.policy = "SCHED_BATCH";
  s.nice = 7;
  p.scheduler = s;
  p.no_new_privileges = true;
  p.exec_cpu_affinity = spec::ExecCpuAffinity{"", "0"};
  auto plan = core::plan_process(p, spec::Personality{"LINUX", {}});
  int status = run_in_child([&] {
    os::StepFailure f;
    if (core::apply_misc(plan, f) < 0) return report(f, 90);
    mode_t old = ::umask(0);
    if (old != 027) return 1;
    std::ifstream in("/proc/self/oom_score_adj");
    int oom = 0;
    if (!(in >> oom) || oom != 500) return 2;
    long prio = ::syscall(SYS_ioprio_get, 1, 0);
    if (prio != ((2 << 13) | 6)) return 3;
    if (::sched_getscheduler(0) != SCHED_BATCH) return 4;
    errno = 0;
    if (::getpriority(PRIO_PROCESS, 0) != 7) return 5;
    if ((::personality(0xffffffff) & PER_MASK) != PER_LINUX) return 6;
    if (core::apply_no_new_privs(plan, f) < 0) return report(f, 91);
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 7;
    if (core::apply_exec_cpu_affinity(plan, true, f) < 0) return report(f, 92);
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) < 0 || CPU_COUNT(&set) != 1 || !CPU_ISSET(0, &set)) return 8;
    if (core::apply_exec_cpu_affinity(plan, false, f) < 0) return 9;  // no initial: nothing to do
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(user_and_groups_apply_as_root) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root");
    return;
  }
  spec::Process p;
  p.user.uid = 1234;
  p.user.gid = 2345;
  p.user.additional_gids = {5, 6};
  auto plan = core::plan_process(p);
  int status = run_in_child([&] {
    os::StepFailure f;
    if (core::apply_user(plan, true, f) < 0) return report(f, 90);
    uid_t r, e, s;
    if (::getresuid(&r, &e, &s) < 0 || r != 1234 || e != 1234 || s != 1234) return 1;
    gid_t gr, ge, gs;
    if (::getresgid(&gr, &ge, &gs) < 0 || gr != 2345 || ge != 2345 || gs != 2345) return 2;
    gid_t groups[8];
    int n = ::getgroups(8, groups);
    if (n != 2 || groups[0] != 5 || groups[1] != 6) return 3;
    if (::prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0) return 4;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(additional_gids_need_setgroups) {
  spec::Process p;
  p.user.additional_gids = {5};
  auto plan = core::plan_process(p);
  os::StepFailure f;
  // Fails before touching anything, so it is safe in the test process.
  BOOST_TEST(core::apply_user(plan, false, f) == -1);
  BOOST_TEST(f.err == EPERM);
  BOOST_TEST(std::string(f.step) == "setgroups");
  BOOST_TEST(std::string(f.detail).find("setgroups is denied in this user namespace") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
