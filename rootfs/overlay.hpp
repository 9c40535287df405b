#pragma once
// Overlay mounts without root: the pure half (parsing, validation, the
// strings and argv given to the kernel and to fuse-overlayfs). The child
// half is in setup.cpp (OpKind::overlay), the fuse-overlayfs daemon in
// fuse_daemon.hpp.
//
// Two sources of overlays:
//   - spec mounts of type `overlay` (lowerdir=A:B, upperdir, workdir, any
//     other kernel option): paths are host paths, a relative one is
//     relative to the bundle;
//   - the root file system, with the annotation `rrun.rootfs.overlay`:
//       ephemeral            upper and work on a tmpfs private to the
//                            container, discarded with it
//       persistent:/ABS/DIR  upper = DIR/upper, work = DIR/work (created
//                            when missing); changes survive the container
//     lowerdir = root.path, which is never modified; with the annotation
//     `rrun.rootfs.overlay.lower` (images: the layers under the top one,
//     top first, `:`-separated, `\:` `\,` `\\` escaped as in lowerdir=)
//     lowerdir = root.path:LOWER... (root.path is then the image's top layer).
// `rrun.overlay.driver` = auto (default: the kernel, then fuse-overlayfs
// when the kernel refuses) | kernel | fuse applies to both.
//
// In a user namespace the kernel mount gets `userxattr` (Linux 5.11+):
// without it the mount succeeds but whiteouts and opaque directories are
// written as trusted.* xattrs the container can't set, and removing or
// renaming a lower directory fails with EIO later.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rrun/spec/spec.hpp>

