#include "state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/os/fault.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/os/text.hpp>

#include "id.hpp"

namespace rrun::core {

using ojson = nlohmann::ordered_json;

const char* status_name(Status s) {
  switch (s) {
    case Status::creating:
      return "creating";
    case Status::created:
      return "created";
    case Status::running:
      return "running";
    case Status::stopped:
      return "stopped";
    case Status::paused:
      return "paused";
  }
  return "unknown";
}

Status parse_status(const std::string& name) {
  for (Status s : {Status::creating, Status::created, Status::running, Status::stopped, Status::paused})
    if (name == status_name(s)) return s;
  throw os::Error("unknown container status \"" + name + "\"");
}

// ---------------------------------------------------------------- JSON

std::string state_to_json(const State& s) {
  ojson j;
  j["ociVersion"] = s.oci_version;
  j["id"] = s.id;
  j["status"] = status_name(s.status);
  j["pid"] = s.pid;
  j["pidStartTime"] = s.pid_start_time;
  j["creatorPid"] = s.creator_pid;
  j["creatorStartTime"] = s.creator_start_time;
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  j["annotations"] = s.annotations;
  j["rootless"] = s.rootless;
  j["cgroupDriver"] = s.cgroup_driver;
  j["cgroupPath"] = s.cgroup_path;
  j["systemdCgroup"] = s.systemd_cgroup;
  if (s.foreground) j["foreground"] = true;
  if (s.keep) j["keep"] = true;
  if (s.init_runs_binary) j["initRunsBinary"] = true;
  if (s.ptrace_exec) j["ptraceExec"] = true;
  if (!s.poststart_hooks) j["poststartHooks"] = false;
  if (!s.poststop_hooks) j["poststopHooks"] = false;
  return j.dump(2) + "\n";
}

namespace {

template <typename T>
void get_field(const nlohmann::json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw os::Error(std::string(key) + ": unexpected " + it->type_name());
  }
}

}  // namespace

State state_from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw os::Error("malformed JSON at byte " + std::to_string(e.byte));
  }
  if (!j.is_object()) throw os::Error(std::string("expected an object, got ") + j.type_name());
  State s;
  std::string status = "stopped";
  get_field(j, "ociVersion", s.oci_version);
  get_field(j, "id", s.id);
  get_field(j, "status", status);
  s.status = parse_status(status);
  get_field(j, "pid", s.pid);
  get_field(j, "pidStartTime", s.pid_start_time);
  get_field(j, "creatorPid", s.creator_pid);
  get_field(j, "creatorStartTime", s.creator_start_time);
  get_field(j, "bundle", s.bundle);
  get_field(j, "rootfs", s.rootfs);
  get_field(j, "created", s.created);
  get_field(j, "owner", s.owner);
  get_field(j, "annotations", s.annotations);
  get_field(j, "rootless", s.rootless);
  get_field(j, "cgroupDriver", s.cgroup_driver);
  get_field(j, "cgroupPath", s.cgroup_path);
  get_field(j, "systemdCgroup", s.systemd_cgroup);
  get_field(j, "foreground", s.foreground);
  get_field(j, "keep", s.keep);
  get_field(j, "initRunsBinary", s.init_runs_binary);
  get_field(j, "ptraceExec", s.ptrace_exec);
  get_field(j, "poststartHooks", s.poststart_hooks);
  get_field(j, "poststopHooks", s.poststop_hooks);
  return s;
}

std::string oci_state_json(const State& s, Status live, int indent) {
  ojson j;
  j["ociVersion"] = s.oci_version;
  j["id"] = s.id;
  j["pid"] = live == Status::stopped ? 0 : s.pid;
  j["status"] = status_name(live);
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  j["owner"] = s.owner;
  return indent < 0 ? j.dump() : j.dump(indent) + "\n";
}

