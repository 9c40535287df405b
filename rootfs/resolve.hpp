#pragma once
// Paths inside the container's root, resolved without leaving it (crun's
// safe_openat; STYLE.md "Resources"). A symlink, absolute or relative, and
// ".." are resolved as if `rootfd` were "/": a destination whose parent is a
// symlink to "/" or "../../etc" stays inside the rootfs. openat2 with
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS where the kernel has it (5.6),
// else a component-by-component walk with O_NOFOLLOW clamped at the root.
//
// Child-safe: noexcept, no allocation; -1 and errno on failure.

namespace rrun::rootfs {

// An O_PATH|O_CLOEXEC fd for `path` (absolute or relative, read relative to
// rootfd) inside the root `rootfd`. A final symlink is followed (inside the root).
int open_in_root(int rootfd, const char* path) noexcept;

// Like open_in_root, but creates what is missing: the parents as directories
// (0755), the last component as a directory or, when !directory, as an empty
// regular file (0644). Each component is created relative to the fd of its
// resolved parent, so creation never leaves the root either.
int create_in_root(int rootfd, const char* path, bool directory) noexcept;

// Tests: force the manual walk even where openat2 exists.
void force_manual_resolution(bool on) noexcept;

}  // namespace rrun::rootfs
