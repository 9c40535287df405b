#include "config.hpp"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/spec/json_input.hpp>

#include "digest.hpp"
#include "media_types.hpp"

namespace rrun::image {

namespace {

using Json = nlohmann::json;

// Layers beyond any real image (docker stops at 127), and what keeps a
// hostile manifest from making rrun allocate without bound.
constexpr size_t kMaxLayers = 1000;
constexpr size_t kMaxIndexEntries = 1000;

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw os::Error(what + ": " + msg);
}

Json parse_json(std::string_view text, const std::string& what) {
  if (text.size() > media::kMaxDocument) bad(what, "larger than " + std::to_string(media::kMaxDocument >> 20) + " MiB");
  try {
    Json j = spec::parse_json_input<Json>(text, what);
    if (!j.is_object()) bad(what, "not a JSON object");
    return j;
  } catch (const Json::parse_error& e) {
    bad(what, "not valid JSON at byte " + std::to_string(e.byte));
  }
}

// obj[key] as a string: "" when absent or null.
std::string string_at(const Json& obj, const char* key, const std::string& what, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_string()) bad(what, path + key + ": expected a string");
  return it->get<std::string>();
}

// obj[key] as strings: empty when absent or null (Docker writes null).
std::vector<std::string> strings_at(const Json& obj, const char* key, const std::string& what,
                                    const std::string& path) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) bad(what, path + key + ": expected an array of strings");
  for (const Json& v : *it) {
    if (!v.is_string()) bad(what, path + key + ": expected an array of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

const Json* object_at(const Json& obj, const char* key, const std::string& what, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  if (!it->is_object()) bad(what, path + key + ": expected an object");
  return &*it;
}

const Json& array_at(const Json& obj, const char* key, const std::string& what, size_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) bad(what, std::string(key) + ": expected an array");
  if (it->size() > max) bad(what, std::string(key) + ": more than " + std::to_string(max) + " entries");
  return *it;
}

// A descriptor's digest and size ("config", "layers[2]").
std::string descriptor_digest(const Json& d, const std::string& what, const std::string& path) {
  if (!d.is_object()) bad(what, path + ": expected an object");
  std::string digest = string_at(d, "digest", what, path + ".");
  check_digest(digest, what + ": " + path + ".digest");
  return digest;
}

uint64_t descriptor_size(const Json& d, const std::string& what, const std::string& path) {
  auto it = d.find("size");
  if (it == d.end() || !it->is_number_integer() || it->get<int64_t>() < 0)
    bad(what, path + ".size: expected a non-negative integer");
  return it->get<uint64_t>();
}

bool is_schema1(std::string_view media_type, const Json& j) {
  if (media_type.find("distribution.manifest.v1") != std::string_view::npos) return true;
  auto v = j.find("schemaVersion");
  return v != j.end() && v->is_number_integer() && v->get<int>() == 1;
}

void check_layer_media_type(const std::string& mt, const std::string& what, const std::string& path) {
  if (mt.find("foreign") != std::string::npos)
    bad(what, path + ": a foreign layer (" + mt + ", a Windows image?) cannot be pulled");
  // v1.tar, v1.tar+gzip, v1.tar+zstd and their nondistributable forms
  if (mt.starts_with("application/vnd.oci.image.layer."))
    for (const char* end : {".tar", ".tar+gzip", ".tar+zstd"})
      if (mt.ends_with(end)) return;
  if (mt == media::kDockerLayer) return;
  bad(what, path + ": media type \"" + mt + "\" is not a layer rrun can unpack (a tar, tar+gzip or tar+zstd)");
}

std::string platform_name(const std::string& os, const std::string& arch, const std::string& variant) {
  return os + "/" + arch + (variant.empty() ? "" : "/" + variant);
}

// How well an index entry's platform suits `p`: 0 not at all; an exact
// variant beats none, which beats an older arm variant (v6 runs on v7).
int platform_score(const Platform& p, const std::string& os, const std::string& arch, const std::string& variant) {
  if (os != p.os || arch != p.architecture) return 0;
  if (variant == p.variant) return 3;
  if (variant.empty() || (p.architecture == "arm64" && variant == "v8")) return 2;
  if (p.architecture == "arm" && variant.size() == 2 && variant[0] == 'v' && p.variant.size() == 2 &&
      variant[1] < p.variant[1])
    return 1;
  return 0;
}

}  // namespace

ImageConfig parse_image_config(std::string_view json, const std::string& what) {
  Json j = parse_json(json, what);
  ImageConfig c;
  c.os = string_at(j, "os", what, "");
  c.architecture = string_at(j, "architecture", what, "");
  c.variant = string_at(j, "variant", what, "");
  if (const Json* cfg = object_at(j, "config", what, "")) {
    c.entrypoint = strings_at(*cfg, "Entrypoint", what, "config.");
    c.cmd = strings_at(*cfg, "Cmd", what, "config.");
    c.env = strings_at(*cfg, "Env", what, "config.");
    c.working_dir = string_at(*cfg, "WorkingDir", what, "config.");
    c.user = string_at(*cfg, "User", what, "config.");
    c.stop_signal = string_at(*cfg, "StopSignal", what, "config.");
  }
  if (const Json* rootfs = object_at(j, "rootfs", what, "")) {
    c.diff_ids = strings_at(*rootfs, "diff_ids", what, "rootfs.");
    if (c.diff_ids.size() > kMaxLayers) bad(what, "rootfs.diff_ids: more than " + std::to_string(kMaxLayers));
    for (size_t i = 0; i < c.diff_ids.size(); ++i)
      check_digest(c.diff_ids[i], what + ": rootfs.diff_ids[" + std::to_string(i) + "]");
  }
  return c;
}

