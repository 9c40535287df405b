#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <rrun/rootfs/resolve.hpp>

namespace fs = std::filesystem;
using namespace rrun;

namespace {

// root/ with etc/marker, a/b/, links to "/", "../../etc", ".." loops and an
// absolute link that escapes by name.
struct Tree {
  std::string dir;
  std::string root;
  int rootfd = -1;
  Tree() {
    char tmpl[] = "/tmp/rrun-rootfs-resolve-XXXXXX";
    dir = ::mkdtemp(tmpl);
    root = dir + "/root";
    fs::create_directories(root + "/etc");
    fs::create_directories(root + "/a/b");
    ::close(::open((root + "/etc/marker").c_str(), O_CREAT | O_WRONLY, 0644));
    fs::create_directory_symlink("/", root + "/linkroot");
    fs::create_directory_symlink("../../etc", root + "/a/linketc");
    fs::create_directory_symlink("../../../../../..", root + "/a/b/up");
    fs::create_symlink("/etc/marker", root + "/abslink");
    fs::create_symlink("loop2", root + "/loop1");
    fs::create_symlink("loop1", root + "/loop2");
    rootfd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  ~Tree() {
    ::close(rootfd);
    rootfs::force_manual_resolution(false);
    fs::remove_all(dir);
  }
  ino_t ino(const std::string& host_path) {
    struct stat st {};
    BOOST_REQUIRE(::lstat(host_path.c_str(), &st) == 0);
    return st.st_ino;
  }
  ino_t resolved(const char* path) {
    int fd = rootfs::open_in_root(rootfd, path);
    if (fd < 0) return 0;
    struct stat st {};
    ::fstat(fd, &st);
    ::close(fd);
    return st.st_ino;
  }
};

void check_resolution(Tree& t) {
  BOOST_TEST(t.resolved("/") == t.ino(t.root));
  BOOST_TEST(t.resolved("/linkroot") == t.ino(t.root));
  BOOST_TEST(t.resolved("/linkroot/etc") == t.ino(t.root + "/etc"));
  BOOST_TEST(t.resolved("/../../..") == t.ino(t.root));
  BOOST_TEST(t.resolved("/a/linketc/marker") == t.ino(t.root + "/etc/marker"));
  BOOST_TEST(t.resolved("a/b/up/etc") == t.ino(t.root + "/etc"));
  BOOST_TEST(t.resolved("/abslink") == t.ino(t.root + "/etc/marker"));
  errno = 0;
  BOOST_TEST(rootfs::open_in_root(t.rootfd, "/loop1") == -1);
  BOOST_TEST(errno == ELOOP);
  BOOST_TEST(rootfs::open_in_root(t.rootfd, "/nope/x") == -1);
  BOOST_TEST(errno == ENOENT);
  BOOST_TEST(rootfs::open_in_root(t.rootfd, "/etc/marker/x") == -1);
  BOOST_TEST(errno == ENOTDIR);

  // Creation through symlinks stays inside the root.
  int fd = rootfs::create_in_root(t.rootfd, "/linkroot/rrun-created/sub", true);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  BOOST_TEST(fs::is_directory(t.root + "/rrun-created/sub"));
  BOOST_TEST(!fs::exists("/rrun-created"));
  fd = rootfs::create_in_root(t.rootfd, "/a/linketc/rrun-created-file", false);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  BOOST_TEST(fs::is_regular_file(t.root + "/etc/rrun-created-file"));
  BOOST_TEST(!fs::exists("/etc/rrun-created-file"));
  fd = rootfs::create_in_root(t.rootfd, "/a/b/up/up2/x", true);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  BOOST_TEST(fs::is_directory(t.root + "/up2/x"));
  // An existing target is returned as it is.
  fd = rootfs::create_in_root(t.rootfd, "/etc/marker", true);
  BOOST_TEST(fd >= 0);
  ::close(fd);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_resolve)

BOOST_AUTO_TEST_CASE(openat2_stays_in_root) {
  Tree t;
  check_resolution(t);
}

BOOST_AUTO_TEST_CASE(manual_walk_stays_in_root) {
  Tree t;
  rootfs::force_manual_resolution(true);
  check_resolution(t);
}

BOOST_AUTO_TEST_SUITE_END()
