#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include <rrun/image/progress.hpp>
#include <rrun/os/file.hpp>

#include "../temp_dir.hpp"

using namespace rrun;
using namespace rrun::image;

namespace {

// What `f` writes to stdout (fd 1 pointed at a file meanwhile).
template <typename F>
std::string stdout_of(F&& f) {
  test::TempDir t;
  const std::string path = t.path + "/out";
  os::UniqueFd file = os::open_file(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  os::UniqueFd saved(::dup(STDOUT_FILENO));
  BOOST_REQUIRE(saved.valid());
  ::fflush(stdout);
  BOOST_REQUIRE(::dup2(file.get(), STDOUT_FILENO) == STDOUT_FILENO);
  f();
  ::dup2(saved.get(), STDOUT_FILENO);
  return os::read_file(path);
}

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t i = s.find(part); i != std::string::npos; i = s.find(part, i + 1)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(image_progress)

BOOST_AUTO_TEST_CASE(one_line_rewritten_and_throttled) {
  std::string out = stdout_of([] {
    Progress p(true);
    p.start("layer 1/2 sha256:0123456789ab", 3 << 20);
    // A thousand reads in a few microseconds: at most 10 redraws a second.
    for (int i = 0; i < 1000; ++i) p.advance(3 << 10);
    p.done();
    p.note("Writing manifest");
  });
  BOOST_TEST(out.find("\rlayer 1/2 sha256:0123456789ab\x1b[K") == 0u);
  BOOST_TEST(count(out, "\r") <= 4u, "redraws: " << count(out, "\r"));
  BOOST_TEST(out.find("\rlayer 1/2 sha256:0123456789ab done, 2.9 MiB in ") != std::string::npos, out);
  BOOST_TEST(out.find("B/s\x1b[K\n") != std::string::npos, out);
  BOOST_TEST(out.ends_with("\rWriting manifest\x1b[K\n"), out);
}

BOOST_AUTO_TEST_CASE(redraw_shows_bytes_total_and_rate) {
  std::string out = stdout_of([] {
    Progress p(true);
    p.start("layer 2/2", 10 << 20);
    ::usleep(120'000);
    p.advance(5 << 20);
  });
  BOOST_TEST(out.find("\rlayer 2/2 5.0 MiB / 10.0 MiB, ") != std::string::npos, out);
  BOOST_TEST(out.find(" MiB/s\x1b[K") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(disabled_writes_nothing) {
  std::string out = stdout_of([] {
    Progress p = Progress::none();
    p.start("x", 1);
    p.advance(1);
    p.done();
    p.note("y");
    // Not a terminal (a file): disabled; --quiet too.
    BOOST_TEST(!Progress::for_stdout(false).enabled());
    BOOST_TEST(!Progress::for_stdout(true).enabled());
  });
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_SUITE_END()
