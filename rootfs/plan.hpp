#pragma once
// The container's mount namespace as plain data (STYLE.md "Plan in the parent,
// execute in the child"; bubblewrap's SetupOp list). plan_rootfs() runs in the
// parent, may throw os::Error naming the JSON path, and turns the spec into a
// list of MountOps; setup.hpp executes that list in the child without
// allocating or throwing.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <rrun/spec/spec.hpp>

#include "copyup.hpp"
#include "overlay.hpp"

namespace rrun::rootfs {

enum class OpKind {
  mount,             // a new file system: mount(source, destination, fstype, flags, data)
  bind,              // bind (recursive: rbind) the host path `source` onto destination
  mkdir,             // create the directory destination (and its parents)
  symlink,           // destination -> link_target; an existing entry is kept unless `replace`
  mknod,             // create a device node (mode has the S_IF* type bits, dev, uid, gid)
  bind_device,       // rootless: create an empty file at destination, bind the host node `source`
  mask,              // file: bind /dev/null over it; directory: read-only tmpfs; absent: skip
  readonly,          // bind destination onto itself, remount read-only; absent: skip
  remount_readonly,  // make the existing mount at destination read-only (a `ro` /dev tmpfs)
  overlay,           // RootfsPlan::overlays[overlay]: kernel overlayfs, or fuse-overlayfs (overlay.hpp)
};

const char* op_kind_name(OpKind k);

struct MountOp {
  OpKind kind = OpKind::mount;
  std::string origin;             // where it comes from, for messages: "mounts[3]", "linux.maskedPaths[0]", "/dev"
  std::string destination;        // absolute path inside the container
  std::string source;             // mount: fs source; bind, bind_device: absolute host path
  std::string fstype;             // mount only
  unsigned long flags = 0;        // MS_* mount flags (no MS_BIND/MS_REC, no propagation)
  std::string data;               // fs-specific options ("size=65536k,mode=755")
  bool recursive = false;         // bind: MS_REC
  unsigned long propagation = 0;  // MS_PRIVATE/MS_SHARED/MS_SLAVE/MS_UNBINDABLE (| MS_REC), applied after
  // Recursive mount attributes (mount_setattr with AT_RECURSIVE): MOUNT_ATTR_*.
  uint64_t attr_set = 0;
  uint64_t attr_clr = 0;
  // Idmapped bind mount: a user namespace with these mappings is made and the
  // bind gets MOUNT_ATTR_IDMAP (recursively when idmap_recursive).
  bool idmap = false;
  bool idmap_recursive = false;
  std::vector<spec::IdMapping> uid_mappings;
  std::vector<spec::IdMapping> gid_mappings;
  // symlink
  std::string link_target;
  bool replace = false;
  // mknod
  mode_t mode = 0;  // S_IFCHR | 0666
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  // Degrading the way runc and crun do rootless:
  std::string fallback_source;  // mount: on EPERM/EBUSY, rbind this host path instead
  bool optional = false;        // on EPERM/EACCES/ENOENT/EINVAL of the mount (and its fallback), skip the op
  std::string only_if_exists;   // skip unless this host path exists (checked in the child before pivot)
  size_t overlay = 0;           // overlay: index into RootfsPlan::overlays
  // mount of a tmpfs with `tmpcopyup`: the content of the directory it
  // covers is copied in (copyup.hpp), and these attributes of it onto its root.
  bool copy_up = false;
  CopyUpRoot copy_up_root;
};

// One overlay, planned (overlay.hpp): a spec mount of type `overlay` or the
// root file system with `rrun.rootfs.overlay`.
struct OverlayMount {
  std::string origin;      // "mounts[2]", "annotations.rrun.rootfs.overlay"
  OverlayData data;        // lowerdirs, upperdir, workdir (empty for an ephemeral root), other options
  bool root = false;       // mounted on RootfsPlan::rootfs, lowerdir = the rootfs
  bool ephemeral = false;  // root: upper and work on a tmpfs private to the container
  OverlayDriver driver = OverlayDriver::automatic;
  bool in_userns = false;   // the kernel mount gets `userxattr`
  std::string kernel_data;  // mount(2) data (userxattr added in a user namespace); unused for an ephemeral root
  // Ephemeral root with rrun.rootfs.overlay.lower: ":B:C", the lower
  // directories after the top (root.path), escaped, which the child appends
  // to lowerdir= of the mount data it makes.
  std::string kernel_more_lowers;
  std::string fuse_binary;  // absolute path of fuse-overlayfs, "" when it is not installed
  mode_t root_mode = 0755;  // ephemeral or new persistent upper: the mode of the lower root
  // fuse-overlayfs chosen because a lower layer has owners the user namespace
  // does not map: its files show as the container root's (squash_to_root),
  // else no copy-up of them could set their owner.
  bool squash_to_root = false;
  // The root overlay with rrun.rootfs.overlay.uidmapping/gidmapping:
  // fuse-overlayfs's options (overlay.hpp fuse_overlay_idmapping).
  std::string fuse_uidmapping;
  std::string fuse_gidmapping;
};

// One v1 hierarchy (a controller one, or name=systemd) mounted directly
// under the host's /sys/fs/cgroup of a v1 or hybrid host, from the host's
// mountinfo.
struct CgroupHierarchy {
  std::string dir;      // its directory there: "memory", "cpu,cpuacct", "systemd"
  std::string fstype;   // "cgroup"
  std::string options;  // the super block's options without rw/ro: "memory", "cpu,cpuacct", "xattr,name=systemd"
  bool named = false;   // name=systemd: no controller
};

// A symbolic link directly under the host's /sys/fs/cgroup to one of its
// hierarchies: "cpu" -> "cpu,cpuacct".
struct CgroupLink {
  std::string name;
  std::string target;
};

// What a v1 or hybrid host has under /sys/fs/cgroup (empty on a v2 host).
struct HostCgroupTree {
  std::vector<CgroupHierarchy> hierarchies;
  std::vector<CgroupLink> links;
};

struct PlanOptions {
  bool rootless = false;       // no privileges on the host (mknod is not possible)
  bool new_user_ns = false;    // the container has its own user namespace
  bool new_pid_ns = false;     // ... a pid namespace of its own (created or joined)
  bool new_net_ns = false;     // the container has a network namespace of its own (created or joined)
  bool new_ipc_ns = false;     // ... an IPC namespace of its own
  bool new_cgroup_ns = false;  // ... a cgroup namespace of its own
  bool no_pivot = false;       // --no-pivot: MS_MOVE + chroot instead of pivot_root
  // The container has a mount namespace of its own (owns_mount_namespace());
  // false: it shares rrun's, and the plan only chroots.
  bool own_mount_ns = true;
  bool host_cgroup2 = true;  // /sys/fs/cgroup is a cgroup2 (unified) mount; see host_cgroup_is_unified()
  // Not unified: its hierarchies, for a `cgroup` mount made of them
  // (probe_host_cgroup_tree; filled only where they are used).
  HostCgroupTree host_cgroup_tree;
  // The container's cgroup directory on the host per v1 controller (and
  // "name=systemd"), the v1 driver's: a `cgroup` mount without a cgroup
  // namespace binds them. Filled only with host_cgroup_tree.
  std::map<std::string, std::string> container_cgroups;
  // The container's gid mappings in a user namespace: its own namespace's,
  // or those of rrun's when it shares that one (devpts `gid=N` is dropped
  // when N is not mapped).
  std::vector<spec::IdMapping> gid_mappings;
  // The container's uid mappings (persistent overlay directories made by
  // root are given to the container's root).
  std::vector<spec::IdMapping> uid_mappings;
  // Where fuse-overlayfs is: unset = looked up in $PATH (find_fuse_overlayfs);
  // "" = not installed.
  std::optional<std::string> fuse_overlayfs;
};

struct RootfsPlan {
  std::string rootfs;          // absolute, symlink-free host path of the root file system
  bool readonly_root = false;  // root.readonly
  // The container has a mount namespace of its own. false: it shares the
  // caller's, which is not changed: no op, no propagation change, no
  // pivot_root; the init only chroots into `rootfs` (runc does the same).
  bool own_mount_ns = true;
  std::string propagation;  // linux.rootfsPropagation as written ("" = default)
  // Applied to "/" (recursively) before anything is mounted: MS_SLAVE|MS_REC
  // by default (runc), the recursive form of rootfsPropagation when set
  // (MS_PRIVATE|MS_REC for unbindable: an unbindable "/" could not be bound
  // onto the rootfs; "/" becomes unbindable after pivot_root).
  unsigned long root_propagation = 0;
  // Applied to the new "/" after pivot_root and ops_after_pivot; 0 when
  // rootfsPropagation is unset.
  unsigned long rootfs_propagation = 0;
  // The mount point that holds `rootfs` on the host; made private before the
  // rootfs bind when root_propagation is shared (pivot_root refuses a shared parent).
  std::string rootfs_parent_mount;
  bool no_pivot = false;
  bool setup_dev = false;                 // the default devices and /dev links are made (no bind mount on /dev)
  std::vector<MountOp> ops_before_pivot;  // spec mounts, devices, /dev links
  std::vector<MountOp> ops_after_pivot;   // readonly paths, masked paths
  std::vector<OverlayMount> overlays;     // referenced by OpKind::overlay ops and root_overlay
  std::optional<size_t> root_overlay;     // the rootfs is an overlay: mounted on `rootfs` instead of the self-bind
};

// The result of parsing a mount's `options`.
struct MountOptions {
  unsigned long flags = 0;        // MS_* (MS_BIND/MS_REC included when bind/rbind)
  unsigned long propagation = 0;  // MS_PRIVATE/... | MS_REC
  uint64_t attr_set = 0;          // recursive attributes (rro, rnosuid, ...)
  uint64_t attr_clr = 0;
  bool bind = false;
  bool recursive = false;
  bool idmap = false;
  bool idmap_recursive = false;
  bool copy_up = false;  // tmpcopyup
  std::string data;      // everything else, comma-joined, in order
};

// Parses every option runc and crun accept; `json_path` ("mounts[2]") names
// the mount in errors. Throws os::Error for an empty option.
MountOptions parse_mount_options(const std::vector<std::string>& options, const std::string& json_path);

// A mount's destination as the plan takes it ("/a//b/" -> "/a/b"; "." and
// ".." are resolved inside the rootfs at mount time). Throws os::Error
// saying what is wrong, for the caller to name the field: empty, or `/`.
// The YAML front-end checks its mount targets with it.
std::string mount_destination(const std::string& destination);

// Every option name parse_mount_options() recognizes (not the file-system
// specific data it passes through), from its tables, sorted: what
// `rrun features` lists as mountOptions.
std::vector<std::string> known_mount_options();

// "private", "rprivate", "shared", ... -> MS_* flags; throws os::Error.
unsigned long parse_propagation(const std::string& value, const std::string& json_path);

// Whether `cgroup_root` (default /sys/fs/cgroup) is a cgroup2 mount.
bool host_cgroup_is_unified(const std::string& cgroup_root = "/sys/fs/cgroup");

// The v1 controller hierarchies and the name=systemd one (not other named
// ones, not cgroup2) mounted directly under `cgroup_root` in mountinfo text
// (the host's /proc/self/mountinfo), in its order.
std::vector<CgroupHierarchy> parse_cgroup_hierarchies(const std::string& mountinfo_text,
                                                      const std::string& cgroup_root = "/sys/fs/cgroup");

// The symbolic links in `cgroup_root` whose target is the directory of one
// of `hierarchies` (the co-mounted controllers: cpu -> cpu,cpuacct).
std::vector<CgroupLink> read_cgroup_links(const std::string& cgroup_root,
                                          const std::vector<CgroupHierarchy>& hierarchies);

// The mount point that holds `path` (the longest mount point that is `path`
// or one of its ancestors) in mountinfo text; "/" when none does.
std::string mount_point_in(const std::string& mountinfo_text, const std::string& path);

// Both, from /proc/self/mountinfo and /sys/fs/cgroup.
HostCgroupTree probe_host_cgroup_tree();

// Whether plan_rootfs can use host_cgroup_tree (and container_cgroups) for
// the spec's mounts under these options: a `cgroup` mount on a v1 or hybrid
// host outside a user namespace.
bool needs_host_cgroup_tree(const spec::Spec& spec, const PlanOptions& options);

// Whether linux.namespaces gives the container a mount namespace of its own:
// a new one, or a joined one that is not the caller's.
bool owns_mount_namespace(const spec::Spec& spec);

// Without a mount namespace of its own, what would need one is refused:
// throws os::Error naming the field (`mounts`, `linux.maskedPaths`, ...).
void refuse_without_mount_namespace(const spec::Spec& spec);

// Fills new_*_ns from spec.linux.namespaces (an entry with a path counts: the
// namespace is not the host's) and the mappings from spec.linux; a user
// namespace rrun adds itself (an unprivileged caller) is the caller's to set.
PlanOptions plan_options_from_spec(const spec::Spec& spec, bool rootless);

// Throws os::Error naming the JSON path ("mounts[1].options[2]: ...").
RootfsPlan plan_rootfs(const spec::Spec& spec, const std::string& bundle_dir, const PlanOptions& options);

}  // namespace rrun::rootfs
