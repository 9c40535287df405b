#pragma once
// Probes that try what the host allows instead of guessing from version
// numbers: `rrun doctor` and `rrun features` use them. Each probe that needs a
// namespace runs in a forked child, so the caller's namespaces, mounts and
// credentials never change; temp dirs are removed and children reaped before
// the probe returns. Results are plain values (an errno per step), never
// exceptions: a refusal is a fact to report, not an error.

#include <sys/types.h>

#include <string>

namespace rrun::core {

// Where a probe stopped: the step that failed and its errno (0: all passed).
struct ProbeOutcome {
  std::string step;  // "" when everything passed
  int error = 0;     // errno of `step`
  bool ok() const { return error == 0; }
};

// A user namespace for the caller: unshare(CLONE_NEWUSER | CLONE_NEWNS) in a
// child, map the caller's uid and gid to 0 (the single mapping rrun uses
// without subordinate ids), mount a tmpfs (on probe_tmp_base(), seen only by
// the child). Steps: "fork", "unshare",
// "setgroups", "uid_map", "gid_map", "mount tmpfs".
ProbeOutcome probe_user_namespace();

// Kernel overlayfs in a user namespace, as rrun mounts it rootless: in a
// child with its own user and mount namespaces, mount overlay with
// `userxattr` on fresh directories under `tmp_base` (a lower directory with a
// subdirectory and a file), then create a file (copy-up), rename a lower
// directory (EXDEV counts as success: the kernel asks the caller to copy),
// and remove another lower directory (whiteout). Steps: "mkdtemp", "fork",
// "unshare", "uid_map", "make / private", "mount overlay", "copy-up",
// "rename a lower directory", "remove a lower directory".
ProbeOutcome probe_kernel_overlay(const std::string& tmp_base);

// An idmapped mount (mount_setattr with MOUNT_ATTR_IDMAP) of a detached bind
// of a fresh directory under `tmp_base`. As root the child only unshares its
// mount namespace; otherwise also a user namespace (where the kernel refuses
// to idmap a host file system: EPERM). The detached mount is never attached
// anywhere. Steps: "mkdtemp", "fork", "unshare", "uid_map", "open_tree",
// "user namespace for the mapping", "mount_setattr".
ProbeOutcome probe_idmapped_mount(const std::string& tmp_base);

// System calls rrun prefers: 0 when present, else the errno (ENOSYS: the
// kernel lacks it; EPERM: a seccomp filter of the caller refuses it).
int probe_clone3();
int probe_pidfd_open();
int probe_openat2();

// The temp base the probes use: $TMPDIR when set and a directory, else /tmp.
std::string probe_tmp_base();

}  // namespace rrun::core
