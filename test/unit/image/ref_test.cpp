#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <string>

#include <rrun/image/ref.hpp>
#include <rrun/os/error.hpp>

using namespace rrun;
using namespace rrun::image;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_ref(text);
  } catch (const os::Error& e) {
    return e.what();
  }
  return "";
}

const std::string kDigest = "sha256:" + std::string(64, 'a');

}  // namespace

BOOST_AUTO_TEST_SUITE(image_ref)

BOOST_AUTO_TEST_CASE(docker_hub_defaults) {
  for (const char* text : {"debian", "docker://debian", "docker.io/debian", "docker://docker.io/library/debian:latest",
                           "index.docker.io/library/debian"}) {
    ImageRef r = parse_ref(text);
    BOOST_TEST_INFO(text);
    BOOST_TEST((r.transport == Transport::docker));
    BOOST_TEST(r.registry == "registry-1.docker.io");
    BOOST_TEST(r.repository == "library/debian");
    BOOST_TEST(r.tag == "latest");
    BOOST_TEST(r.digest.empty());
    BOOST_TEST(r.canonical() == "docker://docker.io/library/debian:latest");
  }
  ImageRef r = parse_ref("debian:bookworm");
  BOOST_TEST(r.tag == "bookworm");
  BOOST_TEST(r.canonical() == "docker://docker.io/library/debian:bookworm");
  // A name with a slash has no library/.
  r = parse_ref("docker://bitnami/redis:7.2");
  BOOST_TEST(r.repository == "bitnami/redis");
  BOOST_TEST(r.canonical() == "docker://docker.io/bitnami/redis:7.2");
}

BOOST_AUTO_TEST_CASE(registries) {
  ImageRef r = parse_ref("docker://127.0.0.1:5000/tests/busybox:v1");
  BOOST_TEST(r.registry == "127.0.0.1:5000");
  BOOST_TEST(r.repository == "tests/busybox");
  BOOST_TEST(r.tag == "v1");
  BOOST_TEST(r.canonical() == "docker://127.0.0.1:5000/tests/busybox:v1");
  // localhost and a dotted host without a port; one component stays one.
  r = parse_ref("localhost/busybox");
  BOOST_TEST(r.registry == "localhost");
  BOOST_TEST(r.repository == "busybox");
  BOOST_TEST(r.tag == "latest");
  r = parse_ref("quay.io/podman/stable");
  BOOST_TEST(r.registry == "quay.io");
  BOOST_TEST(r.repository == "podman/stable");
  r = parse_ref("[::1]:5000/x");
  BOOST_TEST(r.registry == "[::1]:5000");
  // A first component without `.`/`:` is part of the name, on docker.io.
  r = parse_ref("myuser/app");
  BOOST_TEST(r.registry == "registry-1.docker.io");
  BOOST_TEST(r.repository == "myuser/app");
  // Separators in names.
  BOOST_TEST(parse_ref("ab_c__d---e/f.g").repository == "ab_c__d---e/f.g");
}

BOOST_AUTO_TEST_CASE(digests) {
  ImageRef r = parse_ref("127.0.0.1:5000/x@" + kDigest);
  BOOST_TEST(r.digest == kDigest);
  BOOST_TEST(r.tag.empty());
  BOOST_TEST(r.canonical() == "docker://127.0.0.1:5000/x@" + kDigest);
  BOOST_TEST(parse_ref("debian@" + kDigest).canonical() == "docker://docker.io/library/debian@" + kDigest);
}

BOOST_AUTO_TEST_CASE(bad_docker_references) {
  std::string e = error_of("Debian");
  BOOST_TEST(e.find("invalid image reference \"Debian\"") == 0);
  BOOST_TEST(e.find("upper-case") != std::string::npos);
  BOOST_TEST(e.find("expected docker://HOST/NAME:TAG") != std::string::npos);
  BOOST_TEST(error_of("").find("empty") != std::string::npos);
  BOOST_TEST(error_of("docker://").find("empty") != std::string::npos);
  BOOST_TEST(error_of("debian:").find("tag \"\"") != std::string::npos);
  BOOST_TEST(error_of("debian:a/b").find("registry \"debian:a\" is not HOST[:PORT]") != std::string::npos);
  BOOST_TEST(error_of("debian:" + std::string(129, 'x')).find("at most 128") != std::string::npos);
  BOOST_TEST(error_of("debian:-x").find("tag") != std::string::npos);
  BOOST_TEST(error_of("debian@sha256:abc").find("64 hex") != std::string::npos);
  BOOST_TEST(error_of("debian@sha256:" + std::string(64, 'A')).find("64 hex") != std::string::npos);
  BOOST_TEST(error_of("debian@sha512:" + std::string(128, 'a')).find("only sha256") != std::string::npos);
  BOOST_TEST(error_of("debian:12@" + kDigest).find("both a tag and a digest") != std::string::npos);
  BOOST_TEST(error_of("a//b").find("name component \"\"") != std::string::npos);
  BOOST_TEST(error_of("a_-b").find("name component") != std::string::npos);
  BOOST_TEST(error_of("bad host!.io/x").find("registry") != std::string::npos);
  BOOST_TEST(error_of("127.0.0.1:port/x").find("registry") != std::string::npos);
  BOOST_TEST(error_of("docker:debian").find("docker://") != std::string::npos);
  BOOST_TEST(error_of("containers-storage:x").find("not supported") != std::string::npos);
  BOOST_TEST(error_of(std::string(300, 'a')).find("255") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(layouts_and_archives) {
  ImageRef r = parse_ref("oci:/srv/layout:v1");
  BOOST_TEST((r.transport == Transport::oci));
  BOOST_TEST(r.path == "/srv/layout");
  BOOST_TEST(r.tag == "v1");
  BOOST_TEST(r.canonical() == "oci:/srv/layout:v1");
  r = parse_ref("oci:/srv/./x/../layout/");
  BOOST_TEST(r.path == "/srv/layout");
  BOOST_TEST(r.tag.empty());
  BOOST_TEST(r.canonical() == "oci:/srv/layout");
  // Relative paths against the cwd.
  char cwd[4096];
  BOOST_REQUIRE(::getcwd(cwd, sizeof cwd));
  r = parse_ref("oci-archive:img.tar:latest");
  BOOST_TEST((r.transport == Transport::oci_archive));
  BOOST_TEST(r.path == std::string(cwd) + "/img.tar");
  BOOST_TEST(r.canonical() == "oci-archive:" + std::string(cwd) + "/img.tar:latest");
  r = parse_ref("docker-archive:/tmp/x.tar");
  BOOST_TEST((r.transport == Transport::docker_archive));
  BOOST_TEST(r.canonical() == "docker-archive:/tmp/x.tar");
  // The name may hold `:` (docker-archive:FILE:REPO:TAG).
  r = parse_ref("docker-archive:/tmp/x.tar:busybox:1");
  BOOST_TEST(r.tag == "busybox:1");
  BOOST_TEST(error_of("oci:").find("the path is empty") != std::string::npos);
  BOOST_TEST(error_of("oci:/x:").find("empty") != std::string::npos);
  BOOST_TEST(error_of("oci:/x:a b").find("white space") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
