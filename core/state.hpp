#pragma once
// The state store: one directory per container under the state root, holding
// state.json (written atomically), the config.json the container was created
// from, and the exec FIFO. A per-container lock file serializes commands on
// one container.
//
// Layout of a state root R:
//   R/ID/state.json     State, see state_to_json()
//   R/ID/config.json    the spec create used (written by the create flow)
//   R/ID/exec.fifo      the exec FIFO, present while the container is `created`
//   R/.new@ID           ID/ while `create` fills it (create_container_dir);
//                       one left by a killed create goes with the next
//                       command on ID that finds no ID/ (under the lock)
//   R/.lock@ID          the lock; outside ID/ so that `create` can take it
//                       before the directory exists. `@` is not allowed in
//                       IDs, so it never collides with a container. It is
//                       removed by remove_container() while held; waiters
//                       then retry on a fresh file (os::FileLock checks
//                       that the locked file is still the one at the path).
//
// Nothing here is trusted unless only the caller (or root) could have written
// it: every directory and file rrun reads is opened, then checked with fstat
// on that fd (owned by the caller or root, not writable by group or others;
// the exec FIFO, 0622 by design, is checked for its owner only), so no other
// user can plant a state.json with a pid for rrun to signal, or a config
// with hooks for it to run.

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rrun/os/error.hpp>
#include <rrun/os/lock.hpp>

namespace rrun::core {

enum class Status { creating, created, running, stopped, paused };

// "creating", "created", "running", "stopped", "paused".
const char* status_name(Status s);
// The inverse; throws os::Error for an unknown name.
Status parse_status(const std::string& name);

// What state.json holds: the OCI state plus what rrun needs later.
struct State {
  std::string oci_version;  // of the spec the container was created from
  std::string id;
  Status status = Status::creating;  // as recorded; see live_status()
  pid_t pid = 0;                     // of the container init, in our pid namespace
  uint64_t pid_start_time = 0;       // os::process_start_time(pid) at create
  pid_t creator_pid = 0;             // the rrun process that runs `create` (0: unknown)
  uint64_t creator_start_time = 0;   // os::process_start_time(creator_pid)
  std::string bundle;                // absolute
  std::string rootfs;                // absolute
  std::string created;               // RFC 3339, UTC, nanoseconds: "2026-11-27T23:47:30.123456789Z"
  std::string owner;                 // user name of the creator, "" if unknown
  std::map<std::string, std::string> annotations;
  bool rootless = false;
  std::string cgroup_driver;  // cgroups::driver_name(): "v1", "v2", "systemd", "none" ("" before cgroups)
  std::string cgroup_path;    // cgroups::Manager::path(), for cgroups::open_manager()
  bool systemd_cgroup = false;
  // Made by a foreground `run` (not -d), whose process is creator_pid: the
  // container dies with it and, should it be killed, is ended by the next
  // command that looks at it (abandoned_by_runner). `keep`: run --keep.
  // Absent in state files of older versions: false.
  bool foreground = false;
  bool keep = false;
  // The init runs rrun's own binary until it executes the process: the
  // container shares rrun's user namespace and can't hold CAP_SYS_PTRACE,
  // so rrun did not re-execute from its view (exe_guard.hpp). `exec` of a
  // process that may hold it waits for start. Absent: false.
  bool init_runs_binary = false;
  // An `exec` may have given a process of such a container CAP_SYS_PTRACE:
  // every later exec re-executes (exec.cpp, ExecGuardLock). Never cleared.
  // Absent: false.
  bool ptrace_exec = false;
  // The config has poststart (poststop) hooks: `start` (`delete`) reads the
  // container's config.json only then. Absent (older versions): true.
  bool poststart_hooks = true;
  bool poststop_hooks = true;

