#include "kept.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/os/syscall.hpp>
#include <rrun/os/text.hpp>

#include "idmap.hpp"
#include "plan.hpp"

namespace rrun::userns {
namespace {

using spec::IdMapping;

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// PID and start time from the record's text; false when it names none.
bool parse_record(std::string_view text, pid_t& pid, uint64_t& start) {
  size_t at = 0;
  long p = 0;
  if (!os::read_uint(text, at, p) || !os::read_uint(text, at, start) || p <= 0) return false;
  pid = static_cast<pid_t>(p);
  return true;
}

std::string read_record(int fd) {
  char buf[64];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// A pidfd of the keeper the record names, when it is still that process
// (same start time: pids are reused) and its maps are `uid_map`/`gid_map`.
os::UniqueFd open_keeper(int record_fd, const std::string& uid_map, const std::string& gid_map) {
  pid_t pid = 0;
  uint64_t start = 0;
  if (!parse_record(read_record(record_fd), pid, start)) return {};
  // Opened first: whatever the pid names after this, the pidfd stays the
  // process that had it now, and setns through it fails if that one died.
  os::UniqueFd pidfd(os::sys::pidfd_open(pid));
  if (!pidfd || os::process_start_time(pid) != start) return {};
  const std::string dir = "/proc/" + std::to_string(pid);
  auto same = [&](const char* file, const std::string& want) {
    auto text = os::read_file_if_exists(dir + file);
    return text && map_text(parse_map_text(*text)) == want;
  };
  if (!same("/uid_map", uid_map) || !same("/gid_map", gid_map)) return {};
  return pidfd;
}

// Overwrites this process's command line (the argv strings, where
// /proc/self/stat's fields 48 and 49 say they are) with `name`: the keeper
// is a copy of rrun, whose arguments name a bundle and a state root it no
// longer has anything to do with.
void rename_command_line(const char* name) {
  char buf[1024];
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return;
  std::string_view stat(buf, static_cast<size_t>(n));
  size_t at = stat.rfind(')');
  if (at == std::string_view::npos) return;
  at += 2;  // field 3, the state
  for (int field = 3; field < 48; ++field) {
    at = stat.find(' ', at);
    if (at == std::string_view::npos) return;
    ++at;
  }
  unsigned long start = 0, end = 0;
  if (!os::read_uint(stat, at, start) || !os::read_uint(stat, at, end) || end <= start) return;
  char* args = reinterpret_cast<char*>(start);
  size_t size = end - start;
  std::memset(args, 0, size);
  std::memcpy(args, name, std::min(std::strlen(name), size - 1));
}

// The keeper, in the grandchild of a fork: its own session, its user
// namespace, mapped by the parent; then it only waits. Raw system calls
// only: it is a copy of rrun after fork.
[[noreturn]] void keeper_main(const char* record, int idle_seconds, int ready, int go) {
  // rrun's other descriptors (the container's lock among them) are not its.
  int lo = std::min(ready, go), hi = std::max(ready, go);
  if (lo > 0) os::sys::close_range(0, lo - 1, 0);
  if (hi > lo + 1) os::sys::close_range(lo + 1, hi - 1, 0);
  os::sys::close_range(hi + 1, ~0U, 0);
  ::setsid();
  if (::unshare(CLONE_NEWUSER) < 0) ::_exit(1);
  pid_t self = ::getpid();
  if (::write(ready, &self, sizeof self) != sizeof self) ::_exit(1);
  char c = 0;
  // The parent writes "g" after the maps and the record; anything else (it
  // failed, it died) ends the keeper.
  if (::read(go, &c, 1) != 1 || c != 'g') ::_exit(0);
  if (::chdir("/") < 0) ::_exit(1);
  ::prctl(PR_SET_NAME, "rrun-userns", 0, 0, 0);
  rename_command_line("rrun-userns");
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) ::signal(sig, SIG_IGN);
  os::sys::close_range(0, ~0U, 0);
  for (;;) {
    int fd = ::open(record, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) ::_exit(0);
    char buf[64];
    ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    struct stat st {};
    int r = ::fstat(fd, &st);
    ::close(fd);
    pid_t named = 0;
    uint64_t start = 0;
    if (n <= 0 || r < 0 || !parse_record(std::string_view(buf, static_cast<size_t>(n)), named, start) || named != self)
      ::_exit(0);
    // Each join touches the record.
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    time_t idle = now.tv_sec - st.st_mtim.tv_sec;
    if (idle >= idle_seconds || idle < 0) ::_exit(0);
    struct timespec nap = {idle_seconds - idle, 0};
    ::nanosleep(&nap, nullptr);
  }
}

// Starts a keeper, maps it through the helpers and records it in
// `record_fd` (locked by the caller). Returns its pidfd, or why not.
os::UniqueFd start_keeper(const KeptRequest& req, int record_fd, const std::vector<IdMapping>& uids,
                          const std::vector<IdMapping>& gids, std::string& why) {
  int ready[2], go[2];
  if (::pipe2(ready, O_CLOEXEC) < 0) return why = errno_text("pipe"), os::UniqueFd();
  os::UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  if (::pipe2(go, O_CLOEXEC) < 0) return why = errno_text("pipe"), os::UniqueFd();
  os::UniqueFd go_r(go[0]), go_w(go[1]);
  // A foreground run is a subreaper: the keeper must not come back to it
  // when its parent exits, or the run would wait for it.
  int subreaper = 0;
  ::prctl(PR_GET_CHILD_SUBREAPER, &subreaper, 0, 0, 0);
  if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  pid_t mid = ::fork();
  if (mid == 0) {
    pid_t k = ::fork();
    if (k == 0) keeper_main(req.record.c_str(), req.idle_seconds, ready[1], go[0]);
    ::_exit(k < 0 ? 1 : 0);
  }
  int status = 0;
  bool forked = mid > 0 && ::waitpid(mid, &status, 0) == mid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (!forked) return why = "could not fork the keeper", os::UniqueFd();
  ready_w.reset();
  go_r.reset();
  pid_t pid = 0;
  if (::read(ready_r.get(), &pid, sizeof pid) != sizeof pid)
    return why = "the keeper could not make its user namespace", os::UniqueFd();
  os::UniqueFd pidfd(os::sys::pidfd_open(pid));
  if (!pidfd) return why = errno_text("pidfd_open"), os::UniqueFd();
  // The keeper ends on any failure below: go_w closes without "g".
  MappingPlan keeper;
  keeper.uid_map = uids;
  keeper.gid_map = gids;
  keeper.use_helpers = true;
  keeper.newuidmap_path = req.newuidmap_path;
  keeper.newgidmap_path = req.newgidmap_path;
  try {
    write_id_maps(pid, keeper);
  } catch (const std::exception& e) {
    return why = e.what(), os::UniqueFd();
  }
  auto start = os::process_start_time(pid);
  if (!start) return why = "the keeper exited", os::UniqueFd();
  std::string text = std::to_string(pid) + " " + std::to_string(*start) + "\n";
  if (::ftruncate(record_fd, 0) < 0 || ::pwrite(record_fd, text.data(), text.size(), 0) != ssize_t(text.size()))
    return why = errno_text("write " + os::quote(req.record)), os::UniqueFd();
  if (::write(go_w.get(), "g", 1) != 1) return why = errno_text("start the keeper"), os::UniqueFd();
  return pidfd;
}

}  // namespace

std::vector<IdMapping> kept_map(uint32_t own, const std::vector<SubRange>& subs) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges{{own, uint64_t(own) + 1}};  // [first, end)
  for (const SubRange& s : subs)
    if (s.count > 0) ranges.emplace_back(s.start, uint64_t(s.start) + s.count);
  std::sort(ranges.begin(), ranges.end());
  std::vector<IdMapping> out;
  uint64_t first = ranges[0].first, end = ranges[0].second;
  auto flush = [&] {
    out.push_back({static_cast<uint32_t>(first), static_cast<uint32_t>(first), static_cast<uint32_t>(end - first)});
  };
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < end) {  // overlapping (adjacent lines stay apart: one per /etc/subuid entry)
      end = std::max(end, ranges[i].second);
      continue;
    }
    flush();
    first = ranges[i].first;
    end = ranges[i].second;
  }
  flush();
  return out;
}

