// The one error line main prints is one printable line whatever the
// message holds (issue 15, point 5).

#include <boost/test/unit_test.hpp>

#include <string>

#include <cli/commands.hpp>

using rrun::cli::printable_error;

BOOST_AUTO_TEST_SUITE(cli_error_line)

BOOST_AUTO_TEST_CASE(plain_messages_are_kept) {
  BOOST_TEST(printable_error("config.json: process.args[0]: expected a string, got number") ==
             "config.json: process.args[0]: expected a string, got number");
}

BOOST_AUTO_TEST_CASE(lines_are_joined_and_control_bytes_escaped) {
  BOOST_TEST(printable_error("newuidmap failed:\nline two") == "newuidmap failed: line two");
  // A name formatted where os::quote could not run (the container's init).
  BOOST_TEST(printable_error("exec: process.args[0] `\x1b]0;owned\x07`: Is a directory") ==
             "exec: process.args[0] `\\x1b]0;owned\\x07`: Is a directory");
  BOOST_TEST(printable_error("a\tb\rc\x7f"
                             "d\xc2\x9b") == "a\\tb\\rc\\x7fd\\u009b");
}

BOOST_AUTO_TEST_SUITE_END()
