#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <rrun/core/exe_guard.hpp>

using namespace rrun;
using core::ExeGuard;

BOOST_AUTO_TEST_SUITE(exe_guard)

// Container root in rrun's user namespace (or a joined one) may hold
// CAP_SYS_PTRACE over rrun's processes: only a sealed copy keeps it out.
BOOST_AUTO_TEST_CASE(choice) {
  BOOST_CHECK(core::choose_exe_guard(true, false) == ExeGuard::sealed_copy);
  BOOST_CHECK(core::choose_exe_guard(true, true) == ExeGuard::sealed_copy);
  BOOST_CHECK(core::choose_exe_guard(false, true) == ExeGuard::trampoline);
  BOOST_CHECK(core::choose_exe_guard(false, false) == ExeGuard::dumpable_off);
}

BOOST_AUTO_TEST_CASE(owner_mapped) {
  char path[] = "/tmp/rrun-exe-guard-XXXXXX";
  int fd = ::mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  uint32_t uid = ::geteuid();
  BOOST_CHECK(core::binary_owner_mapped(path, {{0, uid, 1}}));
  BOOST_CHECK(core::binary_owner_mapped(path, {{0, 100000, 65536}, {0, uid == 0 ? 0u : uid - 1, 2}}));
  BOOST_CHECK(!core::binary_owner_mapped(path, {{0, uid + 1, 65536}}));
  BOOST_CHECK(!core::binary_owner_mapped(path, {}));
  ::unlink(path);
  // What can't be inspected counts as reachable.
  BOOST_CHECK(core::binary_owner_mapped(path, {}));
}

// The test binary runs from its file, not from a sealed memfd.
BOOST_AUTO_TEST_CASE(not_sealed_here) { BOOST_CHECK(!core::running_from_sealed_copy()); }

BOOST_AUTO_TEST_SUITE_END()
