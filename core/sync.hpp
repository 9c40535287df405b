#pragma once
// The parent/child protocol of `create` (STYLE.md "The create flow"): one
// SOCK_SEQPACKET socketpair, fixed-size messages, optional fd passing. Both
// ends use it; the child side never throws (it returns -1 with errno set).
//
// The exchange, top-down (P = rrun, C = the container init):
//   P -> C  maps_written    id maps written (or none needed)
//   C -> P  init_pid        only when C had to fork once more (joined pid
//                           namespace, time namespace): the pid of the real init
//   C -> P  fuse_mount      0..n times, before rootfs_ready: an overlay's fuse path (the
//                           mounted /dev/fuse fd, value = the overlay's index)
//   C -> P  fuse_userns     with it: an fd of the init's user namespace, for the daemon
//                           (the init is not dumpable: /proc/PID/ns is closed to rrun)
//   P -> C  fuse_started    fuse-overlayfs serves it (fuse_overlays.hpp)
//   C -> P  rootfs_ready    namespaces joined/created, mounts done, before pivot_root
//   P -> C  hooks_done      prestart + createRuntime hooks ran
//   C -> P  seccomp_fd      only with SCMP_ACT_NOTIFY: the listener fd, for listenerPath
//   C -> P  ready           pivot_root done, process set up
//                           (carries the pty master when process.terminal)
//   P -> C  committed       state.json written: C may block on the FIFO (EOF: C exits)
//   C -> P  failure         a step failed: StepFailure, then C exits
//
// `exec` (exec.cpp) uses the same packets:
//   P -> C  go              C is in the container's cgroup
//   C -> P  init_pid        only when C forked into a joined pid/time namespace
//   C -> P  seccomp_fd      only with SCMP_ACT_NOTIFY
//   C -> P  ready           the process is set up (carries the pty master)
//   EOF                     the process exec'd (the socket is close-on-exec)
// Any unexpected message or EOF is an error "expected X, got Y".

#include <sys/types.h>

#include <cstdint>

#include <rrun/os/fd.hpp>
#include <rrun/os/step.hpp>

namespace rrun::core {

enum class Msg : uint32_t {
  none = 0,
  maps_written,
  rootfs_ready,
  hooks_done,
  seccomp_fd,
  ready,
  committed,
  init_pid,
  failure,
  go,
  fuse_mount,    // C -> P: /dev/fuse mounted for RootfsPlan::overlays[value]; the fd rides along
  fuse_started,  // P -> C: fuse-overlayfs runs on it
  fuse_userns,   // C -> P: right after fuse_mount, the init's user namespace (fd)
};

const char* msg_name(Msg m) noexcept;

struct Packet {
  Msg type = Msg::none;
  int64_t value = 0;  // init_pid: the pid; fuse_mount: the overlay's index
  os::StepFailure failure;
};

// Creates the socketpair (both ends CLOEXEC).
void make_sync_pair(os::UniqueFd& parent_end, os::UniqueFd& child_end);

// Child side, noexcept: 0 or -1 with errno.
int send_packet(int fd, const Packet& p, int pass_fd = -1) noexcept;
int recv_packet(int fd, Packet& p, int* received_fd = nullptr) noexcept;
int send_msg(int fd, Msg m) noexcept;
int send_failure(int fd, const os::StepFailure& f) noexcept;

// Parent side: receives the next packet and checks its type. A failure
// packet becomes an os::SystemError/os::Error "STEP: DETAIL"; EOF or another
// type becomes os::Error "container init: expected X, got Y".
Packet expect_msg(int fd, Msg expected, os::UniqueFd* received_fd = nullptr);
// The same, accepting `other` too (the caller looks at Packet::type).
Packet expect_msg_or(int fd, Msg expected, Msg other, os::UniqueFd* received_fd = nullptr);
void send_or_throw(int fd, Msg m);

}  // namespace rrun::core
