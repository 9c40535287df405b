#pragma once
// Small file operations on cgroup directories, shared by the v1, v2 and
// systemd drivers (internal to cgroups/). Every write opens the file
// O_WRONLY|O_TRUNC (as runc's cgroups.WriteFile) and writes the value in one
// write(2); a missing file is ENOENT, so unit tests lay out regular files in
// temp dirs and read back the last value written.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "resources.hpp"

namespace rrun::cgroups::cgfs {

// A seam for unit tests: when set, every write first calls the hook with
// the path and the value; a non-zero return is the errno the write fails
// with (EBUSY, EINVAL: what regular files in a temp dir cannot produce),
// -1 pretends it succeeded without writing, 0 lets the write happen. Tests also record the order of writes with it.
using WriteHook = std::function<int(const std::string& path, const std::string& value)>;
void set_write_hook(WriteHook hook);

// Writes `value` to DIR/FILE; returns 0 or the errno (no exception).
int try_write(const std::string& dir, const std::string& file, const std::string& value);
// Same, throwing os::SystemError "write `VALUE` to `DIR/FILE`: strerror".
void write(const std::string& dir, const std::string& file, const std::string& value);
// One FileWrite: the fallback file on ENOENT, nothing when skip_if_missing
// and neither exists. Throws os::SystemError naming the file and the value.
void apply(const std::string& dir, const FileWrite& w);

// The content of DIR/FILE, nullopt when it does not exist (or cannot be read).
std::optional<std::string> read(const std::string& dir, const std::string& file);
// The first word of DIR/FILE as a number; "max" is UINT64_MAX.
std::optional<uint64_t> read_u64(const std::string& dir, const std::string& file);
// "key value" lines (cpu.stat, memory.stat, memory.events, ...).
std::map<std::string, uint64_t> read_keyed(const std::string& dir, const std::string& file);
std::map<std::string, uint64_t> parse_keyed(const std::string& text);
// Whitespace-separated numbers (cpuacct.usage_percpu).
std::vector<uint64_t> parse_numbers(const std::string& text);

// The pids of DIR/cgroup.procs, and of every cgroup below DIR when
// `recursive`. A missing directory gives no pids.
std::vector<pid_t> procs(const std::string& dir, bool recursive);

// `sig` to every pid of DIR (recursively); ESRCH is not an error.
void signal_all(const std::string& dir, int sig);

// Removes DIR and the cgroups below it (deepest first): SIGKILL to what is
// left, then rmdir, retrying EBUSY for about a second (a killed process
// leaves its cgroup only once it is reaped). ENOENT counts as removed.
// Throws os::SystemError when DIR cannot be removed.
void remove(const std::string& dir);

// mkdir DIR (0755); an existing directory is fine. Returns true when it was
// created now.
bool make_dir(const std::string& dir);

// "a/b/c" -> "a/b"; "/a" -> "/"; "a" -> "".
std::string dirname(const std::string& path);
// Joins with exactly one '/' between the parts; an empty part is skipped.
std::string join(const std::string& a, const std::string& b);
// Removes "." and empty components and resolves ".." lexically, without
// going above the root; keeps a leading '/'. ".." at the top is dropped.
std::string clean(const std::string& path);
// `path` equals `base` or lies below it (both clean and absolute).
bool is_within(const std::string& path, const std::string& base);

}  // namespace rrun::cgroups::cgfs
