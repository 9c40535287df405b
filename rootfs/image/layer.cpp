#include "layer.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/userns/detect.hpp>
#include <rrun/userns/idmap.hpp>
#include <rrun/userns/subid.hpp>

#include "digest.hpp"
#include "extract.hpp"
#include "mapped_root.hpp"

namespace rrun::image {

namespace {

std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return "";
}

bool idmap_helpers_present() {
  return userns::find_helper("newuidmap") && userns::find_helper("newgidmap");
}

// "0.1000.1-1.100000.65536": a mapping in a directory name that is also
// safe in overlay's lowerdir= (no ':' or ',', which separate its values).
std::string map_name(const std::vector<spec::IdMapping>& map) {
  std::string out;
  for (const spec::IdMapping& m : map) {
    if (!out.empty()) out += '-';
    out += std::to_string(m.container_id) + "." + std::to_string(m.host_id) + "." + std::to_string(m.size);
  }
  return out;
}

// The squash warning, once per process, when a layer is actually written.
void warn_squash(const std::string& image) {
  static bool warned = false;
  if (warned) return;
  warned = true;
  const uid_t uid = ::geteuid();
  if (uid == 0) {
    warn("image " + image + ": root in a user namespace: files of ids other than 0 are owned by root");
    return;
  }
  std::string name = user_name(uid);
  if (name.empty()) name = std::to_string(uid);
  if (!idmap_helpers_present()) {
    warn("image " + image +
         ": newuidmap and newgidmap are needed for the image's owners (install the \"uidmap\" package): files "
         "of ids other than 0 are owned by you");
    return;
  }
  warn("image " + image + ": no subordinate ids for " + name +
       ": files of ids other than 0 are owned by you (add a range to /etc/subuid and /etc/subgid)");
}

Whiteouts whiteouts_for(WhiteoutFormat f) {
  switch (f) {
    case WhiteoutFormat::overlay_user:
      return Whiteouts::xattr_user;
    case WhiteoutFormat::overlay_trusted:
      return Whiteouts::xattr_trusted;
    case WhiteoutFormat::fuse:
      break;
  }
  return Whiteouts::keep;
}

std::string layer_dir(const Store& store, const std::string& variant, const LayerRef& l) {
  return store.root() + "/layers/" + variant + "/" + digest_hex(l.digest);
}

// "layer 2/5 sha256:0123456789ab"
std::string layer_step(const ImageRecord& img, size_t i) {
  return "layer " + std::to_string(i + 1) + "/" + std::to_string(img.layers.size()) + " " +
         img.layers[i].digest.substr(0, 19);
}

// One layer's job: extract into `dir`, then (into the store) rename it to
// `final`. Runs where the files get their owners: here as root, as root
// of the user namespace otherwise.
struct Job {
  std::string dir;
  std::string final;  // "" for a flattened image
  ExtractOptions opts;
};

void run_job(int src, const Job& job) {
  os::UniqueFd root = os::open_file(job.dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  extract_layer(src, root.get(), job.opts);
  root.reset();
  // In the job, not after it: a directory moves to another parent only
  // with write permission on itself, and the layer's "./" entry may have
  // given it to a subordinate id.
  if (!job.final.empty() && ::rename(job.dir.c_str(), job.final.c_str()) != 0)
    os::throw_errno("rename " + os::quote(job.dir) + " to " + os::quote(job.final));
}

// The blob fed to the child through a socket, counted for the progress
// line. A child that fails stops reading: its message says why.
void feed(int blob, int sock, Progress& progress) {
  std::vector<char> buf(256 << 10);
  for (;;) {
    ssize_t n = ::read(blob, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) os::throw_errno("read the layer");
    if (n == 0) return;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::send(sock, buf.data() + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) return;
      if (w < 0) os::throw_errno("feed the layer to the unpack process");
      off += w;
    }
    progress.advance(static_cast<uint64_t>(n));
  }
}

// Unpacks one layer's blob as `ids` says, reporting on `progress`.
void unpack_blob(const Store& store, const LayerRef& layer, const UnpackIds& ids, Job job, Progress& progress,
                 const std::string& step) {
  if (!store.has_blob(layer.digest))
    throw os::Error(job.opts.what + ": the blob is not in the store (pull the image again)");
  os::UniqueFd blob = os::open_file(store.blob_path(layer.digest), O_RDONLY);
  load_libarchive();  // here, for its error; the child inherits it
  if (!job.opts.diff_id.empty()) {
    Sha256 loads_libcrypto;  // here too, before a fork
  }
  progress.start(step, layer.size);
  if (!ids.userns) {
    job.opts.on_read = [&](uint64_t n) { progress.advance(n); };
    run_job(blob.get(), job);
  } else {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) os::throw_errno("create a socket pair");
    os::UniqueFd parent_end(sv[0]), child_end(sv[1]);
    run_as_mapped_root(
        ids.uid_map, ids.gid_map,
        [&] {
          parent_end.reset();
          blob.reset();
          run_job(child_end.get(), job);
        },
        [&] {
          child_end.reset();
          feed(blob.get(), parent_end.get(), progress);
          parent_end.reset();  // EOF for the child
        });
  }
  progress.done();
}

