#include "plan.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string_view>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

namespace rrun::rootfs {

namespace {

using os::Error;
using os::quote;

struct FlagOption {
  const char* name;
  bool clear;
  unsigned long flag;
};

// Mount flags (runc libcontainer/specconv mountFlags, crun's mount_options).
constexpr FlagOption kFlagOptions[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"symfollow", true, MS_NOSYMFOLLOW},
};

struct PropagationOption {
  const char* name;
  unsigned long flags;
};

constexpr PropagationOption kPropagationOptions[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct AttrOption {
  const char* name;
  uint64_t set;
  uint64_t clr;
};

// Recursive mount attributes for mount_setattr (runc's recAttrFlags). An
// atime change must clear the whole MOUNT_ATTR__ATIME field.
constexpr AttrOption kAttrOptions[] = {
    {"rro", MOUNT_ATTR_RDONLY, 0},
    {"rrw", 0, MOUNT_ATTR_RDONLY},
    {"rnosuid", MOUNT_ATTR_NOSUID, 0},
    {"rsuid", 0, MOUNT_ATTR_NOSUID},
    {"rnodev", MOUNT_ATTR_NODEV, 0},
    {"rdev", 0, MOUNT_ATTR_NODEV},
    {"rnoexec", MOUNT_ATTR_NOEXEC, 0},
    {"rexec", 0, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", MOUNT_ATTR_NODIRATIME, 0},
    {"rdiratime", 0, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME},
    {"rnorelatime", 0, MOUNT_ATTR_RELATIME},
    {"rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME},
    {"ratime", 0, MOUNT_ATTR_NOATIME},
    {"rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME},
    {"rnostrictatime", 0, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0},
    {"rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW},
};

// Options parse_mount_options() handles by name outside the tables above.
constexpr const char* kSpecialOptions[] = {"bind", "rbind", "idmap", "ridmap", "tmpcopyup"};

bool is_absolute(const std::string& p) {
  return !p.empty() && p[0] == '/';
}

// "/a//b/" -> "/a/b"; keeps "." and ".." (they are resolved inside the
// rootfs at mount time, never lexically against the host).
std::string clean_container_path(const std::string& p) {
  std::string out = "/";
  for (size_t i = 0; i < p.size();) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) {
      if (out.size() > 1) out += '/';
      out.append(p, i, j - i);
    }
    i = j + 1;
  }
  return out;
}

std::string last_component(const std::string& p) {
  auto pos = p.rfind('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

bool gid_is_mapped(const std::vector<spec::IdMapping>& maps, uint64_t gid) {
  for (const auto& m : maps)
    if (gid >= m.container_id && gid < uint64_t(m.container_id) + m.size) return true;
  return false;
}

// Drops `gid=N` from a devpts data string when N is not mapped (runc and
// crun do the same rootless: the kernel refuses an unmapped gid).
std::string filter_devpts_gid(const std::string& data, const PlanOptions& opts) {
  std::string out;
  for (const std::string& item : os::split(data, ',')) {
    if (item.rfind("gid=", 0) == 0) {
      char* end = nullptr;
      errno = 0;
      unsigned long long g = std::strtoull(item.c_str() + 4, &end, 10);
      bool numeric = end && *end == '\0' && errno == 0 && item.size() > 4;
      if (!numeric || !gid_is_mapped(opts.gid_mappings, g)) continue;
    }
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (int k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

std::string mount_point_in(const std::string& mountinfo_text, const std::string& path) {
  std::string best = "/";
  for (const std::string& line : os::split(mountinfo_text, '\n')) {
    // "id parent major:minor root mount-point ..."
    std::vector<std::string> fields = os::words(line);
    if (fields.size() < 5) continue;
    std::string mp = unescape_mountinfo(fields[4]);
    bool covers = mp == "/" || path == mp ||
                  (path.size() > mp.size() && path.compare(0, mp.size(), mp) == 0 && path[mp.size()] == '/');
    if (covers && mp.size() >= best.size()) best = mp;
  }
  return best;
}

namespace {

// The mount point that holds `path`, from /proc/self/mountinfo.
std::string find_mount_point(const std::string& path) {
  return mount_point_in(os::read_file_if_exists("/proc/self/mountinfo").value_or(""), path);
}

struct DefaultDevice {
  const char* path;
  unsigned major;
  unsigned minor;
};

// runc's DefaultAutoCreatedDevices / crun's needed_devs.
constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3}, {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/tty", 5, 0},  {"/dev/urandom", 1, 9}, {"/dev/random", 1, 8},
};

class Planner {
 public:
  Planner(const spec::Spec& s, const std::string& bundle, const PlanOptions& o) : spec_(s), bundle_(bundle), opts_(o) {}

  RootfsPlan run() {
    if (!opts_.own_mount_ns) {
      refuse_without_mount_namespace(spec_);
      plan_root_path();
      plan_.own_mount_ns = false;
      return std::move(plan_);
    }
    plan_overlay_driver();
    plan_root();
    const spec::Linux empty_linux;
    const spec::Linux& lx = spec_.linux ? *spec_.linux : empty_linux;

    plan_.setup_dev = true;
    for (size_t i = 0; i < spec_.mounts.size(); ++i) plan_mount(spec_.mounts[i], "mounts[" + std::to_string(i) + "]");
    if (plan_.setup_dev) plan_dev(lx);
    if (dev_readonly_) {
      MountOp op;
      op.kind = OpKind::remount_readonly;
      op.origin = dev_origin_;
      op.destination = "/dev";
      plan_.ops_after_pivot.push_back(op);
    }
    for (size_t i = 0; i < lx.readonly_paths.size(); ++i)
      plan_path_op(OpKind::readonly, lx.readonly_paths[i], "linux.readonlyPaths[" + std::to_string(i) + "]");
    for (size_t i = 0; i < lx.masked_paths.size(); ++i)
      plan_path_op(OpKind::mask, lx.masked_paths[i], "linux.maskedPaths[" + std::to_string(i) + "]");
    return std::move(plan_);
  }

 private:
  // The mounts are made in a user namespace other than the initial one: the
  // container's own, or (rootless) the caller's, which the container may
  // share (root in rootless Podman's namespace).
  bool in_userns() const { return opts_.rootless || opts_.new_user_ns; }

  struct stat plan_root_path() {
    if (!spec_.root || spec_.root->path.empty()) throw Error("root.path: required");
    std::string path = spec_.root->path;
    if (!is_absolute(path)) path = bundle_ + "/" + path;
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) os::throw_errno("root.path: resolve " + quote(path));
    struct stat st {};
    if (::stat(buf, &st) != 0) os::throw_errno("root.path: stat " + quote(buf));
    if (!S_ISDIR(st.st_mode)) throw Error("root.path: " + quote(buf) + " is not a directory");
    plan_.rootfs = buf;
    return st;
  }

  void plan_root() {
    struct stat st = plan_root_path();
    plan_.readonly_root = spec_.root->readonly;
    plan_.no_pivot = opts_.no_pivot;

    plan_.root_propagation = MS_SLAVE | MS_REC;
    if (spec_.linux && !spec_.linux->rootfs_propagation.empty()) {
      plan_.propagation = spec_.linux->rootfs_propagation;
      unsigned long p = parse_propagation(plan_.propagation, "linux.rootfsPropagation");
      plan_.rootfs_propagation = p;
      // An unbindable "/" can't be bound onto the rootfs: rprivate until
      // pivot_root, unbindable after it (finalize_rootfs).
      plan_.root_propagation = (p & MS_UNBINDABLE) ? (MS_PRIVATE | MS_REC) : (p | MS_REC);
    }
    if (plan_.root_propagation & MS_SHARED) plan_.rootfs_parent_mount = find_mount_point(plan_.rootfs);
    plan_root_overlay(st);
  }

  const std::string* annotation(const char* name) const {
    auto it = spec_.annotations.find(name);
    return it == spec_.annotations.end() ? nullptr : &it->second;
  }

  void plan_overlay_driver() {
    const std::string* d = annotation(kOverlayDriverAnnotation);
    driver_ = parse_overlay_driver(d ? *d : "");
  }

  // The fuse-overlayfs binary, looked up once; forcing the fuse driver
  // without it is an error before anything is made.
  const std::string& fuse_binary(const std::string& where) {
    if (!fuse_) fuse_ = opts_.fuse_overlayfs ? *opts_.fuse_overlayfs : find_fuse_overlayfs(std::getenv("PATH"));
    if (fuse_->empty() && driver_ == OverlayDriver::fuse) {
      const char* path = std::getenv("PATH");
      throw Error(where + ": annotations." + kOverlayDriverAnnotation +
                  " is `fuse` but fuse-overlayfs was not found in PATH " +
                  quote(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") +
                  "; install it (Debian: apt install fuse-overlayfs) or use the kernel driver");
    }
    return *fuse_;
  }

  // The container's root, as a host id (for directories root makes for it).
  static uint64_t host_id_of_root(const std::vector<spec::IdMapping>& maps, uint64_t fallback) {
    for (const auto& m : maps)
      if (m.container_id == 0 && m.size > 0) return m.host_id;
    return fallback;
  }

  void plan_root_overlay(const struct stat& lower) {
    const std::string* value = annotation(kRootfsOverlayAnnotation);
    const std::string where = std::string("annotations.") + kRootfsOverlayAnnotation;
    RootOverlay r = parse_rootfs_overlay(value ? *value : "");
    const std::string* layers = annotation(kRootfsOverlayLowerAnnotation);
    if (r.mode == RootOverlay::Mode::none) {
      if (layers)
        throw Error(std::string("annotations.") + kRootfsOverlayLowerAnnotation + ": needs " + where +
                    " (ephemeral or persistent:DIR): the lower directories are layers of the root overlay");
      return;
    }
    OverlayMount om;
    om.origin = where;
    om.root = true;
    om.driver = driver_;
    om.in_userns = in_userns();
    om.root_mode = lower.st_mode & 07777;
    om.data.lowerdirs.push_back(plan_.rootfs);
    if (layers) plan_root_lowers(*layers, om);
    if (r.mode == RootOverlay::Mode::ephemeral) {
      om.ephemeral = true;
    } else {
      if (r.dir == plan_.rootfs || r.dir.rfind(plan_.rootfs + "/", 0) == 0)
        throw Error(where + ": the directory " + quote(r.dir) + " must not be inside root.path " + quote(plan_.rootfs));
      om.data.upperdir = r.dir + "/upper";
      om.data.workdir = r.dir + "/work";
      make_persistent_dirs(om, lower, where);
      om.kernel_data = kernel_overlay_data(om.data, in_userns());
    }
    om.fuse_binary = fuse_binary(where);
    plan_root_idmap(om);
    check_lower_owners(om);
    if (layers) check_mount_data_size(om);
    plan_.root_overlay = plan_.overlays.size();
    plan_.overlays.push_back(std::move(om));
  }

  // rrun.rootfs.overlay.lower (overlay.hpp): the layers under root.path,
  // each an existing directory outside it.
  void plan_root_lowers(const std::string& value, OverlayMount& om) {
    const std::string where = std::string("annotations.") + kRootfsOverlayLowerAnnotation;
    std::vector<std::string> dirs = parse_rootfs_overlay_lower(value);
    for (const std::string& dir : dirs) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0)
        os::throw_errno(where + ": the lower directory " + quote(dir) + (errno == ENOENT ? " does not exist" : ""));
      if (!S_ISDIR(st.st_mode)) throw Error(where + ": " + quote(dir) + " is not a directory");
      if (dir == plan_.rootfs || dir.rfind(plan_.rootfs + "/", 0) == 0)
        throw Error(where + ": " + quote(dir) + " is root.path or inside it; list the layers under root.path");
      om.data.lowerdirs.push_back(dir);
    }
    std::vector<std::string> more(om.data.lowerdirs.begin() + 1, om.data.lowerdirs.end());
    om.kernel_more_lowers = ":" + format_rootfs_overlay_lower(more);
  }

  // mount(2) takes at most a page of data: many layers with long paths
  // don't fit (the fuse driver takes them on its command line).
  static void check_mount_data_size(const OverlayMount& om) {
    // The child's ephemeral data: lowerdir=/proc/self/fd/N, two more such fds, userxattr.
    size_t size = om.ephemeral ? om.kernel_more_lowers.size() + 96 : om.kernel_data.size() + 1;
    if (om.driver == OverlayDriver::fuse || size <= 4096) return;
    throw Error(std::string("annotations.") + kRootfsOverlayLowerAnnotation + ": " +
                std::to_string(om.data.lowerdirs.size()) + " layers make " + std::to_string(size) +
                " bytes of overlay mount options, more than the kernel takes (4096); use fewer or shorter paths, or "
                "annotations." +
                kOverlayDriverAnnotation + " fuse");
  }

  // rrun.rootfs.overlay.uidmapping/gidmapping (overlay.hpp): the files'
  // owners shown through fuse-overlayfs, whose daemon runs in the
  // container's user namespace and sees the ids its mappings give.
  void plan_root_idmap(OverlayMount& om) {
    const std::string* uids = annotation(kRootfsOverlayUidmapAnnotation);
    const std::string* gids = annotation(kRootfsOverlayGidmapAnnotation);
    if (!uids && !gids) return;
    const std::string where =
        std::string("annotations.") + (uids ? kRootfsOverlayUidmapAnnotation : kRootfsOverlayGidmapAnnotation);
    if (!uids || !gids)
      throw Error(where + ": needs annotations." +
                  (uids ? kRootfsOverlayGidmapAnnotation : kRootfsOverlayUidmapAnnotation) + " too");
    auto shown_uids = parse_overlay_idmap(*uids, std::string("annotations.") + kRootfsOverlayUidmapAnnotation);
    auto shown_gids = parse_overlay_idmap(*gids, std::string("annotations.") + kRootfsOverlayGidmapAnnotation);
    if (!in_userns() || opts_.uid_mappings.empty() || opts_.gid_mappings.empty())
      throw Error(where + ": only for a container with a user namespace of its own");
    if (om.driver == OverlayDriver::kernel)
      throw Error(where + ": only fuse-overlayfs can show other owners; annotations." + kOverlayDriverAnnotation +
                  " is `kernel`");
    if (om.fuse_binary.empty())
      throw Error(where +
                  ": needs fuse-overlayfs, which was not found in PATH; install it (Debian: apt install "
                  "fuse-overlayfs)");
    om.driver = OverlayDriver::fuse;
    om.fuse_uidmapping = fuse_overlay_idmapping(shown_uids, opts_.uid_mappings);
    om.fuse_gidmapping = fuse_overlay_idmapping(shown_gids, opts_.gid_mappings);
  }

  // /dev/fuse opens for the container's init: as the caller, when it is
  // unprivileged; root in a user namespace is "other" to the host's node.
  static bool dev_fuse_usable() {
    if (::geteuid() != 0) {
      os::UniqueFd fd(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
      return fd.valid();
    }
    struct stat st {};
    return ::stat("/dev/fuse", &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 0006) == 0006;
  }

  // In a user namespace, a lower layer whose files belong to ids it does not
  // map breaks every kernel copy-up (EOVERFLOW, overlay.hpp): the root of
  // each lower layer and its entries are checked. The auto driver then
  // takes fuse-overlayfs where it can run; otherwise one error line.
  void check_lower_owners(OverlayMount& om) {
    if (!in_userns() || om.driver == OverlayDriver::fuse || opts_.uid_mappings.empty() || opts_.gid_mappings.empty())
      return;
    for (const std::string& lower : om.data.lowerdirs) {
      auto bad = find_unmapped_owner(top_level_owners(lower), opts_.uid_mappings, opts_.gid_mappings);
      if (!bad) continue;
      bool fuse_ok = !om.fuse_binary.empty() && dev_fuse_usable();
      if (om.driver == OverlayDriver::automatic && fuse_ok) {
        om.driver = OverlayDriver::fuse;
        om.squash_to_root = true;
        return;
      }
      std::string fuse_remedy =
          om.driver == OverlayDriver::kernel
              ? std::string("use fuse-overlayfs (annotations.") + kOverlayDriverAnnotation + " auto or fuse)"
          : om.fuse_binary.empty() ? "install fuse-overlayfs (Debian: apt install fuse-overlayfs)"
                                   : "make /dev/fuse usable for fuse-overlayfs (chmod 0666 /dev/fuse)";
      throw Error(om.origin + ": " + quote(bad->path) + " belongs to " + bad->kind + " " + std::to_string(bad->id) +
                  ", which the container's user namespace does not map, so the kernel overlay cannot copy it up "
                  "(Value too large for defined data type); chown -R " +
                  std::to_string(host_id_of_root(opts_.uid_mappings, opts_.uid_mappings[0].host_id)) + ":" +
                  std::to_string(host_id_of_root(opts_.gid_mappings, opts_.gid_mappings[0].host_id)) + " " +
                  quote(lower) + ", or " + fuse_remedy);
    }
  }

  // DIR/upper (with the mode of the lower root) and DIR/work, made when
  // missing; root gives them to the container's root user.
  void make_persistent_dirs(const OverlayMount& om, const struct stat& lower, const std::string& where) {
    const std::string dir = om.data.upperdir.substr(0, om.data.upperdir.size() - 6);
    try {
      os::mkdir_p(dir, 0700);
      for (const std::string* d : {&om.data.upperdir, &om.data.workdir}) {
        bool upper = d == &om.data.upperdir;
        if (::mkdir(d->c_str(), upper ? om.root_mode : 0700) != 0) {
          if (errno != EEXIST) os::throw_errno("create " + quote(*d));
          struct stat st {};
          if (::stat(d->c_str(), &st) != 0) os::throw_errno("stat " + quote(*d));
          if (!S_ISDIR(st.st_mode)) throw Error(quote(*d) + " is not a directory");
          continue;
        }
        if (upper && ::chmod(d->c_str(), om.root_mode) != 0) os::throw_errno("chmod " + quote(*d));
        if (::geteuid() == 0 && in_userns()) {
          uid_t uid = static_cast<uid_t>(host_id_of_root(opts_.uid_mappings, lower.st_uid));
          gid_t gid = static_cast<gid_t>(host_id_of_root(opts_.gid_mappings, lower.st_gid));
          if (::chown(d->c_str(), uid, gid) != 0) os::throw_errno("chown " + quote(*d));
        }
      }
    } catch (const std::exception& e) {
      throw Error(where + ": " + e.what());
    }
  }

  void plan_mount(const spec::Mount& m, const std::string& where) {
    std::string dest;
    try {
      dest = mount_destination(m.destination);
    } catch (const Error& e) {
      throw Error(where + ".destination: " + e.what());
    }
    MountOptions mo = parse_mount_options(m.options, where);

    MountOp op;
    op.origin = where;
    op.destination = dest;
    op.flags = mo.flags & ~(MS_BIND | MS_REC);
    op.propagation = mo.propagation;
    op.attr_set = mo.attr_set;
    op.attr_clr = mo.attr_clr;
    op.data = mo.data;

    const std::string& type = m.type;
    bool bind = mo.bind || type == "bind";
    if (mo.copy_up) plan_copy_up(op, type, bind, where);
    if (type == "overlay" && !bind) {
      plan_overlay_mount(op, mo, where);
      return;
    }
    if (mo.idmap) {
      if (!bind) throw Error(where + ".options: `idmap` needs a bind mount");
      if (m.uid_mappings.empty() || m.gid_mappings.empty())
        throw Error(where + ": an idmapped mount needs both uidMappings and gidMappings");
      op.idmap = true;
      op.idmap_recursive = mo.idmap_recursive;
      op.uid_mappings = m.uid_mappings;
      op.gid_mappings = m.gid_mappings;
    } else if (!m.uid_mappings.empty() || !m.gid_mappings.empty()) {
      throw Error(where + ": uidMappings/gidMappings need the `idmap` or `ridmap` option");
    }

    if (dest == "/dev") {
      dev_origin_ = where;
      if (bind) plan_.setup_dev = false;
    }

    if (bind) {
      if (m.source.empty()) throw Error(where + ".source: required for a bind mount");
      op.kind = OpKind::bind;
      op.source = is_absolute(m.source) ? m.source : bundle_ + "/" + m.source;
      op.recursive = mo.recursive;
      op.data.clear();  // ignored by bind mounts
      plan_.ops_before_pivot.push_back(op);
      return;
    }
    if (type.empty()) throw Error(where + ".type: required unless the options contain `bind` or `rbind`");
    op.kind = OpKind::mount;
    op.fstype = type;
    op.source = m.source.empty() ? type : m.source;

    if (type == "proc" && in_userns() && !opts_.new_pid_ns) {
      // A proc mount needs the pid namespace to be ours; with the caller's
      // (podman --pid=host rootless, a sandbox's `share: [pid]`) bind the
      // host's /proc, which shows the same processes.
      to_rbind(op, "/proc");
    } else if (type == "sysfs") {
      if (in_userns() && !opts_.new_net_ns) {
        // A sysfs mount needs the network namespace to be ours; bind the
        // host's /sys instead, read-only all the way down when asked.
        to_rbind(op, "/sys");
      } else if (in_userns()) {
        op.fallback_source = "/sys";
      }
    } else if (type == "mqueue") {
      if (in_userns() && !opts_.new_ipc_ns) {
        to_rbind(op, "/dev/mqueue");
        op.recursive = false;
        op.optional = true;  // the host may have no /dev/mqueue
      } else if (in_userns()) {
        op.fallback_source = "/dev/mqueue";
        op.optional = true;
      }
    } else if (type == "cgroup" || type == "cgroup2") {
      if (plan_cgroup_v1_tree(op)) return;
      // cgroup2 can be mounted where the host is unified and (in a user
      // namespace) the cgroup namespace is ours; otherwise bind the host's
      // tree (runc rootless: bind /sys/fs/cgroup; on a hybrid host its v1
      // half belongs to the host and stays read-only when asked).
      bool can_mount = opts_.host_cgroup2 && (!in_userns() || opts_.new_cgroup_ns);
      if (can_mount) {
        op.fstype = "cgroup2";
        if (op.source == "cgroup") op.source = "cgroup2";
        if (in_userns()) op.fallback_source = "/sys/fs/cgroup";
      } else {
        to_rbind(op, "/sys/fs/cgroup");
      }
      if (opts_.rootless) op.optional = true;
    } else if (type == "devpts" && in_userns()) {
      op.data = filter_devpts_gid(op.data, opts_);
    } else if (type == "tmpfs" && dest == "/dev" && (op.flags & MS_RDONLY)) {
      // The devices are made first; /dev becomes read-only after pivot_root (runc finalizeRootfs).
      op.flags &= ~MS_RDONLY;
      dev_readonly_ = true;
    }
    plan_.ops_before_pivot.push_back(op);
  }

  // tmpcopyup (copyup.hpp): only a tmpfs can take it (crun and runc); its
  // root keeps the covered directory's mode and owner unless the options
  // give them.
  void plan_copy_up(MountOp& op, const std::string& type, bool bind, const std::string& where) {
    if (bind || type != "tmpfs")
      throw Error(where + ".options: `tmpcopyup` is only for tmpfs mounts, not " +
                  (bind ? std::string("bind mounts") : "type " + quote(type)));
    op.copy_up = true;
    auto given = [&](const char* key) {
      for (const std::string& o : os::split(op.data, ','))
        if (o.rfind(key, 0) == 0) return true;
      return false;
    };
    op.copy_up_root.mode = !given("mode=");
    op.copy_up_root.owner = !given("uid=") && !given("gid=");
  }

  // A v1 or hybrid host, as runc's mountCgroupV1: a tmpfs at the
  // destination, in it one directory per hierarchy the container has a
  // cgroup in (the controllers' and name=systemd; the unified one and other
  // named ones, which the init does not join, are left out) that shows only
  // the container's cgroup, and the host's links between them (cpu ->
  // cpu,cpuacct). With a cgroup namespace, a fresh mount of each hierarchy:
  // its root is the container's cgroup, as the namespace was made after the
  // init joined its cgroups. Without one, a bind of the container's cgroup
  // directory (a fresh mount would show the host's root). `ro` makes every
  // mount read-only, the tmpfs once it is filled. Not in a user namespace:
  // v1 can only be mounted with CAP_SYS_ADMIN in the initial one, so the
  // host's tree stays bound there (as runc rootless); neither when the
  // container's cgroups are unknown (not the v1 driver) and it has no cgroup
  // namespace.
  bool plan_cgroup_v1_tree(const MountOp& op) {
    const HostCgroupTree& host = opts_.host_cgroup_tree;
    if (opts_.host_cgroup2 || in_userns() || host.hierarchies.empty()) return false;
    const bool fresh = opts_.new_cgroup_ns;
    std::vector<std::pair<const CgroupHierarchy*, std::string>> shown;  // with the container's directory
    for (const CgroupHierarchy& h : host.hierarchies) {
      std::string dir = container_cgroup_of(h);
      // Unknown cgroups (another driver): with a namespace, the controllers
      // as the init's cgroups are.
      if (!dir.empty() || (fresh && opts_.container_cgroups.empty() && !h.named)) shown.emplace_back(&h, dir);
    }
    if (shown.empty()) return false;
    constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    auto add = [&](std::vector<MountOp>& ops, OpKind kind, const std::string& name) -> MountOp& {
      MountOp& m = ops.emplace_back();
      m.kind = kind;
      m.origin = op.origin;
      m.destination = name.empty() ? op.destination : op.destination + "/" + name;
      return m;
    };
    MountOp& tmpfs = add(plan_.ops_before_pivot, OpKind::mount, "");
    tmpfs.source = tmpfs.fstype = "tmpfs";
    tmpfs.flags = kFlags;
    tmpfs.data = "mode=755";
    tmpfs.propagation = op.propagation;
    for (const auto& [h, dir] : shown) {
      MountOp& m = add(plan_.ops_before_pivot, fresh ? OpKind::mount : OpKind::bind, h->dir);
      m.flags = kFlags | (op.flags & MS_RDONLY);
      if (fresh) {
        m.source = m.fstype = h->fstype;
        m.data = h->options;
      } else {
        m.source = dir;
        m.recursive = true;
        m.propagation = op.propagation;
      }
    }
    for (const CgroupLink& l : host.links) {
      bool target_shown =
          std::any_of(shown.begin(), shown.end(), [&](const auto& s) { return s.first->dir == l.target; });
      if (target_shown) add(plan_.ops_before_pivot, OpKind::symlink, l.name).link_target = l.target;
    }
    if (op.flags & MS_RDONLY) add(plan_.ops_after_pivot, OpKind::remount_readonly, "");
    return true;
  }

  // The container's cgroup directory in hierarchy `h` (by the controllers
  // or the name its options list), "" when it has none there.
  std::string container_cgroup_of(const CgroupHierarchy& h) const {
    for (const std::string& o : os::split(h.options, ',')) {
      auto it = opts_.container_cgroups.find(o);
      if (it != opts_.container_cgroups.end()) return it->second;
    }
    return "";
  }

  void plan_overlay_mount(MountOp& op, const MountOptions& mo, const std::string& where) {
    if (mo.idmap) throw Error(where + ".options: `idmap` is for bind mounts, not overlay");
    OverlayMount om;
    om.origin = where;
    om.driver = driver_;
    om.in_userns = in_userns();
    om.data = parse_overlay_data(mo.data, bundle_, where + ".options");
    om.kernel_data = kernel_overlay_data(om.data, in_userns());
    om.fuse_binary = fuse_binary(where);
    check_lower_owners(om);
    op.kind = OpKind::overlay;
    op.fstype = "overlay";
    op.source = "overlay";
    op.data.clear();
    op.overlay = plan_.overlays.size();
    plan_.overlays.push_back(std::move(om));
    plan_.ops_before_pivot.push_back(op);
  }

  void to_rbind(MountOp& op, const std::string& host_path) {
    op.kind = OpKind::bind;
    op.source = host_path;
    op.fstype.clear();
    op.data.clear();
    op.recursive = true;
    if (op.flags & MS_RDONLY) op.attr_set |= MOUNT_ATTR_RDONLY;
  }

  void plan_dev(const spec::Linux& lx) {
    bool bind_devices = in_userns();
    std::vector<std::string> spec_paths;
    for (const auto& d : lx.devices) spec_paths.push_back(clean_container_path(d.path));
    for (const auto& d : kDefaultDevices) {
      bool overridden = false;
      for (const auto& p : spec_paths) overridden |= p == d.path;
      if (overridden) continue;
      MountOp op;
      op.origin = "/dev";
      op.destination = d.path;
      if (bind_devices) {
        op.kind = OpKind::bind_device;
        op.source = d.path;
      } else {
        op.kind = OpKind::mknod;
        op.mode = S_IFCHR | 0666;
        op.dev = makedev(d.major, d.minor);
      }
      plan_.ops_before_pivot.push_back(op);
    }
    for (size_t i = 0; i < lx.devices.size(); ++i) plan_device(lx.devices[i], i, bind_devices);

    auto link = [&](const char* dest, const char* target, bool replace, const char* only_if) {
      MountOp op;
      op.kind = OpKind::symlink;
      op.origin = "/dev";
      op.destination = dest;
      op.link_target = target;
      op.replace = replace;
      if (only_if) op.only_if_exists = only_if;
      plan_.ops_before_pivot.push_back(op);
    };
    link("/dev/ptmx", "pts/ptmx", true, nullptr);
    link("/dev/fd", "/proc/self/fd", false, nullptr);
    link("/dev/stdin", "/proc/self/fd/0", false, nullptr);
    link("/dev/stdout", "/proc/self/fd/1", false, nullptr);
    link("/dev/stderr", "/proc/self/fd/2", false, nullptr);
    link("/dev/core", "/proc/kcore", false, "/proc/kcore");
  }

  void plan_device(const spec::Device& d, size_t i, bool bind_devices) {
    std::string where = "linux.devices[" + std::to_string(i) + "]";
    if (!is_absolute(d.path)) throw Error(where + ".path: must be absolute, got " + quote(d.path));
    std::string dest = clean_container_path(d.path);
    std::string base = last_component(dest);
    if (dest == "/" || base == "." || base == "..")
      throw Error(where + ".path: " + quote(d.path) + " is not a file name");
    mode_t type = 0;
    if (d.type == "c" || d.type == "u")
      type = S_IFCHR;
    else if (d.type == "b")
      type = S_IFBLK;
    else if (d.type == "p")
      type = S_IFIFO;
    else
      throw Error(where + ".type: expected one of c, b, u, p, got " + quote(d.type));
    if (d.major < 0 || d.minor < 0 || d.major > 0xfffff || d.minor > 0xfffff)
      throw Error(where + ": major/minor out of range");

    MountOp op;
    op.origin = where;
    op.destination = dest;
    if (bind_devices) {
      // mknod is not allowed in a user namespace: bind the host's node.
      struct stat st {};
      if (::stat(d.path.c_str(), &st) != 0)
        os::throw_errno(where + ".path: host device " + quote(d.path) +
                        " (rootless containers bind-mount device nodes from the host)");
      op.kind = OpKind::bind_device;
      op.source = d.path;
    } else {
      op.kind = OpKind::mknod;
      op.mode = type | (d.file_mode ? (*d.file_mode & 07777) : 0666);
      op.dev = type == S_IFIFO ? 0 : makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
      op.uid = d.uid.value_or(0);
      op.gid = d.gid.value_or(0);
    }
    plan_.ops_before_pivot.push_back(op);
  }

  void plan_path_op(OpKind kind, const std::string& path, const std::string& where) {
    if (!is_absolute(path)) throw Error(where + ": must be an absolute path, got " + quote(path));
    MountOp op;
    op.kind = kind;
    op.origin = where;
    op.destination = clean_container_path(path);
    plan_.ops_after_pivot.push_back(op);
  }

  const spec::Spec& spec_;
  std::string bundle_;
  const PlanOptions& opts_;
  RootfsPlan plan_;
  bool dev_readonly_ = false;
  std::string dev_origin_ = "/dev";
  OverlayDriver driver_ = OverlayDriver::automatic;
  std::optional<std::string> fuse_;
};

}  // namespace

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::mount:
      return "mount";
    case OpKind::bind:
      return "bind";
    case OpKind::mkdir:
      return "mkdir";
    case OpKind::symlink:
      return "symlink";
    case OpKind::mknod:
      return "mknod";
    case OpKind::bind_device:
      return "bind-device";
    case OpKind::mask:
      return "mask";
    case OpKind::readonly:
      return "readonly";
    case OpKind::remount_readonly:
      return "remount-readonly";
    case OpKind::overlay:
      return "overlay";
  }
  return "?";
}

unsigned long parse_propagation(const std::string& value, const std::string& json_path) {
  for (const auto& p : kPropagationOptions)
    if (value == p.name) return p.flags;
  throw Error(json_path + ": unknown propagation " + quote(value) +
              " (expected private, rprivate, shared, rshared, slave, rslave, unbindable or runbindable)");
}

std::vector<std::string> known_mount_options() {
  std::vector<std::string> out(std::begin(kSpecialOptions), std::end(kSpecialOptions));
  for (const auto& f : kFlagOptions) out.emplace_back(f.name);
  for (const auto& p : kPropagationOptions) out.emplace_back(p.name);
  for (const auto& a : kAttrOptions) out.emplace_back(a.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string mount_destination(const std::string& destination) {
  if (destination.empty()) throw Error("must not be empty");
  // runc accepts a relative destination as relative to "/" (with a warning).
  std::string dest = clean_container_path(destination);
  // "/a/.." too: inside the rootfs it is the root (".." stops there).
  size_t depth = 0;
  for (size_t i = 1; i < dest.size();) {
    size_t j = std::min(dest.find('/', i), dest.size());
    std::string_view c(dest.data() + i, j - i);
    if (c == "..")
      depth -= depth > 0;
    else if (c != ".")
      ++depth;
    i = j + 1;
  }
  if (depth == 0) throw Error("cannot mount over the container's root `/`");
  return dest;
}

MountOptions parse_mount_options(const std::vector<std::string>& options, const std::string& json_path) {
  MountOptions mo;
  for (size_t i = 0; i < options.size(); ++i) {
    const std::string& o = options[i];
    const std::string where = json_path + ".options[" + std::to_string(i) + "]";
    if (o.empty()) throw Error(where + ": empty option");
    if (o == "bind") {
      mo.bind = true;
      mo.flags |= MS_BIND;
      continue;
    }
    if (o == "rbind") {
      mo.bind = mo.recursive = true;
      mo.flags |= MS_BIND | MS_REC;
      continue;
    }
    if (o == "idmap" || o == "ridmap") {
      mo.idmap = true;
      mo.idmap_recursive = o == "ridmap";
      continue;
    }
    if (o == "tmpcopyup") {
      mo.copy_up = true;
      continue;
    }
    bool matched = false;
    for (const auto& f : kFlagOptions) {
      if (o == f.name) {
        if (f.clear)
          mo.flags &= ~f.flag;
        else
          mo.flags |= f.flag;
        matched = true;
        break;
      }
    }
    if (!matched) {
      for (const auto& p : kPropagationOptions) {
        if (o == p.name) {
          mo.propagation = p.flags;  // the last one wins, as in runc
          matched = true;
          break;
        }
      }
    }
    if (!matched) {
      for (const auto& a : kAttrOptions) {
        if (o == a.name) {
          mo.attr_clr |= a.clr;
          mo.attr_set &= ~a.clr;
          mo.attr_set |= a.set;
          matched = true;
          break;
        }
      }
    }
    if (!matched) {
      if (!mo.data.empty()) mo.data += ',';
      mo.data += o;
    }
  }
  return mo;
}

bool host_cgroup_is_unified(const std::string& cgroup_root) {
  struct statfs sf {};
  if (::statfs(cgroup_root.c_str(), &sf) != 0) return false;
  return sf.f_type == CGROUP2_SUPER_MAGIC;
}

std::vector<CgroupHierarchy> parse_cgroup_hierarchies(const std::string& mountinfo_text,
                                                      const std::string& cgroup_root) {
  std::vector<CgroupHierarchy> out;
  for (const std::string& line : os::split(mountinfo_text, '\n')) {
    // "id parent major:minor root mount-point options [optional...] - fstype source super-options"
    std::vector<std::string> f = os::words(line);
    auto dash = std::find(f.begin() + std::min<size_t>(f.size(), 6), f.end(), "-");
    if (f.size() < 6 || f.end() - dash < 4) continue;
    const std::string& fstype = dash[1];
    std::string mp = unescape_mountinfo(f[4]);
    // Only the hierarchies rrun's v1 driver places the init in: the
    // controllers' and name=systemd; another named one or the unified one
    // would show the caller's cgroup, on these hosts the root of the host's
    // tree (runc leaves out the unified one too).
    if (fstype != "cgroup" || mp.size() <= cgroup_root.size() + 1 ||
        mp.compare(0, cgroup_root.size() + 1, cgroup_root + "/") != 0)
      continue;
    CgroupHierarchy h;
    if (dash[3].find("name=") != std::string::npos) {
      std::vector<std::string> opts = os::split(dash[3], ',');
      if (std::find(opts.begin(), opts.end(), "name=systemd") == opts.end()) continue;
      h.named = true;
    }
    h.dir = mp.substr(cgroup_root.size() + 1);
    if (h.dir.find('/') != std::string::npos || h.dir == "." || h.dir == "..") continue;
    h.fstype = fstype;
    // The options as they are (rw/ro are the mount's; a release agent is
    // not ours to name): the kernel reuses the hierarchy they name.
    for (const std::string& o : os::split(dash[3], ',')) {
      if (o.empty() || o == "rw" || o == "ro" || o.rfind("release_agent=", 0) == 0) continue;
      if (!h.options.empty()) h.options += ',';
      h.options += o;
    }
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<CgroupLink> read_cgroup_links(const std::string& cgroup_root,
                                          const std::vector<CgroupHierarchy>& hierarchies) {
  std::vector<CgroupLink> out;
  for (const CgroupHierarchy& h : hierarchies) {
    // A co-mounted hierarchy ("cpu,cpuacct") has a link per controller.
    if (h.dir.find(',') == std::string::npos) continue;
    for (const std::string& name : os::split(h.dir, ',')) {
      char target[NAME_MAX + 1];
      std::string path = cgroup_root + "/" + name;
      ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
      if (n <= 0 || std::string(target, static_cast<size_t>(n)) != h.dir) continue;
      out.push_back({name, h.dir});
    }
  }
  return out;
}

HostCgroupTree probe_host_cgroup_tree() {
  HostCgroupTree t;
  t.hierarchies = parse_cgroup_hierarchies(os::read_file_if_exists("/proc/self/mountinfo").value_or(""));
  t.links = read_cgroup_links("/sys/fs/cgroup", t.hierarchies);
  return t;
}

bool owns_mount_namespace(const spec::Spec& spec) {
  const spec::Namespace* ns = spec.linux ? spec.linux->find_namespace(spec::NamespaceType::mount) : nullptr;
  if (!ns) return false;
  if (ns->path.empty()) return true;
  // Joining our own mount namespace by path is sharing it.
  struct stat theirs {
  }, ours{};
  if (::stat(ns->path.c_str(), &theirs) != 0 || ::stat("/proc/self/ns/mnt", &ours) != 0) return true;
  return theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino;
}

void refuse_without_mount_namespace(const spec::Spec& spec) {
  auto refuse = [](const std::string& field) {
    throw Error(field +
                ": needs a mount namespace of the container (linux.namespaces has none, so the container shares "
                "rrun's, which rrun does not change); add {\"type\": \"mount\"} to linux.namespaces or remove " +
                field);
  };
  if (!spec.mounts.empty()) refuse("mounts");
  if (spec.root && spec.root->readonly) refuse("root.readonly");
  auto overlay = spec.annotations.find(kRootfsOverlayAnnotation);
  if (overlay != spec.annotations.end() && parse_rootfs_overlay(overlay->second).mode != RootOverlay::Mode::none)
    refuse(std::string("annotations.") + kRootfsOverlayAnnotation);
  if (!spec.linux) return;
  const spec::Linux& lx = *spec.linux;
  if (!lx.masked_paths.empty()) refuse("linux.maskedPaths");
  if (!lx.readonly_paths.empty()) refuse("linux.readonlyPaths");
  if (!lx.rootfs_propagation.empty()) refuse("linux.rootfsPropagation");
  if (!lx.devices.empty()) refuse("linux.devices");
}

PlanOptions plan_options_from_spec(const spec::Spec& spec, bool rootless) {
  PlanOptions o;
  o.rootless = rootless;
  o.own_mount_ns = owns_mount_namespace(spec);
  o.host_cgroup2 = host_cgroup_is_unified();
  if (spec.linux) {
    const auto& lx = *spec.linux;
    o.new_user_ns = lx.has_namespace(spec::NamespaceType::user);
    o.new_pid_ns = lx.has_namespace(spec::NamespaceType::pid);
    o.new_net_ns = lx.has_namespace(spec::NamespaceType::network);
    o.new_ipc_ns = lx.has_namespace(spec::NamespaceType::ipc);
    o.new_cgroup_ns = lx.has_namespace(spec::NamespaceType::cgroup);
    o.gid_mappings = lx.gid_mappings;
    o.uid_mappings = lx.uid_mappings;
  }
  // The host's cgroup hierarchies, only where plan_cgroup_v1_tree uses them
  // (not in a user namespace: see in_userns()).
  if (needs_host_cgroup_tree(spec, o)) o.host_cgroup_tree = probe_host_cgroup_tree();
  return o;
}

bool needs_host_cgroup_tree(const spec::Spec& spec, const PlanOptions& options) {
  if (options.host_cgroup2 || options.rootless || options.new_user_ns) return false;
  return std::any_of(spec.mounts.begin(), spec.mounts.end(),
                     [](const spec::Mount& m) { return m.type == "cgroup" || m.type == "cgroup2"; });
}

RootfsPlan plan_rootfs(const spec::Spec& spec, const std::string& bundle_dir, const PlanOptions& options) {
  std::string bundle = bundle_dir;
  if (!is_absolute(bundle)) {
    char buf[PATH_MAX];
    if (!::realpath(bundle.empty() ? "." : bundle.c_str(), buf)) os::throw_errno("resolve bundle " + quote(bundle));
    bundle = buf;
  }
  return Planner(spec, bundle, options).run();
}

}  // namespace rrun::rootfs
