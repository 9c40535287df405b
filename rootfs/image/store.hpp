#pragma once
// The image store: content-addressed, per user, safe for concurrent rrun
// processes of that user (flock), never half-written (everything is made
// under tmp/ and renamed into place).
//
//   ROOT/                        $XDG_DATA_HOME/rrun, ~/.local/share/rrun; root: /var/lib/rrun
//     blobs/sha256/HEX           verified blobs: manifests, configs, compressed layers
//     layers/VARIANT/HEX         a layer blob HEX unpacked (layer.hpp: VARIANT = whiteout
//                                format + the id mapping it was written with)
//     images.json                the image records (below), replaced atomically
//     tmp/                       work in progress (removed on failure; `prune` removes leftovers),
//                                named PREFIX@PID-START-PIDNS-N after the process making it
//     locks/                     flock files: "images", "blob-HEX", "layer-VARIANT-HEX", "prune";
//                                `prune` removes idle ones (lock() copes) and skips a
//                                layer whose lock is held
//
// Nothing here loads libcurl, libarchive or libcrypto: reading records and
// finding unpacked layers is what a cached `image:` sandbox does at start.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rrun/os/fd.hpp>

namespace rrun::image {

struct LayerRef {
  std::string digest;      // the blob (compressed) digest, as in the manifest
  std::string media_type;  // ...tar, ...tar+gzip, ...tar+zstd (OCI or Docker)
  uint64_t size = 0;
  std::string diff_id;  // the uncompressed digest from the image config ("" when unknown)
};

struct ImageRecord {
  std::string name;             // ImageRef::canonical()
  std::string manifest_digest;  // of the platform manifest (not the index)
  std::string config_digest;
  std::vector<LayerRef> layers;  // bottom first, as in the manifest
  uint64_t size = 0;             // sum of the blobs (manifest, config, layers)
  int64_t pulled = 0;            // unix seconds
  int64_t last_used = 0;
};

class Store {
 public:
  // $XDG_DATA_HOME/rrun, else $HOME/.local/share/rrun; /var/lib/rrun for root
  // (euid 0 outside a user namespace).
  static std::string default_root();

  // Creates ROOT and its subdirectories (0700) when missing.
  explicit Store(std::string root);
  const std::string& root() const { return root_; }

  std::string blob_path(std::string_view digest) const;
  bool has_blob(std::string_view digest) const;
  // A small blob (manifest, config) read whole, at most `limit` bytes
  // (os::Error naming the digest when larger or missing).
  std::string read_blob(std::string_view digest, size_t limit = 4 << 20) const;

  // Writes one blob: bytes stream in through write(), hashed on the way;
  // commit() checks the digest (and size, unless `size` is -1) and renames
  // the file into blobs/; a mismatch throws os::Error ("blob sha256:X:
  // digest mismatch: got sha256:Y") and removes the file. Destroyed without
  // commit: the partial file is removed.
  class BlobWriter {
   public:
    BlobWriter(BlobWriter&&) noexcept;
    ~BlobWriter();
    void write(const void* data, size_t n);
    uint64_t written() const { return written_; }
    std::string commit(std::string_view expected_digest, int64_t size = -1);

   private:
    friend class Store;
    BlobWriter(const Store& store, std::string tmp_path, os::UniqueFd fd);
    struct Hash;
    const Store* store_;
    std::string tmp_path_;
    os::UniqueFd fd_;
    Hash* hash_ = nullptr;
    uint64_t written_ = 0;
    bool committed_ = false;
  };
  BlobWriter new_blob() const;
  // A blob already whole in memory (manifests): verified and written.
  void put_blob(std::string_view expected_digest, std::string_view data) const;

  // An exclusive lock on locks/NAME, held while the fd lives. Blocks; when
  // it has to wait (more than 0.2 s), says so once on stderr ("rrun: waiting
  // for another rrun using NAME"). A child forked while it is held shares it.
  os::UniqueFd lock(const std::string& name) const;

  // A fresh directory under tmp/ (for a layer being unpacked).
  std::string make_tmp_dir(const std::string& prefix) const;

  std::vector<ImageRecord> images() const;
  // By name (ImageRef::canonical()), or by a prefix of the manifest digest
  // (hex, at least 4 digits, "sha256:" optional; as `rrun images` shows it).
  // A prefix of two different images throws os::Error listing them.
  std::optional<ImageRecord> find_image(const std::string& name_or_id) const;
  // Adds or replaces the record of r.name (under the "images" lock);
  // `pulled` 0 becomes now, `last_used` 0 becomes `pulled`. Its blobs must
  // be in the store (checked: os::Error when a concurrent prune took one).
  void record_image(const ImageRecord& r) const;
  // last_used = now (written at most once a minute per image: a cached
  // `image:` start calls it).
  void touch_image(const std::string& name) const;
  // Removes the record (by ID: every name of that image); its blobs and
  // layers stay until prune(). False when there was none.
  bool remove_image(const std::string& name_or_id) const;

  struct PruneResult {
    uint64_t blobs = 0, layers = 0, bytes = 0;
    uint64_t tmp = 0;  // tmp/ leftovers removed (their bytes are in `bytes`)
  };
  // Removes every blob and unpacked layer that no record references, and
  // tmp/ leftovers of processes that are gone. `remove_dir` removes one
  // unpacked directory (layer.hpp's remove_unpacked: rootless layers hold
  // files of subordinate ids, removed inside a user namespace).
  PruneResult prune(void (*remove_dir)(const std::string& dir)) const;

 private:
  // Takes the "prune" lock shared, once, for the blobs this Store writes:
  // prune() takes it exclusively, so the blobs of a pull that has not yet
  // recorded its image are never pruned. Held until record_image() (which
  // references them) or the end of the Store and its copies.
  void hold_against_prune() const;

  std::string root_;
  mutable std::shared_ptr<os::UniqueFd> prune_guard_;
};

}  // namespace rrun::image
