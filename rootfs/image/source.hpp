#pragma once
// Where the blobs of an image come from (a registry, an OCI layout, a
// docker-archive), and the one sequence that takes an image from any of
// them into the store (internal to rootfs/image).

#include <cstdint>
#include <string>

#include "progress.hpp"
#include "store.hpp"

namespace rrun::image {

class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // A manifest or index by digest, whole (at most media::kMaxDocument);
  // the caller verifies it.
  virtual std::string fetch_document(const std::string& digest) = 0;
  // Streams blob `digest` (`size` bytes) into `w`, calling
  // progress.advance; the caller commits, which verifies.
  virtual void fetch_blob(const std::string& digest, uint64_t size, Store::BlobWriter& w, Progress& progress) = 0;
};

// The manifest a reference names: an image manifest or an index, with
// the digest it must have.
struct TopManifest {
  std::string digest;
  std::string body;
};

// Verifies `top`, picks the host's platform when it is an index, and puts
// the platform manifest, the config and every layer the store lacks in
// it (each blob under its lock), then records the image as `name`.
ImageRecord import_image(const Store& store, const std::string& name, const TopManifest& top, BlobSource& src,
                         Progress& progress);

// A document's digest check: os::Error "WHAT: digest mismatch: expected X, got Y".
void verify_document(const std::string& what, const std::string& body, const std::string& digest);

}  // namespace rrun::image
