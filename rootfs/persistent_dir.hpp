#pragma once
// The directory of `rrun.rootfs.overlay: persistent:DIR` (overlay.hpp)
// belongs to one container at a time: two overlays on one upper directory
// are undefined behaviour in the kernel ("overlayfs: upperdir is in-use").
//
// Who holds the claim: not a lock held by rrun, which exits after `create`
// of a detached container, and not an fd in the container, whose process
// (without rrun's init) must get no fds the spec did not ask for. The claim
// is a record, DIR/rrun-user, naming the container (id, state root) and its
// init (pid and start time, host, boot id); a later create checks it
// against the live process, so a container that died without `delete`
// leaves no stale claim. A flock of DIR/rrun-lock, held from the check until
// the init's pid is written, makes check and claim one step.
//
// After the container, the kernel leaves DIR/work/work with mode 000 and a
// whiteout inside, which its owner cannot `rm -rf`: release removes it (the
// kernel makes it again at the next mount).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <rrun/os/lock.hpp>

namespace rrun::rootfs {

// The persistent directory that the annotations' `rrun.rootfs.overlay`
// names, or nullopt (none, ephemeral; an invalid value is the planner's to
// report).
std::optional<std::string> persistent_overlay_dir(const std::map<std::string, std::string>& annotations);

// The container that uses a persistent directory.
struct DirUser {
  std::string id;
  std::string state_root;
  std::string host;     // the node's name: the pid means nothing elsewhere
  std::string boot_id;  // /proc/sys/kernel/random/boot_id: nor after a reboot
  pid_t pid = 0;
  uint64_t start_time = 0;  // of the init, os::process_start_time()
};

// The record's text, and back (nullopt when it is not one).
std::string format_dir_user(const DirUser& u);
std::optional<DirUser> parse_dir_user(const std::string& text);

// Whether the record names a live init: on another host (or unknown boot)
// it cannot be told, and counts as live.
bool dir_user_alive(const DirUser& u, const std::string& host, const std::string& boot_id,
                    const std::string& proc_root = "/proc");

class PersistentDirClaim {
 public:
  // Locks DIR/rrun-lock (waiting for another create's claim) and refuses,
  // with an os::Error naming DIR and the container using it, when DIR's
  // record names a live init.
  PersistentDirClaim(const std::string& dir, const std::string& id, const std::string& state_root);
  // Writes the record for the init, then unlocks.
  void record(pid_t pid, uint64_t start_time);

 private:
  std::string dir_;
  DirUser me_;
  std::optional<os::FileLock> lock_;
};

// The container `id` of `state_root` is gone (delete, or a failed create):
// its record goes, and the kernel's DIR/work/work with it. Never throws:
// what cannot be removed is left.
void release_persistent_dir(const std::string& dir, const std::string& id, const std::string& state_root);

}  // namespace rrun::rootfs
