// pull_image and ensure_image on OCI layouts written here (the registry
// side is test/integration/test_image_pull.sh): the record, the platform of
// an index, verification, and a failed pull leaving nothing in the store.

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <rrun/image/config.hpp>
#include <rrun/image/digest.hpp>
#include <rrun/image/pull.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "../temp_dir.hpp"

using namespace rrun;
using namespace rrun::image;

namespace {

const char* const kLayerTar = "application/vnd.oci.image.layer.v1.tar";

// An OCI layout under construction.
struct Layout {
  std::string dir;
  std::vector<std::string> entries;  // index.json's manifests

  explicit Layout(std::string d) : dir(std::move(d)) {
    os::mkdir_p(dir + "/blobs/sha256");
    os::write_file_atomic(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  }
  std::string put(const std::string& data) {
    std::string d = sha256_of(data);
    os::write_file_atomic(dir + "/blobs/sha256/" + digest_hex(d), data);
    return d;
  }
  std::string path(const std::string& digest) const { return dir + "/blobs/sha256/" + digest_hex(digest); }
  // An image of these layer contents (the store never looks inside a blob).
  std::string image(const std::vector<std::string>& layers, const std::string& arch = "amd64") {
    std::string diff_ids, descs;
    for (const std::string& l : layers) {
      std::string d = put(l);
      diff_ids += std::string(diff_ids.empty() ? "" : ",") + "\"" + d + "\"";
      descs += std::string(descs.empty() ? "" : ",") + R"({"mediaType":")" + kLayerTar + R"(","digest":")" + d +
               R"(","size":)" + std::to_string(l.size()) + "}";
    }
    std::string config =
        R"({"architecture":")" + arch + R"(","os":"linux","rootfs":{"type":"layers","diff_ids":[)" + diff_ids + "]}}";
    std::string cd = put(config);
    return put(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{)"
               R"("mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
               cd + R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[)" + descs + "]}");
  }
  std::string index(const std::vector<std::pair<std::string, std::string>>& arch_manifests) {
    std::string m;
    for (const auto& [arch, d] : arch_manifests)
      m += std::string(m.empty() ? "" : ",") +
           R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d +
           R"(","size":1,"platform":{"os":"linux","architecture":")" + arch + R"("}})";
    return put(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" + m + "]}");
  }
  void name(const std::string& digest, const std::string& tag) {
    entries.push_back(R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + digest +
                      R"(","size":1,"annotations":{"org.opencontainers.image.ref.name":")" + tag + R"("}})");
    std::string all;
    for (const std::string& e : entries) all += (all.empty() ? "" : ",") + e;
    os::write_file_atomic(dir + "/index.json", R"({"schemaVersion":2,"manifests":[)" + all + "]}");
  }
};

// A failed pull leaves nothing in the store's tmp/.
bool tmp_is_empty(const Store& store) {
  return std::filesystem::is_empty(store.root() + "/tmp");
}

