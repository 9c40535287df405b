#pragma once
// The lifecycle operations, one function per runc command. cli/ parses
// arguments into these requests and calls exactly one function; everything
// else (validation, locking, cleanup on failure) happens here. Errors are
// exceptions (os::Error, os::SystemError) whose what() is the one line cli
// prints.

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rrun/cgroups/manager.hpp>
#include <rrun/spec/spec.hpp>

#include "state.hpp"

namespace rrun::core {

// What every command gets from the global flags.
struct Context {
  std::string state_root;  // resolved (resolve_state_root)
  bool rootless = false;   // detect_rootless
  bool systemd_cgroup = false;
};

struct CreateRequest {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;        // empty: none
  std::string console_socket;  // empty: none
  bool no_pivot = false;
  bool no_new_keyring = false;
  unsigned preserve_fds = 0;
  // --init[=BOOL]: rrun's init as PID 1 (pid1.hpp); absent: the annotation
  // rrun.init decides.
  std::optional<bool> init;
  // A generated config.json (the YAML front-end) instead of `bundle`: the
  // bundle becomes STATE_ROOT/ID/bundle holding only this file, so it goes
  // with the container's state directory. Its root.path must be absolute.
  std::string generated_config;
  // With generated_config: files written next to it (name -> content, mode
  // 0644), which its mounts bind by a relative source (the front-end's
  // /etc/hosts, /etc/resolv.conf, ...). Plain file names, not config.json.
  std::vector<std::pair<std::string, std::string>> generated_files;
};

// `create`: returns once the container is `created`, its init blocked before
// the user process. On failure nothing is left behind.
void create_container(const Context& ctx, const CreateRequest& req);

// `start`: lets a `created` container run its process; runs poststart hooks.
void start_container(const Context& ctx, const std::string& id);

struct RunRequest {
  CreateRequest create;
  bool detach = false;
  bool keep = false;
};

// `run`: create + start; in the foreground waits for the container, forwards
// signals, proxies the terminal, removes the container (unless keep) and
// returns the exit status the shell would show (128+N for signal N).
// Detached: returns 0 once started.
int run_container(const Context& ctx, const RunRequest& req);

// `state`: the OCI state JSON (runc's shape).
std::string container_state_json(const Context& ctx, const std::string& id);

// The state of container `id` for `state` and `list` (nullopt: none). A
// container whose foreground `run` was killed is first ended, under its
// lock, as that run would have ended it: removed (nullopt), or with
// `run --keep` stopped.
std::optional<State> load_settled(StateStore& store, const std::string& id);

// The annotation of an image's StopSignal (image-spec annotations.md), which
// podman and docker also honour: the signal that asks the container to stop
// (`rrun kill ID` without a signal, SIGTERM sent to a foreground `run`).
inline constexpr const char* kStopSignalAnnotation = "org.opencontainers.image.stopSignal";

// The container's stop signal: kStopSignalAnnotation, else SIGTERM.
// Throws os::Error naming the annotation when it is not a signal.
int stop_signal(const std::map<std::string, std::string>& annotations);

// `kill`: signal the init (or, with all, every process of the container);
// no signal: the container's stop signal.
void kill_container(const Context& ctx, const std::string& id, std::optional<int> signal, bool all);

// `delete`: remove a stopped container (force: kill it first). A missing
// container is an error unless force.
void delete_container(const Context& ctx, const std::string& id, bool force);

struct ExecRequest {
  std::string id;
  std::string process_file;  // --process: a process.json instead of the container's process
  std::vector<std::string> args;
  std::string cwd;
  std::vector<std::string> env;  // KEY=VALUE, appended
  bool tty = false;
  std::string user;  // "UID[:GID]"
  std::vector<std::string> additional_gids;
  std::vector<std::string> caps;  // added to the bounding, effective and permitted sets
  bool no_new_privs = false;
  std::string apparmor;
  std::string process_label;
  std::vector<std::string> cgroup;  // --cgroup: sub-cgroups (refused)
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  unsigned preserve_fds = 0;
  bool ignore_paused = false;
};

// `exec`: runs a process in the container's namespaces and cgroup with the
// container's seccomp profile. In the foreground: forwards signals, proxies
// the terminal, returns the exit status as run does; detached: returns 0
// once the process exec'd (its pid in --pid-file).
int exec_container(const Context& ctx, const ExecRequest& req);

// `pause` / `resume`: freeze / thaw the container's cgroup; the state shows
// `paused` in between. Without a cgroup (none driver) an error says how to
// get one.
void pause_container(const Context& ctx, const std::string& id);
void resume_container(const Context& ctx, const std::string& id);

// `ps`: the pids of the container's processes (its cgroup; without one, its
// pid namespace), sorted, as seen from rrun's pid namespace.
std::vector<pid_t> container_pids(const Context& ctx, const std::string& id);

struct UpdateRequest {
  std::string id;
  spec::Resources resources;  // only what is set changes (runc `update`)
};

// `update`: merges the request into the container's resources, writes them
// to its cgroup and records them in the container's config.json.
void update_container(const Context& ctx, const UpdateRequest& req);

// `events --stats`: the cgroup's numbers. Throws without a cgroup.
cgroups::Stats container_stats(const Context& ctx, const std::string& id);
// Whether the container exists and is not stopped (`events` loops on it).
bool container_alive(const Context& ctx, const std::string& id);

// `checkpoint` and `restore` through CRIU's `criu` binary (checkpoint.cpp),
// with runc's flags.
struct CriuOptions {
  std::string criu;          // --criu: the binary; "" = `criu` in $PATH
  std::string image_path;    // absolute or relative to the current directory
  std::string work_path;     // "" = image_path; CRIU's log goes there
  bool tcp_established = false;
  bool tcp_skip_in_flight = false;
  bool link_remap = false;
  bool ext_unix_sk = false;
  bool shell_job = false;
  bool file_locks = false;
  bool auto_dedup = false;
  std::string manage_cgroups_mode;  // soft|full|strict|ignore; "" = soft
  std::vector<std::string> empty_ns;  // "network"
};

struct CheckpointRequest {
  std::string id;
  CriuOptions criu;
  std::string parent_path;  // --parent-path: a previous pre-dump (relative to image_path)
  bool leave_running = false;
  bool pre_dump = false;
};

// `checkpoint`: dumps the running container's process tree into
// criu.image_path, with what `restore` needs next to CRIU's images; then,
// unless leave_running or pre_dump, the container is destroyed (as runc).
void checkpoint_container(const Context& ctx, const CheckpointRequest& req);

struct RestoreRequest {
  std::string id;
  CriuOptions criu;
  std::string bundle = ".";
  bool detach = false;
  std::string pid_file;
  bool no_subreaper = false;
  bool no_pivot = false;
  std::string console_socket;  // required when the checkpoint had a terminal
};

// `restore`: makes container `id` again from the bundle's config and the
// images: its rootfs and cgroup as create makes them, its processes from
// CRIU. Detached: returns 0 once restored; in the foreground: waits for the
// init, removes the container and returns its exit status as run does.
int restore_container(const Context& ctx, const RestoreRequest& req);

// A signal given as "TERM", "SIGTERM", "sigterm" or "15"; throws os::Error.
int parse_signal(const std::string& name);

}  // namespace rrun::core