  bool operator==(const State&) const = default;
};

// The full state.json text (every field above).
std::string state_to_json(const State& s);
// Parses state.json; throws os::Error naming what is wrong.
State state_from_json(const std::string& text);

// The output of `rrun state`, shaped like runc's: ociVersion, id, pid,
// status, bundle, rootfs, created, annotations (only when non-empty), owner;
// pretty-printed with a 2-space indent and a final newline (indent -1:
// compact, no newline, as one element of `list --format json`). `live` is
// the status to report (StateStore::status_of()); pid is 0 when stopped.
std::string oci_state_json(const State& s, Status live, int indent = 2);
// The OCI state object given to hooks on stdin (runtime.md "State"):
// ociVersion, id, status, pid, bundle, annotations. Compact.
std::string hook_state_json(const State& s, Status live);

// The current time as RFC 3339 in UTC with nanoseconds.
std::string now_rfc3339();
// `ts` (years 0-9999) as RFC 3339 in UTC with nanoseconds.
std::string format_rfc3339(const struct timespec& ts);
// The user name of `uid` from the passwd database, or "" if it has none.
// When nsswitch.conf has the database start with "files" and /etc/passwd
// has the uid, that line is the answer NSS would give, read without NSS
// (nsswitch.conf parsed by the C library, nscd's socket tried, and its
// pages mapped: 0.3 MiB of a rootless run's peak RSS); else getpwuid_r.
std::string user_name(uid_t uid);
// The name user_name() takes from `passwd` (the text of /etc/passwd) given
// `nsswitch` (of nsswitch.conf): nullopt when NSS must be asked.
std::optional<std::string> passwd_files_name(std::string_view nsswitch, std::string_view passwd, uid_t uid);

// The live status of a container: `creating` while its creator (pid + start
// time) lives, else stopped (an unknown creator is a dead one); a recorded
// created/running/paused container whose init (pid + start time) is gone, or
// a zombie, is stopped; otherwise the recorded status. See also
// StateStore::status_of().
Status live_status(const State& s, const std::string& proc_root = "/proc");

// Whether `s` was made by a foreground `run` that is gone without having
// ended it (killed: a living one removes it, or with --keep records it as an
// ordinary stopped container).
bool abandoned_by_runner(const State& s, const std::string& proc_root = "/proc");

// The state of a container that `create` is about to make: status creating,
// created now, owner, and the calling process as its creator.
State creating_state(const std::string& id);

// Refuses state that another user could have written: `st` (of the object
// named `name`, such as `state directory "/x"`) must be owned by `uid` (or,
// unless `own_only`, by root) and must not be writable by group or others
// (`own_only`: no group or other permission at all); a FIFO's mode is not
// checked. Throws os::Error naming the object, ending in "; " + `remedy`.
void check_not_foreign(const struct stat& st, const std::string& name, uid_t uid, bool own_only,
                       const std::string& remedy);

// `create` of an ID in use (a caller that picks IDs itself tries another:
// `run -f` of a sandbox whose name is taken).
class ContainerExists : public os::Error {
 public:
  using os::Error::Error;
};

class StateStore {
 public:
  // `caller`: whose state this is (check_not_foreign); default our euid.
  explicit StateStore(std::string root);
  StateStore(std::string root, uid_t caller);

  const std::string& root() const { return root_; }
  // root/ID. The ID must have been validated (validate_container_id).
  std::string container_dir(const std::string& id) const;
  std::string state_path(const std::string& id) const;      // root/ID/state.json
  std::string config_path(const std::string& id) const;     // root/ID/config.json
  std::string exec_fifo_path(const std::string& id) const;  // root/ID/exec.fifo
  std::string lock_path(const std::string& id) const;       // root/.lock@ID
  std::string staging_path(const std::string& id) const;    // root/.new@ID

  // Validates the ID, makes sure the root exists and is trusted
  // (open_root()), then takes the container's lock (blocking). Hold it
  // across a whole command that reads and changes the container's state.
  os::FileLock lock(const std::string& id);
  // The same without waiting: nullopt when another process holds the lock.
  std::optional<os::FileLock> try_lock(const std::string& id);

  // The root, opened and checked (check_not_foreign); an invalid fd when it
  // does not exist. Throws os::Error when another user could write it.
  os::UniqueFd open_root() const;
  // root/ID/NAME opened with `flags` (O_NOFOLLOW added) once the root, root/ID
  // and the file itself passed check_not_foreign on the opened fds; an
  // invalid fd when root/ID or the file does not exist.
  os::UniqueFd open_trusted(const std::string& id, const char* name, int flags) const;
  // The contents of the regular file root/ID/NAME, opened as open_trusted();
  // nullopt when it does not exist.
  std::optional<std::string> read_trusted(const std::string& id, const char* name) const;

