#pragma once
// The YAML sandbox front-end: a short description of a sandbox (README
// "YAML sandboxes") translated into an OCI spec. The translation is a
// function of the YAML text, the file's path (relative paths in the file are
// relative to its directory) and the caller (SandboxHost); it reads the
// filesystem only to check that the rootfs, bind sources and devices exist,
// to read a seccomp profile file and to stat devices.
//
// Errors are os::Error with one line
//   FILE:LINE:COLUMN: KEY.PATH: what is wrong
// (LINE and COLUMN from 1), thrown before anything is created.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rrun/image/config.hpp>
#include <rrun/rootfs/overlay.hpp>
#include <rrun/spec/parse.hpp>
#include <rrun/spec/spec.hpp>
#include <rrun/userns/subid.hpp>

#include "image_files.hpp"
#include "sandbox_doc.hpp"

namespace rrun::cli {

// What a sandbox takes from its image (`image:`, `rrun run --image`).
struct SandboxImage {
  std::string name;  // the reference as the store records it, for messages
  image::ImageConfig config;
  ImageLayers layers;  // unpacked, top first, in the whiteout form the overlay driver reads
};

// Gets image `ref` ready for a container (from the store, pulled and
// unpacked on first use): its layers unpacked for a container that runs
// `rootless` or not, whose overlay driver is `driver` ("" for the kernel
// where it reads the layers, "fuse"). The commands give the store's
// (commands_image.cpp image_resolver); unit tests their own.
using ImageResolver = std::function<SandboxImage(const std::string& ref, bool rootless, const std::string& driver)>;

// Who runs the sandbox.
struct SandboxHost {
  bool rootless = false;
  uint32_t uid = 0;  // effective uid and gid of the caller
  uint32_t gid = 0;
  std::string user_name;                   // for messages about /etc/subuid
  std::vector<userns::SubRange> sub_uids;  // the caller's subordinate ranges (rootless)
  std::vector<userns::SubRange> sub_gids;
  EnvLookup env = host_env;  // `${VAR}` in the file, `-e NAME`, `--env-file` NAME lines
  // Facts behind the defaults (README "YAML sandboxes"), read at create time.
  uint64_t nofile = 0;          // rrun's own hard RLIMIT_NOFILE: the default `limits.nofile` (0: none)
  std::string hosts;            // the host's /etc/hosts (network: host)
  std::string resolv_conf;      // the host's /etc/resolv.conf (network: host)
  std::string hostname;         // the host's name (share: [uts])
  std::string home;             // the caller's home directory (user: keep)
  std::string group_name;       // the name of the caller's gid (user: keep)
  bool fuse_overlayfs = false;  // rootless: fuse-overlayfs installed and /dev/fuse usable (user: keep)
  ImageResolver image;          // `image:`; unset: images are refused
};

// What the command line changes for one run of a sandbox file (`rrun run -f
// F.yaml -e NAME=VALUE -v SRC:DST -- CMD ARGS...`; README "Per-task
// overrides"). Applied to the parsed file before the translations, so that
// each key is still translated in one place.
struct SandboxOverrides {
  std::optional<std::vector<std::string>> command;  // after `--`: replaces `command:`
  std::vector<std::string> env_files;               // --env-file FILE, in order
  std::vector<std::string> env;                     // -e NAME=VALUE | NAME, after the env files
  std::vector<std::string> volumes;                 // -v SRC:DST[:ro|rw], after the file's mounts
  std::optional<bool> tty;                          // --tty / --no-tty

