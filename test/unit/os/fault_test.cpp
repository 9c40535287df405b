// core/os/fault.hpp: the RRUN_TEST_KILL_AT hook, in forked children (a
// point that fires kills the process it is in).

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <string>

#include <rrun/os/fault.hpp>

using namespace rrun;

namespace {

struct Outcome {
  int status = 0;
  std::string err;  // what the child wrote to stderr
};

// Runs points "a" and "b" in a child whose RRUN_TEST_KILL_AT is `value`
// (nullptr: unset); the child exits 0 after them.
Outcome reach_points(const char* value) {
  int pipefd[2];
  BOOST_REQUIRE(::pipe(pipefd) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(pipefd[1], STDERR_FILENO);
    if (value)
      ::setenv("RRUN_TEST_KILL_AT", value, 1);
    else
      ::unsetenv("RRUN_TEST_KILL_AT");
    os::init_fault_points();
    os::fault_point("a");
    os::fault_point("b");
    ::_exit(0);
  }
  ::close(pipefd[1]);
  Outcome o;
  char buf[256];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) o.err.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  ::waitpid(pid, &o.status, 0);
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(os_fault_points)

BOOST_AUTO_TEST_CASE(unset_or_empty_does_nothing) {
  for (const char* v : {static_cast<const char*>(nullptr), ""}) {
    Outcome o = reach_points(v);
    BOOST_TEST((WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0));
    BOOST_TEST(o.err == "");
  }
}

BOOST_AUTO_TEST_CASE(a_named_point_kills_with_sigkill) {
  Outcome o = reach_points("b");
  BOOST_TEST((WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGKILL));
  BOOST_TEST(o.err == "");
}

BOOST_AUTO_TEST_CASE(an_unknown_name_does_nothing) {
  Outcome o = reach_points("c");
  BOOST_TEST((WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0));
}

BOOST_AUTO_TEST_CASE(list_prints_each_point_reached) {
  Outcome o = reach_points("list");
  BOOST_TEST((WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0));
  BOOST_TEST(o.err == "rrun-fault-point: a\nrrun-fault-point: b\n");
}

BOOST_AUTO_TEST_SUITE_END()
