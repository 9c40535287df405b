#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include <rrun/core/state.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

using namespace rrun;

namespace {

using rrun::test::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

mode_t mode_of(const std::string& p) {
  struct stat st;
  BOOST_REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

core::RootDirRequest rootless_request(const TempDir& tmp) {
  core::RootDirRequest req;
  req.rootless = true;
  req.uid = ::geteuid();
  req.tmp_base = tmp.path + "/tmp";
  os::mkdir_p(req.tmp_base, 0755);
  return req;
}

void write_uid_map(const std::string& proc, const std::string& text) {
  os::mkdir_p(proc + "/self");
  os::write_file_atomic(proc + "/self/uid_map", text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(root_dir)

BOOST_AUTO_TEST_CASE(flag_wins) {
  TempDir tmp;
  core::RootDirRequest req;
  req.flag = tmp.path + "/a/b";
  req.rootless = true;
  req.xdg_runtime_dir = "/nonexistent";
  BOOST_TEST(core::resolve_state_root(req) == tmp.path + "/a/b");
  BOOST_CHECK(os::path_exists(tmp.path + "/a/b"));
  BOOST_TEST(mode_of(tmp.path + "/a/b") == 0700u);

  // Relative --root is made absolute.
  char cwd[4096];
  BOOST_REQUIRE(::getcwd(cwd, sizeof cwd));
  req.flag = "rel-root";
  req.create = false;
  BOOST_TEST(core::resolve_state_root(req) == std::string(cwd) + "/rel-root");
  BOOST_CHECK(!os::path_exists(std::string(cwd) + "/rel-root"));
}

BOOST_AUTO_TEST_CASE(root_default) {
  core::RootDirRequest req;
  req.rootless = false;
  req.uid = 0;
  req.create = false;
  struct stat st;
  if (::lstat("/run/rrun", &st) == 0) return;  // exists on this host: its checks belong to the integration tests
  BOOST_TEST(core::resolve_state_root(req) == "/run/rrun");
}

BOOST_AUTO_TEST_CASE(xdg_runtime_dir) {
  TempDir tmp;
  auto req = rootless_request(tmp);
  std::string xdg = tmp.path + "/xdg";
  os::mkdir_p(xdg, 0700);
  req.xdg_runtime_dir = xdg.c_str();
  BOOST_TEST(core::resolve_state_root(req) == xdg + "/rrun");
  BOOST_TEST(mode_of(xdg + "/rrun") == 01700u);  // sticky: not pruned
  // Again: the existing directory is accepted.
  BOOST_TEST(core::resolve_state_root(req) == xdg + "/rrun");
}

BOOST_AUTO_TEST_CASE(tmp_fallback) {
  TempDir tmp;
  auto req = rootless_request(tmp);
  std::string want = req.tmp_base + "/rrun-" + std::to_string(req.uid);
  // Unset, empty, missing directory: all fall back.
  for (const char* xdg : {static_cast<const char*>(nullptr), "", "/nonexistent/xdg"}) {
    req.xdg_runtime_dir = xdg;
    req.create = false;
    BOOST_TEST(core::resolve_state_root(req) == want);
    BOOST_CHECK(!os::path_exists(want));  // read-only commands create nothing
    req.create = true;
    BOOST_TEST(core::resolve_state_root(req) == want);
    BOOST_TEST(mode_of(want) == 0700u);
    ::rmdir(want.c_str());
  }
}

BOOST_AUTO_TEST_CASE(tmp_fallback_refuses_foreign_directories) {
  TempDir tmp;
  auto req = rootless_request(tmp);
  std::string dir = req.tmp_base + "/rrun-" + std::to_string(req.uid);

  // Open to others.
  BOOST_REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  BOOST_REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  std::string msg = error_of([&] { core::resolve_state_root(req); });
  BOOST_TEST(msg.find("state directory \"" + dir + "\" has mode 0755") != std::string::npos);
  req.create = false;
  BOOST_TEST(!error_of([&] { core::resolve_state_root(req); }).empty());  // read-only commands check it too
  req.create = true;

  // Someone else's: pretend we are another uid.
  BOOST_REQUIRE(::chmod(dir.c_str(), 0700) == 0);
  auto other = req;
  other.uid = req.uid + 4242;
  std::string other_dir = req.tmp_base + "/rrun-" + std::to_string(other.uid);
  BOOST_REQUIRE(::mkdir(other_dir.c_str(), 0700) == 0);
  msg = error_of([&] { core::resolve_state_root(other); });
  BOOST_TEST(msg == "state directory \"" + other_dir + "\" is owned by uid " + std::to_string(req.uid) + ", not you (" +
                        std::to_string(other.uid) + "); remove it or pass --root");

  // A symlink planted in its place.
  ::rmdir(dir.c_str());
  BOOST_REQUIRE(::symlink(tmp.path.c_str(), dir.c_str()) == 0);
  msg = error_of([&] { core::resolve_state_root(req); });
  BOOST_TEST(msg.find("is a symlink") != std::string::npos);

  // A file.
  ::unlink(dir.c_str());
  os::write_file_atomic(dir, "x");
  msg = error_of([&] { core::resolve_state_root(req); });
  BOOST_TEST(msg.find("is not a directory") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rootless_detection) {
  TempDir tmp;
  std::string proc = tmp.path + "/proc";
  BOOST_TEST(core::detect_rootless("true", 0, proc));
  BOOST_TEST(!core::detect_rootless("false", 1000, proc));
  BOOST_CHECK_THROW(core::detect_rootless("maybe", 0, proc), os::Error);
  BOOST_TEST(core::detect_rootless("auto", 1000, proc));
  // No uid_map at all: a kernel without user namespaces, so not in one.
  BOOST_TEST(!core::detect_rootless("auto", 0, proc));
  write_uid_map(proc, "         0          0 4294967295\n");
  BOOST_TEST(!core::detect_rootless("auto", 0, proc));
  BOOST_TEST(!core::detect_rootless("", 0, proc));
  write_uid_map(proc, "         0       1000          1\n");
  BOOST_TEST(core::detect_rootless("auto", 0, proc));
  write_uid_map(proc, "0 0 4294967295\n1 1 1\n");
  BOOST_TEST(core::detect_rootless("auto", 0, proc));
  write_uid_map(proc, "0 100000 65536\n");
  BOOST_TEST(core::detect_rootless("auto", 0, proc));
}

BOOST_AUTO_TEST_SUITE_END()
