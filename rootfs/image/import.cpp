#include <time.h>

#include <rrun/os/error.hpp>

#include "config.hpp"
#include "digest.hpp"
#include "media_types.hpp"
#include "source.hpp"

namespace rrun::image {

namespace {

// "sha256:0123456789ab" — how progress lines name a blob.
std::string short_digest(const std::string& d) {
  return d.substr(0, 7 + 12);
}

// Puts blob `digest` in the store unless it is there. Under the lock
// blob-HEX: a second pull of the same blob waits for the first, then finds
// the blob and fetches nothing.
void put_blob_once(const Store& store, const std::string& digest, uint64_t size, BlobSource& src, Progress& progress,
                   const std::string& what) {
  if (store.has_blob(digest)) return;
  os::UniqueFd lock = store.lock("blob-" + digest_hex(digest));
  if (store.has_blob(digest)) return;
  Store::BlobWriter w = store.new_blob();
  progress.start(what + " " + short_digest(digest), size);
  src.fetch_blob(digest, size, w, progress);
  w.commit(digest, static_cast<int64_t>(size));
  progress.done();
}

// The platform manifest: `top` itself, or the host's entry of the index.
TopManifest platform_manifest(const Store& store, const TopManifest& top, BlobSource& src) {
  const std::string what = "manifest " + top.digest;
  if (manifest_kind(top.body, what) == ManifestKind::image) return top;
  TopManifest m;
  m.digest = pick_platform(top.body, host_platform(), "index " + top.digest);
  if (store.has_blob(m.digest)) {
    m.body = store.read_blob(m.digest, media::kMaxDocument);
    return m;
  }
  m.body = src.fetch_document(m.digest);
  verify_document("manifest " + m.digest, m.body, m.digest);
  if (manifest_kind(m.body, "manifest " + m.digest) != ManifestKind::image)
    throw os::Error("index " + top.digest + ": its entry " + m.digest +
                    " is an index too (nested indexes are not supported)");
  return m;
}

}  // namespace

void verify_document(const std::string& what, const std::string& body, const std::string& digest) {
  std::string got = sha256_of(body);
  if (got != digest) throw os::Error(what + ": digest mismatch: expected " + digest + ", got " + got);
}

ImageRecord import_image(const Store& store, const std::string& name, const TopManifest& top, BlobSource& src,
                         Progress& progress) {
  verify_document("manifest " + top.digest, top.body, top.digest);
  TopManifest pm = platform_manifest(store, top, src);
  const std::string what = "manifest " + pm.digest;
  Manifest m = parse_manifest(pm.body, what);
  if (!store.has_blob(pm.digest)) store.put_blob(pm.digest, pm.body);

  // The config (parse_manifest bounds its size: it is read whole).
  put_blob_once(store, m.config_digest, m.config_size, src, progress, "config");
  const std::string config_json = store.read_blob(m.config_digest, media::kMaxDocument);
  ImageConfig config = parse_image_config(config_json, "image config " + m.config_digest);
  if (config.diff_ids.size() != m.layers.size())
    throw os::Error("image config " + m.config_digest + ": " + std::to_string(config.diff_ids.size()) +
                    " rootfs.diff_ids for the " + std::to_string(m.layers.size()) + " layers of " + what);

  ImageRecord r;
  r.name = name;
  r.manifest_digest = pm.digest;
  r.config_digest = m.config_digest;
  r.size = pm.body.size() + config_json.size();
  const std::string n = std::to_string(m.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    LayerRef l = m.layers[i];
    l.diff_id = config.diff_ids[i];
    put_blob_once(store, l.digest, l.size, src, progress, "layer " + std::to_string(i + 1) + "/" + n);
    r.size += l.size;
    r.layers.push_back(std::move(l));
  }
  r.pulled = r.last_used = ::time(nullptr);
  store.record_image(r);
  return r;
}

}  // namespace rrun::image
