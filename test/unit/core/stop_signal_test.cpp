// The container's stop signal (an image's StopSignal, core/container.hpp).

#include <csignal>

#include <boost/test/unit_test.hpp>

#include <rrun/core/container.hpp>
#include <rrun/os/error.hpp>

using namespace rrun;

BOOST_AUTO_TEST_SUITE(core_stop_signal)

BOOST_AUTO_TEST_CASE(annotation_or_sigterm) {
  BOOST_TEST(core::stop_signal({}) == SIGTERM);
  BOOST_TEST(core::stop_signal({{"org.opencontainers.image.stopSignal", "SIGQUIT"}}) == SIGQUIT);
  BOOST_TEST(core::stop_signal({{"org.opencontainers.image.stopSignal", "2"}}) == SIGINT);
  BOOST_TEST(core::stop_signal({{"org.opencontainers.image.stopSignal", "RTMIN+3"}}) == SIGRTMIN + 3);
  try {
    core::stop_signal({{"org.opencontainers.image.stopSignal", "SIGNOPE"}});
    BOOST_FAIL("no error");
  } catch (const os::Error& e) {
    BOOST_TEST(std::string(e.what()).rfind("annotations.org.opencontainers.image.stopSignal: invalid signal", 0) == 0,
               e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
