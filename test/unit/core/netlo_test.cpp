// bring_up_loopback in a fresh network namespace (a user namespace too, so
// that the test runs unprivileged).

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstring>

#include <rrun/core/netlo.hpp>

#include "fork_child.hpp"

namespace {

// 1: lo is up, 0: down, -1: can't tell.
int loopback_up() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int rc = ::ioctl(fd, SIOCGIFFLAGS, &ifr);
  ::close(fd);
  if (rc < 0) return -1;
  return (ifr.ifr_flags & IFF_UP) ? 1 : 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(core_netlo)

BOOST_AUTO_TEST_CASE(brings_lo_up_in_a_new_network_namespace) {
  int status = rrun::test::run_in_child([] {
    int flags = CLONE_NEWNET | (::geteuid() == 0 ? 0 : CLONE_NEWUSER);
    if (::unshare(flags) < 0) return 77;  // no namespaces here: nothing to test
    if (loopback_up() != 0) return 10;    // a fresh namespace has lo down
    rrun::os::StepFailure f;
    if (rrun::core::bring_up_loopback(f) < 0) return 11;
    if (loopback_up() != 1) return 12;
    if (rrun::core::bring_up_loopback(f) < 0) return 13;  // already up: fine
    return 0;
  });
  int code = rrun::test::exit_code(status);
  if (code == 77) {
    BOOST_TEST_MESSAGE("skipped: unshare(CLONE_NEWNET) refused here");
    return;
  }
  BOOST_TEST(code == 0);
}

BOOST_AUTO_TEST_SUITE_END()
