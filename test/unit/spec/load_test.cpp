// load_spec: reading <bundle>/config.json and the messages around it.

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

using namespace rrun::spec;

namespace {

struct TempBundle {
  std::string dir;
  TempBundle() {
    char tmpl[] = "/tmp/rrun-spec-test-XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~TempBundle() { rrun::os::remove_tree(dir); }
  void write(const std::string& text) const { rrun::os::write_file_atomic(dir + "/config.json", text); }
};

std::string load_error(const std::string& dir) {
  try {
    load_spec(dir);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spec_load)

BOOST_AUTO_TEST_CASE(missing_config_says_what_a_bundle_is) {
  TempBundle b;
  BOOST_TEST(load_error(b.dir) == "cannot read `" + b.dir + "/config.json`: No such file or directory; is `" + b.dir +
                                      "` an OCI bundle? (`rrun spec` writes a config.json)");
}

BOOST_AUTO_TEST_CASE(parse_errors_are_prefixed) {
  TempBundle b;
  b.write(R"({"ociVersion": "1.3.0", "process": {"user": {"uid": 0, "gid": 0}, "args": [1], "cwd": "/"}})");
  BOOST_TEST(load_error(b.dir) == "config.json: process.args[0]: expected a string, got number");
  b.write("{");
  const std::string msg = load_error(b.dir);
  BOOST_TEST(msg.rfind("config.json is not valid JSON: at byte 2 (line 1, column 2): ", 0) == 0, msg);
}

BOOST_AUTO_TEST_CASE(unreadable_config_is_a_system_error) {
  TempBundle b;
  BOOST_REQUIRE(::symlink("config.json", (b.dir + "/config.json").c_str()) == 0);  // open fails with ELOOP
  try {
    load_spec(b.dir);
    BOOST_FAIL("no error");
  } catch (const rrun::os::SystemError& e) {
    BOOST_TEST(e.err() == ELOOP);
    BOOST_TEST(std::string(e.what()).rfind("cannot read `" + b.dir + "/config.json`: ", 0) == 0, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_config_that_is_not_a_regular_file_is_refused) {
  // A directory, /dev/zero (never ends), a FIFO (would block): issue 15.
  TempBundle b;
  rrun::os::mkdir_p(b.dir + "/config.json");
  BOOST_TEST(load_error(b.dir) ==
             "`" + b.dir + "/config.json` is a directory, not a regular file: give the path of a file");
  rrun::os::remove_tree(b.dir + "/config.json");
  BOOST_REQUIRE(::symlink("/dev/zero", (b.dir + "/config.json").c_str()) == 0);
  BOOST_TEST(load_error(b.dir) ==
             "`" + b.dir + "/config.json` is a character device, not a regular file: give the path of a file");
  BOOST_REQUIRE(::unlink((b.dir + "/config.json").c_str()) == 0);
  BOOST_REQUIRE(::mkfifo((b.dir + "/config.json").c_str(), 0600) == 0);
  BOOST_TEST(load_error(b.dir) == "`" + b.dir + "/config.json` is a FIFO, not a regular file: give the path of a file");
}

BOOST_AUTO_TEST_CASE(loads_a_valid_bundle) {
  TempBundle b;
  b.write(serialize_spec(default_spec()));
  BOOST_TEST((load_spec(b.dir) == default_spec()));
}

BOOST_AUTO_TEST_SUITE_END()