std::string hook_state_json(const State& s, Status live) {
  ojson j;
  j["ociVersion"] = s.oci_version;
  j["id"] = s.id;
  j["status"] = status_name(live);
  if (live != Status::stopped) j["pid"] = s.pid;
  j["bundle"] = s.bundle;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j.dump();
}

// Civil date from the seconds since the epoch, without gmtime_r and
// strftime: both load /etc/localtime (tzset) on their first call, files
// read and C library pages mapped in every create for a time that is UTC.
// Days to year/month/day: H. Hinnant's civil_from_days.
std::string format_rfc3339(const struct timespec& ts) {
  int64_t days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2);
  char buf[32];  // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
  auto put = [&buf](size_t at, int64_t v, int width) {
    for (int k = width - 1; k >= 0; --k, v /= 10) buf[at + k] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(buf, "0000-00-00T00:00:00.000000000Z", 30);
  put(0, year, 4);
  put(5, month, 2);
  put(8, day, 2);
  put(11, secs / 3600, 2);
  put(14, secs / 60 % 60, 2);
  put(17, secs % 60, 2);
  put(20, ts.tv_nsec, 9);
  return std::string(buf, 30);
}

std::string now_rfc3339() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return format_rfc3339(ts);
}

namespace {

// The first service of `database` in nsswitch.conf text ("" if none).
std::string_view first_nss_service(std::string_view conf, std::string_view database) {
  std::string_view found;
  bool done = false;
  os::for_each_line(conf, [&](std::string_view line) {
    if (done) return;
    line = line.substr(0, line.find('#'));
    size_t b = 0;
    while (b < line.size() && os::is_space(line[b])) ++b;
    line.remove_prefix(b);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && os::is_space(name.back())) name.remove_suffix(1);
    if (name != database) return;
    done = true;
    std::string_view rest = line.substr(colon + 1);
    size_t s = 0;
    while (s < rest.size() && os::is_space(rest[s])) ++s;
    size_t e = s;
    while (e < rest.size() && !os::is_space(rest[e]) && rest[e] != '[') ++e;
    found = rest.substr(s, e - s);
  });
  return found;
}

}  // namespace

std::optional<std::string> passwd_files_name(std::string_view nsswitch, std::string_view passwd, uid_t uid) {
  if (first_nss_service(nsswitch, "passwd") != "files") return std::nullopt;
  std::optional<std::string> name;
  os::for_each_line(passwd, [&](std::string_view line) {
    if (name || line.empty() || line[0] == '#') return;
    // name:password:uid:...
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    size_t c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string_view::npos || c1 == 0) return;
    std::string_view field = line.substr(c2 + 1, c3 - c2 - 1);
    uid_t v = 0;
    auto r = std::from_chars(field.data(), field.data() + field.size(), v);
    if (field.empty() || r.ec != std::errc() || r.ptr != field.data() + field.size() || v != uid) return;
    name = std::string(line.substr(0, c1));
  });
  return name;
}

std::string user_name(uid_t uid) {
  try {
    std::optional<std::string> conf = os::read_file_if_exists("/etc/nsswitch.conf");
    if (conf)
      if (auto name = passwd_files_name(*conf, os::read_file("/etc/passwd"), uid)) return *name;
  } catch (const std::exception&) {
    // Unreadable: NSS decides.
  }
  struct passwd pw;
  struct passwd* result = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &result) != 0 || !result) return "";
  return pw.pw_name;
}

std::string owner_name(const StateStore& store, const State& s) {
  if (!s.owner.empty()) return s.owner;
  struct stat st;
  if (::stat(store.container_dir(s.id).c_str(), &st) < 0) return "";
  std::string name = user_name(st.st_uid);
  return name.empty() ? "#" + std::to_string(st.st_uid) : name;
}

// ---------------------------------------------------------------- liveness

