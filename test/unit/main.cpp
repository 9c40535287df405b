#define BOOST_TEST_MODULE rrun
#include <boost/test/unit_test.hpp>
