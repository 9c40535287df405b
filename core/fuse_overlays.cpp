#include "fuse_overlays.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <rrun/os/error.hpp>
#include <rrun/os/fault.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/syscall.hpp>

#include "log.hpp"

namespace rrun::core {

FuseOverlays::FuseOverlays(const rootfs::RootfsPlan& plan, std::string container_dir, bool container_userns)
    : plan_(plan), dir_(std::move(container_dir)), userns_(container_userns) {}

FuseOverlays::~FuseOverlays() {
  if (committed_) return;
  for (auto& d : daemons_) {
    if (d.pidfd) os::sys::pidfd_send_signal(d.pidfd.get(), SIGKILL);
    ::waitpid(d.pid, nullptr, 0);
  }
}

Packet FuseOverlays::expect(int sync_fd, Msg m) {
  for (;;) {
    os::UniqueFd fd;
    Packet p;
    try {
      p = expect_msg_or(sync_fd, m, Msg::fuse_mount, &fd);
    } catch (const os::SystemError& e) {
      std::string said;
      for (const auto& d : daemons_) {
        std::string msg = rootfs::fuse_daemon_messages(d);
        if (!msg.empty()) said += (said.empty() ? "" : "; ") + msg;
      }
      if (said.empty()) throw;
      throw os::Error(std::string(e.what()) + "; fuse-overlayfs said: " + said);
    }
    if (p.type != Msg::fuse_mount) return p;
    start(sync_fd, p, std::move(fd));
  }
}

void FuseOverlays::start(int sync_fd, const Packet& p, os::UniqueFd fuse_fd) {
  if (!fuse_fd) throw os::Error("container init: no /dev/fuse fd came with fuse_mount");
  if (p.value < 0 || static_cast<size_t>(p.value) >= plan_.overlays.size())
    throw os::Error("container init: fuse_mount for an unknown overlay " + std::to_string(p.value));
  const auto& om = plan_.overlays[static_cast<size_t>(p.value)];
  rootfs::FuseSpawn s;
  s.overlay = &om;
  s.fuse_fd = fuse_fd.get();
  // The init is not dumpable: its /proc/PID/ns is closed to a rootless
  // rrun, and so is setns through its pidfd; it sends its user namespace.
  os::UniqueFd userns;
  expect_msg(sync_fd, Msg::fuse_userns, &userns);
  if (!userns) throw os::Error("container init: no user namespace fd came with fuse_userns");
  if (userns_) s.userns_fd = userns.get();
  if (om.ephemeral) s.ephemeral_dir = dir_ + "/overlay-" + std::to_string(p.value);
  log_debug("overlay " + om.origin + ": starting " + om.fuse_binary);
  daemons_.push_back(rootfs::spawn_fuse_overlayfs(s));
  os::fault_point("create.fuse_spawned");
  send_or_throw(sync_fd, Msg::fuse_started);
}

void FuseOverlays::commit() {
  if (!daemons_.empty()) os::write_file_atomic(dir_ + "/" + kFuseDaemonsFile, rootfs::format_fuse_daemons(daemons_), 0600);
  committed_ = true;
}

void stop_fuse_overlays(const std::optional<std::string>& daemons) {
  if (daemons) rootfs::stop_fuse_daemons(*daemons, 5000);
}

int SyncFuseStarter::start_fuse_overlay(size_t overlay, int fuse_fd, os::StepFailure& f) noexcept {
  Packet p;
  p.type = Msg::fuse_mount;
  p.value = static_cast<int64_t>(overlay);
  if (send_packet(sync_fd_, p, fuse_fd) < 0) return os::fail_step(f, errno, "sync", "send fuse_mount to rrun");
  int userns = ::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
  if (userns < 0) return os::fail_step(f, errno, "overlay", "open `/proc/self/ns/user` for fuse-overlayfs");
  Packet u;
  u.type = Msg::fuse_userns;
  int sent = send_packet(sync_fd_, u, userns);
  int err = errno;
  ::close(userns);
  if (sent < 0) return os::fail_step(f, err, "sync", "send fuse_userns to rrun");
  Packet r;
  if (recv_packet(sync_fd_, r) < 0) return os::fail_step(f, errno, "sync", "receive fuse_started from rrun");
  if (r.type == Msg::none) ::_exit(1);  // rrun is gone
  if (r.type != Msg::fuse_started)
    return os::fail_step(f, EPROTO, "sync", "expected fuse_started, got %s", msg_name(r.type));
  return 0;
}

}  // namespace rrun::core
