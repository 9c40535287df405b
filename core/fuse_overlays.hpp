#pragma once
// The create flow's side of overlays served by fuse-overlayfs (rootfs/
// overlay.hpp, rootfs/fuse_daemon.hpp): the init mounts /dev/fuse and sends
// the connection (Msg::fuse_mount); rrun starts the daemon and answers
// Msg::fuse_started; the daemons are recorded in the container's directory
// and stopped (waited for) when the container is destroyed.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include <rrun/rootfs/fuse_daemon.hpp>
#include <rrun/rootfs/plan.hpp>
#include <rrun/rootfs/setup.hpp>

#include "sync.hpp"

namespace rrun::core {

// Parent side. Kills its daemons on destruction unless committed.
class FuseOverlays {
 public:
  // `container_userns`: the container has a user namespace of its own
  // (created or joined) for the daemons to join.
  FuseOverlays(const rootfs::RootfsPlan& plan, std::string container_dir, bool container_userns);
  FuseOverlays(const FuseOverlays&) = delete;
  FuseOverlays& operator=(const FuseOverlays&) = delete;
  ~FuseOverlays();

  // expect_msg(sync_fd, m), starting fuse-overlayfs for every fuse_mount the
  // init sends before it. A failure of the init after a daemon started
  // carries what fuse-overlayfs said.
  Packet expect(int sync_fd, Msg m);

  // Writes the daemons to the container directory (stop_fuse_overlays).
  void commit();

 private:
  void start(int sync_fd, const Packet& p, os::UniqueFd fuse_fd);

  const rootfs::RootfsPlan& plan_;
  std::string dir_;
  bool userns_;
  std::vector<rootfs::FuseDaemon> daemons_;
  bool committed_ = false;
};

// The file in the container directory that lists the daemons.
inline constexpr char kFuseDaemonsFile[] = "fuse-overlayfs.pids";

// delete: waits (up to 5 s) for the container's fuse-overlayfs daemons to
// exit after the container did, kills those left. `daemons`: the text of
// kFuseDaemonsFile (StateStore::read_trusted), nullopt: nothing to do.
void stop_fuse_overlays(const std::optional<std::string>& daemons);

// Child side: a FuseStarter over the sync socket (noexcept, no allocation).
class SyncFuseStarter final : public rootfs::FuseStarter {
 public:
  explicit SyncFuseStarter(int sync_fd) : sync_fd_(sync_fd) {}
  int start_fuse_overlay(size_t overlay, int fuse_fd, os::StepFailure& f) noexcept override;

 private:
  int sync_fd_;
};

}  // namespace rrun::core