namespace rrun::rootfs {

inline constexpr const char* kRootfsOverlayAnnotation = "rrun.rootfs.overlay";
inline constexpr const char* kOverlayDriverAnnotation = "rrun.overlay.driver";
inline constexpr const char* kRootfsOverlayLowerAnnotation = "rrun.rootfs.overlay.lower";
// How the root overlay shows its files' owners: "C:H:N[:C:H:N...]", the
// files of host ids H..H+N-1 shown as the container's ids C..C+N-1 (and
// what the container writes as those stored as them); ids outside show as
// nobody. One annotation for uids, one for gids, both or neither. Only
// fuse-overlayfs can (its uidmapping/gidmapping options): the kernel
// overlay in a user namespace shows the ids its mappings give, and idmapped
// mounts need privileges a rootless caller lacks. The YAML front-end sets
// them for `user: keep`, to show a rootfs laid out for the usual rootless
// mapping (0 = you, 1.. = your subordinate range) owned by root.
inline constexpr const char* kRootfsOverlayUidmapAnnotation = "rrun.rootfs.overlay.uidmapping";
inline constexpr const char* kRootfsOverlayGidmapAnnotation = "rrun.rootfs.overlay.gidmapping";

enum class OverlayDriver { automatic, kernel, fuse };

const char* overlay_driver_name(OverlayDriver d);

// The value of `rrun.overlay.driver` ("" = not set = auto). Throws os::Error
// naming the annotation for anything else.
OverlayDriver parse_overlay_driver(const std::string& value);

struct RootOverlay {
  enum class Mode { none, ephemeral, persistent };
  Mode mode = Mode::none;
  std::string dir;  // persistent: the absolute directory holding upper/ and work/
};

// The value of `rrun.rootfs.overlay` ("" = not set). Throws os::Error
// naming the annotation: unknown mode, a directory checked_persistent_dir
// refuses.
RootOverlay parse_rootfs_overlay(const std::string& value);

// DIR of `persistent:DIR` as the overlay takes it (trailing `/` dropped).
// Throws os::Error saying what is wrong, for the caller to name the value:
// not absolute, `/`, or a `,` or `:` in it. The YAML front-end checks its
// `overlay:` with it, so that `spec --from` refuses what create would.
std::string checked_persistent_dir(std::string dir);

// The value of `rrun.rootfs.overlay.lower`: absolute directories, top
// first. Throws os::Error naming the annotation: empty, a relative or empty
// directory. Whether they exist is for the planner.
std::vector<std::string> parse_rootfs_overlay_lower(const std::string& value);
// The value for `dirs` (escaped as in lowerdir=).
std::string format_rootfs_overlay_lower(const std::vector<std::string>& dirs);

// A spec overlay mount's data, split.
struct OverlayData {
  std::vector<std::string> lowerdirs;  // top first, as in lowerdir=
  std::string upperdir;
  std::string workdir;
  bool userxattr = false;
  std::vector<std::string> other;  // every other option, in order (kernel only)
};

// Parses the comma-separated data of a spec overlay mount (`where` names it
// in errors: "mounts[2].options"). lowerdir is required; upperdir and
// workdir go together; relative paths are made absolute against `base`.
// `\:` and `\,` escape a colon and a comma in a path.
OverlayData parse_overlay_data(const std::string& data, const std::string& base, const std::string& where);

// The data string for mount(2): lowerdir, upperdir, workdir, the other
// options, and `userxattr` when `in_userns` (or when it was given).
std::string kernel_overlay_data(const OverlayData& d, bool in_userns);

// The argv of fuse-overlayfs, serving an already mounted /dev/fuse fd:
// PATH -f -o lowerdir=...,upperdir=...,workdir=... /dev/fd/FD. Kernel-only
// options are not passed. `squash_to_root`: every file shows as the
// container's root's, and copy-ups are made as it (for lower layers whose
// owners the user namespace does not map).
// `uidmapping`, `gidmapping`: fuse-overlayfs's options of those names
// (fuse_overlay_idmapping), passed when not empty.
std::vector<std::string> fuse_overlayfs_argv(const std::string& binary, const OverlayData& d, int fuse_fd,
                                             bool squash_to_root = false, const std::string& uidmapping = "",
                                             const std::string& gidmapping = "");

// "C:H:N[:C:H:N...]" (kRootfsOverlayUidmapAnnotation) as mappings
// {container_id C, host_id H, size N}; throws os::Error naming `where`.
std::vector<spec::IdMapping> parse_overlay_idmap(const std::string& value, const std::string& where);

// fuse-overlayfs's uidmapping= (or gidmapping=) value "SEEN:SHOWN:N:..." for
// a daemon in the container's user namespace, whose mappings are
// `container_map`: a file it sees owned by SEEN (a host id through that
// map) is shown as SHOWN, as `shown` maps that host id. "" when the two
// have no host id in common.
std::string fuse_overlay_idmapping(const std::vector<spec::IdMapping>& shown,
                                   const std::vector<spec::IdMapping>& container_map);

// fuse-overlayfs is looked up in `path_env` (rrun's own PATH; when unset,
// /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin); "" when not
// found as an executable file.
std::string find_fuse_overlayfs(const char* path_env);
// The executable regular file NAME in the colon-separated `path_env` (the
// usual sbin and bin directories when null), or "" when there is none.
std::string find_program(const std::string& name, const char* path_env);

// A lower layer's files must belong to ids the container's user namespace
// maps: the kernel overlay copies a file up as its owner, and an unmapped
// owner fails every copy-up with EOVERFLOW ("Value too large for defined
// data type"). A file and its owner, as host ids.
struct FileOwner {
  std::string path;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// The first id of `files` that the maps (host side) do not cover.
struct UnmappedOwner {
  std::string path;
  const char* kind = "uid";  // "uid" or "gid"
  uint32_t id = 0;
};
std::optional<UnmappedOwner> find_unmapped_owner(const std::vector<FileOwner>& files,
                                                 const std::vector<spec::IdMapping>& uid_map,
                                                 const std::vector<spec::IdMapping>& gid_map);

// DIR itself and its entries (lstat, links not followed; entries that
// vanish or cannot be read are skipped): the cheap sample of a lower layer.
std::vector<FileOwner> top_level_owners(const std::string& dir);

}  // namespace rrun::rootfs
