#include "setup.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <rrun/os/fd.hpp>

#include "copyup.hpp"
#include "resolve.hpp"

namespace rrun::rootfs {

namespace {

using os::fail_step;
using os::StepFailure;

// The MS_* flags a bind remount changes (per mount point, not per superblock).
constexpr unsigned long kPerMountFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                                         MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW;

struct Ctx {
  int rootfd;
  bool use_proc;
  StepFailure& f;
  const RootfsPlan* plan = nullptr;  // for OpKind::overlay
  FuseStarter* fuse = nullptr;
};

// The mount(2) target for the resolved fd.
struct Target {
  char buf[PATH_MAX];
  const char* get(const Ctx& c, int fd, const char* dest) noexcept {
    if (!c.use_proc) return dest;
    std::snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
    return buf;
  }
};

bool skippable(int err) {
  return err == EPERM || err == EACCES || err == ENOENT || err == EINVAL || err == EBUSY;
}

bool procfs_usable() noexcept {
  struct statfs sf {};
  if (::statfs("/proc", &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC) return false;
  return ::access("/proc/self/fd", X_OK) == 0;
}

// Splits "/a/b/c" into "/a/b" and "c" (in caller buffers).
int split_path(const char* path, char* parent, size_t parent_size, char* base, size_t base_size) noexcept {
  size_t len = std::strlen(path);
  while (len > 1 && path[len - 1] == '/') --len;
  size_t slash = len;
  while (slash > 0 && path[slash - 1] != '/') --slash;
  size_t blen = len - slash;
  if (blen == 0 || blen >= base_size || slash >= parent_size) {
    errno = EINVAL;
    return -1;
  }
  std::memcpy(base, path + slash, blen);
  base[blen] = '\0';
  std::memcpy(parent, path, slash);
  parent[slash] = '\0';
  if (parent[0] == '\0') std::strcpy(parent, "/");
  return 0;
}

// The MS_* flags of the mount that `fd` is on, from its statfs f_flags.
unsigned long mount_flags_of(int fd) noexcept {
  struct statfs sf {};
  if (::fstatfs(fd, &sf) != 0) return 0;
  unsigned long out = 0;
  const struct {
    unsigned long st, ms;
  } map[] = {{ST_RDONLY, MS_RDONLY},    {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},
             {ST_NOEXEC, MS_NOEXEC},    {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME},
             {ST_RELATIME, MS_RELATIME}};
  for (const auto& m : map)
    if (static_cast<unsigned long>(sf.f_flags) & m.st) out |= m.ms;
  return out;
}

// Remounts the bind mount at `fd` with `flags`. In a user namespace the
// flags the host set (nosuid, nodev, noexec, atime) are locked and cannot be
// dropped: on EPERM retry with them carried over (runc does the same).
int remount_bind(const Ctx& c, int fd, const char* dest, unsigned long flags) noexcept {
  Target t;
  const char* target = t.get(c, fd, dest);
  if (::mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | flags, nullptr) == 0) return 0;
  if (errno != EPERM) return -1;
  unsigned long locked = mount_flags_of(fd) & ~MS_RDONLY;
  if (flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) locked &= ~(MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
  return ::mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | flags | locked, nullptr);
}

// Makes the mount at `fd` read-only without touching its other flags:
// mount_setattr (5.12) sets only MOUNT_ATTR_RDONLY; older kernels get a bind
// remount with the current flags carried.
int remount_readonly(const Ctx& c, int fd, const char* dest) noexcept {
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0) return 0;
  if (errno != ENOSYS) return -1;
  Target t;
  unsigned long flags = mount_flags_of(fd) | MS_RDONLY;
  return ::mount(nullptr, t.get(c, fd, dest), nullptr, MS_REMOUNT | MS_BIND | flags, nullptr);
}

// After something is mounted on `dest`: its propagation, its recursive
// attributes and, for binds, the remount that applies the flags. `fd` must be
// reopened: the fd of the mount point still names the covered directory.
int finish_mount(const Ctx& c, const MountOp& op, bool is_bind, uint64_t extra_attr_set) noexcept {
  unsigned long remount = is_bind ? (op.flags & kPerMountFlags) : 0;
  uint64_t attr_set = op.attr_set | extra_attr_set;
  if (!remount && !op.propagation && !attr_set && !op.attr_clr) return 0;
  const char* dest = op.destination.c_str();
  os::UniqueFd fd(open_in_root(c.rootfd, dest));
  if (!fd.valid())
    return fail_step(c.f, errno, "mount", "%s: reopen `%s` inside the rootfs after mounting it", op.origin.c_str(),
                     dest);
  if (remount && remount_bind(c, fd.get(), dest, remount) != 0)
    return fail_step(c.f, errno, "mount", "%s: remount the bind mount on `%s` with its options", op.origin.c_str(),
                     dest);
  if (op.propagation) {
    Target t;
    if (::mount(nullptr, t.get(c, fd.get(), dest), nullptr, op.propagation, nullptr) != 0)
      return fail_step(c.f, errno, "mount", "%s: set the propagation of `%s`", op.origin.c_str(), dest);
  }
  if (attr_set || op.attr_clr) {
    struct mount_attr attr {};
    attr.attr_set = attr_set;
    attr.attr_clr = op.attr_clr;
    if (::mount_setattr(fd.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
      int err = errno;
      return fail_step(c.f, err, "mount", "%s: set recursive attributes (rro, rnosuid, ...) on `%s`%s",
                       op.origin.c_str(), dest, err == ENOSYS ? " (needs Linux 5.12 or later)" : "");
    }
  }
  return 0;
}

int append_map(char* buf, size_t size, const std::vector<spec::IdMapping>& maps) noexcept {
  size_t used = 0;
  for (const auto& m : maps) {
    int n = std::snprintf(buf + used, size - used, "%u %u %u\n", m.container_id, m.host_id, m.size);
    if (n < 0 || static_cast<size_t>(n) >= size - used) {
      errno = E2BIG;
      return -1;
    }
    used += static_cast<size_t>(n);
  }
  return static_cast<int>(used);
}

int write_proc_file(pid_t pid, const char* name, const char* data, size_t len) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/%s", static_cast<int>(pid), name);
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = ::write(fd, data, len);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (n != static_cast<ssize_t>(len)) {
    if (n >= 0) errno = EIO;
    return -1;
  }
  return 0;
}

// A user namespace carrying the idmapped mount's mappings (crun and runc
// make one the same way): a child is cloned into a new user namespace and
// sleeps, its maps are written, its namespace is opened, it is killed.
int make_idmap_userns(const Ctx& c, const MountOp& op) noexcept {
  pid_t parent = ::getpid();
  long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0)
    return fail_step(c.f, errno, "mount", "%s: create a user namespace for the idmapped mount on `%s`",
                     op.origin.c_str(), op.destination.c_str());
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    for (;;) ::pause();
  }
  auto reap = [&]() noexcept {
    int saved = errno;
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    errno = saved;
  };
  char map[8192];
  int len = append_map(map, sizeof map, op.uid_mappings);
  if (len < 0 || write_proc_file(static_cast<pid_t>(pid), "uid_map", map, static_cast<size_t>(len)) != 0) {
    reap();
    return fail_step(c.f, errno, "mount", "%s: write the uid_map of the idmapped mount on `%s`", op.origin.c_str(),
                     op.destination.c_str());
  }
  len = append_map(map, sizeof map, op.gid_mappings);
  if (len < 0 || write_proc_file(static_cast<pid_t>(pid), "gid_map", map, static_cast<size_t>(len)) != 0) {
    reap();
    return fail_step(c.f, errno, "mount", "%s: write the gid_map of the idmapped mount on `%s`", op.origin.c_str(),
                     op.destination.c_str());
  }
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/ns/user", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  reap();
  if (fd < 0)
    return fail_step(c.f, errno, "mount", "%s: open the user namespace of the idmapped mount on `%s`",
                     op.origin.c_str(), op.destination.c_str());
  return fd;
}

