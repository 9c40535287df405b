// The YAML sandbox front-end: sandbox.hpp. A sandbox file is parsed into a
// SandboxDoc (sandbox_parse.cpp), then translated into a spec by the small
// translations below, one per key or concern, in a fixed order: each is a
// function of the parsed sandbox and the caller that changes the spec, and
// reports what is wrong at the value's Origin.

#include "sandbox.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include <rrun/core/container.hpp>
#include <rrun/core/id.hpp>
#include <rrun/core/log.hpp>
#include <rrun/core/netlo.hpp>
#include <rrun/core/pid1.hpp>
#include <rrun/core/seccomp.hpp>
#include <rrun/core/state.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>
#include <rrun/userns/advice.hpp>
#include <rrun/userns/plan.hpp>

#include "sandbox_doc.hpp"
#include "sandbox_etc.hpp"

namespace rrun::cli {

namespace {

// What a sandbox keeps when `capabilities:` says nothing: Podman's default
// set, which package managers and compilers need (apt drops to the _apt
// user, dpkg chowns); all of them are confined to the sandbox's user
// namespace when rootless. `rrun spec` keeps runc's smaller set.
const char* const kDefaultCapabilities[] = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FOWNER",    "CAP_FSETID",
                                            "CAP_KILL",    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",   "CAP_SETGID",
                                            "CAP_SETPCAP", "CAP_SETUID",           "CAP_SYS_CHROOT"};

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Container ids [start, start+count) onto the first subordinate range, as far
// as it reaches; count may be cut short.
void map_onto_range(std::vector<spec::IdMapping>& out, uint32_t container_start, uint32_t count,
                    const userns::SubRange& range, uint32_t range_offset) {
  if (range_offset >= range.count || count == 0) return;
  uint32_t n = std::min(count, range.count - range_offset);
  out.push_back(spec::IdMapping{container_start, range.start + range_offset, n});
}

// `user: keep` rootless: the caller's id inside is the same as outside;
// the ids below and above it go onto the subordinate range (podman's
// --userns=keep-id).
std::vector<spec::IdMapping> keep_id_map(uint32_t id, const std::vector<userns::SubRange>& ranges) {
  std::vector<spec::IdMapping> map;
  if (!ranges.empty()) map_onto_range(map, 0, id, ranges.front(), 0);
  map.push_back(spec::IdMapping{id, id, 1});
  if (!ranges.empty() && ranges.front().count > id)
    map_onto_range(map, id + 1, ranges.front().count - id, ranges.front(), id);
  return map;
}

bool mapped(const std::vector<spec::IdMapping>& map, uint32_t id) {
  for (const auto& m : map)
    if (id >= m.container_id && id - m.container_id < m.size) return true;
  return false;
}

// The base: what `rrun spec` (or `rrun spec --rootless`) writes, with the id
// mappings `user:` asks for; process.user as `user:` says.
spec::Spec base_spec(const SandboxDoc& d, const SandboxHost& host) {
  uint32_t uid = d.user == UserMode::keep ? host.uid : d.uid;
  uint32_t gid = d.user == UserMode::keep ? host.gid : d.gid;
  spec::Spec s;
  if (host.rootless) {
    spec::RootlessIds ids;
    ids.uid = host.uid;
    ids.gid = host.gid;
    bool ranges = !host.sub_uids.empty() && !host.sub_gids.empty();
    if (ranges) {
      ids.sub_uid = spec::IdMapping{1, host.sub_uids.front().start, host.sub_uids.front().count};
      ids.sub_gid = spec::IdMapping{1, host.sub_gids.front().start, host.sub_gids.front().count};
    }
    s = spec::default_rootless_spec(ids);
    if (d.user == UserMode::keep && host.uid != 0) {
      s.linux->uid_mappings = keep_id_map(host.uid, ranges ? host.sub_uids : std::vector<userns::SubRange>{});
      s.linux->gid_mappings = keep_id_map(host.gid, ranges ? host.sub_gids : std::vector<userns::SubRange>{});
    } else if (!d.image) {  // an image's layers are unpacked for the default mapping
      map_rootfs_of_first_subids(d.rootfs.value, ids, *s.linux);
    }
    if (d.user == UserMode::ids) {
      const std::string owner = host.user_name.empty() ? std::to_string(host.uid) : host.user_name;
      const userns::CallerIds cu{userns::IdKind::uid, host.uid, owner, host.sub_uids, "/etc/subuid"};
      const userns::CallerIds cg{userns::IdKind::gid, host.gid, owner, host.sub_gids, "/etc/subgid"};
      if (!mapped(s.linux->uid_mappings, uid))
        d.user_at.fail("uid " + std::to_string(uid) + userns::unmapped_user_hint(uid, s.linux->uid_mappings, cu));
      if (!mapped(s.linux->gid_mappings, gid))
        d.user_at.fail("gid " + std::to_string(gid) + userns::unmapped_user_hint(gid, s.linux->gid_mappings, cg));
    }
    // rrun chose these mappings: without newuidmap they may become a single
    // mapping of the caller's id (the core checks process.user still fits).
    if (ranges) s.annotations[userns::kFallbackAnnotation] = "single";
  } else {
    s = spec::default_spec();
  }
  s.process->user.uid = d.user == UserMode::root ? 0 : uid;
  s.process->user.gid = d.user == UserMode::root ? 0 : gid;
  return s;
}

// rootfs, overlay, readonly.
void translate_root(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  const std::string& path = d.rootfs.value;
  if (!is_directory(path))
    d.rootfs.at.fail(os::quote(path) + (os::path_exists(path) ? " is not a directory" : " does not exist") +
                     (d.rootfs_given ? "" : " (the default: `rootfs:` not given)") +
                     "; make the root filesystem there or set `rootfs:`");
  s.root = spec::Root{path, d.readonly};
  if (d.overlay == OverlayMode::ephemeral) s.annotations[kOverlayAnnotation] = "ephemeral";
  if (d.overlay == OverlayMode::persistent) {
    const std::string& dir = d.overlay_dir;
    if (dir == path || dir.rfind(path + "/", 0) == 0)
      d.overlay_at.fail("the persistent directory " + os::quote(dir) + " must not be inside the rootfs");
    s.annotations[kOverlayAnnotation] = "persistent:" + dir;
  }
  // An image: its other layers under the top one, and the driver that reads
  // their whiteouts (auto could fall back to one that misreads them).
  const std::vector<std::string>& layers = d.image_layers.dirs;
  if (layers.empty()) return;
  if (layers.size() > 1)
    s.annotations[rootfs::kRootfsOverlayLowerAnnotation] =
        rootfs::format_rootfs_overlay_lower(std::vector<std::string>(layers.begin() + 1, layers.end()));
  s.annotations[rootfs::kOverlayDriverAnnotation] =
      d.image_layers.format == image::WhiteoutFormat::fuse ? "fuse" : "kernel";
}

// command, workdir, tty, env (over the defaults PATH and TERM).
void translate_process(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  spec::Process& p = *s.process;
  p.args = d.command ? d.command->value : std::vector<std::string>{"/bin/sh"};
  if (!d.workdir.empty()) p.cwd = d.workdir;
  p.terminal = d.tty;
  set_process_env(p, d.env);
}

// hostname (default: the sandbox's name) and network: host | none.
void translate_host(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  s.hostname = d.hostname ? d.hostname->value : d.name.value;
  if (s.hostname.size() > 64) (d.hostname ? d.hostname->at : d.name.at).fail("longer than 64 bytes");
  spec::Linux& l = *s.linux;
  std::erase_if(l.namespaces, [](const spec::Namespace& ns) { return ns.type == spec::NamespaceType::network; });
  if (d.network_none) {
    l.namespaces.push_back(spec::Namespace{spec::NamespaceType::network, ""});
    s.annotations[core::kLoopbackAnnotation] = "up";
  }
}

// share: the caller's namespaces of these kinds instead of the sandbox's
// own (network: host already has no network namespace). The host's /dev/shm
// comes with its ipc namespace: POSIX shared memory lives there, so that
// MPI ranks on one node find each other's segments. /proc and /dev/mqueue
// follow the namespaces in the core's mount plan (a bind of the host's
// where a new one can't be mounted: rootless).
void translate_share(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  const SandboxShare& sh = d.share;
  auto drop = [&](bool shared, spec::NamespaceType type) {
    if (shared) std::erase_if(s.linux->namespaces, [&](const spec::Namespace& ns) { return ns.type == type; });
  };
  drop(sh.pid, spec::NamespaceType::pid);
  drop(sh.net, spec::NamespaceType::network);
  drop(sh.ipc, spec::NamespaceType::ipc);
  drop(sh.uts, spec::NamespaceType::uts);
  if (sh.uts) s.hostname.clear();
  if (!sh.ipc) return;
  for (spec::Mount& m : s.mounts) {
    if (m.destination != "/dev/shm") continue;
    m.type = "bind";
    m.source = "/dev/shm";
    m.options = {"rbind", "nosuid", "nodev", "noexec"};
  }
}

void translate_mounts(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  for (const SandboxMount& m : d.mounts) {
    spec::Mount mount;
    mount.destination = m.target;
    if (!m.tmpfs) {
      if (!os::path_exists(m.source.value)) m.source.at.fail(os::quote(m.source.value) + " does not exist");
      mount.type = "bind";
      mount.source = m.source.value;
      mount.options = {"rbind", "nosuid", "nodev", m.readonly ? "ro" : "rw"};
    } else {
      mount.type = "tmpfs";
      mount.source = "tmpfs";
      mount.options = {"nosuid", "nodev", "mode=1777"};
      if (m.size) mount.options.push_back("size=" + std::to_string(*m.size));
      if (m.readonly) mount.options.push_back("ro");
    }
    s.mounts.push_back(std::move(mount));
  }
}

// limits.nofile not given: rrun's own hard limit, soft and hard (Podman
// raises it too), instead of the base spec's 1024 that `ulimit -n` and
// every server trip over. A kernel limit above 2^20 (unlimited) is cut to
// it: more fails setrlimit where fs.nr_open has its default.
uint64_t default_nofile(const SandboxHost& host) {
  return std::min<uint64_t>(host.nofile, 1 << 20);
}

// limits: cgroup resources and RLIMIT_NOFILE (default_nofile when not given).
void translate_limits(const SandboxDoc& d, const SandboxHost& host, spec::Spec& s) {
  const SandboxLimits& in = d.limits;
  uint64_t nofile = in.nofile ? *in.nofile : default_nofile(host);
  if (nofile) s.process->rlimits = {spec::Rlimit{"RLIMIT_NOFILE", nofile, nofile}};
  if (!in.memory && !in.pids && !in.cpu_quota) return;
  spec::Resources& res = s.linux->resources ? *s.linux->resources : s.linux->resources.emplace();
  if (in.memory) res.memory.emplace().limit = *in.memory;
  if (in.pids) res.pids.emplace().limit = *in.pids;
  if (in.cpu_quota) {
    spec::CpuResources& cpu = res.cpu.emplace();
    cpu.quota = *in.cpu_quota;
    cpu.period = kSandboxCpuPeriod;
  }
}

// capabilities: {add, drop} over the default set.
void translate_capabilities(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  std::vector<std::string> caps(std::begin(kDefaultCapabilities), std::end(kDefaultCapabilities));
  auto given = [](const std::vector<From<std::string>>& list, const std::string& name) {
    return std::any_of(list.begin(), list.end(), [&](const From<std::string>& c) { return c.value == name; });
  };
  if (given(d.cap_drop, "ALL"))
    caps.clear();
  else
    std::erase_if(caps, [&](const std::string& c) { return given(d.cap_drop, c); });
  for (const auto& c : d.cap_add) {
    if (c.value == "ALL")
      caps = all_capabilities();
    else if (std::find(caps.begin(), caps.end(), c.value) == caps.end())
      caps.push_back(c.value);
  }
  spec::Capabilities pc;
  pc.bounding = caps;
  pc.effective = caps;
  pc.permitted = caps;
  s.process->capabilities = pc;
}

// seccomp: default (for the capabilities kept) | unconfined | a JSON file.
void translate_seccomp(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  const std::string& v = d.seccomp.value;
  if (v == "unconfined") return;
  if (v == "default") {
    s.linux->seccomp = default_seccomp_profile(s.process->capabilities->bounding);
    return;
  }
  std::optional<std::string> text;
  try {
    text = os::read_input_file_if_exists(v, kMaxSeccompFile);
  } catch (const std::exception& e) {
    d.seccomp.at.fail(e.what());
  }
  if (!text) d.seccomp.at.fail(os::quote(v) + " does not exist; use default, unconfined or a seccomp JSON file");
  try {
    spec::Seccomp profile = spec::parse_seccomp(*text, "seccomp");
    core::plan_seccomp(profile);  // validates actions, architectures, flags, operators
    s.linux->seccomp = std::move(profile);
  } catch (const std::exception& e) {
    d.seccomp.at.fail(os::quote(v) + ": " + e.what());
  }
}

// devices: host device nodes, bind-mounted (rootless can't mknod); as root
// also allowed in the device cgroup.
void translate_devices(const SandboxDoc& d, const SandboxHost& host, spec::Spec& s) {
  for (const auto& dev : d.devices) {
    const std::string& path = dev.value;
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) dev.at.fail(os::quote(path) + " does not exist on this host");
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) dev.at.fail(os::quote(path) + " is not a device node");
    spec::Mount m;
    m.destination = path;
    m.type = "bind";
    m.source = path;
    m.options = {"bind"};
    s.mounts.push_back(std::move(m));
    if (host.rootless) continue;
    spec::DeviceCgroupRule rule;
    rule.allow = true;
    rule.type = S_ISCHR(st.st_mode) ? "c" : "b";
    rule.major = major(st.st_rdev);
    rule.minor = minor(st.st_rdev);
    rule.access = "rwm";
    (s.linux->resources ? *s.linux->resources : s.linux->resources.emplace()).devices.push_back(rule);
  }
}

