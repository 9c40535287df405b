#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <rrun/core/id.hpp>
#include <rrun/os/error.hpp>

using namespace rrun;

BOOST_AUTO_TEST_SUITE(container_id)

BOOST_AUTO_TEST_CASE(valid_ids) {
  for (std::string id :
       {"a", "abc", "A-b_c+d.e", ".a", "..a", "a..", "0", "-a", "+", "_", "...", "4f1e0c2a9b7d", "slurm-123.0"}) {
    BOOST_TEST_INFO("id " << id);
    BOOST_CHECK_NO_THROW(core::validate_container_id(id));
    BOOST_CHECK(core::is_valid_container_id(id));
  }
  BOOST_CHECK(core::is_valid_container_id(std::string(core::kMaxContainerIdLength, 'x')));
}

BOOST_AUTO_TEST_CASE(invalid_ids) {
  for (const std::string& id :
       std::vector<std::string>{"", ".", "..", "a/b", "/", "../x", "a b", "a\nb", "a:b", "a@b", "a*", "caf\xc3\xa9",
                                std::string("a\0b", 3), std::string(core::kMaxContainerIdLength + 1, 'x')}) {
    BOOST_TEST_INFO("id " << id);
    BOOST_CHECK(!core::is_valid_container_id(id));
    BOOST_CHECK_THROW(core::validate_container_id(id), os::Error);
  }
}

BOOST_AUTO_TEST_CASE(messages) {
  auto message = [](const std::string& id) {
    try {
      core::validate_container_id(id);
    } catch (const os::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  BOOST_TEST(message("a/b") == "invalid container id \"a/b\": only letters, digits and _ + - . are allowed");
  BOOST_TEST(message("..") == "invalid container id \"..\": \".\" and \"..\" are not allowed");
  BOOST_TEST(message("") == "container id cannot be empty");
  // Control characters never break the one-line message.
  BOOST_TEST(message("a\nb") == "invalid container id \"a\\x0ab\": only letters, digits and _ + - . are allowed");
  BOOST_TEST(message(std::string(300, 'x')).find("longer than 200 characters") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
