#pragma once
// The parsed form of a sandbox file (README "YAML sandboxes"): every key
// read, type-checked and normalized, each value with where it came from.
// sandbox.cpp turns a SandboxDoc into a spec through small translations, one
// per key or concern; command-line overrides (`rrun run -f F.yaml -e ...
// -- CMD`) change the SandboxDoc before that, so that a key is handled in one
// place whether it came from the file or the command line.
//
// Parsing reads no file but the YAML text: whether paths exist, devices are
// devices and seccomp files parse is for the translations, which report it
// at the value's Origin.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "image_files.hpp"

namespace rrun::cli {

// Where a value came from: "FILE:LINE:COLUMN: KEY.PATH" for the file, or a
// command-line flag ("-e"). Errors about the value read "WHERE: what".
struct Origin {
  std::string where;
  [[noreturn]] void fail(const std::string& what) const;
};

template <class T>
struct From {
  T value;
  Origin at;
};

// The host's environment variable NAME, or nullopt when it is not set (the
// real environment by default; unit tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> host_env(const std::string& name);

enum class UserMode { root, keep, ids };
enum class OverlayMode { none, ephemeral, persistent };

struct SandboxMount {
  Origin at;  // the list item
  bool tmpfs = false;
  From<std::string> source;  // bind: an absolute, normalized host path
  std::string target;        // absolute, in the container
  bool readonly = false;
  std::optional<int64_t> size;  // tmpfs, bytes
};

struct SandboxLimits {
  std::optional<int64_t> memory;     // bytes
  std::optional<int64_t> pids;       // 1..INT32_MAX
  std::optional<int64_t> cpu_quota;  // microseconds per kCpuPeriod
  std::optional<uint64_t> nofile;
};

// share: the caller's namespaces the sandbox joins instead of making its own.
struct SandboxShare {
  Origin at;
  bool ipc = false;  // also the host's /dev/shm and /dev/mqueue
  bool pid = false;  // also the host's /proc (a bind where a new one can't be mounted)
  bool net = false;  // the same as network: host
  bool uts = false;  // the host's hostname; `hostname:` is then an error
};

struct SandboxDoc {
  std::string file;  // as the user named it
  Origin top;        // FILE:1:1, for what is wrong with the file as a whole

  From<std::string> name;    // `name:`, or the file name without .yaml/.yml
  From<std::string> rootfs;  // absolute host path (default: ./rootfs next to the file; with an image its top layer)
  bool rootfs_given = false;
  // `image: REF` instead of `rootfs:`; an oci:, oci-archive: or
  // docker-archive: path made absolute against the file's directory.
  std::optional<From<std::string>> image;
  OverlayMode overlay = OverlayMode::none;  // ephemeral by default with an image
  std::string overlay_dir;                  // persistent: absolute host path
  Origin overlay_at;
  bool readonly = false;
  // With an image, `command:` (or `-- CMD`) is its Cmd and `entrypoint:` its
  // Entrypoint; apply_sandbox_image makes `command` the whole process.args.
  std::optional<From<std::vector<std::string>>> command;
  std::optional<From<std::vector<std::string>>> entrypoint;
  std::string workdir;                                   // "" for the spec's default
  std::vector<std::pair<std::string, std::string>> env;  // NAME, value; later entries replace earlier ones
  UserMode user = UserMode::root;
  bool user_given = false;    // `user:` in the file (else an image's User applies)
  uint32_t uid = 0, gid = 0;  // UserMode::ids
  Origin user_at;
  // From the image (apply_sandbox_image): its layers (top first: the first
  // is `rootfs`) in the whiteout form of the overlay driver that reads them,
  // and the StopSignal.
  ImageLayers image_layers;
  std::string stop_signal;
  std::optional<From<std::string>> hostname;
  bool tty = false;
  std::vector<SandboxMount> mounts;
  bool network_none = false;
  SandboxLimits limits;
  std::vector<From<std::string>> cap_add, cap_drop;  // CAP_ names or ALL
  From<std::string> seccomp;                         // default, unconfined, or an absolute host path
  std::vector<From<std::string>> devices;
  bool init = true;  // rrun's init as PID 1 (core: `run --init`)
  SandboxShare share;
};

// CFS period of `limits.cpus` (the kernel's default), microseconds.
inline constexpr int64_t kSandboxCpuPeriod = 100000;

// Parses the YAML text of the file named `file`; relative host paths are
// resolved against the file's directory; `${VAR}` in values is taken from
// `env` (expand_host_variables). Throws os::Error
// "FILE:LINE:COLUMN: KEY: what".
SandboxDoc parse_sandbox(std::string_view yaml_text, const std::string& file, const EnvLookup& env = host_env);

// `${NAME}` and `${NAME:-default}` (the default when NAME is unset or empty,
// itself expanded) replaced by the host's variables; `$${` is a literal
// `${`, and every other `$` stays as it is (`$HOME`, `$$` reach a shell in
// the container unchanged). An unset NAME without a default, or a `${`
// that is not one of these forms, is an error at `at`.
std::string expand_host_variables(const std::string& text, const EnvLookup& env, const Origin& at);

// A mount's target as create takes it (rootfs::mount_destination: cleaned;
// `/` refused), for `mounts:` and `-v`; an error at `at`.
std::string mount_target(const std::string& target, const Origin& at);

// Capability names the kernel knows (capabilities(7)), in bit order.
const std::vector<std::string>& all_capabilities();

}  // namespace rrun::cli
