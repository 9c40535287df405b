// The claim on a persistent overlay directory (rootfs/persistent_dir.hpp):
// the record, its liveness, the refusal, and the release.

#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/rootfs/persistent_dir.hpp>

using namespace rrun;
using rrun::rootfs::DirUser;

namespace {

// A record naming this test process as a container's init.
DirUser me(const std::string& id, const std::string& root) {
  DirUser u;
  u.id = id;
  u.state_root = root;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  u.host = host;
  u.boot_id = os::read_file("/proc/sys/kernel/random/boot_id");
  u.boot_id.pop_back();
  u.pid = ::getpid();
  u.start_time = os::process_start_time(u.pid).value_or(0);
  return u;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(persistent_dir)

BOOST_AUTO_TEST_CASE(the_directory_of_the_annotation) {
  BOOST_TEST(rootfs::persistent_overlay_dir({{"rrun.rootfs.overlay", "persistent:/a/b/"}}).value_or("") == "/a/b");
  BOOST_TEST(!rootfs::persistent_overlay_dir({{"rrun.rootfs.overlay", "ephemeral"}}));
  BOOST_TEST(!rootfs::persistent_overlay_dir({{"rrun.rootfs.overlay", "persistent:rel"}}));
  BOOST_TEST(!rootfs::persistent_overlay_dir({}));
}

BOOST_AUTO_TEST_CASE(record_round_trip_and_liveness) {
  DirUser u = me("c1", "/run/rrun");
  auto back = rootfs::parse_dir_user(rootfs::format_dir_user(u));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->id == "c1");
  BOOST_TEST(back->state_root == "/run/rrun");
  BOOST_TEST(back->pid == u.pid);
  BOOST_TEST(back->start_time == u.start_time);
  BOOST_TEST(!rootfs::parse_dir_user("garbage"));
  BOOST_TEST(rootfs::dir_user_alive(u, u.host, u.boot_id));
  // Another start time: the pid was reused.
  DirUser reused = u;
  reused.start_time += 1;
  BOOST_TEST(!rootfs::dir_user_alive(reused, u.host, u.boot_id));
  // Another boot: gone. Another host: can't tell, so in use.
  BOOST_TEST(!rootfs::dir_user_alive(u, u.host, "another-boot"));
  DirUser far = reused;
  far.host = "node17";
  BOOST_TEST(rootfs::dir_user_alive(far, u.host, u.boot_id));
}

BOOST_AUTO_TEST_CASE(a_live_claim_refuses_a_stale_one_does_not) {
  test::TempDir dir;
  DirUser other = me("first", "/run/rrun");
  os::write_file_atomic(dir.path + "/rrun-user", rootfs::format_dir_user(other), 0644);
  try {
    rootfs::PersistentDirClaim claim(dir.path, "second", "/run/rrun");
    BOOST_FAIL("no refusal");
  } catch (const os::Error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "overlay persistent:" + dir.path + ": `" + dir.path + "` is in use by container `first` (pid " +
                   std::to_string(other.pid) +
                   "); two overlays on one upper directory corrupt it: wait for that container to exit, delete it, "
                   "or use another directory");
  }
  // The init of the record is gone: the directory is free; the claim records its own.
  other.start_time += 1;
  os::write_file_atomic(dir.path + "/rrun-user", rootfs::format_dir_user(other), 0644);
  {
    rootfs::PersistentDirClaim claim(dir.path, "second", "/run/rrun");
    claim.record(::getpid(), me("", "").start_time);
  }
  auto now = rootfs::parse_dir_user(os::read_file(dir.path + "/rrun-user"));
  BOOST_REQUIRE(now.has_value());
  BOOST_TEST(now->id == "second");
}

BOOST_AUTO_TEST_CASE(release_removes_the_record_and_the_kernels_work_dir) {
  test::TempDir dir;
  os::mkdir_p(dir.path + "/work/work", 0700);
  os::mkdir_p(dir.path + "/upper", 0755);
  os::write_file_atomic(dir.path + "/work/work/#1", "", 0000);
  ::chmod((dir.path + "/work/work").c_str(), 0);
  os::write_file_atomic(dir.path + "/rrun-user", rootfs::format_dir_user(me("c", "/r")), 0644);
  // Another container's record stays, with the work directory.
  rootfs::release_persistent_dir(dir.path, "other", "/r");
  BOOST_TEST(os::path_exists(dir.path + "/rrun-user"));
  rootfs::release_persistent_dir(dir.path, "c", "/r");
  BOOST_TEST(!os::path_exists(dir.path + "/rrun-user"));
  BOOST_TEST(!os::path_exists(dir.path + "/rrun-lock"));
  BOOST_TEST(!os::path_exists(dir.path + "/work/work"));
  BOOST_TEST(os::path_exists(dir.path + "/work"));
  BOOST_TEST(os::path_exists(dir.path + "/upper"));
}

BOOST_AUTO_TEST_SUITE_END()
