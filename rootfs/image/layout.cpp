#include "layout.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/json_input.hpp>

#include "archive_dir.hpp"
#include "config.hpp"
#include "digest.hpp"
#include "media_types.hpp"
#include "source.hpp"

namespace rrun::image {

namespace {

using Json = nlohmann::json;

constexpr const char* kRefName = "org.opencontainers.image.ref.name";

// The size of a regular file (a FIFO or a device in a layout would block
// or never end).
uint64_t file_size(const os::UniqueFd& fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) os::throw_errno("stat " + os::quote(path));
  if (!S_ISREG(st.st_mode)) throw os::Error(os::quote(path) + " is not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

// A document read whole, at most media::kMaxDocument, only from a regular file.
std::string read_document(const std::string& path, const std::string& what) {
  try {
    std::optional<std::string> text = os::read_input_file_if_exists(path, media::kMaxDocument);
    if (!text) throw os::SystemError(ENOENT, "open " + os::quote(path));
    return std::move(*text);
  } catch (...) {
    os::rethrow_with_context(what);
  }
}

// Calls f(data, n) for each piece of the file, in order.
template <typename F>
void read_chunks(const os::UniqueFd& fd, const std::string& path, F&& f) {
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) os::throw_errno("read " + os::quote(path));
    if (n == 0) return;
    f(buf.data(), static_cast<size_t>(n));
  }
}

// Streams the file into the writer.
void copy_file(const std::string& path, uint64_t size, const std::string& what, Store::BlobWriter& w,
               Progress& progress) {
  os::UniqueFd fd = os::open_file(path, O_RDONLY | O_NONBLOCK);
  uint64_t have = file_size(fd, path);
  if (have != size)
    throw os::Error(what + ": " + std::to_string(have) + " bytes in " + os::quote(path) + ", the manifest says " +
                    std::to_string(size));
  read_chunks(fd, path, [&](const char* data, size_t n) {
    w.write(data, n);
    progress.advance(n);
  });
}

// Blobs that are files: `path_of(digest)` names the file ("" when there is
// none).
class FileSource : public BlobSource {
 public:
  FileSource(std::string where, std::function<std::string(const std::string&)> path_of)
      : where_(std::move(where)), path_of_(std::move(path_of)) {}

  std::string fetch_document(const std::string& digest) override {
    return read_document(path(digest), "manifest " + digest);
  }
  void fetch_blob(const std::string& digest, uint64_t size, Store::BlobWriter& w, Progress& progress) override {
    copy_file(path(digest), size, "blob " + digest, w, progress);
  }

