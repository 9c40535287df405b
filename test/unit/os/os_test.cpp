#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <cstdlib>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>

using namespace rrun;

namespace {

using rrun::test::TempDir;

}  // namespace

BOOST_AUTO_TEST_SUITE(os_errors)

BOOST_AUTO_TEST_CASE(system_error_carries_errno_and_context) {
  try {
    os::throw_errno(ENOENT, "open `x`");
    BOOST_FAIL("no throw");
  } catch (const os::SystemError& e) {
    BOOST_TEST(e.err() == ENOENT);
    BOOST_CHECK(e.code() == std::errc::no_such_file_or_directory);
    BOOST_TEST(std::string(e.what()) == "open `x`: No such file or directory");
  }
}

BOOST_AUTO_TEST_CASE(context_wraps_without_repeating_strerror) {
  try {
    try {
      os::throw_errno(EACCES, "open `x`");
    } catch (...) {
      os::rethrow_with_context("read config");
    }
  } catch (const os::SystemError& e) {
    BOOST_TEST(e.err() == EACCES);
    BOOST_TEST(std::string(e.what()) == "read config: open `x`: Permission denied");
  }
  BOOST_CHECK_THROW(
      [] {
        try {
          throw os::Error("inner");
        } catch (...) {
          os::rethrow_with_context("outer");
        }
      }(),
      os::Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(os_fd)

BOOST_AUTO_TEST_CASE(unique_fd_closes_and_keeps_errno) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  {
    os::UniqueFd u(fd);
    errno = EXDEV;
  }
  BOOST_TEST(errno == EXDEV);
  BOOST_TEST(::fcntl(fd, F_GETFD) == -1);  // closed
  os::UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int raw = a.get();
  os::UniqueFd b(std::move(a));
  BOOST_TEST(!a.valid());
  BOOST_TEST(b.get() == raw);
  int released = b.release();
  BOOST_TEST(!b.valid());
  BOOST_TEST(::fcntl(released, F_GETFD) >= 0);  // still open
  ::close(released);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(os_file)

BOOST_AUTO_TEST_CASE(atomic_write_replaces_whole_file_and_leaves_no_temp) {
  TempDir d;
  std::string p = d.path + "/state.json";
  os::write_file_atomic(p, "first", 0600);
  os::write_file_atomic(p, "second version", 0600);
  BOOST_TEST(os::read_file(p) == "second version");
  struct stat st;
  BOOST_REQUIRE(::stat(p.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  int entries = 0;
  std::string listing;
  DIR* dir = ::opendir(d.path.c_str());
  while (struct dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') {
      ++entries;
      listing += e->d_name;
    }
  ::closedir(dir);
  BOOST_TEST(entries == 1, "left behind: " << listing);
}

// Each replacement (an exchange with the old file, then its removal) shows
// a reader the old or the new text, never a missing or partial file.
BOOST_AUTO_TEST_CASE(atomic_write_is_whole_for_a_concurrent_reader) {
  TempDir d;
  const std::string p = d.path + "/state.json";
  const std::string a(3000, 'a'), b(5000, 'b');
  os::write_file_atomic(p, a, 0600);
  pid_t reader = ::fork();
  BOOST_REQUIRE(reader >= 0);
  if (reader == 0) {
    for (int i = 0; i < 2000; ++i) {
      std::optional<std::string> got;
      try {
        got = os::read_file_if_exists(p);
      } catch (...) {
        ::_exit(3);
      }
      if (!got) ::_exit(1);
      if (*got != a && *got != b) ::_exit(2);
    }
    ::_exit(0);
  }
  for (int i = 0; i < 400; ++i) os::write_file_atomic(p, i % 2 ? a : b, 0600);
  int status = 0;
  BOOST_REQUIRE(::waitpid(reader, &status, 0) == reader);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, "reader saw " << (WEXITSTATUS(status) == 1 ? "no file" : "a partial file"));
  DIR* dir = ::opendir(d.path.c_str());
  int entries = 0;
  while (struct dirent* e = ::readdir(dir)) entries += e->d_name[0] != '.';
  ::closedir(dir);
  BOOST_TEST(entries == 1);
}

BOOST_AUTO_TEST_CASE(read_missing_file) {
  BOOST_TEST(!os::read_file_if_exists("/nonexistent/rrun").has_value());
  BOOST_CHECK_THROW(os::read_file("/nonexistent/rrun"), os::SystemError);
}

BOOST_AUTO_TEST_CASE(remove_tree_does_not_follow_symlinks) {
  TempDir outside;
  os::write_file_atomic(outside.path + "/keep", "x");
  TempDir d;
  os::mkdir_p(d.path + "/a/b/c");
  os::write_file_atomic(d.path + "/a/b/c/f", "x");
  BOOST_REQUIRE(::symlink(outside.path.c_str(), (d.path + "/a/link").c_str()) == 0);
  os::remove_tree(d.path + "/a");
  BOOST_TEST(!os::path_exists(d.path + "/a"));
  BOOST_TEST(os::path_exists(outside.path + "/keep"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(os_proc)

BOOST_AUTO_TEST_CASE(start_time_identifies_a_process) {
  auto self = os::process_start_time(::getpid());
  BOOST_REQUIRE(self.has_value());
  BOOST_TEST(*self == *os::process_start_time(::getpid()));
  BOOST_TEST(os::process_state(::getpid()).value() == 'R');
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  BOOST_TEST(!os::process_start_time(child).has_value());
}

BOOST_AUTO_TEST_CASE(start_time_parses_names_with_spaces_and_parens) {
  TempDir d;
  os::mkdir_p(d.path + "/42");
  // comm "a) b (c" with the fields after it; starttime is field 22.
  std::string stat = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
  os::write_file_atomic(d.path + "/42/stat", stat);
  BOOST_TEST(os::process_start_time(42, d.path).value() == 987654u);
  BOOST_TEST(os::process_state(42, d.path).value() == 'S');
}

BOOST_AUTO_TEST_CASE(innermost_pid_is_the_last_of_nspid) {
  TempDir d;
  os::mkdir_p(d.path + "/42");
  os::mkdir_p(d.path + "/43");
  os::mkdir_p(d.path + "/44");
  os::write_file_atomic(d.path + "/42/status", "Name:\tsleep\nTgid:\t42\nNSpid:\t42\t7\t1\nNSpgid:\t42\t7\t1\n");
  os::write_file_atomic(d.path + "/43/status", "Name:\tsh\nNSpid:\t43\n");
  os::write_file_atomic(d.path + "/44/status", "Name:\told\nPid:\t44\n");  // before Linux 4.1
  BOOST_TEST(os::innermost_pid(42, d.path).value() == 1);
  BOOST_TEST(os::innermost_pid(43, d.path).value() == 43);
  BOOST_TEST(!os::innermost_pid(44, d.path).has_value());
  BOOST_TEST(!os::innermost_pid(45, d.path).has_value());
  BOOST_TEST(os::innermost_pid(::getpid()).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