  // Makes root/ID (mode 0700) with `first` as its state.json in one step:
  // filled in as root/.new@ID, then renamed, so that a container directory
  // always has a state that says who made it and how, wherever its create
  // was killed. false (nothing made) when root/ID exists. Call with the
  // lock of first.id held.
  [[nodiscard]] bool create_container_dir(const State& first);

  // Atomically (re)writes root/ID/state.json.
  void save(const State& s);

  // nullopt when there is no container ID (no directory). A directory
  // without state.json (made by an older rrun killed in create) loads as
  // status creating with no creator: stopped. Reads through open_trusted().
  std::optional<State> load(const std::string& id) const;
  // Throws os::Error `container "ID" does not exist`.
  State load_or_throw(const std::string& id) const;

  // Removes root/ID and the lock file. Call with the lock held.
  void remove_container(const std::string& id);

  // Removes the lock file (and root/.new@ID) when there is no root/ID: a
  // command on an absent container (or a create that failed or was killed)
  // leaves nothing behind. Call with the lock held; never throws.
  void forget_lock_if_absent(const std::string& id) noexcept;

  // live_status(), and a live `created` container whose exec FIFO is gone
  // (start opened it but did not record `running` yet) is running.
  Status status_of(const State& s, const std::string& proc_root = "/proc") const;

  // IDs of the containers under root (directories with a valid ID), sorted.
  // A missing root is an empty list; an untrusted one throws (open_root()).
  std::vector<std::string> list_ids() const;

  // Removes the lock files that no container directory goes with and no
  // process holds (left by a create killed before it made the directory).
  // Best effort, never throws.
  void forget_stale_locks() noexcept;

  // root/ID, checked as open_trusted() checks it; an invalid fd when it
  // does not exist.
  os::UniqueFd open_container_dir(const std::string& id) const;

 private:
  std::string root_;
  uid_t caller_;
};

// The owner shown by `state` and `list`: the one recorded (by an older
// rrun), else the user owning the container's directory, by name, or #UID
// without a passwd entry.
std::string owner_name(const StateStore& store, const State& s);

// Declared right after a StateStore::lock(): at scope exit, while the lock
// is still held, removes the lock file if the container does not exist.
class LockFileJanitor {
 public:
  LockFileJanitor(StateStore& store, std::string id) : store_(store), id_(std::move(id)) {}
  LockFileJanitor(const LockFileJanitor&) = delete;
  LockFileJanitor& operator=(const LockFileJanitor&) = delete;
  ~LockFileJanitor() { store_.forget_lock_if_absent(id_); }

 private:
  StateStore& store_;
  std::string id_;
};

// Where the state root is (--root, or the default for who we are).
struct RootDirRequest {
  std::string flag;                       // --root, empty if absent
  bool rootless = false;                  // detect_rootless()
  uid_t uid = 0;                          // our euid
  const char* xdg_runtime_dir = nullptr;  // $XDG_RUNTIME_DIR, nullptr if unset
  std::string tmp_base = "/tmp";          // base of the /tmp/rrun-UID fallback
  bool create = true;                     // false for read-only commands (state, list)
};

// --root if given; else /run/rrun as root; rootless: $XDG_RUNTIME_DIR/rrun
// when XDG_RUNTIME_DIR is set, non-empty and writable by us, else
// TMP_BASE/rrun-UID. With `create`, makes the directory (0700; 01700 in
// XDG_RUNTIME_DIR, whose sticky bit keeps it from being pruned). A directory
// rrun chose itself (not --root) must be a real directory owned by `uid`
// without group/other permissions, else os::Error explains and suggests
// --root. Without `create` a missing directory is fine (no containers).
std::string resolve_state_root(const RootDirRequest& req);

// --rootless: "true"/"false" force it; "auto" (or "") means rootless when
// euid != 0, or when euid is 0 inside a user namespace that does not map the
// full id range (PROC/self/uid_map is not "0 0 4294967295"). Throws
// os::Error for another value.
bool detect_rootless(const std::string& mode, const std::string& proc_root = "/proc");
bool detect_rootless(const std::string& mode, uid_t euid, const std::string& proc_root);

}  // namespace rrun::core
