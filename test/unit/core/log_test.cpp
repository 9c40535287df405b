#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <rrun/core/log.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

using namespace rrun;

namespace {

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(os::read_file(path));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logging)

BOOST_AUTO_TEST_CASE(line_formats) {
  std::string t = "2026-11-27T23:47:30.123456789Z";
  BOOST_TEST(core::format_log_line(core::LogFormat::json, core::LogLevel::error, "bad \"x\"", t) ==
             "{\"level\":\"error\",\"msg\":\"bad \\\"x\\\"\",\"time\":\"" + t + "\"}\n");
  BOOST_TEST(core::format_log_line(core::LogFormat::text, core::LogLevel::warning, "a \"b\"\nc", t) ==
             "time=\"" + t + "\" level=warning msg=\"a \\\"b\\\"\\nc\"\n");
  BOOST_CHECK(core::parse_log_format("json") == core::LogFormat::json);
  BOOST_CHECK(core::parse_log_format("text") == core::LogFormat::text);
  BOOST_CHECK_THROW(core::parse_log_format("xml"), os::Error);
}

BOOST_AUTO_TEST_CASE(log_file) {
  char tmpl[] = "/tmp/rrun-log-test.XXXXXX";
  BOOST_REQUIRE(::mkdtemp(tmpl));
  std::string path = std::string(tmpl) + "/log.json";
  core::set_log({path, core::LogFormat::json, false});
  core::log_debug("not shown");
  core::log_error("first");
  core::log_warn("second");
  core::set_log({path, core::LogFormat::json, true});
  core::log_debug("third");
  core::set_log({});
  core::log_error("not logged");
  auto lines = lines_of(path);
  BOOST_REQUIRE(lines.size() == 3u);
  auto j = nlohmann::json::parse(lines[0]);
  BOOST_TEST(j["level"] == "error");
  BOOST_TEST(j["msg"] == "first");
  BOOST_TEST(j["time"].get<std::string>().size() == 30u);
  BOOST_TEST(nlohmann::json::parse(lines[1])["level"] == "warning");
  BOOST_TEST(nlohmann::json::parse(lines[2])["msg"] == "third");
  os::remove_tree(tmpl);
}

BOOST_AUTO_TEST_SUITE_END()
