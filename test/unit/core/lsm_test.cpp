// LSM labels (lsm.hpp): SELinux labels are no-ops where SELinux is not
// enabled and refused (naming the field) where it is; an AppArmor profile is
// refused where AppArmor is not enabled. Host facts come from a fake /sys.

#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <rrun/core/lsm.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include <functional>
#include <string>

#include "../temp_dir.hpp"

using namespace rrun;

namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const os::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lsm)

BOOST_AUTO_TEST_CASE(selinux_labels_are_no_ops_without_selinux) {
  test::TempDir sys;
  BOOST_TEST(core::check_selinux_label("linux.mountLabel", "", sys.path) == "");
  BOOST_TEST(core::check_selinux_label("linux.mountLabel", "system_u:object_r:container_file_t:s0", sys.path) ==
             "linux.mountLabel: SELinux is not enabled on this host; label "
             "`system_u:object_r:container_file_t:s0` ignored");
  BOOST_TEST(core::check_selinux_label("process.selinuxLabel", "x", sys.path).rfind("process.selinuxLabel: ", 0) == 0);
}

BOOST_AUTO_TEST_CASE(selinux_labels_name_their_field_where_selinux_is_enabled) {
  test::TempDir sys;
  os::mkdir_p(sys.path + "/fs/selinux");
  os::write_file_atomic(sys.path + "/fs/selinux/enforce", "1");
  BOOST_TEST(core::check_selinux_label("linux.mountLabel", "", sys.path) == "");
  BOOST_TEST(error_of([&] { core::check_selinux_label("linux.mountLabel", "l", sys.path); }) ==
             "linux.mountLabel: SELinux labels are not supported by rrun yet; remove the label");
  BOOST_TEST(error_of([&] { core::check_selinux_label("--process-label", "l", sys.path); }) ==
             "--process-label: SELinux labels are not supported by rrun yet; remove the label");
}

BOOST_AUTO_TEST_CASE(apparmor_profile_needs_apparmor_enabled) {
  test::TempDir sys;
  BOOST_TEST(!core::apparmor_enabled(sys.path));
  BOOST_TEST(error_of([&] { core::check_apparmor_profile("process.apparmorProfile", "", sys.path); }) == "");
  BOOST_TEST(error_of([&] { core::check_apparmor_profile("--apparmor", "p", sys.path); }) ==
             "--apparmor: AppArmor is not enabled on this host (" + sys.path +
                 "/module/apparmor/parameters/enabled); remove the profile");
  os::mkdir_p(sys.path + "/module/apparmor/parameters");
  os::write_file_atomic(sys.path + "/module/apparmor/parameters/enabled", "N\n");
  BOOST_TEST(!core::apparmor_enabled(sys.path));
  os::write_file_atomic(sys.path + "/module/apparmor/parameters/enabled", "Y\n");
  BOOST_TEST(core::apparmor_enabled(sys.path));
  BOOST_TEST(error_of([&] { core::check_apparmor_profile("process.apparmorProfile", "p", sys.path); }) == "");
}

// No profile: nothing opened, nothing written.
BOOST_AUTO_TEST_CASE(no_profile_is_no_work) {
  BOOST_TEST(!core::open_proc_for_profile(""));
  os::StepFailure f;
  BOOST_TEST(core::apply_apparmor_profile(-1, "", f) == 0);
}

// A profile that is not loaded (or no AppArmor at all, as on most test
// hosts) fails the step with the profile named, through rrun's /proc.
BOOST_AUTO_TEST_CASE(an_unknown_profile_fails_the_step) {
  os::UniqueFd proc = core::open_proc_for_profile("rrun-unit-no-such-profile");
  BOOST_REQUIRE(proc);
  os::StepFailure f;
  BOOST_TEST(core::apply_apparmor_profile(proc.get(), "rrun-unit-no-such-profile", f) == -1);
  BOOST_TEST(std::string(f.step) == "apparmor");
  BOOST_TEST(std::string(f.detail).find("rrun-unit-no-such-profile") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
