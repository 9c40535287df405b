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
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

struct SandboxDoc {
  std::string file;  // as the user named it
  Origin top;        // FILE:1:1, for what is wrong with the file as a whole

  From<std::string> name;    // `name:`, or the file name without .yaml/.yml
  From<std::string> rootfs;  // absolute host path (default: ./rootfs next to the file)
  bool rootfs_given = false;
  OverlayMode overlay = OverlayMode::none;
  std::string overlay_dir;  // persistent: absolute host path
  Origin overlay_at;
  bool readonly = false;
  std::optional<From<std::vector<std::string>>> command;
  std::string workdir;                                   // "" for the spec's default
  std::vector<std::pair<std::string, std::string>> env;  // NAME, value; later entries replace earlier ones
  UserMode user = UserMode::root;
  uint32_t uid = 0, gid = 0;  // UserMode::ids
  Origin user_at;
  std::optional<From<std::string>> hostname;
  bool tty = false;
  std::vector<SandboxMount> mounts;
  bool network_none = false;
  SandboxLimits limits;
  std::vector<From<std::string>> cap_add, cap_drop;  // CAP_ names or ALL
  From<std::string> seccomp;                         // default, unconfined, or an absolute host path
  std::vector<From<std::string>> devices;
  bool init = true;  // rrun's init as PID 1 (core: `run --init`)
};

// CFS period of `limits.cpus` (the kernel's default), microseconds.
inline constexpr int64_t kSandboxCpuPeriod = 100000;

// Parses the YAML text of the file named `file`; relative host paths are
// resolved against the file's directory. Throws os::Error
// "FILE:LINE:COLUMN: KEY: what".
SandboxDoc parse_sandbox(std::string_view yaml_text, const std::string& file);

// Capability names the kernel knows (capabilities(7)), in bit order.
const std::vector<std::string>& all_capabilities();

}  // namespace rrun::cli