 private:
  std::string path(const std::string& digest) {
    check_digest(digest, "blob digest");
    std::string p = path_of_(digest);
    if (p.empty()) throw os::Error("blob " + digest + " is not in " + where_);
    return p;
  }
  std::string where_;
  std::function<std::string(const std::string&)> path_of_;
};

std::string blob_name(const std::string& digest) {
  return "blobs/sha256/" + digest_hex(digest);
}

// The descriptor of index.json for `name` (the one image when empty).
std::string select_manifest(const std::string& index_json, const std::string& name, const std::string& where) {
  Json j;
  try {
    j = spec::parse_json_input<Json>(index_json, "index.json");
  } catch (const Json::parse_error& e) {
    throw os::Error("index.json is not valid JSON at byte " + std::to_string(e.byte));
  }
  auto entries = j.find("manifests");
  if (!j.is_object() || entries == j.end() || !entries->is_array())
    throw os::Error("index.json has no \"manifests\" array");
  std::vector<std::string> names;
  std::string found;
  int matches = 0;
  for (const Json& e : *entries) {
    if (!e.is_object() || !e.contains("digest") || !e["digest"].is_string()) continue;
    std::string ref_name;
    if (auto a = e.find("annotations"); a != e.end() && a->is_object())
      if (auto n = a->find(kRefName); n != a->end() && n->is_string()) ref_name = n->get<std::string>();
    if (!ref_name.empty()) names.push_back(ref_name);
    if (name.empty() || ref_name == name) found = e["digest"].get<std::string>(), ++matches;
  }
  std::string listed;
  for (const std::string& n : names) listed += (listed.empty() ? "" : ", ") + n;
  if (name.empty() && matches > 1)
    throw os::Error("the layout holds " + std::to_string(matches) + " images (" +
                    (listed.empty() ? "unnamed" : listed) + "): name one as " + where + ":NAME");
  if (matches == 0)
    throw os::Error(std::string("the layout ") +
                    (name.empty() ? "holds no image" : "has no image named \"" + name + "\"") +
                    (listed.empty() ? "" : " (it has " + listed + ")"));
  if (matches > 1) throw os::Error("index.json names " + std::to_string(matches) + " images \"" + name + "\"");
  check_digest(found, "index.json: the digest");
  return found;
}

// Pulls from a layout whose files `path_of(NAME)` finds ("" when absent).
ImageRecord pull_layout(const Store& store, const ImageRef& ref, const std::string& where,
                        const std::function<std::string(const std::string&)>& path_of, Progress& progress) {
  std::string layout = path_of("oci-layout");
  std::string index = path_of("index.json");
  if (layout.empty() || index.empty())
    throw os::Error(std::string("not an OCI image layout (no ") + (layout.empty() ? "oci-layout" : "index.json") +
                    "); make one with `skopeo copy ... oci:DIR:TAG`");
  FileSource src("the layout", [&](const std::string& digest) { return path_of(blob_name(digest)); });
  TopManifest top;
  top.digest = select_manifest(read_document(index, "index.json"), ref.tag, where);
  top.body = src.fetch_document(top.digest);
  return import_image(store, ref.canonical(), top, src, progress);
}

// --- docker-archive ---

struct DockerEntry {
  std::string config;
  std::vector<std::string> layers;
};

// "debian:12" and "docker.io/library/debian:12" name one image.
std::string short_repo_tag(std::string s) {
  for (const char* p : {"docker.io/library/", "docker.io/"})
    if (s.starts_with(p)) return s.substr(std::string(p).size());
  return s;
}

DockerEntry select_docker_entry(const std::string& manifest_json, const std::string& name, const std::string& where) {
  Json j;
  try {
    j = spec::parse_json_input<Json>(manifest_json, "manifest.json");
  } catch (const Json::parse_error& e) {
    throw os::Error("manifest.json is not valid JSON at byte " + std::to_string(e.byte));
  }
  if (!j.is_array() || j.empty()) throw os::Error("manifest.json is not a non-empty array");
  std::vector<const Json*> matches;
  std::string listed;
  for (const Json& e : j) {
    if (!e.is_object()) throw os::Error("manifest.json: an entry is not an object");
    bool match = name.empty();
    if (auto tags = e.find("RepoTags"); tags != e.end() && tags->is_array())
      for (const Json& t : *tags)
        if (t.is_string()) {
          listed += (listed.empty() ? "" : ", ") + t.get<std::string>();
          match |= short_repo_tag(t.get<std::string>()) == short_repo_tag(name);
        }
    if (match) matches.push_back(&e);
  }
  if (matches.size() != 1)
    throw os::Error(std::string("the archive ") +
                    (matches.empty() ? "has no image named \"" + name + "\""
                                     : "holds " + std::to_string(matches.size()) + " images") +
                    (listed.empty() ? "" : " (" + listed + ")") +
                    (matches.empty() ? "" : ": name one as " + where + ":REPO:TAG"));
  const Json& e = *matches[0];
  DockerEntry d;
  if (!e.contains("Config") || !e["Config"].is_string()) throw os::Error("manifest.json: no Config");
  d.config = e["Config"].get<std::string>();
  if (!e.contains("Layers") || !e["Layers"].is_array()) throw os::Error("manifest.json: no Layers");
  for (const Json& l : e["Layers"]) {
    if (!l.is_string()) throw os::Error("manifest.json: Layers: expected strings");
    d.layers.push_back(l.get<std::string>());
  }
  return d;
}

// The media type of a layer file from its first bytes.
const char* layer_media_type(const std::string& path) {
  os::UniqueFd fd = os::open_file(path, O_RDONLY);
  unsigned char m[4] = {};
  ssize_t n = ::read(fd.get(), m, sizeof m);
  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return media::kOciLayerGzip;
  if (n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) return media::kOciLayerZstd;
  return media::kOciLayerTar;
}

std::string sha256_of_file(const std::string& path) {
  Sha256 h;
  read_chunks(os::open_file(path, O_RDONLY), path, [&](const char* data, size_t n) { h.update(data, n); });
  return h.finish();
}

uint64_t size_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) os::throw_errno("stat " + os::quote(path));
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

