#pragma once
// `rrun doctor`: what rootless containers need on this host, one check per
// line, each ok, warn or fail with the remedy. Gathering facts (reading
// sysctls, stat-ing helpers, running the probes of host_probe.hpp) is kept
// apart from the verdicts: every check_* function is pure over its facts, so
// unit tests feed them tables.
//
// A `fail` means rootless containers cannot run here (no user namespace, no
// usable state directory); everything rrun can degrade around (a single
// mapping without subordinate ids, no cgroup delegation, fuse-overlayfs
// instead of kernel overlay) is a `warn`.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include <rrun/cgroups/detect.hpp>
#include <rrun/userns/subid.hpp>
#include "host_probe.hpp"

namespace rrun::core::doctor {

enum class Status { ok, warn, fail };

const char* status_name(Status s);  // "ok", "warn", "fail"

struct Check {
  std::string name;  // a stable short name: "userns", "subuid", "dev_fuse", ...
  Status status = Status::ok;
  std::string detail;  // what was found
  std::string remedy;  // what to do; "" when ok
};

// ---------------------------------------------------------------- facts and verdicts

struct UsernsFacts {
  std::optional<long> max_user_namespaces;        // user.max_user_namespaces; nullopt: no such sysctl
  std::optional<long> unprivileged_userns_clone;  // kernel.unprivileged_userns_clone (Debian, older Ubuntu)
  std::optional<long> apparmor_restrict;          // kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+)
  ProbeOutcome probe;                             // probe_user_namespace()
};
Check check_userns(const UsernsFacts& f);

struct IdmapToolFacts {
  std::string tool;          // "newuidmap" or "newgidmap"
  std::string path;          // "" when not found
  bool setuid_root = false;  // owned by root with the set-user-ID bit
  bool file_cap = false;     // the capability it needs (cap_setuid / cap_setgid) in its permitted file set
};
Check check_idmap_tool(const IdmapToolFacts& f, bool rootless);

struct SubidFacts {
  std::string kind;  // "subuid" or "subgid"
  std::string user;  // the caller's name
  std::vector<userns::SubRange> ranges;
  std::string error;         // reading them failed
  uint32_t suggested_start;  // userns::free_subid_start() of the file, for the remedy
};
Check check_subids(const SubidFacts& f, bool rootless);

struct RuntimeDirFacts {
  bool set = false;  // XDG_RUNTIME_DIR is set and non-empty
  std::string value;
  bool is_dir = false;
  bool writable = false;
};
Check check_xdg_runtime_dir(const RuntimeDirFacts& f, bool rootless, uid_t uid);

struct StateDirFacts {
  std::string root;   // resolve_state_root() without creating it
  std::string error;  // resolve_state_root() refused: its message
  bool exists = false;
  bool parent_writable = false;  // when it does not exist: can it be made
};
Check check_state_dir(const StateDirFacts& f);

struct CgroupFacts {
  cgroups::Mode mode = cgroups::Mode::none;
  std::string own_cgroup;                // from the 0:: line of /proc/self/cgroup, "" if none
  bool delegated = false;                // cgroups::v2_subtree_writable() of it
  std::vector<std::string> controllers;  // cgroups::available_controllers() of it
  bool user_bus = false;                 // a session D-Bus socket for systemd --user
  bool systemd_init = false;             // cgroups::systemd_is_init()
  // The controllers your systemd user manager delegates to its scopes (the
  // cgroup.subtree_control of user@UID.service), when it runs.
  std::vector<std::string> user_manager_controllers{};
};
Check check_cgroups(const CgroupFacts& f, bool rootless);

struct OverlayFacts {
  ProbeOutcome probe;  // probe_kernel_overlay()
  std::string where;   // the directory it ran under
};
Check check_kernel_overlay(const OverlayFacts& f);

struct FuseFacts {
  bool dev_exists = false;
  int open_error = 0;          // opening /dev/fuse read-write: 0 or errno
  std::string fuse_overlayfs;  // its path, "" if not found
};
Check check_dev_fuse(const FuseFacts& f);
Check check_fuse_overlayfs(const FuseFacts& f);

struct SeccompFacts {
  bool kernel = false;        // prctl(PR_GET_SECCOMP) works: CONFIG_SECCOMP
  std::string actions_avail;  // /proc/sys/kernel/seccomp/actions_avail
  std::string libseccomp;     // its version
};
Check check_seccomp(const SeccompFacts& f);

// clone3, pidfd_open, openat2: `error` is 0 or the errno of the probe.
Check check_syscall(const std::string& name, int error);

struct IdmapFacts {
  ProbeOutcome probe;  // probe_idmapped_mount()
  std::string where;
};
Check check_idmapped_mounts(const IdmapFacts& f, bool rootless);

// ---------------------------------------------------------------- the whole run

struct Facts {
  bool rootless = false;
  uid_t uid = 0;
  UsernsFacts userns;
  IdmapToolFacts newuidmap, newgidmap;
  SubidFacts subuid, subgid;
  RuntimeDirFacts xdg;
  StateDirFacts state;
  CgroupFacts cgroup;
  OverlayFacts overlay;
  FuseFacts fuse;
  SeccompFacts seccomp;
  int clone3 = 0, pidfd_open = 0, openat2 = 0;
  IdmapFacts idmap;
};

struct Request {
  bool rootless = false;  // core::detect_rootless()
  std::string root_flag;  // --root
};

// Reads the host and runs the probes (each leaves nothing behind).
Facts gather_facts(const Request& req);

struct Report {
  std::vector<Check> checks;
  // Rootless containers can run here: no check failed.
  bool ok() const;
};

Report evaluate(const Facts& f);

// One line per check ("ok    userns: ...", "warn  subuid: ...; remedy: ...")
// and a summary line.
std::string format_text(const Report& r);
// {"ok": bool, "checks": [{"name", "status", "detail", "remedy"}...]},
// pretty-printed.
std::string format_json(const Report& r);

}  // namespace rrun::core::doctor
