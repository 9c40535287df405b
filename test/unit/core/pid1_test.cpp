// rrun's init (core/pid1.c, core/pid1.hpp): when it is asked for, and the
// program itself run here on the host from its sealed memfd, as the
// container init executes it (not as PID 1 here: a subreaper with every
// signal blocked, which is what it makes of itself in any case).

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <map>
#include <string>
#include <vector>

#include <rrun/core/pid1.hpp>
#include <rrun/os/error.hpp>

using namespace rrun;

namespace {

using Annotations = std::map<std::string, std::string>;

// Starts the sealed init with `args` as [MARKER-or-not, path, argv0, ...];
// returns its pid.
pid_t start_init(int fd, std::vector<std::string> args, bool marker = true) {
  args.insert(args.begin(), marker ? core::kInitMarker : "rrun-init");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::syscall(SYS_execveat, fd, "", argv.data(), envp, AT_EMPTY_PATH);
    ::_exit(99);
  }
  return pid;
}

// The wait status of `pid`, or -1 when it has not ended within 20 s.
int wait_status(pid_t pid) {
  for (int i = 0; i < 2000; ++i) {
    int status = 0;
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) return status;
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    ::nanosleep(&ten_ms, nullptr);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

// The exit code the init ended with (it never dies of a signal itself).
int exit_code_of(int fd, const std::vector<std::string>& args, int signal = 0) {
  pid_t pid = start_init(fd, args);
  if (signal) {
    // Once the program runs (the init forwards what comes earlier too, but
    // then it goes to a child that may not have exec'd yet: the same end).
    struct timespec t = {0, 300 * 1000 * 1000};
    ::nanosleep(&t, nullptr);
    ::kill(pid, signal);
  }
  int status = wait_status(pid);
  BOOST_REQUIRE_MESSAGE(status != -1, "the init did not end");
  BOOST_REQUIRE_MESSAGE(WIFEXITED(status), "the init died of signal " << WTERMSIG(status));
  return WEXITSTATUS(status);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pid1)

// Off unless asked for; the flag wins over the annotation.
BOOST_AUTO_TEST_CASE(when_asked_for) {
  BOOST_CHECK(!core::wants_rrun_init(std::nullopt, {}));
  BOOST_CHECK(!core::wants_rrun_init(std::nullopt, Annotations{{"rrun.network.loopback", "up"}}));
  BOOST_CHECK(core::wants_rrun_init(std::nullopt, Annotations{{"rrun.init", "true"}}));
  BOOST_CHECK(!core::wants_rrun_init(std::nullopt, Annotations{{"rrun.init", "false"}}));
  BOOST_CHECK(core::wants_rrun_init(true, {}));
  BOOST_CHECK(core::wants_rrun_init(true, Annotations{{"rrun.init", "false"}}));
  BOOST_CHECK(!core::wants_rrun_init(false, Annotations{{"rrun.init", "true"}}));
}

BOOST_AUTO_TEST_CASE(bad_annotation) {
  for (std::optional<bool> flag : {std::optional<bool>{}, std::optional<bool>{true}}) {
    try {
      core::wants_rrun_init(flag, Annotations{{"rrun.init", "yes"}});
      BOOST_FAIL("no error for rrun.init: yes");
    } catch (const os::Error& e) {
      BOOST_TEST(std::string(e.what()) ==
                 "annotations.\"rrun.init\": unknown value \"yes\"; use \"true\" or \"false\"");
    }
  }
}

BOOST_AUTO_TEST_CASE(sealed) {
  os::UniqueFd fd = core::make_rrun_init();
  int seals = ::fcntl(fd.get(), F_GET_SEALS);
  BOOST_TEST((seals & (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)) ==
             (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK));
  BOOST_TEST(::pwrite(fd.get(), "x", 1, 0) == -1);
}

// As tini: the exit code, 128+N for a death by signal N, 127/126 when the
// program can't be executed; 126 without the marker.
BOOST_AUTO_TEST_CASE(status_passes_through) {
  os::UniqueFd fd = core::make_rrun_init();
  BOOST_TEST(exit_code_of(fd.get(), {"/bin/sh", "sh", "-c", "exit 7"}) == 7);
  BOOST_TEST(exit_code_of(fd.get(), {"/bin/sh", "sh", "-c", "kill -KILL $$"}) == 137);
  BOOST_TEST(exit_code_of(fd.get(), {"/nonexistent", "x"}) == 127);
  BOOST_TEST(exit_code_of(fd.get(), {"/dev/null", "x"}) == 126);
  pid_t pid = start_init(fd.get(), {"/bin/true", "true"}, false);
  int status = wait_status(pid);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 126));
}

// Every signal goes to the program, which has no handler; the init ends
// with its status instead of dying itself.
BOOST_AUTO_TEST_CASE(forwards_signals) {
  os::UniqueFd fd = core::make_rrun_init();
  for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGHUP, SIGQUIT})
    BOOST_TEST(exit_code_of(fd.get(), {"/bin/sleep", "sleep", "100"}, sig) == 128 + sig, "signal " << sig);
}

// SIGTSTP, SIGTTIN, SIGTTOU sent to the init are not for the program
// (which here would run its trap and exit 9); a program stopped by one of
// them is continued (nothing else in a container could resume it).
BOOST_AUTO_TEST_CASE(job_control) {
  os::UniqueFd fd = core::make_rrun_init();
  const std::string trap = "trap 'exit 9' TSTP TTIN TTOU; sleep 1 & wait";
  for (int sig : {SIGTSTP, SIGTTIN, SIGTTOU})
    BOOST_TEST(exit_code_of(fd.get(), {"/bin/sh", "sh", "-c", trap}, sig) == 0, "signal " << sig);
  BOOST_TEST(exit_code_of(fd.get(), {"/bin/sh", "sh", "-c", "kill -TSTP $$; exit 5"}) == 5);
}

BOOST_AUTO_TEST_SUITE_END()
