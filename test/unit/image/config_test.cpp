#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <rrun/image/config.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

using namespace rrun;
using namespace rrun::image;
using Strings = std::vector<std::string>;

namespace {

std::string data(const std::string& name) {
  return os::read_file(std::string(RRUN_TEST_DATA) + "/" + name);
}

std::string sha(char c) {
  return "sha256:" + std::string(64, c);
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const os::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(image_config)

BOOST_AUTO_TEST_CASE(config_fields) {
  ImageConfig c = parse_image_config(data("image_config.json"), "image config x");
  BOOST_TEST(c.os == "linux");
  BOOST_TEST(c.architecture == "amd64");
  BOOST_TEST(c.entrypoint == Strings{"/docker-entrypoint.sh"}, boost::test_tools::per_element());
  BOOST_TEST(c.cmd == (Strings{"nginx", "-g", "daemon off;"}), boost::test_tools::per_element());
  BOOST_TEST(c.env.size() == 2u);
  BOOST_TEST(c.env[1] == "LANG=C.UTF-8");
  BOOST_TEST(c.working_dir == "/srv");
  BOOST_TEST(c.user == "1000:1000");
  BOOST_TEST(c.stop_signal == "SIGQUIT");
  BOOST_TEST(c.diff_ids == (Strings{sha('d'), sha('e')}), boost::test_tools::per_element());

  // Docker's nulls are empty; no config at all is fine.
  c = parse_image_config(data("image_config_nulls.json"), "image config x");
  BOOST_TEST(c.variant == "v7");
  BOOST_TEST(c.entrypoint.empty());
  BOOST_TEST(c.cmd.empty());
  BOOST_TEST(c.env.empty());
  c = parse_image_config(R"({"os":"linux"})", "x");
  BOOST_TEST(c.diff_ids.empty());
}

BOOST_AUTO_TEST_CASE(bad_configs) {
  const std::string what = "image config " + sha('a');
  auto err = [&](const std::string& json) { return error_of([&] { parse_image_config(json, what); }); };
  BOOST_TEST(err("{").find(what + ": not valid JSON") == 0);
  BOOST_TEST(err("[]") == what + ": not a JSON object");
  BOOST_TEST(contains(err(R"({"config":{"Env":"A=1"}})"), "config.Env: expected an array of strings"));
  BOOST_TEST(contains(err(R"({"config":{"Cmd":[1]}})"), "config.Cmd: expected an array of strings"));
  BOOST_TEST(contains(err(R"({"config":{"Env":["A=1","B=x\u0000y"]}})"), "config.Env[1]: contains a NUL byte"));
  BOOST_TEST(
      contains(err(R"({"config":{"Entrypoint":["/bin/sh","a\u0000"]}})"), "config.Entrypoint[1]: contains a NUL byte"));
  BOOST_TEST(contains(err(R"({"config":{"User":0}})"), "config.User: expected a string"));
  BOOST_TEST(contains(err(R"({"config":[]})"), "config: expected an object"));
  BOOST_TEST(contains(err(R"({"rootfs":{"diff_ids":["md5:x"]}})"), "rootfs.diff_ids[0]"));
  BOOST_TEST(contains(err(std::string(5 << 20, ' ')), "larger than 4 MiB"));
}

BOOST_AUTO_TEST_CASE(manifests) {
  Manifest m = parse_manifest(data("docker_manifest.json"), "manifest x");
  BOOST_TEST((manifest_kind(data("docker_manifest.json"), "x") == ManifestKind::image));
  BOOST_TEST(m.config_digest == sha('a'));
  BOOST_TEST(m.config_size == 1463u);
  BOOST_REQUIRE(m.layers.size() == 2u);
  BOOST_TEST(m.layers[0].digest == sha('b'));
  BOOST_TEST(m.layers[0].size == 49557601u);
  BOOST_TEST(m.layers[0].media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip");
  BOOST_TEST(m.layers[1].diff_id.empty());

  m = parse_manifest(data("oci_manifest.json"), "manifest x");
  BOOST_REQUIRE(m.layers.size() == 3u);
  BOOST_TEST(m.layers[1].media_type == "application/vnd.oci.image.layer.v1.tar");
  BOOST_TEST(m.layers[2].media_type == "application/vnd.oci.image.layer.v1.tar+zstd");

  BOOST_TEST((manifest_kind(data("oci_manifest_no_media_type.json"), "x") == ManifestKind::image));
  BOOST_TEST(parse_manifest(data("oci_manifest_no_media_type.json"), "x").layers.empty());
  BOOST_TEST((manifest_kind(data("oci_index.json"), "x") == ManifestKind::index));
  BOOST_TEST((manifest_kind(data("docker_list_arm.json"), "x") == ManifestKind::index));
  BOOST_TEST((manifest_kind(R"({"manifests":[]})", "x") == ManifestKind::index));
}

BOOST_AUTO_TEST_CASE(bad_manifests) {
  auto err = [](const std::string& json) { return error_of([&] { parse_manifest(json, "manifest m"); }); };
  std::string e = err(data("schema1_manifest.json"));
  BOOST_TEST(e.find("manifest m: a Docker schema 1 manifest") == 0);
  BOOST_TEST(contains(e, "push the image again"));
  BOOST_TEST(contains(err(R"({"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"})"), "schema 1"));
  BOOST_TEST(contains(err(data("oci_index.json")), "an index, not an image manifest"));
  BOOST_TEST(contains(err(R"({"mediaType":"text/html"})"), "media type \"text/html\" is not an image manifest"));
  BOOST_TEST(contains(err(R"({"schemaVersion":2})"), "neither an image manifest"));
  const std::string cfg = R"("config":{"digest":")" + sha('a') + R"(","size":10})";
  BOOST_TEST(contains(err(R"({"layers":[]})"), "config: missing"));
  BOOST_TEST(contains(err(R"({"config":{"digest":"sha256:12","size":1},"layers":[]})"), "config.digest"));
  BOOST_TEST(contains(err(R"({"config":{"digest":")" + sha('a') + R"(","size":99999999},"layers":[]})"),
                      "config.size: larger than 4 MiB"));
  BOOST_TEST(contains(err("{" + cfg + R"(,"layers":{}})"), "layers: expected an array"));
  BOOST_TEST(contains(err("{" + cfg + R"(,"layers":[{"digest":")" + sha('b') + R"(","size":-1}]})"),
                      "layers[0].size: expected a non-negative integer"));
  BOOST_TEST(
      contains(err("{" + cfg +
                   R"(,"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":")" +
                   sha('b') + R"(","size":1}]})"),
               "a foreign layer"));
  BOOST_TEST(contains(
      err("{" + cfg + R"(,"layers":[{"mediaType":"application/x-helm","digest":")" + sha('b') + R"(","size":1}]})"),
      "layers[0].mediaType: media type \"application/x-helm\" is not a layer"));
  BOOST_TEST(contains(err(R"({"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":")" + sha('a') +
                          R"(","size":1},"layers":[]})"),
                      "not a container image"));
  // Bounded: too many layers.
  std::string many = "{" + cfg + R"(,"layers":[)";
  for (int i = 0; i < 1001; ++i)
    many += std::string(i ? "," : "") + R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
            sha('b') + R"(","size":1})";
  BOOST_TEST(contains(err(many + "]}"), "layers: more than 1000 entries"));
}

