#pragma once
// Whether the kernel overlay reads whiteouts stored as xattrs in lower
// layers (Linux 6.7+), which layer.cpp writes instead of device nodes: a
// throw-away overlay tried once, its answer kept for the boot.

namespace rrun::image {

// For a kernel overlay with `userxattr` (rootless: user.overlay.*) or
// without (root: trusted.overlay.*). Once per process; the answer is also
// kept in the store's root for the boot (a cached `image:` start reads a
// line instead of mounting).
bool kernel_hides_xattr_whiteouts(bool userxattr);

}  // namespace rrun::image
