#pragma once
// fuse-overlayfs, started by rrun for an overlay the container init has
// mounted on /dev/fuse (setup.hpp FuseStarter), and stopped with the
// container.
//
// Where the daemon runs, and why:
//   - the init opens /dev/fuse and mounts it (`fd=N`) on the destination in
//     the container's user and mount namespaces, before pivot_root: the
//     kernel wants the opener of /dev/fuse and the mounter in the same user
//     namespace, and the mount must be the container's;
//   - rrun forks a helper that joins the container's user namespace only
//     (setns on an fd of it that the init sends: the init is not dumpable,
//     so neither /proc/PID/ns nor its pidfd lets a rootless rrun in) and
//     execs fuse-overlayfs on the
//     inherited connection (`/dev/fd/3` as the mount point: libfuse then
//     mounts nothing itself). The daemon is container root for the files it
//     creates, but it stays in rrun's pid namespace (invisible inside the
//     container) and does NOT join the container's mount namespace: a daemon
//     inside it would keep that namespace, and with it the fuse mount,
//     alive forever. So when the container's last process exits, the mount
//     namespace goes, the fuse superblock goes, the kernel aborts the
//     connection and the daemon exits by itself;
//   - an ephemeral root overlay puts upper/ and work/ on a tmpfs mounted in a
//     mount namespace private to the daemon (a copy of rrun's, made rslave),
//     on an empty directory in the container's state directory: the tmpfs
//     is discarded with the daemon;
//   - the daemon gets fds 0/1 = /dev/null, 2 = a pipe to rrun (its error
//     message when it fails to start), 3 = the connection; nothing else of
//     rrun's. It runs in a session of its own (a Ctrl-C meant for the
//     container does not stop it) with an empty signal mask;
//   - `delete` (and a failed `create`) waits for it to exit, and kills it if
//     it is still there after a few seconds (recorded as pid + start time).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <rrun/os/fd.hpp>

#include "plan.hpp"

namespace rrun::rootfs {

struct FuseSpawn {
  const OverlayMount* overlay = nullptr;
  int fuse_fd = -1;           // the mounted /dev/fuse connection, from the init
  int userns_fd = -1;         // the container's user namespace (an nsfs fd); -1: stay in ours
  std::string ephemeral_dir;  // ephemeral root: an empty directory the private tmpfs goes on
};

struct FuseDaemon {
  pid_t pid = 0;
  uint64_t start_time = 0;
  os::UniqueFd pidfd;
  os::UniqueFd stderr_pipe;  // read end, non-blocking
};

// Forks the helper described above; throws os::Error/SystemError when the
// fork itself fails (what fuse-overlayfs says on failure is in stderr_pipe).
FuseDaemon spawn_fuse_overlayfs(const FuseSpawn& spawn);

// What the daemon wrote on stderr so far, without fuse-overlayfs's
// "unknown argument ignored" noise, lines joined with "; ".
std::string fuse_daemon_messages(const FuseDaemon& d);

// "PID START_TIME\n" per daemon.
std::string format_fuse_daemons(const std::vector<FuseDaemon>& daemons);

// Waits up to `timeout_ms` in all for the daemons in `text` (the format
// above) to exit, then SIGKILLs those left (a pid whose start time differs
// is someone else and left alone).
void stop_fuse_daemons(const std::string& text, int timeout_ms);

}  // namespace rrun::rootfs