Status live_status(const State& s, const std::string& proc_root) {
  if (s.status == Status::stopped) return Status::stopped;
  if (s.status == Status::creating)
    return os::process_alive(s.creator_pid, s.creator_start_time, proc_root) ? Status::creating : Status::stopped;
  return os::process_alive(s.pid, s.pid_start_time, proc_root) ? s.status : Status::stopped;
}

bool abandoned_by_runner(const State& s, const std::string& proc_root) {
  return s.foreground && !os::process_alive(s.creator_pid, s.creator_start_time, proc_root);
}

State creating_state(const std::string& id) {
  State s;
  s.id = id;
  s.status = Status::creating;
  s.created = now_rfc3339();
  // No owner: `state` and `list` name the owner of the container's directory
  // (owner_name), as runc does; the passwd lookup (nsswitch.conf, an nscd
  // socket, /etc/passwd) is not create's to pay.
  s.creator_pid = ::getpid();
  auto start = os::process_start_time(s.creator_pid);
  if (!start) throw os::Error("read the start time of rrun itself from /proc/self/stat: is /proc mounted?");
  s.creator_start_time = *start;
  return s;
}

namespace {

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

void check_not_foreign(const struct stat& st, const std::string& name, uid_t uid, bool own_only,
                       const std::string& remedy) {
  if (st.st_uid != uid && (own_only || st.st_uid != 0))
    throw os::Error(name + " is owned by uid " + std::to_string(st.st_uid) + ", not you (" + std::to_string(uid) +
                    (own_only ? ")" : ") or root") + "; " + remedy);
  if (S_ISFIFO(st.st_mode)) return;
  if (own_only && (st.st_mode & 077))
    throw os::Error(name + " has mode " + octal_mode(st.st_mode) + ", open to other users; make it 0700 (chmod 700), " +
                    remedy);
  if (st.st_mode & 022)
    throw os::Error(name + " has mode " + octal_mode(st.st_mode) + ", writable by other users; " + remedy);
}

// ---------------------------------------------------------------- store

StateStore::StateStore(std::string root) : StateStore(std::move(root), ::geteuid()) {}

StateStore::StateStore(std::string root, uid_t caller) : root_(std::move(root)), caller_(caller) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string StateStore::container_dir(const std::string& id) const {
  return root_ + "/" + id;
}
std::string StateStore::state_path(const std::string& id) const {
  return container_dir(id) + "/state.json";
}
std::string StateStore::config_path(const std::string& id) const {
  return container_dir(id) + "/config.json";
}
std::string StateStore::exec_fifo_path(const std::string& id) const {
  return container_dir(id) + "/exec.fifo";
}
std::string StateStore::lock_path(const std::string& id) const {
  return root_ + "/.lock@" + id;
}
std::string StateStore::staging_path(const std::string& id) const {
  return root_ + "/.new@" + id;
}

os::FileLock StateStore::lock(const std::string& id) {
  validate_container_id(id);
  if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) {
    if (errno != ENOENT) os::throw_errno("create state directory " + os::quote(root_));
    os::mkdir_p(root_, 0700);
  }
  open_root();
  return os::FileLock(lock_path(id));
}

std::optional<os::FileLock> StateStore::try_lock(const std::string& id) {
  validate_container_id(id);
  if (!open_root()) return std::nullopt;  // nothing to lock; lock() makes the root
  return os::FileLock::try_lock(lock_path(id));
}

// ---------------------------------------------------------------- trust

namespace {

const char kForeignRemedy[] =
    "another user may have planted it; remove it if you don't trust it, or use a --root only you (or root) can write";

// openat(dir, name) without following a symlink, then check_not_foreign;
// an invalid fd when it does not exist. `kind` and `path` name it.
os::UniqueFd open_checked(os::BorrowedFd dir, const char* name, int flags, const std::string& kind,
                          const std::string& path, uid_t uid) {
  int fd;
  do {
    fd = ::openat(dir.get(), name, flags | O_NOFOLLOW | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return os::UniqueFd();
    if (errno == ELOOP) throw os::Error(kind + " \"" + path + "\" is a symlink; " + kForeignRemedy);
    os::throw_errno("open " + kind + " " + os::quote(path));
  }
  os::UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) < 0) os::throw_errno("stat " + kind + " " + os::quote(path));
  check_not_foreign(st, kind + " \"" + path + "\"", uid, false, kForeignRemedy);
  return owned;
}