// An image's StopSignal: what `rrun kill ID` and a foreground run's SIGTERM send.
void translate_stop_signal(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  if (!d.stop_signal.empty()) s.annotations[core::kStopSignalAnnotation] = d.stop_signal;
}

// init: rrun's init runs the command as its child, forwards signals to it
// and reaps orphans (a job then ends on the scheduler's SIGTERM).
void translate_init(const SandboxDoc& d, const SandboxHost&, spec::Spec& s) {
  if (d.init) s.annotations[core::kInitAnnotation] = "true";
}

// user: keep: the owners `user: root` would show, for its overlay to show
// them (sandbox_etc.hpp).
void translate_keep_overlay(const SandboxDoc& d, const SandboxHost& host, Sandbox& out) {
  if (d.user != UserMode::keep) return;
  SandboxDoc as_root = d;
  as_root.user = UserMode::root;
  show_keep_rootfs_as_root(d, host, *base_spec(as_root, host).linux, out);
}

using Translation = void (*)(const SandboxDoc&, const SandboxHost&, Sandbox&);

// A translation that changes only the spec.
template <void (*F)(const SandboxDoc&, const SandboxHost&, spec::Spec&)>
void on_spec(const SandboxDoc& d, const SandboxHost& host, Sandbox& out) {
  F(d, host, out.spec);
}

