#pragma once
// Whole-file reads and writes, and the atomic replace used for state.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "fd.hpp"

namespace rrun::os {

// Opens with O_CLOEXEC added; throws SystemError naming the path.
UniqueFd open_file(const std::string& path, int flags, mode_t mode = 0);
UniqueFd open_file_at(BorrowedFd dir, const std::string& path, int flags, mode_t mode = 0);

std::string read_file(const std::string& path);
std::string read_fd(BorrowedFd fd);
// Like read_file, but an absent file (ENOENT) is nullopt.
std::optional<std::string> read_file_if_exists(const std::string& path);

// For files a user names (config.json, a process or resources file, a
// seccomp profile, a sandbox): refuses what is not a regular file (a FIFO
// would block, /dev/zero never ends) and a file of more than `max_bytes`,
// with an os::Error naming the path and the limit. A FIFO is opened with
// O_NONBLOCK, so that the open itself cannot hang. Absent (ENOENT): nullopt.
inline constexpr size_t kMaxInputFile = 64u << 20;  // 64 MiB
std::optional<std::string> read_input_file_if_exists(const std::string& path, size_t max_bytes = kMaxInputFile);
// The same from an open fd (`-` for stdin, an fd from a resolver); `name`
// is what the messages call it.
std::string read_input_fd(BorrowedFd fd, const std::string& name, size_t max_bytes = kMaxInputFile);
// The same for a stream a user hands over (`-` for stdin): a pipe, a
// socket or a terminal is read too, up to `max_bytes`; a directory or a
// device such as /dev/zero is refused.
std::string read_input_stream(BorrowedFd fd, const std::string& name, size_t max_bytes = kMaxInputFile);

void write_all(BorrowedFd fd, std::string_view data);
// Writes `data` to an existing file (such as /proc/PID/uid_map) in one write.
void write_file(const std::string& path, std::string_view data);

// Writes `path` so that a reader sees either the old or the new content,
// never a part: a temp file in the same directory, then rename (or an
// exchange with the existing file, see file.cpp). No fsync:
// what rrun writes this way (state.json, the config copy, --pid-file)
// describes processes that do not survive a crash, and an fsync on a disk
// file system costs milliseconds per call (crun and runc don't either).
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

bool path_exists(const std::string& path);

// Creates the directory and its parents with `mode` (like mkdir -p).
void mkdir_p(const std::string& path, mode_t mode = 0755);

// Removes a directory tree without crossing into other file systems and
// without following symlinks.
void remove_tree(const std::string& path);
// The same for the entry `name` of the directory `dir` (an fd, O_PATH will
// do): for trees under a directory already resolved safely.
void remove_tree_at(BorrowedFd dir, const std::string& name);

}  // namespace rrun::os