ExtractOptions options_for(const LayerRef& l, Whiteouts w, const UnpackIds& ids) {
  ExtractOptions o;
  o.what = "layer " + l.digest;
  o.whiteouts = w;
  o.squash = ids.squash;
  o.diff_id = l.diff_id;
  return o;
}

void unpack_into_store(const Store& store, const ImageRecord& img, size_t i, WhiteoutFormat f, const UnpackIds& ids,
                       const std::string& final, Progress& progress) {
  const LayerRef& l = img.layers[i];
  os::mkdir_p(final.substr(0, final.rfind('/')), 0700);
  Job job{store.make_tmp_dir("layer-"), final, options_for(l, whiteouts_for(f), ids)};
  try {
    // The layer's "./" entry, when there is one, says otherwise.
    if (::chmod(job.dir.c_str(), 0755) != 0) os::throw_errno("chmod " + os::quote(job.dir));
    unpack_blob(store, l, ids, job, progress, layer_step(img, i));
  } catch (...) {
    try {
      remove_unpacked(job.dir);
    } catch (const std::exception& e) {
      warn("cannot remove " + os::quote(job.dir) + ": " + e.what());
    }
    throw;
  }
}

// Whether the kernel overlay hides a lower file that is an xattr whiteout
// (Linux 6.7+): a throw-away read-only overlay of two lower directories
// under `base`, mounted in a child with its own mount namespace (and user
// namespace, rootless); the mount dies with the child.
bool kernel_hides_xattr_whiteouts(const std::string& base, bool userxattr) {
  std::string d = base + "/rrun-whiteout-probe.XXXXXX";
  if (!::mkdtemp(d.data())) return false;
  struct Cleanup {
    const std::string& d;
    ~Cleanup() {
      try {
        os::remove_tree(d);
      } catch (...) {
        // A probe directory under tmp/: prune removes what stays.
      }
    }
  } cleanup{d};
  const std::string prefix = userxattr ? "user.overlay." : "trusted.overlay.";
  try {
    for (const char* sub : {"/lower1", "/lower2", "/merged"}) os::mkdir_p(d + sub, 0755);
    os::open_file(d + "/lower1/f", O_WRONLY | O_CREAT | O_EXCL, 0644);
    os::open_file(d + "/lower2/f", O_WRONLY | O_CREAT | O_EXCL, 0644);
  } catch (const std::exception&) {
    return false;
  }
  if (::setxattr((d + "/lower2/f").c_str(), (prefix + "whiteout").c_str(), "", 0, 0) != 0 ||
      ::setxattr((d + "/lower2").c_str(), (prefix + "opaque").c_str(), "x", 1, 0) != 0)
    return false;
  const std::string merged = d + "/merged";
  const std::string data = "lowerdir=" + d + "/lower2:" + d + "/lower1" + (userxattr ? ",userxattr" : "");
  const std::string hidden = merged + "/f";
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(uid == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) != 0) ::_exit(2);
    if (uid != 0) {
      char map[64];
      int fd = ::open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
      if (fd >= 0 && (::write(fd, "deny", 4) < 0 || ::close(fd) < 0)) ::_exit(2);
      std::snprintf(map, sizeof map, "0 %u 1\n", static_cast<unsigned>(uid));
      fd = ::open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, map, std::strlen(map)) < 0) ::_exit(2);
      ::close(fd);
      std::snprintf(map, sizeof map, "0 %u 1\n", static_cast<unsigned>(gid));
      fd = ::open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, map, std::strlen(map)) < 0) ::_exit(2);
      ::close(fd);
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(2);
    if (::mount("overlay", merged.c_str(), "overlay", MS_RDONLY, data.c_str()) != 0) ::_exit(2);
    struct stat st {};
    ::_exit(::lstat(hidden.c_str(), &st) != 0 && errno == ENOENT ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Where the probe makes its directories: the store's tmp/ (the file system
// the layers will be on), else $TMPDIR, else /tmp.
std::string probe_base() {
  struct stat st {};
  std::string tmp = Store::default_root() + "/tmp";
  if (::stat(tmp.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return tmp;
  const char* t = std::getenv("TMPDIR");
  if (t && *t == '/' && ::stat(t, &st) == 0 && S_ISDIR(st.st_mode)) return t;
  return "/tmp";
}

// The mapping a removal runs with: every id the caller has, so that a
// layer unpacked before a change of /etc/subuid goes too.
void all_own_ids(std::vector<spec::IdMapping>& uid_map, std::vector<spec::IdMapping>& gid_map) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  uid_map = {{0, uid, 1}};
  gid_map = {{0, gid, 1}};
  const std::string name = user_name(uid);
  auto add = [](std::vector<spec::IdMapping>& map, const std::vector<userns::SubRange>& ranges) {
    uint64_t next = 1;
    for (const userns::SubRange& r : ranges) {
      if (map.size() >= userns::kMaxMapLines || next + r.count > UINT32_MAX) break;
      map.push_back({static_cast<uint32_t>(next), r.start, r.count});
      next += r.count;
    }
  };
  try {
    add(uid_map, userns::subordinate_uids(name, uid));
    add(gid_map, userns::subordinate_gids(name, uid));
  } catch (const std::exception&) {
    // Unreadable: the caller's own ids still remove what they own.
  }
}

}  // namespace

const char* whiteout_format_name(WhiteoutFormat f) {
  switch (f) {
    case WhiteoutFormat::overlay_user:
      return "user";
    case WhiteoutFormat::overlay_trusted:
      return "trusted";
    case WhiteoutFormat::fuse:
      break;
  }
  return "fuse";
}

UnpackIds unpack_ids_for_caller() {
  UnpackIds ids;
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (!userns::running_rootless(uid)) return ids;
  if (uid == 0) {
    // Root in a user namespace: its containers map only 0 (plan.hpp), so
    // only 0 is written; no namespace of our own is needed to do it.
    ids.uid_map = {{0, 0, 1}};
    ids.gid_map = {{0, 0, 1}};
    ids.squash = true;
    return ids;
  }
  ids.userns = true;
  ids.uid_map = {{0, uid, 1}};
  ids.gid_map = {{0, gid, 1}};
  const std::string name = user_name(uid);
  std::vector<userns::SubRange> su = userns::subordinate_uids(name, uid);
  std::vector<userns::SubRange> sg = userns::subordinate_gids(name, uid);
  if (su.empty() || sg.empty() || !idmap_helpers_present()) {
    ids.squash = true;
    return ids;
  }
  ids.uid_map.push_back({1, su.front().start, su.front().count});
  ids.gid_map.push_back({1, sg.front().start, sg.front().count});
  return ids;
}

WhiteoutFormat choose_whiteout_format(bool rootless, const std::string& driver) {
  if (driver == "fuse") return WhiteoutFormat::fuse;
  static int works[2] = {-1, -1};  // per process: [rootless]
  int& w = works[rootless ? 1 : 0];
  if (w < 0) w = kernel_hides_xattr_whiteouts(probe_base(), rootless) ? 1 : 0;
  if (!w) return WhiteoutFormat::fuse;
  return rootless ? WhiteoutFormat::overlay_user : WhiteoutFormat::overlay_trusted;
}

std::string layer_variant(WhiteoutFormat f, const UnpackIds& ids) {
  std::string v = whiteout_format_name(f);
  if (ids.uid_map.empty() && ids.gid_map.empty()) return v;
  const std::string u = map_name(ids.uid_map);
  const std::string g = map_name(ids.gid_map);
  if (u == g) return v + "-" + u;
  return v + "-u" + u + "-g" + g;
}

std::vector<std::string> prepare_layers(const Store& store, const ImageRecord& img, WhiteoutFormat f,
                                        const UnpackIds& ids, Progress& progress) {
  const std::string variant = layer_variant(f, ids);
  std::vector<std::string> dirs;
  for (size_t i = 0; i < img.layers.size(); ++i) {
    const LayerRef& l = img.layers[i];
    check_digest(l.digest, "layers[" + std::to_string(i) + "].digest");
    const std::string dir = layer_dir(store, variant, l);
    if (!os::path_exists(dir)) {
      // Another rrun may be unpacking it: wait, then look again.
      os::UniqueFd lock = store.lock("layer-" + variant + "-" + digest_hex(l.digest));
      if (!os::path_exists(dir)) {
        if (ids.squash) warn_squash(img.name);
        unpack_into_store(store, img, i, f, ids, dir, progress);
      }
    }
    dirs.push_back(dir);
  }
  std::reverse(dirs.begin(), dirs.end());
  return dirs;
}

std::vector<std::string> unpacked_layers(const Store& store, const ImageRecord& img, WhiteoutFormat f,
                                         const UnpackIds& ids) {
  const std::string variant = layer_variant(f, ids);
  std::vector<std::string> dirs;
  for (const LayerRef& l : img.layers) {
    if (!valid_digest(l.digest)) return {};
    std::string dir = layer_dir(store, variant, l);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    dirs.push_back(std::move(dir));
  }
  std::reverse(dirs.begin(), dirs.end());
  return dirs;
}

void flatten_image(const Store& store, const ImageRecord& img, const std::string& dir, const UnpackIds& ids,
                   Progress& progress) {
  for (size_t i = 0; i < img.layers.size(); ++i)
    check_digest(img.layers[i].digest, "layers[" + std::to_string(i) + "].digest");
  bool made = ::mkdir(dir.c_str(), 0755) == 0;
  if (!made) {
    if (errno != EEXIST) os::throw_errno("create the directory " + os::quote(dir));
    DIR* d = ::opendir(dir.c_str());
    if (!d) os::throw_errno("open the directory " + os::quote(dir));
    bool empty = true;
    while (struct dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
    ::closedir(d);
    if (!empty) throw os::Error("unpack into " + os::quote(dir) + ": the directory is not empty");
  }
  if (ids.squash) warn_squash(img.name);
  try {
    for (size_t i = 0; i < img.layers.size(); ++i) {
      const LayerRef& l = img.layers[i];
      unpack_blob(store, l, ids, Job{dir, "", options_for(l, Whiteouts::apply, ids)}, progress, layer_step(img, i));
    }
  } catch (...) {
    // Nothing half-written stays: the directory goes, an empty one given
    // to us comes back empty.
    try {
      remove_unpacked(dir);
      if (!made) os::mkdir_p(dir, 0755);
    } catch (const std::exception& e) {
      warn("cannot remove " + os::quote(dir) + ": " + e.what());
    }
    throw;
  }
}

void remove_unpacked(const std::string& dir) {
  if (!os::path_exists(dir)) return;
  // Root, or root of the user namespace we run in: it owns what it made.
  if (::geteuid() == 0) {
    os::remove_tree(dir);
    return;
  }
  std::vector<spec::IdMapping> uid_map, gid_map;
  all_own_ids(uid_map, gid_map);
  run_as_mapped_root(
      uid_map, gid_map, [&] { os::remove_tree(dir); }, [] {}, true);
}

}  // namespace rrun::image