// In this order: seccomp's default follows the capabilities; the generated
// /etc files (sandbox_etc.hpp) follow the mounts and the hostname.
constexpr Translation kTranslations[] = {
    on_spec<translate_root>,    on_spec<translate_process>, on_spec<translate_host>,         on_spec<translate_share>,
    on_spec<translate_mounts>,  on_spec<translate_limits>,  on_spec<translate_capabilities>, on_spec<translate_seccomp>,
    on_spec<translate_devices>, on_spec<translate_init>,    on_spec<translate_stop_signal>,  add_network_files,
    add_keep_user_files,        translate_keep_overlay};

// The overlay driver for an image's layers: fuse where `user: keep` shows
// them through fuse-overlayfs's id mapping (show_keep_rootfs_as_root), else
// the kernel where it reads them (image::choose_whiteout_format).
std::string image_driver(const SandboxDoc& d, const SandboxHost& host) {
  bool keep_shown = d.user == UserMode::keep && host.rootless && host.uid != 0 && host.fuse_overlayfs &&
                    !host.sub_uids.empty() && !host.sub_gids.empty();
  return keep_shown ? "fuse" : "";
}

// `image:`: the image (pulled and unpacked on first use) under the sandbox.
void apply_image(SandboxDoc& d, const SandboxHost& host) {
  if (!d.image) return;
  const Origin& at = d.image->at;
  if (!host.image) at.fail("images are not available here");
  SandboxImage img;
  try {
    img = host.image(d.image->value, host.rootless, image_driver(d, host));
  } catch (const std::exception& e) {
    at.fail(e.what());
  }
  apply_sandbox_image(d, img);
}

