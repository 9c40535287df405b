#pragma once
// The child side of the rootfs: executes a RootfsPlan (plan.hpp) in the
// container init, after clone and before exec. Nothing here throws or
// allocates; a step returns 0, or -1 with `f` filled (step, detail naming the
// JSON origin and the path; the parent adds strerror(f.err)).
//
// Order in the init (already in its new mount namespace and, when there is
// one, in its user namespace with the id maps written):
//   1. prepare_rootfs(plan, f)   "/" made rslave (or the recursive
//      rootfsPropagation), the rootfs bound onto itself, then every op of
//      ops_before_pivot: spec mounts in order, /dev devices and links.
//   2. the createContainer hooks (cwd is the rootfs).
//   3. finalize_rootfs(plan, f)  pivot_root (or MS_MOVE + chroot with
//      no_pivot), ops_after_pivot (read-only /dev when asked, readonlyPaths,
//      maskedPaths), rootfsPropagation on "/", root.readonly, chdir("/").
// Without a mount namespace of the container's own (!own_mount_ns), step 1
// only changes to the rootfs and step 3 only chroots into it.

#include <rrun/os/step.hpp>

#include "plan.hpp"

namespace rrun::rootfs {

// The fuse path of an overlay (overlay.hpp): the child mounts /dev/fuse
// itself (in the container's user and mount namespaces, before pivot_root)
// and hands the connection to rrun, which starts fuse-overlayfs on it
// outside the container (fuse_daemon.hpp). Implemented by the init over
// the sync socket; 0, or -1 with `f` filled.
class FuseStarter {
 public:
  virtual int start_fuse_overlay(size_t overlay, int fuse_fd, os::StepFailure& f) noexcept = 0;

 protected:
  ~FuseStarter() = default;
};

// `fuse`: where the fuse path of an overlay goes; nullptr: the plan has no
// overlay that may need it (an overlay that falls back to it fails).
int prepare_rootfs(const RootfsPlan& plan, os::StepFailure& f, FuseStarter* fuse = nullptr) noexcept;

int finalize_rootfs(const RootfsPlan& plan, os::StepFailure& f) noexcept;

// Executes one op inside the root `rootfd`. `use_proc`: mount onto the
// resolved fd through /proc/self/fd/N (required before pivot_root); without
// it (after pivot_root with no procfs mounted) the path is used as written,
// which can no longer leave the root.
int execute_op(int rootfd, const MountOp& op, bool use_proc, os::StepFailure& f) noexcept;

}  // namespace rrun::rootfs
