#pragma once
// Layers unpacked once into the store, as the user's own user namespace sees
// them, in the form of whiteouts the overlay in use understands; and the
// flattening of an image into one directory (`rrun unpack`).
//
// Owners: rootless with a subordinate range, the unpack runs in a user
// namespace mapped like a default rootless container (0 -> you, 1.. -> the
// first range, written by newuidmap/newgidmap), so a container with that
// mapping sees the image's real owners; with a single mapping (no range)
// every id but 0 becomes 0, and a warning says so once. Root: the image's
// ids as they are, no user namespace.
//
// Whiteouts (an OCI layer's `.wh.NAME` and `.wh..wh..opq`), without mknod:
//   overlay_user     kernel overlay with `userxattr` (rootless): an empty
//                    file NAME with user.overlay.whiteout, its directory
//                    marked user.overlay.opaque=x; an opaque directory
//                    user.overlay.opaque=y
//   overlay_trusted  the same with trusted.overlay.* (root, no user namespace)
//   fuse             fuse-overlayfs: the `.wh.NAME` files kept as they are in
//                    the tar; an opaque directory user.fuseoverlayfs.opaque=y
//                    (fuse-overlayfs 1.10 misreads a `.wh..wh..opq` file of a
//                    lower layer once the directory was listed)
// The kernel forms need Linux 6.7+ (xattr whiteouts in lower layers):
// choose_whiteout_format probes, and falls back to fuse.
//
// Safety: entries are created relative to the layer's directory fd, never
// following a symlink (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS for
// parents, O_NOFOLLOW for leaves); `..`, absolute names and hard links
// outside the layer are refused; device nodes are skipped with a warning
// (rootless cannot make them).

#include <cstdint>
#include <string>
#include <vector>

#include <rrun/spec/spec.hpp>

#include "progress.hpp"
#include "store.hpp"

namespace rrun::image {

enum class WhiteoutFormat { overlay_user, overlay_trusted, fuse };
const char* whiteout_format_name(WhiteoutFormat f);  // "user", "trusted", "fuse"

// How unpacked files get their owners.
struct UnpackIds {
  bool userns = false;                    // unpack inside a new user namespace with these maps
  std::vector<spec::IdMapping> uid_map;   // container id -> host id, as in a spec
  std::vector<spec::IdMapping> gid_map;
  bool squash = false;                    // single mapping: ids but 0 become 0 (warned)
};

// The ids for the caller: root -> none; rootless with ranges -> 0 -> uid,
// 1.. -> the first range of each (as a default rootless container);
// rootless without -> the single mapping (squash).
UnpackIds unpack_ids_for_caller();

// The format for a container whose overlay driver is `driver`
// ("kernel", "fuse" or "" for auto) and which runs rootless or not. Probes
// the kernel (once per process, a throw-away overlay mount in a user
// namespace) when the kernel may be used.
WhiteoutFormat choose_whiteout_format(bool rootless, const std::string& driver);

// "user-0.1000.1-1.100000.65536" — the directory under layers/ for a
// format and an id mapping (a change of /etc/subuid makes a new variant);
// "user-uMAP-gMAP" when the two maps differ, "trusted" or "fuse" alone for
// root. No ':' or ',': the directories go into overlay's lowerdir=.
std::string layer_variant(WhiteoutFormat f, const UnpackIds& ids);

// The unpacked directories of `img`'s layers, top first (the order of
// overlay's lowerdir=), unpacking (under the layer's lock, into tmp/ then
// renamed) those not yet in the store. Blobs must be in the store. Throws
// os::Error naming the layer on a bad tar.
std::vector<std::string> prepare_layers(const Store& store, const ImageRecord& img, WhiteoutFormat f,
                                        const UnpackIds& ids, Progress& progress);

// Only the lookup: the directories when every layer is already unpacked,
// else empty. Touches no library (the cached `image:` start).
std::vector<std::string> unpacked_layers(const Store& store, const ImageRecord& img, WhiteoutFormat f,
                                         const UnpackIds& ids);

// Applies `img`'s layers in order into `dir` (created, must be empty or
// absent): whiteouts remove what lower layers made. For `rrun unpack`.
void flatten_image(const Store& store, const ImageRecord& img, const std::string& dir, const UnpackIds& ids,
                   Progress& progress);

// Removes a directory made by the functions above, inside a user namespace
// with the mapping that made it when the caller cannot remove it directly.
void remove_unpacked(const std::string& dir);

}  // namespace rrun::image