int bind_idmapped(const Ctx& c, const MountOp& op, const char* source, bool recursive, int target_fd) noexcept {
  int userns = make_idmap_userns(c, op);
  if (userns < 0) return -1;
  os::UniqueFd ns(userns);
  os::UniqueFd tree(
      ::open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0)));
  if (!tree.valid())
    return fail_step(c.f, errno, "mount", "%s: clone `%s` for an idmapped mount (open_tree needs Linux 5.2)",
                     op.origin.c_str(), source);
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(ns.get());
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (op.idmap_recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) != 0)
    return fail_step(c.f, errno, "mount",
                     "%s: idmap `%s` (the file system of the source must support idmapped mounts, Linux 5.12+)",
                     op.origin.c_str(), source);
  if (::move_mount(tree.get(), "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return fail_step(c.f, errno, "mount", "%s: attach the idmapped mount of `%s` on `%s`", op.origin.c_str(), source,
                     op.destination.c_str());
  return 0;
}

int do_bind(const Ctx& c, const MountOp& op, const char* source, bool recursive, uint64_t extra_attr_set) noexcept {
  const char* dest = op.destination.c_str();
  struct stat st {};
  if (::stat(source, &st) != 0) {
    if (op.optional && skippable(errno)) return 0;
    return fail_step(c.f, errno, "mount", "%s: bind source `%s` for `%s`", op.origin.c_str(), source, dest);
  }
  os::UniqueFd fd(create_in_root(c.rootfd, dest, S_ISDIR(st.st_mode)));
  if (!fd.valid())
    return fail_step(c.f, errno, "mount", "%s: create the mount point `%s` inside the rootfs", op.origin.c_str(), dest);
  if (op.idmap) {
    if (bind_idmapped(c, op, source, recursive, fd.get()) != 0) return -1;
  } else {
    Target t;
    if (::mount(source, t.get(c, fd.get(), dest), nullptr, MS_BIND | (recursive ? MS_REC : 0), nullptr) != 0) {
      if (op.optional && skippable(errno)) return 0;
      return fail_step(c.f, errno, "mount", "%s: %s `%s` on `%s`", op.origin.c_str(), recursive ? "rbind" : "bind",
                       source, dest);
    }
  }
  fd.reset();
  return finish_mount(c, op, true, extra_attr_set);
}