  bool empty() const { return !command && env_files.empty() && env.empty() && volumes.empty() && !tty; }
};

// Changes `d` as `o` says: env (the file's, then each --env-file, then each
// -e: the last one of a name wins; a NAME alone takes the host's value and
// is left out where the host has none, as podman does), mounts, tty,
// command. Errors name the flag: `-v x:/y: "x" does not exist`.
void apply_sandbox_overrides(SandboxDoc& d, const SandboxOverrides& o, const EnvLookup& env);

struct Sandbox {
  std::string name;  // the container id
  spec::Spec spec;
  // Files for the bundle, next to config.json (name -> content): the
  // generated /etc files its mounts bind by a relative source.
  std::vector<std::pair<std::string, std::string>> files;
};

// The annotation the rootfs layer reads for `overlay:` (rootfs/overlay.hpp).
inline constexpr const char* kOverlayAnnotation = rootfs::kRootfsOverlayAnnotation;

// Translates the YAML text of the file at `file` (as the user named it),
// with the command line's overrides.
Sandbox translate_sandbox(std::string_view yaml_text, const std::string& file, const SandboxHost& host,
                          const SandboxOverrides& overrides = {});

// `rrun run --image REF [-- CMD...]`: the sandbox a file with only `image:
// REF` and `name: NAME` would be, with the command line's overrides.
Sandbox translate_image_sandbox(const std::string& ref, const std::string& name, const SandboxHost& host,
                                const SandboxOverrides& overrides = {});

// The image's config fills what the sandbox does not say, as podman does
// (README "Images"): rootfs = the top layer over the others, the overlay
// driver that reads their whiteouts; process.args = Entrypoint (or
// `entrypoint:`) + Cmd (or `command:`, `-- CMD`); Env under `env:` (the
// sandbox's wins per name), HOME from the user's passwd entry (else /) unless set;
// WorkingDir unless `workdir:`; User (names resolved in the image's
// /etc/passwd and /etc/group) unless `user:`; StopSignal. Errors name the
// image and the config field.
void apply_sandbox_image(SandboxDoc& d, const SandboxImage& img);

// What a process takes from an image config (apply_sandbox_image, `rrun
// unpack`): Entrypoint + Cmd; Env as NAME, value (entries without a name
// skipped); WorkingDir made absolute ("" for none).
std::vector<std::string> image_args(const image::ImageConfig& c);
std::vector<std::pair<std::string, std::string>> image_env(const image::ImageConfig& c);
std::string image_workdir(const image::ImageConfig& c);
// HOME for a user whose passwd entry says `home` ("" without one: `/`, as podman).
inline std::string image_home(const std::string& home) {
  return home.empty() ? std::string(1, '/') : home;
}

// Sets NAME=value in `p`'s environment, replacing an entry of that name.
void set_process_env(spec::Process& p, const std::string& name, const std::string& value);
// The same for each of `env` in order (a later one of a name wins), in time
// linear in the sizes of both.
void set_process_env(spec::Process& p, const std::vector<std::pair<std::string, std::string>>& env);

// The most rrun reads of a sandbox file or an --env-file (a few KiB in
// practice; yaml-cpp takes some 55 bytes of memory per byte of YAML, so
// 4 MiB is 240 MB and 3 s at worst), and of a seccomp profile file
// (Podman's is 30 KiB).
inline constexpr size_t kMaxSandboxFile = 4u << 20;
inline constexpr size_t kMaxSeccompFile = 4u << 20;

// Reads `file` and translates it. An unreadable file is an os::Error naming
// it, and so is one that is not a regular file or is over kMaxSandboxFile.
Sandbox load_sandbox(const std::string& file, const SandboxHost& host, const SandboxOverrides& overrides = {});

// A rootfs made in a user namespace whose root is the caller's first
// subordinate id (`mmdebstrap --mode=unshare`, `podman unshare`, `unshare
// --map-auto`) has its root directory owned by the first ids of both ranges
// (`ids`, as spec::default_rootless_spec takes them). For such a rootfs,
// sets `l`'s mappings to those it was made with (container 0.. onto the
// first ranges, so that it is root's inside; the caller right after them)
// and returns true; otherwise leaves `l` alone. YAML sandboxes and `rrun
// spec --rootless` (for DIR/rootfs) use it.
bool map_rootfs_of_first_subids(const std::string& rootfs, const spec::RootlessIds& ids, spec::Linux& l);

// The calling process as a SandboxHost (subordinate ranges read when rootless).
SandboxHost current_sandbox_host(bool rootless);

// The built-in `seccomp: default` profile for the given capability set (in
// the spirit of the containers/moby default: an allow list, EPERM for the
// rest, a few syscalls allowed only with the capability that guards them).
spec::Seccomp default_seccomp_profile(const std::vector<std::string>& capabilities);

}  // namespace rrun::cli