Sandbox translate_doc(SandboxDoc d, const SandboxHost& host) {
  apply_image(d, host);
  Sandbox out;
  out.name = d.name.value;
  out.spec = base_spec(d, host);
  for (Translation t : kTranslations) t(d, host, out);
  return out;
}

}  // namespace

namespace {

// The mapping such a rootfs was made with: container 0.. onto the first
// range, so that it is root's inside; the caller (who owns the state, the
// bind sources, the terminal) right after it, not unmapped.
std::vector<spec::IdMapping> subid_root_map(uint32_t caller, const spec::IdMapping& range) {
  uint32_t n = std::min<uint32_t>(range.size, UINT32_MAX - 1);
  return {spec::IdMapping{0, range.host_id, n}, spec::IdMapping{n, caller, 1}};
}

}  // namespace

void set_process_env(spec::Process& p, const std::string& name, const std::string& value) {
  set_process_env(p, {{name, value}});
}

void set_process_env(spec::Process& p, const std::vector<std::pair<std::string, std::string>>& env) {
  // Where each name is, found once: not a scan of p.env per entry, which
  // made an `env:` of 40k entries take 12 s.
  std::unordered_map<std::string, size_t> at;
  at.reserve(p.env.size() + env.size());
  for (size_t i = 0; i < p.env.size(); ++i) {
    size_t eq = p.env[i].find('=');
    if (eq != std::string::npos) at.emplace(p.env[i].substr(0, eq), i);
  }
  for (const auto& [name, value] : env) {
    auto [it, added] = at.emplace(name, p.env.size());
    if (added)
      p.env.push_back(name + "=" + value);
    else
      p.env[it->second] = name + "=" + value;
  }
}