BOOST_AUTO_TEST_CASE(platforms) {
  const std::string index = data("oci_index.json");
  BOOST_TEST(pick_platform(index, {"linux", "amd64", ""}, "x") == sha('b'));
  BOOST_TEST(pick_platform(index, {"linux", "arm64", "v8"}, "x") == sha('a'));
  std::string e = error_of([&] { pick_platform(index, {"linux", "riscv64", ""}, "index i"); });
  BOOST_TEST(e == "index i: no image for linux/riscv64 (the index has linux/arm64/v8, linux/amd64)");

  const std::string list = data("docker_list_arm.json");
  // The exact variant; an arm64 entry without a variant is v8; an older
  // arm variant when there is no better one; never another OS.
  BOOST_TEST(pick_platform(list, {"linux", "arm", "v7"}, "x") == sha('b'));
  BOOST_TEST(pick_platform(list, {"linux", "arm", "v6"}, "x") == sha('c'));
  BOOST_TEST(pick_platform(list, {"linux", "arm64", "v8"}, "x") == sha('d'));
  BOOST_TEST(pick_platform(list, {"linux", "s390x", ""}, "x") == sha('e'));
  BOOST_TEST(contains(error_of([&] {
                        pick_platform(list, {"linux", "amd64", ""}, "x");
                      }),
                      "no image for linux/amd64 (the index has linux/arm/v5, linux/arm/v7, linux/arm/v6, "
                      "linux/arm64, linux/s390x, windows/amd64)"));
  // One entry without a platform (an OCI layout's index) is that image.
  const std::string one = R"({"manifests":[{"digest":")" + sha('f') + R"(","size":1}]})";
  BOOST_TEST(pick_platform(one, {"linux", "amd64", ""}, "x") == sha('f'));
  BOOST_TEST(contains(error_of([] {
                        pick_platform(R"({"manifests":[{"digest":"sha256:1"}]})", {"linux", "amd64", ""}, "x");
                      }),
                      "manifests[0].digest"));
}

BOOST_AUTO_TEST_CASE(host) {
  Platform p = host_platform();
  BOOST_TEST(p.os == "linux");
#if defined(__x86_64__)
  BOOST_TEST(p.architecture == "amd64");
  BOOST_TEST(p.variant.empty());
#elif defined(__aarch64__)
  BOOST_TEST(p.architecture == "arm64");
  BOOST_TEST(p.variant == "v8");
#endif
}

BOOST_AUTO_TEST_SUITE_END()