// The contents of the regular file `name` in `dir` (the file at `path`),
// opened as open_checked(); nullopt when it does not exist.
std::optional<std::string> read_checked(os::BorrowedFd dir, const char* name, const std::string& path, uid_t uid) {
  // O_NONBLOCK: a FIFO in a file's place must not hang us.
  os::UniqueFd fd = open_checked(dir, name, O_RDONLY | O_NONBLOCK, "state file", path, uid);
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode))
    throw os::Error("state file \"" + path + "\" is not a regular file; " + kForeignRemedy);
  try {
    return os::read_fd(fd);
  } catch (...) {
    os::rethrow_with_context("read " + os::quote(path));
  }
}

}  // namespace

os::UniqueFd StateStore::open_root() const {
  // The root itself may be reached through a symlink (--root /var/run/x):
  // what was opened is what is checked.
  int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return os::UniqueFd();
    os::throw_errno("open state directory " + os::quote(root_));
  }
  os::UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) < 0) os::throw_errno("stat state directory " + os::quote(root_));
  check_not_foreign(st, "state directory \"" + root_ + "\"", caller_, false,
                    "another user could plant containers in it; use a --root only you (or root) can write");
  return owned;
}

os::UniqueFd StateStore::open_container_dir(const std::string& id) const {
  os::UniqueFd root = open_root();
  if (!root) return root;
  return open_checked(root, id.c_str(), O_RDONLY | O_DIRECTORY, "container directory", container_dir(id), caller_);
}

os::UniqueFd StateStore::open_trusted(const std::string& id, const char* name, int flags) const {
  os::UniqueFd dir = open_container_dir(id);
  if (!dir) return dir;
  return open_checked(dir, name, flags, "state file", container_dir(id) + "/" + name, caller_);
}

std::optional<std::string> StateStore::read_trusted(const std::string& id, const char* name) const {
  os::UniqueFd dir = open_container_dir(id);
  if (!dir) return std::nullopt;
  return read_checked(dir, name, container_dir(id) + "/" + name, caller_);
}

namespace {

// rename(2) that fails with EEXIST when `to` exists; where the file system
// has no RENAME_NOREPLACE, the lock the caller holds keeps others out
// between the check and the rename.
int rename_noreplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (os::path_exists(to)) {
    errno = EEXIST;
    return -1;
  }
  return ::rename(from.c_str(), to.c_str());
}

}  // namespace

bool StateStore::create_container_dir(const State& first) {
  validate_container_id(first.id);
  const std::string dir = container_dir(first.id);
  const std::string staging = staging_path(first.id);
  if (::mkdir(staging.c_str(), 0700) < 0) {
    if (errno != EEXIST) os::throw_errno("create container directory " + os::quote(staging));
    os::remove_tree(staging);  // of a create that was killed
    if (::mkdir(staging.c_str(), 0700) < 0) os::throw_errno("create container directory " + os::quote(staging));
  }
  try {
    // Nobody reads it before the rename: no temp file needed.
    os::UniqueFd fd = os::open_file(staging + "/state.json", O_WRONLY | O_CREAT | O_EXCL, 0600);
    os::write_all(fd, state_to_json(first));
    os::fault_point("store.staged");
    if (rename_noreplace(staging, dir) == 0) return true;
    if (errno != EEXIST && errno != ENOTEMPTY)
      os::throw_errno("rename " + os::quote(staging) + " to " + os::quote(dir));
  } catch (...) {
    try {
      os::remove_tree(staging);
    } catch (...) {
    }
    os::rethrow_with_context("create container directory " + os::quote(dir));
  }
  os::remove_tree(staging);
  return false;
}