bool map_rootfs_of_first_subids(const std::string& rootfs, const spec::RootlessIds& ids, spec::Linux& l) {
  struct stat st;
  if (!ids.sub_uid || !ids.sub_gid || ::stat(rootfs.c_str(), &st) != 0 || st.st_uid != ids.sub_uid->host_id ||
      st.st_gid != ids.sub_gid->host_id)
    return false;
  l.uid_mappings = subid_root_map(ids.uid, *ids.sub_uid);
  l.gid_mappings = subid_root_map(ids.gid, *ids.sub_gid);
  return true;
}

Sandbox translate_sandbox(std::string_view yaml_text, const std::string& file, const SandboxHost& host,
                          const SandboxOverrides& overrides) {
  SandboxDoc d = parse_sandbox(yaml_text, file, host.env);
  apply_sandbox_overrides(d, overrides, host.env);
  return translate_doc(std::move(d), host);
}

Sandbox translate_image_sandbox(const std::string& ref, const std::string& name, const SandboxHost& host,
                                const SandboxOverrides& overrides) {
  SandboxDoc d;
  d.file = "--image";
  d.top = Origin{"--image " + ref};
  d.name = {name, d.top};
  d.image = From<std::string>{ref, d.top};
  d.overlay = OverlayMode::ephemeral;
  d.overlay_at = d.top;
  d.seccomp = {"default", d.top};
  apply_sandbox_overrides(d, overrides, host.env);
  return translate_doc(std::move(d), host);
}

Sandbox load_sandbox(const std::string& file, const SandboxHost& host, const SandboxOverrides& overrides) {
  std::optional<std::string> text;
  try {
    text = os::read_input_file_if_exists(file, kMaxSandboxFile);
  } catch (const std::exception& e) {
    throw os::Error(std::string("cannot read the sandbox file: ") + e.what());
  }
  if (!text) throw os::Error("cannot read the sandbox file " + os::quote(file) + ": no such file");
  return translate_sandbox(*text, file, host, overrides);
}

SandboxHost current_sandbox_host(bool rootless) {
  SandboxHost h;
  h.rootless = rootless;
  h.uid = ::geteuid();
  h.gid = ::getegid();
  h.user_name = core::user_name(h.uid);
  struct rlimit nofile {};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) h.nofile = nofile.rlim_max;
  read_etc_host_facts(h);
  if (!rootless) return h;
  try {
    h.sub_uids = userns::subordinate_uids(h.user_name, h.uid);
    h.sub_gids = userns::subordinate_gids(h.user_name, h.uid);
  } catch (const std::exception& e) {
    core::warn(std::string("no subordinate ids for the sandbox: ") + e.what());
    h.sub_uids.clear();
    h.sub_gids.clear();
  }
  return h;
}

}  // namespace rrun::cli
