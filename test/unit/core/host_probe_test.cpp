// The host probes: they answer with a step and an errno, and leave nothing
// in the directory they work under.

#include <errno.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>

#include <rrun/core/host_probe.hpp>

#include "../temp_dir.hpp"

using namespace rrun;

namespace {

bool empty_dir(const std::string& path) {
  return std::filesystem::is_empty(path);
}

// No child of ours is left to reap.
bool no_children() {
  return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(host_probe)

BOOST_AUTO_TEST_CASE(overlay_and_idmap_probes_leave_nothing) {
  test::TempDir tmp;
  core::ProbeOutcome overlay = core::probe_kernel_overlay(tmp.path);
  BOOST_TEST_MESSAGE(
      "kernel overlay: " << (overlay.ok() ? "works" : overlay.step + " " + std::to_string(overlay.error)));
  BOOST_TEST(empty_dir(tmp.path));
  core::ProbeOutcome idmap = core::probe_idmapped_mount(tmp.path);
  BOOST_TEST_MESSAGE("idmapped mount: " << (idmap.ok() ? "works" : idmap.step + " " + std::to_string(idmap.error)));
  BOOST_TEST(empty_dir(tmp.path));
  core::ProbeOutcome userns = core::probe_user_namespace();
  BOOST_TEST((userns.ok() || !userns.step.empty()));
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(a_missing_base_is_the_mkdtemp_step) {
  test::TempDir tmp;
  core::ProbeOutcome o = core::probe_kernel_overlay(tmp.path + "/missing");
  BOOST_TEST(o.step == "mkdtemp");
  BOOST_TEST(o.error == ENOENT);
  o = core::probe_idmapped_mount(tmp.path + "/missing");
  BOOST_TEST(o.step == "mkdtemp");
  BOOST_TEST(o.error == ENOENT);
}

BOOST_AUTO_TEST_CASE(syscall_probes) {
  // This host's kernel (and any rrun supports well) has them; what matters
  // is that probing changes nothing and is 0 or an errno.
  for (int e : {core::probe_clone3(), core::probe_pidfd_open(), core::probe_openat2()}) BOOST_TEST(e >= 0);
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_SUITE_END()
