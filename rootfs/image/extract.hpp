#pragma once
// One layer tar (plain, gzip or zstd) extracted into a directory, entry by
// entry, never outside it (layer.hpp "Safety"): the part of layer.cpp that
// runs either in-process (root) or as root of the unpack's user namespace.
// libarchive reads, rrun writes (not archive_write_disk), so that every
// entry is made relative to the layer's directory fd.

#include <cstdint>
#include <functional>
#include <string>

namespace rrun::image {

// What becomes of an OCI whiteout (`.wh.NAME`, `.wh..wh..opq`).
enum class Whiteouts {
  keep,           // stays a `.wh.` file (fuse-overlayfs reads them so); opaque: user.fuseoverlayfs.opaque=y
  xattr_user,     // an empty NAME with user.overlay.whiteout; opaque: user.overlay.opaque=y
  xattr_trusted,  // the same with trusted.overlay.*
  apply,          // one flattened tree: NAME removed; opaque: the lower contents removed
};

struct ExtractOptions {
  std::string what;  // "layer sha256:...": the start of every error and warning
  Whiteouts whiteouts = Whiteouts::keep;
  bool squash = false;                    // every id written as 0 (a single mapping)
  std::string diff_id;                    // the uncompressed stream's digest; checked when not empty
  std::function<void(uint64_t)> on_read;  // bytes of the source consumed (progress)
};

// Loads libarchive once (dlopen); os::Error naming the package when missing.
void load_libarchive();

// Reads a layer from `src` (any fd: the blob, or a socket it is fed
// through) and makes its entries under `root` (a directory opened
// O_RDONLY). Throws os::Error / os::SystemError "WHAT: entry `NAME`: ...".
void extract_layer(int src, int root, const ExtractOptions& o);

// "rrun: warning: MSG" on stderr (the library's only output; no log here).
void warn(const std::string& msg);

}  // namespace rrun::image