Platform host_platform() {
  struct utsname u {};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return {"linux", "amd64", ""};
  if (m == "aarch64" || m == "arm64") return {"linux", "arm64", "v8"};
  if (m.rfind("armv", 0) == 0 && m.size() >= 5) return {"linux", "arm", std::string("v") + m[4]};
  if (m == "i386" || m == "i486" || m == "i586" || m == "i686") return {"linux", "386", ""};
  if (m == "ppc64le") return {"linux", "ppc64le", ""};
  if (m == "s390x") return {"linux", "s390x", ""};
  if (m == "riscv64") return {"linux", "riscv64", ""};
  if (m == "mips64") return {"linux", "mips64", ""};
  if (m == "loongarch64") return {"linux", "loong64", ""};
  return {"linux", m, ""};
}

ManifestKind manifest_kind(std::string_view json, const std::string& what) {
  Json j = parse_json(json, what);
  std::string mt = string_at(j, "mediaType", what, "");
  if (is_schema1(mt, j))
    bad(what,
        "a Docker schema 1 manifest, which rrun does not read (deprecated since 2017): push the image again "
        "with a current docker, podman or skopeo");
  if (mt == media::kOciIndex || mt == media::kDockerList) return ManifestKind::index;
  if (mt == media::kOciManifest || mt == media::kDockerManifest) return ManifestKind::image;
  if (!mt.empty()) bad(what, "media type \"" + mt + "\" is not an image manifest or index");
  if (j.contains("manifests")) return ManifestKind::index;
  if (j.contains("layers")) return ManifestKind::image;
  bad(what, "neither an image manifest (no \"layers\") nor an index (no \"manifests\")");
}

Manifest parse_manifest(std::string_view json, const std::string& what) {
  if (manifest_kind(json, what) != ManifestKind::image) bad(what, "an index, not an image manifest");
  Json j = parse_json(json, what);
  Manifest m;
  auto cfg = j.find("config");
  if (cfg == j.end()) bad(what, "config: missing");
  m.config_digest = descriptor_digest(*cfg, what, "config");
  m.config_size = descriptor_size(*cfg, what, "config");
  if (m.config_size > media::kMaxDocument)
    bad(what, "config.size: larger than " + std::to_string(media::kMaxDocument >> 20) + " MiB");
  std::string cmt = string_at(*cfg, "mediaType", what, "config.");
  if (!cmt.empty() && cmt != media::kOciConfig && cmt != media::kDockerConfig)
    bad(what, "config.mediaType \"" + cmt + "\": not a container image (an artifact?)");
  const Json& layers = array_at(j, "layers", what, kMaxLayers);
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string path = "layers[" + std::to_string(i) + "]";
    LayerRef l;
    l.digest = descriptor_digest(layers[i], what, path);
    l.size = descriptor_size(layers[i], what, path);
    l.media_type = string_at(layers[i], "mediaType", what, path + ".");
    check_layer_media_type(l.media_type, what, path + ".mediaType");
    m.layers.push_back(std::move(l));
  }
  return m;
}

std::string pick_platform(std::string_view index_json, const Platform& p, const std::string& what) {
  Json j = parse_json(index_json, what);
  const Json& entries = array_at(j, "manifests", what, kMaxIndexEntries);
  std::string best, seen, unplatformed;
  int best_score = 0, without_platform = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string path = "manifests[" + std::to_string(i) + "]";
    std::string digest = descriptor_digest(entries[i], what, path);
    const Json* plat = object_at(entries[i], "platform", what, path + ".");
    if (!plat) {
      ++without_platform;
      unplatformed = digest;
      continue;
    }
    std::string os = string_at(*plat, "os", what, path + ".platform.");
    std::string arch = string_at(*plat, "architecture", what, path + ".platform.");
    std::string variant = string_at(*plat, "variant", what, path + ".platform.");
    if (os == "unknown") continue;  // buildx attestations
    int score = platform_score(p, os, arch, variant);
    if (score > best_score) best_score = score, best = digest;
    std::string name = platform_name(os, arch, variant);
    if (seen.find(name) == std::string::npos) seen += (seen.empty() ? "" : ", ") + name;
  }
  if (!best.empty()) return best;
  // An index of one image without a platform (an OCI layout's own index).
  if (without_platform == 1 && seen.empty()) return unplatformed;
  bad(what, "no image for " + platform_name(p.os, p.architecture, p.variant) + " (the index has " +
                (seen.empty() ? std::string("no platforms") : seen) + ")");
}

}  // namespace rrun::image
