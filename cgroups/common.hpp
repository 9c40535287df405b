#pragma once
// Helpers the cgroupfs drivers share (internal to cgroups/).

#include <cstdint>
#include <string>

namespace rrun::cgroups {

// linux.cgroupsPath cleaned lexically as runc's utils.CleanPath does: an
// absolute path is cleaned ("/" at most), a relative one is cleaned as if it
// were rooted, so that ".." cannot climb above the cgroup it is relative to
// ("../../x" -> "x"). Throws os::Error for a relative path that cleans to
// nothing ("." or "a/..": that cgroup itself, which holds more than the
// container). `base` names that cgroup for the message.
std::string clean_cgroups_path(const std::string& cgroups_path, const std::string& base);

// Sleeps `ms` milliseconds (EINTR resumes).
void sleep_ms(long ms);

// linux.resources.memory.checkBeforeUpdate: throws os::Error when the
// usage in DIR/USAGE_FILE is above the new `limit` (runc fs/memory.go,
// fs2/memory.go).
void check_memory_before_update(const std::string& dir, const std::string& usage_file, uint64_t limit);

// Polls DIR/cgroup.procs (and the cgroups below) until it is empty, for
// about 2 s; returns false when processes are left.
bool wait_until_empty(const std::string& dir);

// rmdir of the parent of DIR when it is named "rrun" (the directory rrun
// creates for its default paths) and is empty now; errors are ignored (other
// containers may still live there).
void remove_rrun_parent(const std::string& dir);

}  // namespace rrun::cgroups
