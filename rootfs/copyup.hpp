#pragma once
// `tmpcopyup` (a runc and crun extension that Podman puts on the tmpfs of
// /run, /tmp and /var/tmp with --read-only): the tmpfs starts with a copy of
// what the directory it covers held in the rootfs. The init opens that
// directory before the tmpfs is mounted on it, then copies from the covered
// directory into the new mount.
//
// The source lies in the container's rootfs, which is not trusted: the
// directory itself was resolved inside the root (resolve.hpp), and the walk
// below it never follows a symlink (every entry is opened relative to its
// parent's fd with O_NOFOLLOW, and checked again after the open); symlinks
// are copied as symlinks. Copied: regular files, directories, symlinks,
// fifos, sockets and device nodes, with their owners, modes, times and
// extended attributes as far as the container's credentials allow (in a user
// namespace an owner it does not map, a trusted.* attribute or a device node
// can't be made: the entry keeps the container root's owner, the attribute
// or the node is left out). Hard links become separate files.
//
// Child-safe: noexcept, no allocation; 0, or -1 with `f` filled.

#include <rrun/os/step.hpp>

namespace rrun::rootfs {

struct CopyUpRoot {
  bool mode = true;   // the tmpfs root takes the covered directory's mode (no `mode=` option)
  bool owner = true;  // ... and its owner (no `uid=` / `gid=` option)
};

// Copies the content of the directory `src` (an O_RDONLY|O_DIRECTORY fd) into
// the directory `dst` (same), and `root` of its attributes onto `dst`.
// `origin` ("mounts[2]") and `dest` ("/run") name the mount in messages.
int copy_up(int src, int dst, CopyUpRoot root, const char* origin, const char* dest, os::StepFailure& f) noexcept;

}  // namespace rrun::rootfs
