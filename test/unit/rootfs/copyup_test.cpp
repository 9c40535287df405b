#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/rootfs/copyup.hpp>

#include "../temp_dir.hpp"

namespace os = rrun::os;
namespace rootfs = rrun::rootfs;

namespace {

struct Trees {
  rrun::test::TempDir t;
  std::string src = t.path + "/src", dst = t.path + "/dst", outside = t.path + "/outside";
  Trees() {
    os::mkdir_p(src);
    os::mkdir_p(dst);
    os::mkdir_p(outside);
    os::write_file_atomic(outside + "/host-secret", "secret");
  }
  int copy(rootfs::CopyUpRoot root, os::StepFailure& f) const {
    os::UniqueFd s(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    os::UniqueFd d(::open(dst.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    BOOST_REQUIRE(s.valid() && d.valid());
    return rootfs::copy_up(s.get(), d.get(), root, "mounts[1]", "/run", f);
  }
};

struct stat lstat_of(const std::string& p) {
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, p);
  return st;
}

std::string link_of(const std::string& p) {
  char buf[256];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_copyup)

BOOST_AUTO_TEST_CASE(copies_files_dirs_links_and_fifos_with_modes) {
  Trees tr;
  os::mkdir_p(tr.src + "/sub/ro");
  os::write_file_atomic(tr.src + "/a", "a-content");
  os::write_file_atomic(tr.src + "/sub/ro/g", "deep");
  BOOST_REQUIRE(::chmod((tr.src + "/a").c_str(), 04750) == 0);
  BOOST_REQUIRE(::chmod((tr.src + "/sub/ro").c_str(), 0555) == 0);
  BOOST_REQUIRE(::chmod(tr.src.c_str(), 0711) == 0);
  BOOST_REQUIRE(::symlink("../outside", (tr.src + "/up").c_str()) == 0);
  BOOST_REQUIRE(::symlink((tr.outside + "/host-secret").c_str(), (tr.src + "/abs").c_str()) == 0);
  BOOST_REQUIRE(::mkfifo((tr.src + "/fifo").c_str(), 0600) == 0);
  BOOST_REQUIRE(::chmod((tr.src + "/fifo").c_str(), 0620) == 0);
  struct timespec old[2] = {{1000000000, 0}, {981173106, 5}};
  BOOST_REQUIRE(::utimensat(AT_FDCWD, (tr.src + "/sub").c_str(), old, 0) == 0);

  os::StepFailure f;
  BOOST_REQUIRE_MESSAGE(tr.copy({}, f) == 0, f.detail);
  BOOST_TEST(os::read_file(tr.dst + "/a") == "a-content");
  BOOST_TEST((lstat_of(tr.dst + "/a").st_mode & 07777) == 04750u);
  BOOST_TEST(os::read_file(tr.dst + "/sub/ro/g") == "deep");
  BOOST_TEST((lstat_of(tr.dst + "/sub/ro").st_mode & 07777) == 0555u);
  BOOST_TEST((lstat_of(tr.dst).st_mode & 07777) == 0711u);  // the root takes the source's mode
  BOOST_TEST(lstat_of(tr.dst + "/sub").st_mtim.tv_sec == 981173106);
  // Symlinks are copied, never followed.
  BOOST_TEST(S_ISLNK(lstat_of(tr.dst + "/up").st_mode));
  BOOST_TEST(link_of(tr.dst + "/up") == "../outside");
  BOOST_TEST(link_of(tr.dst + "/abs") == tr.outside + "/host-secret");
  BOOST_TEST(S_ISFIFO(lstat_of(tr.dst + "/fifo").st_mode));
  BOOST_TEST((lstat_of(tr.dst + "/fifo").st_mode & 07777) == 0620u);
  BOOST_TEST(!os::path_exists(tr.dst + "/host-secret"));
  // The source is as it was.
  BOOST_TEST(os::read_file(tr.src + "/a") == "a-content");
  BOOST_REQUIRE(::chmod((tr.src + "/sub/ro").c_str(), 0755) == 0);
  BOOST_REQUIRE(::chmod((tr.dst + "/sub/ro").c_str(), 0755) == 0);
}

BOOST_AUTO_TEST_CASE(root_mode_kept_when_the_options_give_one) {
  Trees tr;
  BOOST_REQUIRE(::chmod(tr.src.c_str(), 0700) == 0);
  BOOST_REQUIRE(::chmod(tr.dst.c_str(), 01777) == 0);
  os::StepFailure f;
  BOOST_REQUIRE(tr.copy({false, false}, f) == 0);
  BOOST_TEST((lstat_of(tr.dst).st_mode & 07777) == 01777u);
}

BOOST_AUTO_TEST_CASE(a_failure_names_the_entry) {
  Trees tr;
  os::mkdir_p(tr.src + "/d");
  os::write_file_atomic(tr.src + "/d/f", "x");
  os::mkdir_p(tr.dst + "/d");  // already there: mkdir fails
  os::StepFailure f;
  BOOST_TEST(tr.copy({}, f) == -1);
  BOOST_TEST(f.err == EEXIST);
  BOOST_TEST(std::string(f.detail) == "mounts[1]: tmpcopyup into the tmpfs on `/run`: create the directory `/run/d`");
}

BOOST_AUTO_TEST_SUITE_END()