void StateStore::save(const State& s) {
  validate_container_id(s.id);
  try {
    os::write_file_atomic(state_path(s.id), state_to_json(s), 0600);
  } catch (...) {
    os::rethrow_with_context("save state of container \"" + s.id + "\"");
  }
}

std::optional<State> StateStore::load(const std::string& id) const {
  validate_container_id(id);
  os::UniqueFd dir = open_container_dir(id);
  if (!dir) return std::nullopt;
  std::optional<std::string> text = read_checked(dir, "state.json", state_path(id), caller_);
  State s;
  s.id = id;
  if (!text) return s;  // creating, with no creator: stopped
  try {
    s = state_from_json(*text);
    if (s.id.empty()) s.id = id;
    return s;
  } catch (const os::Error& e) {
    throw os::Error("state of container \"" + id + "\" in " + os::quote(state_path(id)) + " is corrupt: " + e.what() +
                    "; remove that directory to forget the container");
  }
}

State StateStore::load_or_throw(const std::string& id) const {
  auto s = load(id);
  if (!s) throw os::Error("container \"" + id + "\" does not exist");
  return std::move(*s);
}

Status StateStore::status_of(const State& s, const std::string& proc_root) const {
  Status live = live_status(s, proc_root);
  if (live == Status::created && !os::path_exists(exec_fifo_path(s.id))) return Status::running;
  return live;
}

void StateStore::remove_container(const std::string& id) {
  validate_container_id(id);
  os::remove_tree(container_dir(id));
  os::fault_point("store.dir_removed");
  if (::unlink(lock_path(id).c_str()) < 0 && errno != ENOENT) os::throw_errno("remove " + os::quote(lock_path(id)));
}

void StateStore::forget_lock_if_absent(const std::string& id) noexcept {
  struct stat st;
  if (::lstat(container_dir(id).c_str(), &st) < 0 && errno == ENOENT) {
    const std::string staging = staging_path(id);
    if (::lstat(staging.c_str(), &st) == 0) try {
        os::remove_tree(staging);
      } catch (...) {
      }
    ::unlink(lock_path(id).c_str());
  }
}

std::vector<std::string> StateStore::list_ids() const {
  std::vector<std::string> ids;
  os::UniqueFd root = open_root();
  if (!root) return ids;
  DIR* d = ::fdopendir(root.get());
  if (!d) os::throw_errno("open state directory " + os::quote(root_));
  (void)root.release();  // the DIR owns it
  while (struct dirent* e = ::readdir(d)) {
    if (!is_valid_container_id(e->d_name)) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) ids.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void StateStore::forget_stale_locks() noexcept {
  static const std::string prefix = ".lock@";
  try {
    std::vector<std::string> stale;
    for (DIR* d = ::opendir(root_.c_str()); d;) {
      struct dirent* e = ::readdir(d);
      if (!e) {
        ::closedir(d);
        break;
      }
      std::string name = e->d_name;
      struct stat st;
      if (name.rfind(prefix, 0) == 0 && is_valid_container_id(name.substr(prefix.size())) &&
          ::fstatat(::dirfd(d), name.c_str() + prefix.size(), &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
        stale.push_back(name.substr(prefix.size()));
    }
    for (const auto& id : stale) {
      // Held: a create that has not made its directory yet.
      if (auto held = try_lock(id)) forget_lock_if_absent(id);
    }
  } catch (...) {
  }
}

// ---------------------------------------------------------------- root dir

namespace {

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) os::throw_errno("get the current directory");
  std::string base = buf;
  std::string rel = path;
  while (rel.rfind("./", 0) == 0) rel.erase(0, 2);
  if (rel == "." || rel.empty()) return base;
  return (base == "/" ? "" : base) + "/" + rel;
}

// A state directory rrun picked itself must be ours alone.
void check_own_dir(const std::string& dir, uid_t uid) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) < 0) os::throw_errno("stat state directory " + os::quote(dir));
  std::string name = "state directory \"" + dir + "\"";
  if (S_ISLNK(st.st_mode)) throw os::Error(name + " is a symlink; remove it or pass --root");
  if (!S_ISDIR(st.st_mode)) throw os::Error(name + " is not a directory; remove it or pass --root");
  check_not_foreign(st, name, uid, true, "remove it or pass --root");
}

