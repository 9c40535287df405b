#pragma once
// Files of an image read from its unpacked layers (rootfs/image/layer.hpp)
// as the overlay will show them, before any container exists: the image's
// /etc/passwd and /etc/group for its config's `User`, and the image's files
// that a sandbox's generated /etc files replace.
//
// The layers are walked top first. In each, every component is looked up
// relative to its parent's fd without following a symbolic link (a link on
// the way is an error that says so: nothing outside a layer is read), a
// whiteout of the name ends the search (the file is absent), an opaque
// directory on the way hides the layers below. Whiteouts and opaque
// directories in the form the layers were unpacked in (layer.hpp
// WhiteoutFormat). Reads are bounded.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rrun/image/layer.hpp>

namespace rrun::cli {

struct ImageLayers {
  std::vector<std::string> dirs;  // top first
  image::WhiteoutFormat format = image::WhiteoutFormat::fuse;
};

// The file at the absolute `path` of the image: nullopt when absent. Throws
// os::Error naming `what` ("image X") when it is not a regular file, is
// larger than `limit`, or is reached through a symbolic link.
std::optional<std::string> read_image_file(const ImageLayers& layers, const std::string& path, const std::string& what,
                                           size_t limit = 1 << 20);

// The fields of a passwd or group line, empty ones kept.
std::vector<std::string> passwd_fields(std::string_view line);

// A user as an image config's `User` names it: "", "name", "uid",
// "uid:gid", "name:group", "uid:group", ...
struct ImageUser {
  uint32_t uid = 0, gid = 0;
  std::string home;  // from the passwd entry of uid, "" without one
};

// Resolves `user` in the image's /etc/passwd and /etc/group text (as
// read_image_file gives them, "" when absent): a name is looked up there; a
// uid alone takes its passwd entry's group (0 without an entry, as podman).
// Throws os::Error "WHAT: User \"x\": no user \"x\" in the image's /etc/passwd".
ImageUser resolve_image_user(const std::string& user, const std::string& passwd, const std::string& group,
                             const std::string& what);

}  // namespace rrun::cli
