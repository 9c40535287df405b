#pragma once
// The store's file primitives, shared by store.cpp (blobs, locks, tmp/),
// store_records.cpp (images.json) and store_prune.cpp. Internal to
// rootfs/image.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include <rrun/os/fd.hpp>

namespace rrun::image::store_files {

// A regular file (never through a symlink) read whole, at most `limit`
// bytes. Errors name `what` and the path; a missing file is a SystemError
// with ENOENT.
std::string read_bounded(const std::string& path, size_t limit, const std::string& what);

// A name for an entry of tmp/ that says who made it: "PREFIX@PID-START-PIDNS-N"
// (the process id, its start time, its pid namespace, a counter and random
// bits). `prune` removes an entry whose creator is gone.
std::string tmp_name(const std::string& prefix);
// Whether the creator named by a tmp_name() is gone (or the entry has no
// such name and was last changed more than a day ago). A creator in
// another pid namespace cannot be checked: its entry counts as gone after
// a day without changes.
bool tmp_creator_gone(const std::string& name, time_t mtime);

// Writes `data` to `path` through a file in `tmp_dir` renamed into place,
// after an fsync: a reader sees the old or the new file, and a crash does
// not leave an empty one behind the new name.
void write_atomic(const std::string& tmp_dir, const std::string& path, std::string_view data);

// flock on `path` (created 0600 if missing). `shared` for LOCK_SH. When it
// has to wait more than 0.2 s, writes "rrun: WAITING\n" to stderr once. Safe against the
// file being removed by a holder (prune removes idle lock files): after
// the lock is taken, a file no longer at `path` is locked again.
os::UniqueFd lock_path(const std::string& path, bool shared, const std::string& waiting);
// The same without waiting: an invalid fd when someone holds the lock (or
// the file was replaced meanwhile). Holding it, the file may be unlinked.
os::UniqueFd try_lock_path(const std::string& path);

// Bytes of the regular files under `path` (a file or a tree; hard links
// counted once; what cannot be read is skipped). Never follows symlinks.
uint64_t disk_bytes(const std::string& path);

}  // namespace rrun::image::store_files