// tmpcopyup: the directory the new tmpfs covers (opened before the mount)
// is copied into it; a read-only tmpfs becomes read-only after the copy.
int copy_up_into(const Ctx& c, const MountOp& op, int covered) noexcept {
  const char* dest = op.destination.c_str();
  os::UniqueFd mounted(open_in_root(c.rootfd, dest));
  os::UniqueFd dir(mounted.valid() ? ::openat(mounted.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1);
  if (!dir.valid())
    return fail_step(c.f, errno, "tmpcopyup", "%s: open the new tmpfs on `%s`", op.origin.c_str(), dest);
  return copy_up(covered, dir.get(), op.copy_up_root, op.origin.c_str(), dest, c.f);
}

int do_mount(const Ctx& c, const MountOp& op) noexcept {
  const char* dest = op.destination.c_str();
  os::UniqueFd fd(create_in_root(c.rootfd, dest, true));
  if (!fd.valid())
    return fail_step(c.f, errno, "mount", "%s: create the mount point `%s` inside the rootfs", op.origin.c_str(), dest);
  os::UniqueFd covered;
  unsigned long flags = op.flags;
  if (op.copy_up) {
    covered.reset(::openat(fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!covered.valid())
      return fail_step(c.f, errno, "tmpcopyup", "%s: open `%s` inside the rootfs to copy it into the tmpfs",
                       op.origin.c_str(), dest);
    flags &= ~MS_RDONLY;
  }
  Target t;
  if (::mount(op.source.c_str(), t.get(c, fd.get(), dest), op.fstype.c_str(), flags,
              op.data.empty() ? nullptr : op.data.c_str()) != 0) {
    int err = errno;
    fd.reset();
    if (!op.fallback_source.empty() && (err == EPERM || err == EBUSY))
      return do_bind(c, op, op.fallback_source.c_str(), true, (op.flags & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0);
    if (op.optional && skippable(err)) return 0;
    const char* hint = "";
    if (err == EPERM && op.fstype == "sysfs")
      hint = " (in a user namespace sysfs needs a network namespace of its own)";
    if (err == EPERM && op.fstype == "proc") hint = " (in a user namespace proc needs a pid namespace of its own)";
    if (err == ENODEV) hint = " (the kernel does not know this file system type)";
    return fail_step(c.f, err, "mount", "%s: mount `%s` (type `%s`, options `%s`) on `%s`%s", op.origin.c_str(),
                     op.source.c_str(), op.fstype.c_str(), op.data.c_str(), dest, hint);
  }
  fd.reset();
  if (covered.valid() && copy_up_into(c, op, covered.get()) != 0) return -1;
  return finish_mount(c, op, false, flags != op.flags ? MOUNT_ATTR_RDONLY : 0);
}

int do_mknod(const Ctx& c, const MountOp& op) noexcept {
  const char* dest = op.destination.c_str();
  char parent[PATH_MAX], base[NAME_MAX + 1];
  if (split_path(dest, parent, sizeof parent, base, sizeof base) != 0)
    return fail_step(c.f, errno, "mknod", "%s: bad device path `%s`", op.origin.c_str(), dest);
  os::UniqueFd dir(create_in_root(c.rootfd, parent, true));
  if (!dir.valid())
    return fail_step(c.f, errno, "mknod", "%s: create `%s` inside the rootfs", op.origin.c_str(), parent);
  if (::mknodat(dir.get(), base, op.mode, op.dev) != 0) {
    if (errno == EEXIST) return 0;  // keep what the image has (runc)
    int err = errno;
    return fail_step(c.f, err, "mknod", "%s: create the device `%s`%s", op.origin.c_str(), dest,
                     err == EPERM ? " (needs CAP_MKNOD; in a user namespace devices are bind-mounted)" : "");
  }
  if (::fchmodat(dir.get(), base, op.mode & 07777, 0) != 0)
    return fail_step(c.f, errno, "mknod", "%s: chmod the device `%s`", op.origin.c_str(), dest);
  if (::fchownat(dir.get(), base, op.uid, op.gid, AT_SYMLINK_NOFOLLOW) != 0)
    return fail_step(c.f, errno, "mknod", "%s: chown the device `%s` to %u:%u", op.origin.c_str(), dest,
                     static_cast<unsigned>(op.uid), static_cast<unsigned>(op.gid));
  return 0;
}

int do_bind_device(const Ctx& c, const MountOp& op) noexcept {
  const char* dest = op.destination.c_str();
  os::UniqueFd fd(create_in_root(c.rootfd, dest, false));
  if (!fd.valid())
    return fail_step(c.f, errno, "mount", "%s: create the file `%s` to bind the device on", op.origin.c_str(), dest);
  Target t;
  if (::mount(op.source.c_str(), t.get(c, fd.get(), dest), nullptr, MS_BIND, nullptr) != 0)
    return fail_step(c.f, errno, "mount", "%s: bind the host device `%s` on `%s`", op.origin.c_str(), op.source.c_str(),
                     dest);
  return 0;
}

int do_symlink(const Ctx& c, const MountOp& op) noexcept {
  if (!op.only_if_exists.empty() && ::access(op.only_if_exists.c_str(), F_OK) != 0) return 0;
  const char* dest = op.destination.c_str();
  char parent[PATH_MAX], base[NAME_MAX + 1];
  if (split_path(dest, parent, sizeof parent, base, sizeof base) != 0)
    return fail_step(c.f, errno, "symlink", "%s: bad path `%s`", op.origin.c_str(), dest);
  os::UniqueFd dir(create_in_root(c.rootfd, parent, true));
  if (!dir.valid())
    return fail_step(c.f, errno, "symlink", "%s: create `%s` inside the rootfs", op.origin.c_str(), parent);
  if (op.replace && ::unlinkat(dir.get(), base, 0) != 0 && errno != ENOENT)
    return fail_step(c.f, errno, "symlink", "%s: remove `%s`", op.origin.c_str(), dest);
  if (::symlinkat(op.link_target.c_str(), dir.get(), base) != 0) {
    if (errno == EEXIST && !op.replace) return 0;
    return fail_step(c.f, errno, "symlink", "%s: link `%s` -> `%s`", op.origin.c_str(), dest, op.link_target.c_str());
  }
  return 0;
}

int do_mask(const Ctx& c, const MountOp& op) noexcept {
  const char* dest = op.destination.c_str();
  os::UniqueFd fd(open_in_root(c.rootfd, dest));
  if (!fd.valid()) {
    if (errno == ENOENT) return 0;
    return fail_step(c.f, errno, "mask", "%s: resolve `%s` inside the rootfs", op.origin.c_str(), dest);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_step(c.f, errno, "mask", "%s: stat `%s`", op.origin.c_str(), dest);
  Target t;
  const char* target = t.get(c, fd.get(), dest);
  if (S_ISDIR(st.st_mode)) {
    if (::mount("tmpfs", target, "tmpfs", MS_RDONLY, nullptr) != 0)
      return fail_step(c.f, errno, "mask", "%s: mount a read-only tmpfs on `%s`", op.origin.c_str(), dest);
  } else if (::mount("/dev/null", target, nullptr, MS_BIND, nullptr) != 0) {
    return fail_step(c.f, errno, "mask", "%s: bind `/dev/null` on `%s`", op.origin.c_str(), dest);
  }
  return 0;
}

int do_readonly(const Ctx& c, const MountOp& op) noexcept {
  const char* dest = op.destination.c_str();
  os::UniqueFd fd(open_in_root(c.rootfd, dest));
  if (!fd.valid()) {
    if (errno == ENOENT) return 0;
    return fail_step(c.f, errno, "readonly", "%s: resolve `%s` inside the rootfs", op.origin.c_str(), dest);
  }
  Target t;
  const char* target = t.get(c, fd.get(), dest);
  if (::mount(target, target, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return fail_step(c.f, errno, "readonly", "%s: bind `%s` onto itself", op.origin.c_str(), dest);
  fd.reset(open_in_root(c.rootfd, dest));
  if (!fd.valid() || remount_readonly(c, fd.get(), dest) != 0)
    return fail_step(c.f, errno, "readonly", "%s: remount `%s` read-only", op.origin.c_str(), dest);
  return 0;
}

int do_remount_readonly(const Ctx& c, const MountOp& op) noexcept {
  const char* dest = op.destination.c_str();
  os::UniqueFd fd(open_in_root(c.rootfd, dest));
  if (!fd.valid() || remount_readonly(c, fd.get(), dest) != 0)
    return fail_step(c.f, errno, "readonly", "%s: remount `%s` read-only", op.origin.c_str(), dest);
  return 0;
}

// ---- overlay (overlay.hpp) ----

const char* overlay_hint(int err, int upper_fd) noexcept {
  struct statfs sf {};
  if (upper_fd >= 0 && ::fstatfs(upper_fd, &sf) == 0 && sf.f_type == NFS_SUPER_MAGIC)
    return " (the upper directory is on NFS, which overlayfs cannot use as upper layer: put it on a local file "
           "system)";
  if (err == EPERM || err == EINVAL)
    return " (overlayfs in a user namespace needs Linux 5.11+ and an upper file system with user xattrs)";
  if (err == ENODEV) return " (the kernel has no overlay file system: modprobe overlay)";
  return "";
}

// The kernel's answer to a failed overlay mount, with the fallback
// decision: 1 = try fuse-overlayfs, -1 = failed (f filled).
int kernel_overlay_failed(const OverlayMount& om, const char* dest, int err, int upper_fd, StepFailure& f) noexcept {
  const char* hint = overlay_hint(err, upper_fd);
  if (om.driver == OverlayDriver::kernel)
    return fail_step(f, err, "overlay", "%s: mount overlay on `%s` (%s=kernel)%s", om.origin.c_str(), dest,
                     kOverlayDriverAnnotation, hint);
  if (om.fuse_binary.empty())
    return fail_step(f, err, "overlay",
                     "%s: the kernel refused the overlay on `%s`%s, and the fallback fuse-overlayfs is not installed "
                     "(not found in PATH; Debian: apt install fuse-overlayfs)",
                     om.origin.c_str(), dest, hint);
  return 1;
}

// The fuse path: /dev/fuse opened and mounted here, in the container's user
// and mount namespaces (the kernel wants the opener and the mounter in the
// same user namespace), the connection handed to rrun for fuse-overlayfs.
// `target` is the mount point (a /proc/self/fd path or an absolute path);
// `reopen` reopens what is mounted there, to wait for the daemon.
int mount_fuse_overlay(const Ctx& c, const OverlayMount& om, size_t index, const char* target, const char* dest,
                       unsigned long flags, int kernel_err) noexcept {
  StepFailure& f = c.f;
  // In auto mode, say first why the kernel was not enough.
  char why[96] = "";
  if (kernel_err)
    std::snprintf(why, sizeof why, "the kernel refused the overlay (%s), and ", std::strerror(kernel_err));
  os::UniqueFd dev(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!dev.valid()) {
    int err = errno;
    if (err == EACCES || err == EPERM)
      return fail_step(f, err, "overlay",
                       "%s: %sfuse-overlayfs for `%s` needs `/dev/fuse`, which this user can't open (mode 0600 here; "
                       "distributions ship 0666: chmod 0666 /dev/fuse%s)",
                       om.origin.c_str(), why, dest, kernel_err ? "" : ", or use the kernel driver");
    return fail_step(f, err, "overlay", "%s: %sopen `/dev/fuse` for fuse-overlayfs on `%s`%s", om.origin.c_str(), why,
                     dest, err == ENOENT || err == ENODEV ? " (load the fuse module: modprobe fuse)" : "");
  }
  char data[160];
  std::snprintf(data, sizeof data, "fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other,default_permissions",
                dev.get(), static_cast<unsigned>(::getuid()), static_cast<unsigned>(::getgid()));
  if (::mount("fuse-overlayfs", target, "fuse.fuse-overlayfs", flags | MS_NOSUID | MS_NODEV, data) != 0)
    return fail_step(f, errno, "overlay", "%s: mount a fuse file system on `%s` for fuse-overlayfs", om.origin.c_str(),
                     dest);
  if (!c.fuse) return fail_step(f, ENOTSUP, "overlay", "%s: no way to start fuse-overlayfs here", om.origin.c_str());
  if (c.fuse->start_fuse_overlay(index, dev.get(), f) != 0) return -1;
  // Only the daemon holds the connection now: if it dies, requests fail
  // with ENOTCONN instead of hanging.
  dev.reset();
  return 0;
}

// Waits for the daemon to answer (the first request blocks until it does)
// through a fresh lookup of `dest` (the old fd names the covered directory).
int check_fuse_overlay(const OverlayMount& om, int dirfd, const char* path, const char* dest, StepFailure& f) noexcept {
  os::UniqueFd fd(dirfd >= 0 ? open_in_root(dirfd, path) : ::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0)
    return fail_step(f, errno, "overlay", "%s: fuse-overlayfs on `%s` did not start", om.origin.c_str(), dest);
  return 0;
}

int do_overlay(const Ctx& c, const MountOp& op) noexcept {
  const OverlayMount& om = c.plan->overlays[op.overlay];
  const char* dest = op.destination.c_str();
  os::UniqueFd fd(create_in_root(c.rootfd, dest, true));
  if (!fd.valid())
    return fail_step(c.f, errno, "mount", "%s: create the mount point `%s` inside the rootfs", op.origin.c_str(), dest);
  Target t;
  const char* target = t.get(c, fd.get(), dest);
  int kernel_err = 0;
  if (om.driver != OverlayDriver::fuse) {
    if (::mount("overlay", target, "overlay", op.flags, om.kernel_data.c_str()) == 0) {
      fd.reset();
      return finish_mount(c, op, false, 0);
    }
    kernel_err = errno;
    os::UniqueFd upper(om.data.upperdir.empty() ? -1 : ::open(om.data.upperdir.c_str(), O_PATH | O_CLOEXEC));
    if (kernel_overlay_failed(om, dest, kernel_err, upper.get(), c.f) < 0) return -1;
  }
  if (mount_fuse_overlay(c, om, op.overlay, target, dest, op.flags, kernel_err) != 0) return -1;
  fd.reset();
  if (check_fuse_overlay(om, c.rootfd, dest, dest, c.f) != 0) return -1;
  return finish_mount(c, op, false, 0);
}

// Ephemeral root: a tmpfs on the rootfs path (under the overlay, out of the
// container's reach after pivot_root) holds upper/ (with the lower root's
// mode and owner) and work/. Returns the data string in `data`.
int make_ephemeral_upper(const OverlayMount& om, const char* rootfs, int lower, char* data, size_t size, bool in_userns,
                         int* upper_out, int* work_out, StepFailure& f) noexcept {
  struct stat st {};
  if (::fstat(lower, &st) != 0) return fail_step(f, errno, "overlay", "%s: stat `%s`", om.origin.c_str(), rootfs);
  if (::mount("tmpfs", rootfs, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0)
    return fail_step(f, errno, "overlay", "%s: mount the tmpfs for the upper layer", om.origin.c_str());
  os::UniqueFd tmp(::open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!tmp.valid() || ::mkdirat(tmp.get(), "upper", 0700) != 0 || ::mkdirat(tmp.get(), "work", 0700) != 0 ||
      ::fchmodat(tmp.get(), "upper", st.st_mode & 07777, 0) != 0)
    return fail_step(f, errno, "overlay", "%s: create upper/ and work/ on the tmpfs", om.origin.c_str());
  // The lower root's owner may not be mapped: then container root owns it.
  (void)::fchownat(tmp.get(), "upper", st.st_uid, st.st_gid, 0);
  *upper_out = ::openat(tmp.get(), "upper", O_PATH | O_DIRECTORY | O_CLOEXEC);
  *work_out = ::openat(tmp.get(), "work", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*upper_out < 0 || *work_out < 0)
    return fail_step(f, errno, "overlay", "%s: open upper/ and work/ on the tmpfs", om.origin.c_str());
  int n = std::snprintf(data, size, "lowerdir=/proc/self/fd/%d%s,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d%s",
                        lower, om.kernel_more_lowers.c_str(), *upper_out, *work_out, in_userns ? ",userxattr" : "");
  if (n < 0 || static_cast<size_t>(n) >= size)
    return fail_step(f, E2BIG, "overlay", "%s: the overlay mount options are longer than %zu bytes", om.origin.c_str(),
                     size);
  return 0;
}

int mount_root_overlay(const RootfsPlan& plan, const OverlayMount& om, FuseStarter* fuse, StepFailure& f) noexcept {
  const char* rootfs = plan.rootfs.c_str();
  size_t index = *plan.root_overlay;
  int kernel_err = 0;
  if (om.driver != OverlayDriver::fuse) {
    os::UniqueFd lower(::open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!lower.valid()) return fail_step(f, errno, "overlay", "%s: open the rootfs `%s`", om.origin.c_str(), rootfs);
    int upper_fd = -1, work_fd = -1;
    char data[4096];  // mount(2) takes at most a page
    const char* d = om.kernel_data.c_str();
    if (om.ephemeral) {
      int r = make_ephemeral_upper(om, rootfs, lower.get(), data, sizeof data, om.in_userns, &upper_fd, &work_fd, f);
      os::UniqueFd u(upper_fd), w(work_fd);
      if (r != 0) return -1;
      if (::mount("overlay", rootfs, "overlay", 0, data) == 0) return 0;
      kernel_err = errno;
      ::umount2(rootfs, MNT_DETACH);  // the tmpfs: the fuse path makes its own
      if (kernel_overlay_failed(om, rootfs, kernel_err, -1, f) < 0) return -1;
    } else {
      if (::mount("overlay", rootfs, "overlay", 0, d) == 0) return 0;
      kernel_err = errno;
      os::UniqueFd upper(::open(om.data.upperdir.c_str(), O_PATH | O_CLOEXEC));
      if (kernel_overlay_failed(om, rootfs, kernel_err, upper.get(), f) < 0) return -1;
    }
  }
  Ctx c{-1, false, f, &plan, fuse};
  if (mount_fuse_overlay(c, om, index, rootfs, rootfs, 0, kernel_err) != 0) return -1;
  return check_fuse_overlay(om, -1, rootfs, rootfs, f);
}

int execute_op_in(const Ctx& c, const MountOp& op) noexcept;

}  // namespace

int execute_op(int rootfd, const MountOp& op, bool use_proc, StepFailure& f) noexcept {
  Ctx c{rootfd, use_proc, f};
  return execute_op_in(c, op);
}

namespace {

int execute_op_in(const Ctx& c, const MountOp& op) noexcept {
  int rootfd = c.rootfd;
  StepFailure& f = c.f;
  switch (op.kind) {
    case OpKind::mount:
      return do_mount(c, op);
    case OpKind::bind:
      return do_bind(c, op, op.source.c_str(), op.recursive, 0);
    case OpKind::mkdir: {
      os::UniqueFd fd(create_in_root(rootfd, op.destination.c_str(), true));
      if (!fd.valid())
        return fail_step(f, errno, "mkdir", "%s: create `%s` inside the rootfs", op.origin.c_str(),
                         op.destination.c_str());
      return 0;
    }
    case OpKind::symlink:
      return do_symlink(c, op);
    case OpKind::mknod:
      return do_mknod(c, op);
    case OpKind::bind_device:
      return do_bind_device(c, op);
    case OpKind::mask:
      return do_mask(c, op);
    case OpKind::readonly:
      return do_readonly(c, op);
    case OpKind::remount_readonly:
      return do_remount_readonly(c, op);
    case OpKind::overlay:
      return do_overlay(c, op);
  }
  return fail_step(f, EINVAL, "rootfs", "%s: unknown operation", op.origin.c_str());
}

}  // namespace

int prepare_rootfs(const RootfsPlan& plan, StepFailure& f, FuseStarter* fuse) noexcept {
  const char* rootfs = plan.rootfs.c_str();
  // The caller's mount namespace: nothing is mounted, only the cwd moves.
  if (!plan.own_mount_ns) {
    if (::chdir(rootfs) != 0) return fail_step(f, errno, "prepare rootfs", "chdir to the rootfs `%s`", rootfs);
    return 0;
  }
  // Nothing mounted from here on may propagate back to the host.
  if (::mount(nullptr, "/", nullptr, plan.root_propagation, nullptr) != 0)
    return fail_step(f, errno, "prepare rootfs", "set the propagation of `/` (flags %#lx)", plan.root_propagation);
  if (!plan.rootfs_parent_mount.empty() &&
      ::mount(nullptr, plan.rootfs_parent_mount.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
    return fail_step(f, errno, "prepare rootfs", "make `%s` (the mount holding the rootfs) private",
                     plan.rootfs_parent_mount.c_str());
  // pivot_root needs the new root to be a mount point: the root overlay,
  // or the rootfs bound onto itself.
  if (plan.root_overlay) {
    if (mount_root_overlay(plan, plan.overlays[*plan.root_overlay], fuse, f) != 0) return -1;
  } else if (::mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return fail_step(f, errno, "prepare rootfs", "bind the rootfs `%s` onto itself", rootfs);
  }
  if (!procfs_usable())
    return fail_step(f, ENOENT, "prepare rootfs",
                     "`/proc/self/fd` is needed to mount inside the rootfs safely; mount proc on `/proc`");
  os::UniqueFd root(::open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return fail_step(f, errno, "prepare rootfs", "open the rootfs `%s`", rootfs);
  Ctx c{root.get(), true, f, &plan, fuse};
  for (const auto& op : plan.ops_before_pivot)
    if (execute_op_in(c, op) != 0) return -1;
  if (::fchdir(root.get()) != 0) return fail_step(f, errno, "prepare rootfs", "chdir to the rootfs `%s`", rootfs);
  return 0;
}

int finalize_rootfs(const RootfsPlan& plan, StepFailure& f) noexcept {
  const char* rootfs = plan.rootfs.c_str();
  {
    os::UniqueFd newroot(::open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!newroot.valid()) return fail_step(f, errno, "pivot_root", "open the rootfs `%s`", rootfs);
    if (::fchdir(newroot.get()) != 0) return fail_step(f, errno, "pivot_root", "chdir to the rootfs `%s`", rootfs);
    if (!plan.own_mount_ns) {
      // The caller's mount namespace (runc: chroot without CLONE_NEWNS).
      if (::chroot(".") != 0) return fail_step(f, errno, "chroot", "chroot into the rootfs `%s`", rootfs);
      if (::chdir("/") != 0) return fail_step(f, errno, "chroot", "chdir to the new `/`");
      return 0;
    }
    if (plan.no_pivot) {
      if (::mount(rootfs, "/", nullptr, MS_MOVE, nullptr) != 0)
        return fail_step(f, errno, "pivot_root", "move the rootfs `%s` onto `/` (--no-pivot)", rootfs);
      if (::chroot(".") != 0) return fail_step(f, errno, "pivot_root", "chroot into the rootfs `%s`", rootfs);
    } else {
      os::UniqueFd oldroot(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
      if (!oldroot.valid()) return fail_step(f, errno, "pivot_root", "open the old root `/`");
      // pivot_root(".", "."): the old root ends up stacked on the new one and
      // is detached below, without needing a directory for it in the rootfs.
      if (::syscall(SYS_pivot_root, ".", ".") != 0)
        return fail_step(
            f, errno, "pivot_root", "pivot_root into `%s`%s", rootfs,
            errno == EINVAL ? " (a shared parent mount, or a rootfs on the initramfs: try --no-pivot)" : "");
      if (::fchdir(oldroot.get()) != 0) return fail_step(f, errno, "pivot_root", "chdir to the old root");
      // The unmount must not propagate to the host.
      if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
        return fail_step(f, errno, "pivot_root", "make the old root rslave");
      if (::umount2(".", MNT_DETACH) != 0) return fail_step(f, errno, "pivot_root", "detach the old root");
    }
  }
  if (::chdir("/") != 0) return fail_step(f, errno, "pivot_root", "chdir to the new `/`");

  os::UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return fail_step(f, errno, "rootfs", "open the new `/`");
  bool use_proc = procfs_usable();
  for (const auto& op : plan.ops_after_pivot)
    if (execute_op(root.get(), op, use_proc, f) != 0) return -1;
  // After the binds of readonlyPaths and maskedPaths: an (r)unbindable "/"
  // could not be their source.
  if (plan.rootfs_propagation && ::mount(nullptr, "/", nullptr, plan.rootfs_propagation, nullptr) != 0)
    return fail_step(f, errno, "rootfs propagation", "linux.rootfsPropagation: make `/` %s", plan.propagation.c_str());

  if (plan.readonly_root) {
    Ctx c{root.get(), false, f};
    if (remount_readonly(c, root.get(), "/") != 0)
      return fail_step(f, errno, "readonly root", "root.readonly: remount `/` read-only");
  }
  if (::chdir("/") != 0) return fail_step(f, errno, "rootfs", "chdir to `/`");
  return 0;
}

}  // namespace rrun::rootfs
