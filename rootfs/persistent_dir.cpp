#include "persistent_dir.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <climits>
#include <charconv>
#include <cstdlib>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>

#include "overlay.hpp"

namespace rrun::rootfs {
namespace {

const char* const kLockName = "/rrun-lock";
const char* const kUserName = "/rrun-user";

std::string this_host() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.nodename : "";
}

std::string this_boot() {
  try {
    std::string id = os::read_file_if_exists("/proc/sys/kernel/random/boot_id").value_or("");
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  } catch (const std::exception&) {
    return "";
  }
}

// The state root as written in the record: `--root` may be given relative.
std::string canonical(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) ? buf : path;
}

template <typename T>
bool parse_number(const std::string& s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<std::string> persistent_overlay_dir(const std::map<std::string, std::string>& annotations) {
  auto it = annotations.find(kRootfsOverlayAnnotation);
  if (it == annotations.end()) return std::nullopt;
  try {
    RootOverlay r = parse_rootfs_overlay(it->second);
    if (r.mode == RootOverlay::Mode::persistent) return r.dir;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::string format_dir_user(const DirUser& u) {
  return "id=" + u.id + "\nroot=" + u.state_root + "\nhost=" + u.host + "\nboot=" + u.boot_id +
         "\npid=" + std::to_string(u.pid) + "\nstart=" + std::to_string(u.start_time) + "\n";
}

std::optional<DirUser> parse_dir_user(const std::string& text) {
  DirUser u;
  bool pid = false, start = false;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(at, nl - at);
    at = nl + 1;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "id") u.id = value;
    if (key == "root") u.state_root = value;
    if (key == "host") u.host = value;
    if (key == "boot") u.boot_id = value;
    if (key == "pid") pid = parse_number(value, u.pid);
    if (key == "start") start = parse_number(value, u.start_time);
  }
  if (u.id.empty() || !pid || !start) return std::nullopt;
  return u;
}

bool dir_user_alive(const DirUser& u, const std::string& host, const std::string& boot_id,
                    const std::string& proc_root) {
  if (u.host != host) return true;  // another node's pid: can't tell
  if (u.boot_id != boot_id) return false;
  return os::process_alive(u.pid, u.start_time, proc_root);
}

PersistentDirClaim::PersistentDirClaim(const std::string& dir, const std::string& id, const std::string& state_root)
    : dir_(dir) {
  me_.id = id;
  me_.state_root = canonical(state_root);
  me_.host = this_host();
  me_.boot_id = this_boot();
  const std::string what = "overlay persistent:" + dir;
  try {
    lock_.emplace(dir + kLockName);
  } catch (const std::exception& e) {
    throw os::Error(what + ": " + e.what());
  }
  std::optional<std::string> text;
  try {
    text = os::read_file_if_exists(dir + kUserName);
  } catch (const std::exception& e) {
    throw os::Error(what + ": " + e.what());
  }
  std::optional<DirUser> user = text ? parse_dir_user(*text) : std::nullopt;
  if (!user || !dir_user_alive(*user, me_.host, me_.boot_id)) return;
  const std::string by = "container " + os::quote(user->id) + " (pid " + std::to_string(user->pid) +
                         (user->state_root == me_.state_root ? "" : ", state root " + os::quote(user->state_root)) +
                         (user->host == me_.host ? "" : ", on host " + os::quote(user->host)) + ")";
  throw os::Error(what + ": " + os::quote(dir) + " is in use by " + by +
                  "; two overlays on one upper directory corrupt it: wait for that container to exit, delete it, " +
                  "or use another directory" +
                  (user->host == me_.host ? "" : " (if it is gone, remove " + os::quote(dir + kUserName) + ")"));
}

void PersistentDirClaim::record(pid_t pid, uint64_t start_time) {
  me_.pid = pid;
  me_.start_time = start_time;
  try {
    os::write_file_atomic(dir_ + kUserName, format_dir_user(me_), 0644);
  } catch (const std::exception& e) {
    throw os::Error("overlay persistent:" + dir_ + ": " + e.what());
  }
  lock_.reset();
}

void release_persistent_dir(const std::string& dir, const std::string& id, const std::string& state_root) {
  try {
    os::FileLock lock(dir + kLockName);
    std::optional<std::string> text = os::read_file_if_exists(dir + kUserName);
    std::optional<DirUser> user = text ? parse_dir_user(*text) : std::nullopt;
    // Another container's claim (made after ours went stale) stays, with
    // its work directory.
    if (user && !(user->id == id && user->state_root == canonical(state_root))) return;
    ::unlink((dir + kUserName).c_str());
    // The kernel made work/work mode 000 as the container's root: give it
    // back before removing it (and its whiteout).
    const std::string work = dir + "/work/work";
    ::chmod(work.c_str(), 0700);
    os::remove_tree(work);
    ::unlink((dir + kLockName).c_str());
  } catch (const std::exception&) {
    // Left for the next mount (the kernel empties work/work) or for root.
  }
}

}  // namespace rrun::rootfs