std::string join_kept_namespace(const KeptRequest& req) {
  const std::vector<IdMapping> uids = kept_map(req.uid, req.sub_uids);
  const std::vector<IdMapping> gids = kept_map(req.gid, req.sub_gids);
  if (uids.size() > kMaxMapLines || gids.size() > kMaxMapLines) return "more subordinate ranges than a map may have";
  const std::string uid_text = map_text(uids), gid_text = map_text(gids);

  os::UniqueFd record(::open(req.record.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!record) return errno_text("open " + os::quote(req.record));
  struct stat st {};
  if (::fstat(record.get(), &st) < 0) return errno_text("stat " + os::quote(req.record));
  if (!S_ISREG(st.st_mode) || st.st_uid != req.uid || (st.st_mode & 022) != 0)
    return os::quote(req.record) + " is not a file of yours alone";

  os::UniqueFd keeper = open_keeper(record.get(), uid_text, gid_text);
  if (!keeper || ::setns(keeper.get(), CLONE_NEWUSER) < 0) {
    // None (or it just exited): one run at a time starts the next.
    if (::flock(record.get(), LOCK_EX) < 0) return errno_text("lock " + os::quote(req.record));
    keeper = open_keeper(record.get(), uid_text, gid_text);
    if (!keeper) {
      std::string why;
      keeper = start_keeper(req, record.get(), uids, gids, why);
      if (!keeper) return why;
    }
    if (::setns(keeper.get(), CLONE_NEWUSER) < 0) return errno_text("join the kept user namespace");
  }
  // Keeps the keeper for another idle time.
  ::futimens(record.get(), nullptr);
  return {};
}

}  // namespace rrun::userns
