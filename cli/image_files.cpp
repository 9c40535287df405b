// Files of an image read from its unpacked layers: image_files.hpp.

#include "image_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/text.hpp>

namespace rrun::cli {

namespace {

using image::WhiteoutFormat;

// The xattr namespace of the kernel forms ("user.overlay."), nullptr for fuse.
const char* xattr_prefix(WhiteoutFormat f) {
  switch (f) {
    case WhiteoutFormat::overlay_user:
      return "user.overlay.";
    case WhiteoutFormat::overlay_trusted:
      return "trusted.overlay.";
    case WhiteoutFormat::fuse:
      break;
  }
  return nullptr;
}

bool xattr_is(int fd, const std::string& name, std::string_view want) {
  char buf[8];
  ssize_t n = ::fgetxattr(fd, name.c_str(), buf, sizeof buf);
  return n >= 0 && std::string_view(buf, static_cast<size_t>(n)) == want;
}

bool xattr_exists(int fd, const std::string& name) {
  return ::fgetxattr(fd, name.c_str(), nullptr, 0) >= 0;
}

bool exists_at(int dir, const std::string& name) {
  return ::faccessat(dir, name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

// Whether `name` in the directory `dir` is a whiteout: a 0/0 character
// device (every driver), `.wh.NAME` beside it (fuse), an empty file with
// the overlay.whiteout xattr (the kernel's xattr form).
bool is_whiteout(int dir, const std::string& name, WhiteoutFormat f) {
  if (f == WhiteoutFormat::fuse && exists_at(dir, ".wh." + name)) return true;
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return true;
  const char* prefix = xattr_prefix(f);
  if (!prefix || !S_ISREG(st.st_mode) || st.st_size != 0) return false;
  os::UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  return fd && xattr_exists(fd.get(), std::string(prefix) + "whiteout");
}

// Whether the directory `dir` hides the same directory of the layers below.
bool is_opaque(int dir, WhiteoutFormat f) {
  if (f == WhiteoutFormat::fuse)
    return xattr_is(dir, "user.fuseoverlayfs.opaque", "y") || exists_at(dir, ".wh..wh..opq");
  return xattr_is(dir, std::string(xattr_prefix(f)) + "opaque", "y");
}

std::string read_bounded(int dir, const std::string& name, const std::string& shown, size_t limit) {
  os::UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) os::throw_errno("read " + shown);
  std::string text(limit + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) os::throw_errno("read " + shown);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > limit) throw os::Error(shown + " is larger than " + std::to_string(limit) + " bytes, the most rrun reads");
  text.resize(got);
  return text;
}

enum class Found { absent, here, below };

// One layer's say about `comps`: the file (here), a whiteout or a hiding
// file or opaque directory (absent), or nothing (below: ask the next layer).
Found look_in_layer(const std::string& layer, const std::vector<std::string>& comps, WhiteoutFormat f,
                    const std::string& shown, size_t limit, std::string& text) {
  os::UniqueFd cur(::open(layer.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cur) os::throw_errno("open the image layer " + os::quote(layer));
  bool hides_below = false;
  for (size_t i = 0; i < comps.size(); ++i) {
    const std::string& name = comps[i];
    if (is_whiteout(cur.get(), name, f)) return Found::absent;
    struct stat st {};
    if (::fstatat(cur.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) os::throw_errno("stat " + shown + " in " + os::quote(layer));
      break;
    }
    if (S_ISLNK(st.st_mode))
      throw os::Error(shown + " is reached through a symbolic link in a layer, which rrun does not follow");
    if (i + 1 == comps.size()) {
      if (!S_ISREG(st.st_mode)) throw os::Error(shown + " is not a regular file");
      text = read_bounded(cur.get(), name, shown, limit);
      return Found::here;
    }
    if (!S_ISDIR(st.st_mode)) return Found::absent;
    os::UniqueFd next(::openat(cur.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) os::throw_errno("open " + shown + " in " + os::quote(layer));
    if (is_opaque(next.get(), f)) hides_below = true;
    cur = std::move(next);
  }
  return hides_below ? Found::absent : Found::below;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The fields of the passwd or group line whose field `key` (0: name, 2: id) is `value`.
std::optional<std::vector<std::string>> find_entry(const std::string& text, size_t key, const std::string& value) {
  for (const std::string& line : os::split(text, '\n')) {
    if (line[0] == '#') continue;
    std::vector<std::string> fields = passwd_fields(line);
    if (fields.size() >= 4 && fields[key] == value) return fields;
  }
  return std::nullopt;
}

uint32_t id_of(const std::string& s, const std::string& where) {
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (!all_digits(s) || v > 0xfffffffeULL) throw os::Error(where + ": invalid id \"" + s + "\"");
  return static_cast<uint32_t>(v);
}

}  // namespace

std::vector<std::string> passwd_fields(std::string_view line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == ':')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

std::optional<std::string> read_image_file(const ImageLayers& layers, const std::string& path, const std::string& what,
                                           size_t limit) {
  std::vector<std::string> comps;
  for (const std::string& c : os::split(path, '/'))
    if (!c.empty() && c != ".") comps.push_back(c);
  const std::string shown = what + ": " + path;
  if (comps.empty() || std::find(comps.begin(), comps.end(), "..") != comps.end())
    throw os::Error(shown + ": not a plain absolute path");
  for (const std::string& layer : layers.dirs) {
    std::string text;
    switch (look_in_layer(layer, comps, layers.format, shown, limit, text)) {
      case Found::here:
        return text;
      case Found::absent:
        return std::nullopt;
      case Found::below:
        break;
    }
  }
  return std::nullopt;
}

ImageUser resolve_image_user(const std::string& user, const std::string& passwd, const std::string& group,
                             const std::string& what) {
  ImageUser u;
  const std::string where = what + ": User \"" + user + "\"";
  size_t colon = user.find(':');
  std::string name = user.substr(0, colon);
  std::optional<std::string> group_part;
  if (colon != std::string::npos) group_part = user.substr(colon + 1);
  std::optional<std::vector<std::string>> pw;
  if (name.empty() && !user.empty()) throw os::Error(where + ": no user before the `:`");
  if (all_digits(name)) {
    u.uid = id_of(name, where);
    pw = find_entry(passwd, 2, name);
  } else if (!name.empty()) {
    pw = find_entry(passwd, 0, name);
    if (!pw) throw os::Error(where + ": no user \"" + name + "\" in the image's /etc/passwd");
    u.uid = id_of((*pw)[2], where);
  } else {
    pw = find_entry(passwd, 2, "0");
  }
  if (pw) {
    u.gid = id_of((*pw)[3], where);
    if (pw->size() > 5) u.home = (*pw)[5];
  }
  if (!group_part) return u;
  if (all_digits(*group_part)) {
    u.gid = id_of(*group_part, where);
  } else {
    auto gr = find_entry(group, 0, *group_part);
    if (!gr) throw os::Error(where + ": no group \"" + *group_part + "\" in the image's /etc/group");
    u.gid = id_of((*gr)[2], where);
  }
  return u;
}

}  // namespace rrun::cli
