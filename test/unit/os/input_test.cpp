// Control characters in messages, and reading what a user hands over
// (issue 15, points 2 and 5).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <thread>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>

using namespace rrun;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(os_escape)

BOOST_AUTO_TEST_CASE(plain_text_is_kept) {
  BOOST_TEST(os::escape_control("") == "");
  BOOST_TEST(os::escape_control("/run/rrun/a b/é\\x") == "/run/rrun/a b/é\\x");
  BOOST_TEST(os::quote("rootfs") == "`rootfs`");
}

BOOST_AUTO_TEST_CASE(control_bytes_become_c_escapes) {
  BOOST_TEST(os::escape_control("\x1b]0;title\x07") == "\\x1b]0;title\\x07");
  BOOST_TEST(os::escape_control("a\nb\tc\rd") == "a\\nb\\tc\\rd");
  BOOST_TEST(os::escape_control(std::string("x\0y", 3)) == "x\\x00y");
  BOOST_TEST(os::escape_control("del\x7f") == "del\\x7f");
  // C1 controls as UTF-8 (U+009B is CSI on some terminals).
  BOOST_TEST(os::escape_control("a\xc2\x9b"
                                "1m") == "a\\u009b1m");
  BOOST_TEST(os::escape_control("\xc2\xa0") == "\xc2\xa0");  // U+00A0 is printable
  BOOST_TEST(os::escape_control("\xc2") == "\xc2");          // cut short: left alone
  BOOST_TEST(os::quote("/bin/\x1b[2J") == "`/bin/\\x1b[2J`");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(os_input_stream)

BOOST_AUTO_TEST_CASE(a_pipe_is_read_up_to_the_cap) {
  int p[2];
  BOOST_REQUIRE(::pipe(p) == 0);
  os::UniqueFd r(p[0]), w(p[1]);
  std::thread writer([&] {
    os::write_all(w, "{\"pids\": {\"limit\": 10}}");
    w.reset();
  });
  BOOST_TEST(os::read_input_stream(r, "standard input") == "{\"pids\": {\"limit\": 10}}");
  writer.join();
}

BOOST_AUTO_TEST_CASE(a_pipe_past_the_cap_is_refused) {
  int p[2];
  BOOST_REQUIRE(::pipe(p) == 0);
  os::UniqueFd r(p[0]), w(p[1]);
  // The reader stops at the cap and closes: the writer gets EPIPE, not a hang.
  ::signal(SIGPIPE, SIG_IGN);
  std::thread writer([&] {
    std::string chunk(4096, 'x');
    try {
      for (int i = 0; i < 1000; ++i) os::write_all(w, chunk);
    } catch (const std::exception&) {
    }
    w.reset();
  });
  std::string err = error_of([&] { os::read_input_stream(r, "standard input", 1 << 20); });
  r.reset();
  writer.join();
  BOOST_TEST(err == "`standard input` is larger than 1 MiB, the limit for this file");
}

BOOST_AUTO_TEST_CASE(a_device_or_a_directory_is_refused) {
  os::UniqueFd zero(::open("/dev/zero", O_RDONLY | O_CLOEXEC));
  BOOST_TEST(error_of([&] { os::read_input_stream(zero, "standard input"); }) ==
             "`standard input` is a character device: give a file, a pipe or a terminal");
  os::UniqueFd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  BOOST_TEST(contains(error_of([&] { os::read_input_stream(dir, "standard input"); }), "is a directory"));
}

BOOST_AUTO_TEST_CASE(a_regular_file_is_read) {
  char name[] = "/tmp/rrun-input-XXXXXX";
  int fd = ::mkstemp(name);
  BOOST_REQUIRE(fd >= 0);
  os::UniqueFd f(fd);
  ::unlink(name);
  os::write_all(f, "hello");
  ::lseek(fd, 0, SEEK_SET);
  BOOST_TEST(os::read_input_stream(f, "standard input") == "hello");
}

BOOST_AUTO_TEST_SUITE_END()
