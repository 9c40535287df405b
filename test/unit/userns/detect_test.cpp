#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>

#include <rrun/os/file.hpp>
#include <rrun/userns/detect.hpp>

namespace {

struct FakeProc {
  std::string path;
  FakeProc() {
    char tmpl[] = "/tmp/rrun-detect-test-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    rrun::os::mkdir_p(path + "/self");
  }
  ~FakeProc() { rrun::os::remove_tree(path); }
  void uid_map(const std::string& text) { rrun::os::write_file_atomic(path + "/self/uid_map", text); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(detect)

BOOST_AUTO_TEST_CASE(identity_map_is_the_initial_namespace) {
  FakeProc proc;
  proc.uid_map("         0          0 4294967295\n");
  BOOST_TEST(rrun::userns::in_initial_user_namespace(proc.path));
  BOOST_TEST(!rrun::userns::running_rootless(0, proc.path));
  BOOST_TEST(rrun::userns::running_rootless(1000, proc.path));
}

BOOST_AUTO_TEST_CASE(partial_map_is_a_user_namespace) {
  FakeProc proc;
  proc.uid_map("         0       1000          1\n         1     100000      65536\n");
  BOOST_TEST(!rrun::userns::in_initial_user_namespace(proc.path));
  BOOST_TEST(rrun::userns::running_rootless(0, proc.path));
  proc.uid_map("         0          0      65536\n");
  BOOST_TEST(!rrun::userns::in_initial_user_namespace(proc.path));
}

BOOST_AUTO_TEST_CASE(absent_map_is_the_initial_namespace) {
  FakeProc proc;
  BOOST_TEST(rrun::userns::in_initial_user_namespace(proc.path));
}

BOOST_AUTO_TEST_SUITE_END()