bool writable_dir(const char* path) {
  struct stat st;
  return ::stat(path, &st) == 0 && S_ISDIR(st.st_mode) && ::access(path, W_OK | X_OK) == 0;
}

}  // namespace

std::string resolve_state_root(const RootDirRequest& req) {
  if (!req.flag.empty()) {
    std::string root = absolute(req.flag);
    if (req.create) os::mkdir_p(root, 0700);
    return root;
  }
  std::string root;
  bool in_xdg = false;
  if (!req.rootless) {
    root = "/run/rrun";
  } else if (req.xdg_runtime_dir && *req.xdg_runtime_dir && writable_dir(req.xdg_runtime_dir)) {
    std::string xdg = req.xdg_runtime_dir;
    while (xdg.size() > 1 && xdg.back() == '/') xdg.pop_back();
    root = absolute(xdg) + "/rrun";
    in_xdg = true;
  } else {
    root = absolute(req.tmp_base) + "/rrun-" + std::to_string(req.uid);
  }
  if (req.create) {
    if (::mkdir(root.c_str(), 0700) < 0) {
      if (errno == ENOENT) {
        os::mkdir_p(root.substr(0, root.rfind('/')), 0755);
        if (::mkdir(root.c_str(), 0700) < 0 && errno != EEXIST)
          os::throw_errno("create state directory " + os::quote(root));
      } else if (errno != EEXIST) {
        os::throw_errno("create state directory " + os::quote(root));
      }
    }
  } else if (!os::path_exists(root)) {
    return root;
  }
  check_own_dir(root, req.uid);
  // The XDG base directory spec: files in XDG_RUNTIME_DIR may be pruned
  // after 6 hours unless they have the sticky bit (runc does the same).
  if (in_xdg && req.create) ::chmod(root.c_str(), 01700);
  return root;
}

// ---------------------------------------------------------------- rootless

namespace {

// True if PROC/self/uid_map maps the whole id range onto itself (the
// initial user namespace). A missing file means no user namespaces at all.
bool full_identity_uid_map(const std::string& proc_root) {
  std::optional<std::string> text;
  try {
    text = os::read_file_if_exists(proc_root + "/self/uid_map");
  } catch (const os::SystemError&) {
    return true;
  }
  if (!text) return true;
  // Not a stream (the first stream an rrun process makes initializes
  // libstdc++'s locales), nor sscanf.
  unsigned long long inside = 1, outside = 1, count = 0;
  size_t used = 0;
  if (!os::read_uint(*text, used, inside) || !os::read_uint(*text, used, outside) || !os::read_uint(*text, used, count))
    return false;
  if (text->find_first_not_of(" \t\n", used) != std::string::npos) return false;  // several lines
  return inside == 0 && outside == 0 && count == 4294967295ULL;
}

}  // namespace

bool detect_rootless(const std::string& mode, uid_t euid, const std::string& proc_root) {
  if (mode == "true") return true;
  if (mode == "false") return false;
  if (!mode.empty() && mode != "auto")
    throw os::Error("invalid --rootless value \"" + mode + "\": use true, false or auto");
  if (euid != 0) return true;
  return !full_identity_uid_map(proc_root);
}

bool detect_rootless(const std::string& mode, const std::string& proc_root) {
  return detect_rootless(mode, ::geteuid(), proc_root);
}

}  // namespace rrun::core
