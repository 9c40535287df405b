#include <boost/test/unit_test.hpp>

#include <string>

#include <rrun/image/digest.hpp>
#include <rrun/os/error.hpp>

using namespace rrun;
using image::sha256_of;

namespace {

const std::string kEmpty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string error_of(std::string_view d, const std::string& what) {
  try {
    image::check_digest(d, what);
  } catch (const os::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(image_digest)

BOOST_AUTO_TEST_CASE(known_vectors) {
  BOOST_TEST(sha256_of("") == kEmpty);
  BOOST_TEST(sha256_of("abc") == kAbc);
  // FIPS 180-2's long vector: a million 'a's, fed in uneven pieces.
  image::Sha256 h;
  std::string chunk(999, 'a');
  size_t left = 1000000;
  while (left) {
    size_t n = std::min(left, chunk.size());
    h.update(chunk.data(), n);
    left -= n;
  }
  BOOST_TEST(h.finish() == "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(incremental_equals_whole) {
  image::Sha256 h;
  h.update("a");
  h.update("");
  h.update("bc");
  BOOST_TEST(h.finish() == kAbc);
}

BOOST_AUTO_TEST_CASE(finish_once) {
  image::Sha256 h;
  h.finish();
  BOOST_CHECK_THROW(h.finish(), os::Error);
  BOOST_CHECK_THROW(h.update("x"), os::Error);
}

BOOST_AUTO_TEST_CASE(valid_digests) {
  BOOST_TEST(image::valid_digest(kEmpty));
  BOOST_TEST(!image::valid_digest(""));
  BOOST_TEST(!image::valid_digest("sha256:"));
  BOOST_TEST(!image::valid_digest(kEmpty.substr(0, kEmpty.size() - 1)));  // 63 digits
  BOOST_TEST(!image::valid_digest(kEmpty + "0"));                         // 65
  BOOST_TEST(!image::valid_digest("sha512:" + kEmpty.substr(7)));         // other algorithm
  BOOST_TEST(!image::valid_digest("SHA256:" + kEmpty.substr(7)));
  BOOST_TEST(!image::valid_digest("sha256:E3B0" + kEmpty.substr(11)));  // upper case
  BOOST_TEST(!image::valid_digest("sha256:../" + kEmpty.substr(10)));   // a path
  BOOST_TEST(!image::valid_digest(kEmpty.substr(7)));                   // no algorithm
}

BOOST_AUTO_TEST_CASE(check_digest_names_the_thing) {
  BOOST_TEST(error_of(kAbc, "x").empty());
  BOOST_TEST(error_of("sha256:xyz", "layers[2].digest") ==
             "layers[2].digest: invalid digest \"sha256:xyz\": expected sha256: and 64 lower-case hex digits");
  // A hostile value is cut short in the message.
  BOOST_TEST(error_of(std::string(5000, 'a'), "d").size() < 200);
}

BOOST_AUTO_TEST_CASE(hex_of_a_digest) {
  BOOST_TEST(image::digest_hex(kAbc) == kAbc.substr(7));
  BOOST_TEST(image::digest_hex(kAbc.substr(7)) == kAbc.substr(7));
}

BOOST_AUTO_TEST_SUITE_END()