ImageRecord pull_oci_layout(const Store& store, const ImageRef& ref, Progress& progress) {
  const std::string dir = ref.path;
  return pull_layout(
      store, ref, "oci:" + dir,
      [&](const std::string& name) {
        std::string p = dir + "/" + name;
        return os::path_exists(p) ? p : std::string();
      },
      progress);
}

ImageRecord pull_oci_archive(const Store& store, const ImageRef& ref, Progress& progress) {
  ExtractedArchive archive(store, ref.path);
  return pull_layout(
      store, ref, "oci-archive:" + ref.path, [&](const std::string& name) { return archive.resolve(name); }, progress);
}

// A docker-archive becomes an OCI image: its config as it is, its layer
// files (a plain tar's digest is its diff_id, which commit() checks; a
// compressed one is hashed first) and a manifest written for them.
ImageRecord pull_docker_archive(const Store& store, const ImageRef& ref, Progress& progress) {
  const std::string where = "docker-archive:" + ref.path;
  ExtractedArchive archive(store, ref.path);
  std::string manifest_path = archive.resolve("manifest.json");
  if (manifest_path.empty()) throw os::Error("no manifest.json in the archive: not a `docker save` archive");
  DockerEntry entry = select_docker_entry(read_document(manifest_path, "manifest.json"), ref.tag, where);

  std::map<std::string, std::string> files;  // digest -> file
  std::string config_path = archive.resolve(entry.config);
  if (config_path.empty()) throw os::Error("the config " + entry.config + " is not in the archive");
  std::string config_json = read_document(config_path, entry.config);
  std::string config_digest = sha256_of(config_json);
  ImageConfig config = parse_image_config(config_json, entry.config);
  if (config.diff_ids.size() != entry.layers.size())
    throw os::Error(entry.config + " has " + std::to_string(config.diff_ids.size()) + " rootfs.diff_ids for " +
                    std::to_string(entry.layers.size()) + " layers");
  files[config_digest] = config_path;

  nlohmann::ordered_json m;
  m["schemaVersion"] = 2;
  m["mediaType"] = media::kOciManifest;
  m["config"] = {{"mediaType", media::kOciConfig}, {"digest", config_digest}, {"size", config_json.size()}};
  m["layers"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < entry.layers.size(); ++i) {
    std::string path = archive.resolve(entry.layers[i]);
    if (path.empty()) throw os::Error("the layer " + entry.layers[i] + " is not in the archive");
    const char* type = layer_media_type(path);
    std::string digest = type == std::string(media::kOciLayerTar) ? config.diff_ids[i] : sha256_of_file(path);
    files[digest] = path;
    m["layers"].push_back({{"mediaType", type}, {"digest", digest}, {"size", size_of(path)}});
  }
  TopManifest top;
  top.body = m.dump();
  top.digest = sha256_of(top.body);
  FileSource src("the archive", [&](const std::string& digest) {
    auto it = files.find(digest);
    return it == files.end() ? std::string() : it->second;
  });
  return import_image(store, ref.canonical(), top, src, progress);
}

}  // namespace rrun::image