std::string pull_error(const Store& store, const std::string& ref) {
  Progress none = Progress::none();
  try {
    pull_image(store, parse_ref(ref), PullOptions{}, none);
  } catch (const os::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(image_pull)

BOOST_AUTO_TEST_CASE(oci_layout_into_the_store) {
  test::TempDir t;
  Layout l(t.path + "/layout");
  std::string m = l.image({"layer one", "layer two!"});
  l.name(m, "v1");
  Store store(t.path + "/store");
  Progress none = Progress::none();

  ImageRecord r = pull_image(store, parse_ref("oci:" + l.dir + ":v1"), PullOptions{}, none);
  BOOST_TEST(r.name == "oci:" + l.dir + ":v1");
  BOOST_TEST(r.manifest_digest == m);
  BOOST_REQUIRE(r.layers.size() == 2u);
  BOOST_TEST(r.layers[0].digest == sha256_of("layer one"));
  BOOST_TEST(r.layers[0].diff_id == sha256_of("layer one"));
  BOOST_TEST(r.layers[1].size == 10u);
  BOOST_TEST(r.layers[1].media_type == kLayerTar);
  BOOST_TEST(store.has_blob(m));
  BOOST_TEST(store.has_blob(r.config_digest));
  BOOST_TEST(store.read_blob(r.layers[1].digest) == "layer two!");
  BOOST_TEST(r.size == os::read_file(l.path(m)).size() + os::read_file(l.path(r.config_digest)).size() + 19);
  BOOST_REQUIRE(store.find_image(r.name));
  BOOST_TEST(store.find_image(r.name)->manifest_digest == m);

  // ensure_image: the record, without reading the layout (gone now).
  os::remove_tree(l.dir);
  ImageRecord again = ensure_image(store, parse_ref("oci:" + l.dir + ":v1"), PullOptions{}, none);
  BOOST_TEST(again.manifest_digest == m);
  // A name not in the store is pulled, and that fails without the layout.
  BOOST_TEST(pull_error(store, "oci:" + l.dir + ":v2").find("not an OCI image layout (no oci-layout)") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(index_in_a_layout) {
  test::TempDir t;
  Layout l(t.path + "/layout");
  std::string amd = l.image({"amd64 layer"}, "amd64");
  std::string arm = l.image({"arm64 layer"}, "arm64");
  l.name(l.index({{"arm64", arm}, {"amd64", amd}}), "multi");
  Store store(t.path + "/store");
  Progress none = Progress::none();
  Platform host = host_platform();
  if (host.architecture != "amd64" && host.architecture != "arm64") return;
  ImageRecord r = pull_image(store, parse_ref("oci:" + l.dir), PullOptions{}, none);
  BOOST_TEST(r.manifest_digest == (host.architecture == "amd64" ? amd : arm));
  BOOST_TEST(store.has_blob(sha256_of(host.architecture + " layer")));
  BOOST_TEST(!store.has_blob(sha256_of(std::string(host.architecture == "amd64" ? "arm64" : "amd64") + " layer")));
}

BOOST_AUTO_TEST_CASE(verified_and_nothing_half_written) {
  test::TempDir t;
  Layout l(t.path + "/layout");
  std::string good = l.image({"good layer"});
  l.name(good, "good");
  std::string bad = l.image({"bad layer!"});
  l.name(bad, "bad");
  std::string short_one = l.image({"short layer"});
  l.name(short_one, "short");
  Store store(t.path + "/store");

  // Same size, other bytes.
  os::write_file_atomic(l.path(sha256_of("bad layer!")), "BAD LAYER!");
  std::string e = pull_error(store, "oci:" + l.dir + ":bad");
  BOOST_TEST(e.find("pull oci:" + l.dir + ":bad: ") == 0u, e);
  BOOST_TEST(e.find("blob " + sha256_of("bad layer!") + ": digest mismatch") != std::string::npos, e);
  BOOST_TEST(!store.has_blob(sha256_of("bad layer!")));
  BOOST_TEST(tmp_is_empty(store));
  BOOST_TEST(!store.find_image("oci:" + l.dir + ":bad"));

  // Another size than the manifest's.
  os::write_file_atomic(l.path(sha256_of("short layer")), "short");
  e = pull_error(store, "oci:" + l.dir + ":short");
  BOOST_TEST(e.find("blob " + sha256_of("short layer") + ": 5 bytes in") != std::string::npos, e);
  BOOST_TEST(e.find("the manifest says 11") != std::string::npos, e);
  BOOST_TEST(tmp_is_empty(store));

  // A manifest that is not what index.json's digest says.
  os::write_file_atomic(l.path(good), os::read_file(l.path(good)) + " ");
  e = pull_error(store, "oci:" + l.dir + ":good");
  BOOST_TEST(e.find("manifest " + good + ": digest mismatch") != std::string::npos, e);

  // Several images and no name; a missing blob.
  e = pull_error(store, "oci:" + l.dir);
  BOOST_TEST(
      e.find("the layout holds 3 images (good, bad, short): name one as oci:" + l.dir + ":NAME") != std::string::npos,
      e);
  Layout l2(t.path + "/layout2");
  l2.name(sha256_of("nothing"), "x");
  e = pull_error(store, "oci:" + l2.dir + ":x");
  BOOST_TEST(e.find("blob " + sha256_of("nothing") + " is not in the layout") != std::string::npos, e);
}

BOOST_AUTO_TEST_SUITE_END()
