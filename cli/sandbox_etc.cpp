// The default /etc files of a sandbox: sandbox_etc.hpp.

#include "sandbox_etc.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include <rrun/core/log.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/rootfs/overlay.hpp>
#include <rrun/rootfs/resolve.hpp>

#include "image_files.hpp"

namespace rrun::cli {

namespace {

// The rootfs as the translations below look at it.
struct RootfsView {
  std::string path;  // on the host
  os::UniqueFd fd;   // O_PATH
  bool overlay = false;
  bool rootless = false;
  const spec::Spec* spec = nullptr;    // its id mappings say what the container's root may write
  const ImageLayers* image = nullptr;  // an image's layers (path is the top one)
};

RootfsView view_rootfs(const SandboxDoc& d, const SandboxHost& host, const spec::Spec& s) {
  RootfsView r;
  r.path = d.rootfs.value;
  r.fd.reset(::open(r.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!r.fd) os::throw_errno("open the rootfs " + os::quote(r.path));
  r.overlay = d.overlay != OverlayMode::none;
  r.rootless = host.rootless;
  r.spec = &s;
  if (!d.image_layers.dirs.empty()) r.image = &d.image_layers;
  return r;
}

// Whether `path` is the target of one of the sandbox's own mounts or lies
// below one (a bind of /etc brings its own files).
bool mounted_by_sandbox(const SandboxDoc& d, const std::string& path) {
  return std::any_of(d.mounts.begin(), d.mounts.end(), [&](const SandboxMount& m) {
    return m.target == "/" || path == m.target || path.rfind(m.target + "/", 0) == 0;
  });
}

std::string clean(const std::filesystem::path& p) {
  std::string s = p.lexically_normal().string();  // ".." at the root stays at the root
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// Where a bind on `path` lands: `path`, or, when a symbolic link there
// points at nothing (Ubuntu's /etc/resolv.conf ->
// ../run/systemd/resolve/stub-resolv.conf), the path it points at, which is
// then made. The child resolves it again inside the rootfs.
std::string bind_destination(const RootfsView& r, std::string path) {
  for (int links = 0; links < 8; ++links) {
    os::UniqueFd fd(rootfs::open_in_root(r.fd.get(), path.c_str()));
    if (fd || errno != ENOENT) return path;
    std::filesystem::path p(path);
    os::UniqueFd dir(rootfs::open_in_root(r.fd.get(), p.parent_path().c_str()));
    if (!dir) return path;
    char buf[PATH_MAX];
    ssize_t n = ::readlinkat(dir.get(), p.filename().c_str(), buf, sizeof buf);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return path;
    std::string target(buf, static_cast<size_t>(n));
    path = clean(target[0] == '/' ? std::filesystem::path(target) : p.parent_path() / target);
  }
  return path;
}

// Whether the container's init may create an entry in the directory `fd`:
// as root on a writable file system; rootless when the directory belongs to
// ids its user namespace maps (the init holds CAP_DAC_OVERRIDE over them).
bool container_may_write(const RootfsView& r, int fd) {
  struct stat st {};
  struct statvfs vfs {};
  if (::fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (::fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return false;
  if (!r.rootless) return true;
  const spec::Linux& l = *r.spec->linux;
  return spec::maps_host_id(l.uid_mappings, st.st_uid) && spec::maps_host_id(l.gid_mappings, st.st_gid);
}

// Whether a file can be bound on `path`: it is a regular file in the
// rootfs, or it is missing and can be made (in the overlay's upper layer,
// or in the nearest existing directory above it).
bool bindable(const RootfsView& r, const std::string& path) {
  os::UniqueFd fd(rootfs::open_in_root(r.fd.get(), path.c_str()));
  struct stat st {};
  if (fd) return ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
  if (errno != ENOENT) return false;
  if (r.overlay) return true;
  for (std::filesystem::path p = std::filesystem::path(path).parent_path();; p = p.parent_path()) {
    os::UniqueFd dir(rootfs::open_in_root(r.fd.get(), p.c_str()));
    if (dir) return container_may_write(r, dir.get());
    if (errno != ENOENT || p == p.root_path()) return false;
  }
}

// Binds the generated file `name` (in the bundle) read-only on `path`,
// unless the sandbox mounts its own there or the rootfs can't take it.
void bind_generated(const SandboxDoc& d, const RootfsView& r, Sandbox& out, const std::string& path,
                    const std::string& name, std::string content) {
  if (mounted_by_sandbox(d, path)) return;
  std::string dest = bind_destination(r, path);
  if (dest != path && mounted_by_sandbox(d, dest)) return;
  if (!bindable(r, dest)) {
    core::warn("sandbox: no generated " + path + ": " + os::quote(r.path + dest) +
               " is not a regular file, or is missing and the rootfs is not writable there; mount one with "
               "`mounts:` or use `overlay: ephemeral`");
    return;
  }
  out.files.emplace_back(name, std::move(content));
  spec::Mount m;
  m.destination = dest;
  m.type = "bind";
  m.source = name;  // relative: in the bundle
  m.options = {"bind", "nosuid", "nodev", "noexec", "ro"};
  out.spec.mounts.push_back(std::move(m));
}

std::string hosts_file(const SandboxDoc& d, const SandboxHost& host, const std::string& hostname) {
  std::string text = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (hostname != "localhost") text += "127.0.1.1\t" + hostname + "\n";
  if (!d.network_none && !host.hosts.empty()) {
    text += "# the host's /etc/hosts\n" + host.hosts;
    if (text.back() != '\n') text += '\n';
  }
  return text;
}

// The file `path` of the rootfs, read inside it: "" when missing; not a
// regular file, unreadable or over kRootfsFileMax is an error at `at`.
std::string read_rootfs_file(const RootfsView& r, const std::string& path, const Origin& at) {
  if (r.image) {  // as the overlay shows it
    try {
      return read_image_file(*r.image, path, "the image").value_or("");
    } catch (const std::exception& e) {
      at.fail(e.what());
    }
  }
  std::string shown = os::quote(r.path + path);
  os::UniqueFd ref(rootfs::open_in_root(r.fd.get(), path.c_str()));
  if (!ref) {
    if (errno == ENOENT) return "";
    at.fail("cannot open " + shown + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(ref.get(), &st) != 0 || !S_ISREG(st.st_mode))
    at.fail(shown + " (inside the rootfs) is not a regular file; rrun adds your entry to a copy of it");
  std::string proc = "/proc/self/fd/" + std::to_string(ref.get());
  os::UniqueFd fd(::open(proc.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) at.fail("cannot read " + shown + ": " + std::strerror(errno));
  try {
    return os::read_input_fd(fd, r.path + path, kRootfsFileMax);
  } catch (const std::exception& e) {
    at.fail(e.what());
  }
}

// The fields of the passwd or group line whose third field is `id`.
std::optional<std::vector<std::string>> entry_of(const std::string& text, uint32_t id) {
  std::string want = std::to_string(id);
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::vector<std::string> fields = passwd_fields(std::string_view(text).substr(at, end - at));
    if (fields.size() >= 3 && fields[2] == want) return fields;
    at = end + 1;
  }
  return std::nullopt;
}

std::string with_line(std::string text, const std::string& line) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text + line + "\n";
}

void set_env_default(spec::Process& p, const std::string& name, const std::string& value) {
  std::string prefix = name + "=";
  bool set = std::any_of(p.env.begin(), p.env.end(), [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
  if (!set) p.env.push_back(prefix + value);
}

}  // namespace

void add_network_files(const SandboxDoc& d, const SandboxHost& host, Sandbox& out) {
  RootfsView r = view_rootfs(d, host, out.spec);
  // No hostname of its own: the host's uts namespace (share: [uts]).
  const std::string& name = out.spec.hostname.empty() ? host.hostname : out.spec.hostname;
  bind_generated(d, r, out, "/etc/hosts", "etc-hosts", hosts_file(d, host, name));
  bind_generated(d, r, out, "/etc/hostname", "etc-hostname", name + "\n");
  // The host's file as it is (as Podman with the host's network): even
  // systemd-resolved's stub 127.0.0.53 answers in the host's network.
  // Without a network there is nothing to resolve with.
  if (!d.network_none && !host.resolv_conf.empty())
    bind_generated(d, r, out, "/etc/resolv.conf", "etc-resolv.conf", host.resolv_conf);
}

void add_keep_user_files(const SandboxDoc& d, const SandboxHost& host, Sandbox& out) {
  if (d.user != UserMode::keep) return;
  RootfsView r = view_rootfs(d, host, out.spec);
  spec::Process& p = *out.spec.process;
  uint32_t uid = p.user.uid, gid = p.user.gid;
  std::string passwd = read_rootfs_file(r, "/etc/passwd", d.user_at);
  std::string name, home;
  if (auto pw = entry_of(passwd, uid)) {
    name = (*pw)[0];
    if (pw->size() > 5) home = (*pw)[5];
  } else if (!host.user_name.empty()) {
    name = host.user_name;
    home = host.home.empty() ? "/" : host.home;
    std::string line =
        name + ":x:" + std::to_string(uid) + ":" + std::to_string(gid) + ":" + name + ":" + home + ":/bin/sh";
    bind_generated(d, r, out, "/etc/passwd", "etc-passwd", with_line(passwd, line));
  }
  std::string group = read_rootfs_file(r, "/etc/group", d.user_at);
  std::string group_name = host.group_name.empty() ? host.user_name : host.group_name;
  if (!entry_of(group, gid) && !group_name.empty())
    bind_generated(d, r, out, "/etc/group", "etc-group",
                   with_line(group, group_name + ":x:" + std::to_string(gid) + ":"));
  if (!home.empty()) set_env_default(p, "HOME", home);
  if (!name.empty()) set_env_default(p, "USER", name);
}

void show_keep_rootfs_as_root(const SandboxDoc& d, const SandboxHost& host, const spec::Linux& as_root, Sandbox& out) {
  if (d.user != UserMode::keep || d.overlay == OverlayMode::none || !host.rootless || host.uid == 0 ||
      !host.fuse_overlayfs || host.sub_uids.empty() || host.sub_gids.empty())
    return;
  auto text = [](const std::vector<spec::IdMapping>& maps) {
    std::string out;
    for (const auto& m : maps)
      out += (out.empty() ? "" : ":") + std::to_string(m.container_id) + ":" + std::to_string(m.host_id) + ":" +
             std::to_string(m.size);
    return out;
  };
  if (as_root.uid_mappings.empty() || as_root.gid_mappings.empty()) return;
  out.spec.annotations[rootfs::kRootfsOverlayUidmapAnnotation] = text(as_root.uid_mappings);
  out.spec.annotations[rootfs::kRootfsOverlayGidmapAnnotation] = text(as_root.gid_mappings);
}

void read_etc_host_facts(SandboxHost& h) {
  auto host_file = [](const char* path) {
    try {
      return os::read_input_file_if_exists(path, kRootfsFileMax).value_or("");
    } catch (const std::exception& e) {
      core::warn(std::string("sandbox: ") + e.what());
      return std::string();
    }
  };
  if (h.rootless && h.uid != 0 && !rootfs::find_fuse_overlayfs(std::getenv("PATH")).empty()) {
    os::UniqueFd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
    h.fuse_overlayfs = fuse.valid();
  }
  h.hosts = host_file("/etc/hosts");
  h.resolv_conf = host_file("/etc/resolv.conf");
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) == 0) h.hostname = name;
  std::vector<char> buf(16384);
  struct passwd pw, *pwp = nullptr;
  if (::getpwuid_r(h.uid, &pw, buf.data(), buf.size(), &pwp) == 0 && pwp && pw.pw_dir) h.home = pw.pw_dir;
  struct group gr, *grp = nullptr;
  if (::getgrgid_r(h.gid, &gr, buf.data(), buf.size(), &grp) == 0 && grp && gr.gr_name) h.group_name = gr.gr_name;
}

}  // namespace rrun::cli
