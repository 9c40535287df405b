#include <boost/test/unit_test.hpp>

#include <string>

#include <rrun/image/auth.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "../temp_dir.hpp"

using namespace rrun;
using namespace rrun::image;

BOOST_AUTO_TEST_SUITE(image_auth)

BOOST_AUTO_TEST_CASE(challenges) {
  auto c = parse_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull")");
  BOOST_REQUIRE(c);
  BOOST_TEST(c->scheme == "bearer");
  BOOST_TEST(c->params["realm"] == "https://auth.docker.io/token");
  BOOST_TEST(c->params["service"] == "registry.docker.io");
  BOOST_TEST(c->params["scope"] == "repository:library/debian:pull");
  c = parse_challenge(R"(Basic realm="Registry Realm")");
  BOOST_REQUIRE(c);
  BOOST_TEST(c->scheme == "basic");
  BOOST_TEST(c->params["realm"] == "Registry Realm");
  // Unquoted values, spaces after commas, escapes, upper-case names.
  c = parse_challenge(R"(BEARER Realm=http://t/x, Service="a \"b\"")");
  BOOST_REQUIRE(c);
  BOOST_TEST(c->scheme == "bearer");
  BOOST_TEST(c->params["realm"] == "http://t/x");
  BOOST_TEST(c->params["service"] == "a \"b\"");
  BOOST_TEST(!parse_challenge(""));
}

BOOST_AUTO_TEST_CASE(auth_files) {
  test::TempDir t;
  const std::string a = t.path + "/auth.json", d = t.path + "/config.json";
  // "alice:s3cr:t" and "bob:pw"
  os::write_file_atomic(a, R"({"auths":{"127.0.0.1:5000":{"auth":"YWxpY2U6czNjcjp0"},
                              "quay.io/team":{"auth":"Ym9iOnB3"}}})");
  os::write_file_atomic(d, R"({"auths":{"https://index.docker.io/v1/":{"auth":"Ym9iOnB3"},
                              "quay.io":{"auth":"YWxpY2U6czNjcjp0"}},
                              "credHelpers":{"ghcr.io":"gh"}})");
  auto s = find_credentials_in({t.path + "/missing.json", a, d}, "127.0.0.1:5000", "x/y");
  BOOST_REQUIRE(s.found);
  BOOST_TEST(s.found->user == "alice");
  BOOST_TEST(s.found->password == "s3cr:t");
  BOOST_TEST(s.found->source == a);
  // The docker URL key is docker.io.
  s = find_credentials_in({a, d}, "docker.io", "library/debian");
  BOOST_REQUIRE(s.found);
  BOOST_TEST(s.found->user == "bob");
  BOOST_TEST(s.found->source == d);
  // A namespaced entry wins over the host's, whatever the file order.
  s = find_credentials_in({d, a}, "quay.io", "team/app");
  BOOST_REQUIRE(s.found);
  BOOST_TEST(s.found->user == "alice");
  s = find_credentials_in({a}, "quay.io", "team/app");
  BOOST_REQUIRE(s.found);
  BOOST_TEST(s.found->user == "bob");
  s = find_credentials_in({a}, "quay.io", "other/app");
  BOOST_TEST(!s.found);
  // A helper is named, not run.
  s = find_credentials_in({a, d}, "ghcr.io", "x");
  BOOST_TEST(!s.found);
  BOOST_TEST(s.helper == d + " names the credential helper docker-credential-gh for ghcr.io, which rrun does not run");

  os::write_file_atomic(a, R"({"auths":{"h":{"auth":"!!!"}}})");
  std::string e;
  try {
    find_credentials_in({a}, "h", "x");
  } catch (const os::Error& x) {
    e = x.what();
  }
  BOOST_TEST(e == a + ": auths.\"h\".auth is not base64 of USER:PASSWORD");
  os::write_file_atomic(a, "{");
  BOOST_CHECK_THROW(find_credentials_in({a}, "h", "x"), os::Error);
}

BOOST_AUTO_TEST_CASE(creds_flag) {
  Credentials c = parse_creds_flag("u:p:q");
  BOOST_TEST(c.user == "u");
  BOOST_TEST(c.password == "p:q");
  BOOST_TEST(c.source == "--creds");
  BOOST_CHECK_THROW(parse_creds_flag("u"), os::Error);
  BOOST_CHECK_THROW(parse_creds_flag(":p"), os::Error);
}

BOOST_AUTO_TEST_SUITE_END()
