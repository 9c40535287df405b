#include "overlay.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include <rrun/os/error.hpp>

namespace rrun::rootfs {

namespace {

using os::Error;
using os::quote;

// Splits on `sep` not preceded by a backslash; the escapes are kept (for a
// second split), unescape() removes them.
std::vector<std::string> split_keeping_escapes(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      out.back() += s[i];
      out.back() += s[++i];
    } else if (s[i] == sep) {
      out.emplace_back();
    } else {
      out.back() += s[i];
    }
  }
  return out;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

// Escapes what the kernel and fuse-overlayfs treat as separators.
std::string escape_path(const std::string& p) {
  std::string out;
  for (char c : p) {
    if (c == ',' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string absolute(const std::string& p, const std::string& base) {
  if (!p.empty() && p[0] == '/') return p;
  return base + "/" + p;
}

std::string join_lowers(const std::vector<std::string>& lowers) {
  std::string out;
  for (const auto& l : lowers) {
    if (!out.empty()) out += ':';
    out += escape_path(l);
  }
  return out;
}

}  // namespace

const char* overlay_driver_name(OverlayDriver d) {
  switch (d) {
    case OverlayDriver::automatic:
      return "auto";
    case OverlayDriver::kernel:
      return "kernel";
    case OverlayDriver::fuse:
      return "fuse";
  }
  return "?";
}

OverlayDriver parse_overlay_driver(const std::string& value) {
  if (value.empty() || value == "auto") return OverlayDriver::automatic;
  if (value == "kernel") return OverlayDriver::kernel;
  if (value == "fuse") return OverlayDriver::fuse;
  throw Error(std::string("annotations.") + kOverlayDriverAnnotation + ": unknown value " + quote(value) +
              " (expected auto, kernel or fuse)");
}

std::string checked_persistent_dir(std::string dir) {
  if (dir.empty() || dir[0] != '/') throw Error("needs an absolute directory (persistent:/ABS/DIR)");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir == "/") throw Error("`/` cannot hold the upper and work directories");
  if (dir.find(',') != std::string::npos || dir.find(':') != std::string::npos)
    throw Error("the directory must not contain `,` or `:` (they separate the overlay's mount options)");
  return dir;
}

RootOverlay parse_rootfs_overlay(const std::string& value) {
  const std::string where = std::string("annotations.") + kRootfsOverlayAnnotation;
  RootOverlay r;
  if (value.empty()) return r;
  if (value == "ephemeral") {
    r.mode = RootOverlay::Mode::ephemeral;
    return r;
  }
  const std::string prefix = "persistent:";
  if (value.rfind(prefix, 0) == 0) {
    try {
      r.dir = checked_persistent_dir(value.substr(prefix.size()));
    } catch (const Error& e) {
      throw Error(where + ": " + quote(value) + ": " + e.what());
    }
    r.mode = RootOverlay::Mode::persistent;
    return r;
  }
  throw Error(where + ": unknown value " + quote(value) + " (expected ephemeral or persistent:/ABS/DIR)");
}

std::vector<std::string> parse_rootfs_overlay_lower(const std::string& value) {
  const std::string where = std::string("annotations.") + kRootfsOverlayLowerAnnotation;
  if (value.empty()) throw Error(where + ": empty; list the lower directories, top first: /ABS/A:/ABS/B");
  std::vector<std::string> dirs;
  for (const auto& l : split_keeping_escapes(value, ':')) {
    std::string dir = unescape(l);
    if (dir.empty()) throw Error(where + ": " + quote(value) + " has an empty directory");
    if (dir[0] != '/') throw Error(where + ": " + quote(dir) + " is not an absolute directory");
    dirs.push_back(std::move(dir));
  }
  return dirs;
}

std::string format_rootfs_overlay_lower(const std::vector<std::string>& dirs) {
  return join_lowers(dirs);
}

OverlayData parse_overlay_data(const std::string& data, const std::string& base, const std::string& where) {
  OverlayData d;
  for (const auto& opt : split_keeping_escapes(data, ',')) {
    if (opt.empty()) continue;
    auto eq = opt.find('=');
    std::string key = opt.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
    if (key == "lowerdir") {
      if (!d.lowerdirs.empty()) throw Error(where + ": `lowerdir` given twice");
      for (const auto& l : split_keeping_escapes(value, ':')) {
        if (l.empty()) throw Error(where + ": `lowerdir=" + value + "` has an empty directory");
        d.lowerdirs.push_back(absolute(unescape(l), base));
      }
    } else if (key == "upperdir" || key == "workdir") {
      if (value.empty()) throw Error(where + ": `" + key + "` needs a directory");
      (key == "upperdir" ? d.upperdir : d.workdir) = absolute(unescape(value), base);
    } else if (opt == "userxattr") {
      d.userxattr = true;
    } else if (key == "lowerdir+" || key == "datadir+") {
      throw Error(where + ": `" + key + "` is not supported; list the layers in `lowerdir=A:B`");
    } else {
      d.other.push_back(opt);
    }
  }
  if (d.lowerdirs.empty()) throw Error(where + ": an overlay mount needs `lowerdir=DIR[:DIR...]`");
  if (d.upperdir.empty() != d.workdir.empty())
    throw Error(where + ": `upperdir` and `workdir` go together (give both, or neither for a read-only overlay)");
  if (d.upperdir.empty() && d.lowerdirs.size() < 2)
    throw Error(where + ": a read-only overlay (no upperdir) needs at least two lower directories");
  return d;
}

std::string kernel_overlay_data(const OverlayData& d, bool in_userns) {
  std::string out = "lowerdir=" + join_lowers(d.lowerdirs);
  if (!d.upperdir.empty()) out += ",upperdir=" + escape_path(d.upperdir) + ",workdir=" + escape_path(d.workdir);
  for (const auto& o : d.other) out += "," + o;
  if (in_userns || d.userxattr) out += ",userxattr";
  return out;
}

std::vector<std::string> fuse_overlayfs_argv(const std::string& binary, const OverlayData& d, int fuse_fd,
                                             bool squash_to_root, const std::string& uidmapping,
                                             const std::string& gidmapping) {
  std::string opts = "lowerdir=" + join_lowers(d.lowerdirs);
  if (!d.upperdir.empty()) opts += ",upperdir=" + escape_path(d.upperdir) + ",workdir=" + escape_path(d.workdir);
  if (squash_to_root) opts += ",squash_to_root";
  if (!uidmapping.empty()) opts += ",uidmapping=" + uidmapping;
  if (!gidmapping.empty()) opts += ",gidmapping=" + gidmapping;
  return {binary, "-f", "-o", opts, "/dev/fd/" + std::to_string(fuse_fd)};
}

std::vector<spec::IdMapping> parse_overlay_idmap(const std::string& value, const std::string& where) {
  std::vector<std::string> parts = split_keeping_escapes(value, ':');
  auto bad = [&]() {
    return Error(where + ": invalid value " + quote(value) +
                 "; expected CONTAINER_ID:HOST_ID:COUNT[:CONTAINER_ID:HOST_ID:COUNT...] (numbers, counts above 0)");
  };
  if (value.empty() || parts.size() % 3 != 0) throw bad();
  std::vector<uint64_t> n;
  for (const auto& p : parts) {
    if (p.empty() || p.size() > 10 || p.find_first_not_of("0123456789") != std::string::npos) throw bad();
    n.push_back(std::stoull(p));
    if (n.back() > UINT32_MAX) throw bad();
  }
  std::vector<spec::IdMapping> out;
  for (size_t i = 0; i < n.size(); i += 3) {
    if (n[i + 2] == 0 || n[i] + n[i + 2] > 1ULL << 32 || n[i + 1] + n[i + 2] > 1ULL << 32) throw bad();
    out.push_back(
        spec::IdMapping{static_cast<uint32_t>(n[i]), static_cast<uint32_t>(n[i + 1]), static_cast<uint32_t>(n[i + 2])});
  }
  return out;
}

std::string fuse_overlay_idmapping(const std::vector<spec::IdMapping>& shown,
                                   const std::vector<spec::IdMapping>& container_map) {
  std::string out;
  for (const auto& s : shown) {
    for (const auto& k : container_map) {
      uint64_t from = std::max(s.host_id, k.host_id);
      uint64_t to = std::min(uint64_t{s.host_id} + s.size, uint64_t{k.host_id} + k.size);
      if (from >= to) continue;
      uint64_t seen = k.container_id + (from - k.host_id);
      uint64_t as = s.container_id + (from - s.host_id);
      out +=
          (out.empty() ? "" : ":") + std::to_string(seen) + ":" + std::to_string(as) + ":" + std::to_string(to - from);
    }
  }
  return out;
}

std::string find_fuse_overlayfs(const char* path_env) {
  return find_program("fuse-overlayfs", path_env);
}

std::string find_program(const std::string& name, const char* path_env) {
  std::string path = path_env ? path_env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    if (!dir.empty() && dir[0] == '/') {
      std::string candidate = dir + "/" + name;
      struct stat st {};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
        return candidate;
    }
    i = j + 1;
  }
  return "";
}

std::optional<UnmappedOwner> find_unmapped_owner(const std::vector<FileOwner>& files,
                                                 const std::vector<spec::IdMapping>& uid_map,
                                                 const std::vector<spec::IdMapping>& gid_map) {
  for (const auto& f : files) {
    if (!spec::maps_host_id(uid_map, f.uid)) return UnmappedOwner{f.path, "uid", f.uid};
    if (!spec::maps_host_id(gid_map, f.gid)) return UnmappedOwner{f.path, "gid", f.gid};
  }
  return std::nullopt;
}

std::vector<FileOwner> top_level_owners(const std::string& dir) {
  std::vector<FileOwner> out;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return out;
  out.push_back({dir, st.st_uid, st.st_gid});
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
      out.push_back({dir + "/" + name, st.st_uid, st.st_gid});
  }
  ::closedir(d);
  return out;
}

}  // namespace rrun::rootfs
