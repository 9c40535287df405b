#pragma once
// The files a sandbox gets in /etc by default (README "YAML sandboxes"), as
// Podman makes them: /etc/hosts, /etc/hostname and, with `network: host`,
// /etc/resolv.conf; with `user: keep`, /etc/passwd and /etc/group holding
// the caller's entries. Each is generated as text into Sandbox::files and
// bound read-only from the bundle (a relative mount source: core writes the
// files next to the generated config.json, `spec --from -b DIR` into DIR),
// unless the sandbox mounts something of its own on the path or above it.
//
// The rootfs is read only inside it (symbolic links resolved as if it were
// "/"), regular files only, at most kRootfsFileMax bytes.

#include <cstddef>

#include "sandbox.hpp"
#include "sandbox_doc.hpp"

namespace rrun::cli {

inline constexpr size_t kRootfsFileMax = 1 << 20;

// /etc/hosts (localhost, the sandbox's hostname, and with `network: host`
// the host's entries), /etc/hostname, and with `network: host` the host's
// resolv.conf.
void add_network_files(const SandboxDoc& d, const SandboxHost& host, Sandbox& out);

// `user: keep`: the rootfs's /etc/passwd and /etc/group plus an entry for
// the caller's uid and gid where they have none; HOME and USER from the
// entry unless `env:` sets them.
void add_keep_user_files(const SandboxDoc& d, const SandboxHost& host, Sandbox& out);

// `user: keep` rootless with an overlay: the rootfs shown as `user: root`
// shows it (`as_root`: that sandbox's mappings; usually 0 = you, 1.. =
// your subordinate range), so owned by root, through fuse-overlayfs's id
// mapping (rootfs/overlay.hpp kRootfsOverlayUidmapAnnotation), where
// fuse-overlayfs can run and you have subordinate ranges. Without it the
// keep mapping shows the rootfs shifted.
void show_keep_rootfs_as_root(const SandboxDoc& d, const SandboxHost& host, const spec::Linux& as_root, Sandbox& out);

// The host facts these need: /etc/hosts, /etc/resolv.conf, the caller's
// home and group name.
void read_etc_host_facts(SandboxHost& h);

}  // namespace rrun::cli
