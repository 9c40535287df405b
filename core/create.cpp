// `create` and `run`, top-down (DESIGN.md "The create flow"): validate,
// lock, plan, clone the init, drive it through the sync protocol, record the
// state. Each step is one line in create_container_locked(); what a step
// made is undone by a guard unless the whole flow succeeds.

#include <fcntl.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <rrun/cgroups/v1.hpp>
#include <rrun/os/cmsg.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/fault.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/os/syscall.hpp>
#include <rrun/os/text.hpp>
#include <rrun/rootfs/persistent_dir.hpp>
#include <rrun/rootfs/plan.hpp>
#include <rrun/spec/parse.hpp>
#include <rrun/userns/idmap.hpp>
#include <rrun/userns/kept.hpp>
#include <rrun/userns/plan.hpp>
#include <rrun/userns/subid.hpp>

#include "container.hpp"
#include "exe_guard.hpp"
#include "fuse_overlays.hpp"
#include "hooks.hpp"
#include "id.hpp"
#include "init.hpp"
#include "lifecycle.hpp"
#include "log.hpp"
#include "lsm.hpp"
#include "netlo.hpp"
#include "pid1.hpp"
#include "state.hpp"
#include "sync.hpp"
#include "terminal.hpp"

namespace rrun::core {

namespace {

// Runs `undo` at scope exit unless dismissed (libbase scopeguard).
class Guard {
 public:
  explicit Guard(std::function<void()> undo) : undo_(std::move(undo)) {}
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() {
    if (undo_) try {
        undo_();
      } catch (...) {
      }
  }
  void dismiss() { undo_ = nullptr; }

 private:
  std::function<void()> undo_;
};

struct Created {
  pid_t pid = 0;              // the init, in our pid namespace
  bool is_our_child = false;  // false when it was forked by a middle process
  os::UniqueFd pidfd;
  os::UniqueFd console_master;  // process.terminal without --console-socket (run)
  bool terminal = false;
  int stop_signal = SIGTERM;          // what a foreground run sends for the SIGTERM it gets
  State state;                        // as recorded: created
  std::vector<spec::Hook> poststart;  // run starts it without reading config.json again
};

int clone_flag(spec::NamespaceType t) {
  switch (t) {
    case spec::NamespaceType::pid:
      return CLONE_NEWPID;
    case spec::NamespaceType::network:
      return CLONE_NEWNET;
    case spec::NamespaceType::mount:
      return CLONE_NEWNS;
    case spec::NamespaceType::ipc:
      return CLONE_NEWIPC;
    case spec::NamespaceType::uts:
      return CLONE_NEWUTS;
    case spec::NamespaceType::user:
      return CLONE_NEWUSER;
    case spec::NamespaceType::cgroup:
      return CLONE_NEWCGROUP;
    case spec::NamespaceType::time:
      return CLONE_NEWTIME;
  }
  return 0;
}

std::string absolute_path(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) os::throw_errno("resolve bundle path " + os::quote(path));
  return buf;
}

// What rrun cannot honour yet is refused, not ignored (issue: "a property
// that can't be applied is an error"); SELinux labels where SELinux is not
// enabled are no-ops (lsm.hpp).
void refuse_unsupported(const spec::Spec& spec) {
  if (!spec.process) throw os::Error("config.json: process: required to create a container");
  if (!spec.root) throw os::Error("config.json: root: required to create a container");
  const auto& p = *spec.process;
  check_apparmor_profile("process.apparmorProfile", p.apparmor_profile);
  for (const auto& line : {check_selinux_label("process.selinuxLabel", p.selinux_label),
                           check_selinux_label("linux.mountLabel", spec.linux ? spec.linux->mount_label : "")})
    if (!line.empty()) log_debug(line);
  if (!spec.linux) return;
  const auto& l = *spec.linux;
  if (l.intel_rdt) throw os::Error("linux.intelRdt: not supported by rrun yet");
  if (l.memory_policy) throw os::Error("linux.memoryPolicy: not supported by rrun yet");
  if (!l.net_devices.empty()) throw os::Error("linux.netDevices: not supported by rrun yet");
}

// What the config leaves in the caller's namespaces is not changed there
// (runc's validator): refused before anything is made, naming the field.
void refuse_changes_to_caller_namespaces(const spec::Spec& spec) {
  bool own_uts = spec.linux && spec.linux->has_namespace(spec::NamespaceType::uts);
  const std::pair<const char*, const std::string*> names[] = {{"hostname", &spec.hostname},
                                                              {"domainname", &spec.domainname}};
  for (const auto& [field, value] : names)
    if (!value->empty() && !own_uts)
      throw os::Error(std::string(field) +
                      ": needs a uts namespace of the container (without one it would change rrun's); add "
                      "{\"type\": \"uts\"} to linux.namespaces or remove " +
                      field);
  if (!rootfs::owns_mount_namespace(spec)) rootfs::refuse_without_mount_namespace(spec);
}

struct NamespacePlan {
  unsigned long clone_flags = 0;
  unsigned long unshare_flags = 0;
  std::vector<NamespaceJoin> joins;  // fds owned by `owned`
  std::vector<os::UniqueFd> owned;
  bool new_user_ns = false;
  bool joined_user_ns = false;
  bool fork_again = false;
  std::string timens_offsets;
};

// `add_user_ns`: the caller is unprivileged (see create_container_locked).
NamespacePlan plan_namespaces(const spec::Spec& spec, bool add_user_ns) {
  NamespacePlan ns;
  unsigned long create = 0;
  bool join_pid = false;
  const spec::Namespace* user_join = nullptr;
  if (spec.linux) {
    for (size_t i = 0; i < spec.linux->namespaces.size(); ++i) {
      const auto& n = spec.linux->namespaces[i];
      int flag = clone_flag(n.type);
      if (n.path.empty()) {
        create |= flag;
        continue;
      }
      std::string where = "linux.namespaces[" + std::to_string(i) + "].path";
      int fd = ::open(n.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) os::throw_errno(where + ": open " + os::quote(n.path));
      ns.owned.emplace_back(fd);
      if (n.type == spec::NamespaceType::user) user_join = &n;
      if (n.type == spec::NamespaceType::pid) join_pid = true;
      NamespaceJoin j{fd, flag};
      // The user namespace is joined first: it grants the rights for the rest.
      if (n.type == spec::NamespaceType::user)
        ns.joins.insert(ns.joins.begin(), j);
      else
        ns.joins.push_back(j);
    }
  }
  // An unprivileged caller always gets a user namespace (as crun does).
  if (add_user_ns && !(create & CLONE_NEWUSER) && !user_join) create |= CLONE_NEWUSER;
  ns.new_user_ns = create & CLONE_NEWUSER;
  if (spec.linux && !spec.linux->time_offsets.empty()) {
    if (!(create & CLONE_NEWTIME)) throw os::Error("linux.timeOffsets: requires a new time namespace");
    for (const auto& [clock, off] : spec.linux->time_offsets)
      ns.timens_offsets += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
  }
  // Fast path: one clone3 creates everything. A join, or a time namespace
  // with offsets (which must be written before a process enters it), needs
  // the child to setns and unshare itself.
  if (ns.joins.empty() && !(create & CLONE_NEWTIME)) {
    ns.clone_flags = create;
  } else if (!user_join) {
    // A new user namespace still comes from clone, so that the maps are
    // written before anything else happens; the rest is unshared after the
    // joins.
    ns.clone_flags = create & CLONE_NEWUSER;
    ns.unshare_flags = create & ~CLONE_NEWUSER;
  } else {
    ns.unshare_flags = create;
  }
  // A joined or unshared pid namespace, and a time namespace, take effect for
  // children only: the init is forked once more inside them.
  ns.fork_again = join_pid || (ns.unshare_flags & (CLONE_NEWPID | CLONE_NEWTIME));
  ns.joined_user_ns = user_join != nullptr;
  return ns;
}

// Whether annotation `key` is set; `value` is its only value, another one
// is an error naming the annotation.
bool annotation_is(const spec::Spec& spec, const char* key, const char* value) {
  auto it = spec.annotations.find(key);
  if (it == spec.annotations.end()) return false;
  if (it->second != value)
    throw os::Error(std::string("annotations.\"") + key + "\": unknown value \"" + it->second +
                    "\"; the only value is \"" + value + "\"");
  return true;
}

// Where the keeper of the caller's kept user namespace is recorded
// (userns/kept.hpp): one per user, whatever --root says, beside the default
// state directory.
std::string kept_record_path(uid_t uid) {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  struct stat st {};
  if (xdg && xdg[0] == '/' && ::stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid)
    return std::string(xdg) + "/rrun-userns";
  return "/tmp/rrun-userns-" + std::to_string(uid);
}

// RRUN_USERNS_KEEP: how many seconds a keeper waits for the next run; 0
// (or no keeper wanted) turns the kept user namespace off.
int kept_idle_seconds() {
  const char* v = std::getenv("RRUN_USERNS_KEEP");
  if (!v) return userns::kKeptIdleSeconds;
  unsigned long s = 0;
  size_t at = 0;
  std::string_view text(v);
  if (!os::read_uint(text, at, s) || at != text.size() || s > 86400)
    throw os::Error("RRUN_USERNS_KEEP=" + os::quote(v) +
                    ": expected a number of seconds up to 86400 (0 turns the kept user namespace off)");
  return static_cast<int>(s);
}

// `kept`: filled when the maps go through the helpers and a keeper is
// wanted, for join_kept_namespace.
userns::MappingPlan plan_user_namespace(const spec::Spec& spec, bool rootless,
                                        std::optional<userns::KeptRequest>& kept) {
  userns::PlanInput in;
  if (spec.linux) {
    in.uid_mappings = spec.linux->uid_mappings;
    in.gid_mappings = spec.linux->gid_mappings;
  }
  in.uid = ::geteuid();
  in.gid = ::getegid();
  in.rootless = rootless;
  // Root in a user namespace writes maps itself, and a single mapping of
  // the caller's own ids needs none: no subordinate ids to read. Any other
  // mapping is checked against them (and a refusal names them).
  auto only_own = [](const std::vector<spec::IdMapping>& m, uint32_t own) {
    return m.size() == 1 && m[0].size == 1 && m[0].host_id == own;
  };
  if (rootless && in.uid != 0 && !(only_own(in.uid_mappings, in.uid) && only_own(in.gid_mappings, in.gid))) {
    // The name only here: /etc/subuid lists users by name or uid, and a
    // passwd lookup reads nsswitch.conf and /etc/passwd at least (the C
    // library's NSS when the name is not there: user_name).
    in.user_name = user_name(in.uid);
    in.sub_uids = userns::subordinate_uids(in.user_name, in.uid);
    in.sub_gids = userns::subordinate_gids(in.user_name, in.uid);
  }
  if (!rootless && in.uid_mappings.empty())
    throw os::Error("linux.uidMappings: a new user namespace needs uidMappings and gidMappings when rrun runs as root");
  in.replaceable = annotation_is(spec, userns::kFallbackAnnotation, "single");
  if (spec.process) {
    in.process_uid = spec.process->user.uid;
    in.process_gid = spec.process->user.gid;
    in.additional_gids = !spec.process->user.additional_gids.empty();
  }
  userns::MappingPlan plan = userns::plan_mappings(in);
  // Settled before the clone, so that the rootfs is planned for the maps
  // that will be written.
  std::string fallback = userns::check_helpers(plan);
  if (!fallback.empty()) log_warn(fallback + "; the container gets a single mapping of your own id");
  const int idle = plan.use_helpers && rootless && in.uid != 0 ? kept_idle_seconds() : 0;
  if (idle > 0) {
    kept.emplace();
    kept->idle_seconds = idle;
    kept->record = kept_record_path(in.uid);
    kept->uid = in.uid;
    kept->gid = in.gid;
    kept->sub_uids = std::move(in.sub_uids);
    kept->sub_gids = std::move(in.sub_gids);
    kept->newuidmap_path = plan.newuidmap_path;
    kept->newgidmap_path = plan.newgidmap_path;
  }
  return plan;
}

bool runs_runtime_hooks(const spec::Spec& spec) {
  const auto& h = spec.hooks;
  return h && !(h->prestart.empty() && h->create_runtime.empty() && h->poststart.empty() && h->poststop.empty());
}

bool may_use_fuse(const rootfs::RootfsPlan& plan) {
  for (const auto& o : plan.overlays)
    if (o.driver != rootfs::OverlayDriver::kernel) return true;
  return false;
}

bool maps_container_root(const userns::MappingPlan& m) {
  auto has0 = [](const std::vector<spec::IdMapping>& v) {
    for (const auto& r : v)
      if (r.container_id == 0 && r.size > 0) return true;
    return false;
  };
  return has0(m.uid_map) && has0(m.gid_map);
}

std::vector<std::pair<std::string, std::string>> plan_sysctl(const spec::Spec& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!spec.linux) return out;
  bool own_net = spec.linux->has_namespace(spec::NamespaceType::network);
  bool own_ipc = spec.linux->has_namespace(spec::NamespaceType::ipc);
  bool own_uts = spec.linux->has_namespace(spec::NamespaceType::uts);
  for (const auto& [key, value] : spec.linux->sysctl) {
    std::string k = key;
    // Only keys that belong to a namespace of the container (runc's list).
    bool ok = false;
    if (k.rfind("net.", 0) == 0)
      ok = own_net;
    else if (k.rfind("fs.mqueue.", 0) == 0 || k == "kernel.msgmax" || k == "kernel.msgmnb" || k == "kernel.msgmni" ||
             k == "kernel.sem" || k == "kernel.shmall" || k == "kernel.shmmax" || k == "kernel.shmmni" ||
             k == "kernel.shm_rmid_forced")
      ok = own_ipc;
    else if (k == "kernel.hostname" || k == "kernel.domainname")
      ok = own_uts;
    if (!ok)
      throw os::Error("linux.sysctl: " + os::quote(k) +
                      " is not namespaced or its namespace is the host's; only net.*, fs.mqueue.*, IPC and UTS keys of "
                      "namespaces the container owns can be set");
    if (k.find("..") != std::string::npos || k.find('/') != std::string::npos)
      throw os::Error("linux.sysctl: invalid key " + os::quote(k));
    for (char& c : k)
      if (c == '.') c = '/';
    out.emplace_back(k, value);
  }
  return out;
}

std::string clone_failure_hint(int err, unsigned long flags) {
  if ((err == EPERM || err == ENOSPC || err == EINVAL) && (flags & CLONE_NEWUSER))
    return "; unprivileged user namespaces may be disabled: check `sysctl user.max_user_namespaces` (must be > 0) "
           "and, where it exists, `sysctl kernel.unprivileged_userns_clone=1`";
  if (err == EPERM) return "; creating namespaces needs root or a user namespace";
  return "";
}

// Generated files are plain names in the bundle, beside config.json.
void check_generated_files(const CreateRequest& req) {
  if (!req.generated_files.empty() && req.generated_config.empty())
    throw os::Error("generated files need a generated config");
  for (const auto& [name, content] : req.generated_files)
    if (name.empty() || name == "." || name == ".." || name == "config.json" || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
      throw os::Error("generated file " + os::quote(name) + ": expected a plain file name other than config.json");
}

// Readable by every user of the container (the bundle directory itself is
// not: the mounts bind them before the container runs).
void write_generated_files(const std::string& bundle, const CreateRequest& req) {
  for (const auto& [name, content] : req.generated_files) {
    std::string path = bundle + "/" + name;
    os::write_file_atomic(path, content, 0644);
    if (::chmod(path.c_str(), 0644) != 0) os::throw_errno("chmod " + os::quote(path));
  }
}

// Makes the container's directory with its first state. The ID may still
// belong to a container whose foreground `run` was killed (a requeued job
// that runs again under its name): that one is ended first, as its run
// would have ended it.
void create_state_dir(StateStore& store, const State& first) {
  if (store.create_container_dir(first)) return;
  if (std::optional<State> old = store.load(first.id); old && !settle_abandoned(store, *old))
    if (store.create_container_dir(first)) return;
  throw ContainerExists("container \"" + first.id + "\" already exists");
}

// `run`: the request (nullptr for `create`).
Created create_container_locked(const Context& ctx, const CreateRequest& req, StateStore& store,
                                const RunRequest* run) {
  const bool foreground = run && !run->detach;
  os::fault_point("create.locked");
  // 1. Parse and validate.
  const bool generated = !req.generated_config.empty();
  const std::string bundle =
      generated ? absolute_path(store.root()) + "/" + req.id + "/bundle" : absolute_path(req.bundle);
  // The text is kept as the container's copy (serializing again cost ~18% of
  // create's instructions).
  std::string config_text;
  spec::Spec spec = generated ? spec::parse_spec(req.generated_config) : spec::load_spec(bundle, &config_text);
  const std::string& config_copy = generated ? req.generated_config : config_text;
  if (generated && (!spec.root || spec.root->path.empty() || spec.root->path[0] != '/'))
    throw os::Error("generated config: root.path must be absolute");
  check_generated_files(req);
  refuse_unsupported(spec);
  refuse_changes_to_caller_namespaces(spec);
  const int stop_sig = stop_signal(spec.annotations);
  const spec::Process& proc = *spec.process;
  if (proc.terminal && req.console_socket.empty() && !foreground)
    throw os::Error("process.terminal is true: `create` needs --console-socket to hand the terminal to");

  // Rootless but root (in a user namespace: rootless Podman, rootlesskit):
  // the container shares the caller's namespace, as with runc and crun.
  NamespacePlan ns = plan_namespaces(spec, ctx.rootless && ::geteuid() != 0);
  std::vector<std::string> cap_warnings;
  const CapsPlan caps = plan_capabilities(proc.capabilities, read_last_cap(), &cap_warnings);
  // CVE-2019-5736 (exe_guard.hpp). In rrun's user namespace, a container
  // that may hold CAP_SYS_PTRACE could open /proc/PID/exe of rrun's
  // processes: rrun goes on from a view of its binary, before anything of
  // the container exists (the lock and the namespace fds are close-on-exec).
  // One that can't is kept out by "not dumpable", and its program is
  // executed through the sealed trampoline (or rrun's init).
  const bool shares_user_ns = !ns.new_user_ns || ns.joined_user_ns;
  const bool wants_init = wants_rrun_init(req.init, spec.annotations);
  os::UniqueFd trampoline;
  bool init_runs_binary = false;
  if (shares_user_ns) {
    const bool may_ptrace = ns.joined_user_ns || may_hold_ptrace(caps);
    init_runs_binary = !may_ptrace;
    if (choose_exe_guard(true, may_ptrace, false) == ExeGuard::trampoline && !wants_init) {
      try {
        trampoline = make_exec_trampoline();
      } catch (const os::SystemError&) {
        init_runs_binary = false;
        run_from_sealed_copy();  // no executable memfd here (vm.memfd_noexec)
      }
    } else if (may_ptrace) {
      run_from_sealed_copy();
    }
  }

  // 2. The state directory (removed again unless everything succeeds), made
  // with the state that says who is creating it: `list`, `state` and
  // `delete` see `creating` while we live and `stopped` if we are killed (a
  // foreground run's container is then ended by the next of them). The
  // state as hooks and `state` see it; filled in as the steps go.
  State st = creating_state(req.id);
  st.oci_version = spec.oci_version;
  st.bundle = bundle;
  st.annotations = spec.annotations;
  st.rootless = ctx.rootless;
  st.systemd_cgroup = ctx.systemd_cgroup;
  st.foreground = foreground;
  st.keep = foreground && run->keep;
  st.init_runs_binary = init_runs_binary;
  st.poststart_hooks = spec.hooks && !spec.hooks->poststart.empty();
  st.poststop_hooks = spec.hooks && !spec.hooks->poststop.empty();
  create_state_dir(store, st);
  os::fault_point("create.state_dir");
  // Once the hooks have begun, a failure stops the container, destroys it and
  // runs the poststop hooks (runtime.md "Lifecycle", steps 12 and 13): this
  // guard runs last, after the others undid the rest.
  std::string poststop_state;
  Guard poststop([&] {
    if (poststop_state.empty() || !spec.hooks) return;
    for (const auto& w : run_hooks_collect_failures(spec.hooks->poststop, poststop_state, "poststop")) log_warn(w);
  });
  Guard remove_dir([&] { store.remove_container(req.id); });
  if (generated) {
    os::mkdir_p(bundle, 0700);
    os::write_file_atomic(bundle + "/config.json", req.generated_config, 0600);
    write_generated_files(bundle, req);
    os::fault_point("create.generated_bundle");
  }

  // 3. Plan: id maps, mounts, process.
  std::optional<userns::MappingPlan> maps;
  std::optional<userns::KeptRequest> kept;
  if (ns.new_user_ns) maps = plan_user_namespace(spec, ctx.rootless, kept);
  cgroups::ManagerRequest cgreq;
  cgreq.id = req.id;
  if (spec.linux) cgreq.cgroups_path = spec.linux->cgroups_path;
  cgreq.rootless = ctx.rootless;
  cgreq.systemd_flag = ctx.systemd_cgroup;
  std::unique_ptr<cgroups::Manager> cgroup = cgroups::make_manager(cgreq);
  const spec::Resources* resources = spec.linux && spec.linux->resources ? &*spec.linux->resources : nullptr;

  InitPlan plan;
  rootfs::PlanOptions ropts = rootfs::plan_options_from_spec(spec, ctx.rootless);
  // A v1 `cgroup` mount shows the container's own cgroups.
  if (!ropts.host_cgroup_tree.hierarchies.empty())
    if (const auto* v1 = dynamic_cast<const cgroups::V1Manager*>(cgroup.get())) ropts.container_cgroups = v1->dirs();
  ropts.no_pivot = req.no_pivot;
  ropts.new_user_ns = ns.new_user_ns || (spec.linux && spec.linux->has_namespace(spec::NamespaceType::user));
  if (maps) {
    ropts.uid_mappings = maps->uid_map;
    ropts.gid_mappings = maps->gid_map;
  } else if (ctx.rootless && !ropts.new_user_ns) {
    // Root in its client's user namespace, shared with the container: the
    // ids the container can use are those that namespace maps (devpts
    // keeps `gid=5` where 5 is one of them, as with runc).
    ropts.uid_mappings = userns::own_ids(os::read_file("/proc/self/uid_map"));
    ropts.gid_mappings = userns::own_ids(os::read_file("/proc/self/gid_map"));
  }
  plan.rootfs = rootfs::plan_rootfs(spec, bundle, ropts);
  // overlay persistent:DIR: one container at a time (persistent_dir.hpp).
  std::optional<std::string> persistent = rootfs::persistent_overlay_dir(spec.annotations);
  std::optional<rootfs::PersistentDirClaim> claim;
  if (persistent) claim.emplace(*persistent, req.id, store.root());
  os::fault_point("create.persistent_claimed");
  Guard release_persistent([&] {
    if (persistent) rootfs::release_persistent_dir(*persistent, req.id, store.root());
  });
  plan.process = plan_process(proc, spec.linux ? spec.linux->personality : std::nullopt);
  plan.caps = caps;
  // runc's default spec lists ambient caps that are not inheritable; like
  // runc, rrun does not make noise about those.
  for (const auto& w : cap_warnings) {
    if (w.find("ambient") != std::string::npos)
      log_debug(w);
    else
      log_warn(w);
  }
  if (spec.linux && spec.linux->seccomp) {
    std::vector<std::string> skipped;
    plan.seccomp = plan_seccomp(*spec.linux->seccomp, &skipped);
    for (const auto& name : skipped) log_debug("seccomp: syscall " + name + " is unknown to libseccomp; skipped");
  }
  plan.sysctl = plan_sysctl(spec);
  plan.unshare_flags = ns.unshare_flags;
  // Only a network namespace of our own: a joined or the host's one is not ours to change.
  if (annotation_is(spec, kLoopbackAnnotation, "up"))
    plan.loopback_up = ((ns.clone_flags | ns.unshare_flags) & CLONE_NEWNET) != 0;
  plan.joins = ns.joins;
  plan.new_user_ns = ns.new_user_ns;
  // Joined user namespace: become its root when it has one, as runc does.
  plan.become_root = (maps && maps_container_root(*maps)) || ns.joined_user_ns;
  plan.fork_again = ns.fork_again;
  plan.timens_offsets = ns.timens_offsets;
  plan.hostname = spec.hostname;
  plan.domainname = spec.domainname;
  plan.setgroups_allowed = !(maps && maps->deny_setgroups);
  // Raising a hard rlimit needs CAP_SYS_RESOURCE in the initial user
  // namespace, which root loses once the child is in a new one.
  plan.rlimits_in_child = ctx.rootless || !ns.new_user_ns;
  plan.no_new_keyring = req.no_new_keyring;
  plan.keyring_name = "_ses." + req.id;
  copy_process_basics(plan, proc);
  plan.preserve_fds = req.preserve_fds;
  plan.die_with_parent = foreground;
  // rrun's init, itself a sealed memfd, stands in for the trampoline too.
  os::UniqueFd rrun_init;
  if (wants_init) {
    rrun_init = make_rrun_init();
    plan.rrun_init_fd = rrun_init.get();
  } else if (!shares_user_ns &&
             choose_exe_guard(false, false, maps && binary_owner_mapped("/proc/self/exe", maps->uid_map)) ==
                 ExeGuard::trampoline) {
    trampoline = make_exec_trampoline();
  }
  if (trampoline) plan.trampoline_fd = trampoline.get();
  os::UniqueFd proc_for_profile = open_proc_for_profile(proc.apparmor_profile);
  plan.proc_fd = proc_for_profile.get();
  if (const char* listen = std::getenv("LISTEN_FDS")) {
    // socket activation: the fds after the preserved ones go too (as runc).
    int n = std::atoi(listen);
    if (n > 0) {
      plan.preserve_fds += static_cast<unsigned>(n);
      plan.env.push_back("LISTEN_FDS=" + std::to_string(n));
      plan.env.push_back("LISTEN_PID=1");
    }
  }
  if (spec.hooks) {
    plan.create_container_hooks = spec.hooks->create_container;
    plan.start_container_hooks = spec.hooks->start_container;
  }

  st.rootfs = plan.rootfs.rootfs;
  // For createContainer and startContainer hooks; the init puts in its pid.
  plan.hook_state = hook_state_json(st, Status::creating);

  // The spec as created: later edits of the bundle's config.json don't matter.
  // Its own bytes: the spec is not changed after parsing.
  os::write_file_atomic(store.config_path(req.id), config_copy, 0600);
  os::fault_point("create.config_copied");
  const std::string fifo = store.exec_fifo_path(req.id);
  if (::mkfifo(fifo.c_str(), 0622) < 0) os::throw_errno("create the exec FIFO " + os::quote(fifo));
  ::chmod(fifo.c_str(), 0622);  // whatever the umask: the process user may be anyone
  os::fault_point("create.fifo");
  os::UniqueFd fifo_fd = os::open_file(fifo, O_PATH);
  plan.fifo_fd = fifo_fd.get();

  // The cgroup, with its limits, before the init exists. Recorded first so
  // that `delete --force` finds it after rrun was killed mid-create.
  if (cgroup->driver() != cgroups::Driver::none)
    record_cgroup(store, req.id, cgroups::driver_name(cgroup->driver()), cgroup->path());
  os::fault_point("create.cgroup_recorded");
  Guard destroy_cgroup([&] { cgroup->destroy(); });
  // fuse-overlayfs: the init opens /dev/fuse (c 10:229) from inside the
  // container's device cgroup, so that cgroup must allow it.
  spec::Resources with_fuse;
  if (resources && !resources->devices.empty() && may_use_fuse(plan.rootfs)) {
    with_fuse = *resources;
    with_fuse.devices.push_back({true, "c", 10, 229, "rwm"});
    resources = &with_fuse;
  }
  for (const auto& w : cgroup->create(resources)) log_warn(w);
  os::fault_point("create.cgroup_made");
  if (cgroup->driver() == cgroups::Driver::none && resources) {
    const auto& none = static_cast<const cgroups::NoneManager&>(*cgroup);
    std::string missing = cgroups::describe_missing_limits(*resources, ctx.rootless ? none.remedy() : "");
    if (!missing.empty() && ctx.rootless) log_warn(missing);
    if (!missing.empty() && !ctx.rootless)
      throw os::Error("linux.resources: no cgroup file system at /sys/fs/cgroup, so the limits cannot be applied");
  }
  st.cgroup_driver = cgroups::driver_name(cgroup->driver());
  st.cgroup_path = cgroup->path();

  // v1: the init moves itself into its cgroups (Manager::open_tasks_files).
  std::vector<os::UniqueFd> tasks_files = cgroup->open_tasks_files();
  for (const auto& t : tasks_files) plan.cgroup_tasks_fds.push_back(t.get());

  // The kept user namespace (userns/kept.hpp) where nothing rrun does after
  // the clone would see a difference: hooks and fuse-overlayfs run in
  // rrun's namespaces, and the systemd driver talks to the bus.
  if (kept && !runs_runtime_hooks(spec) && !may_use_fuse(plan.rootfs) && cgroup->driver() != cgroups::Driver::systemd) {
    std::string why = userns::join_kept_namespace(*kept);
    if (why.empty()) {
      maps->use_helpers = false;  // rrun holds CAP_SETUID and CAP_SETGID over the container's namespace
      maps->deny_setgroups = false;
    } else {
      log_debug("kept user namespace: " + why + "; mapping through newuidmap and newgidmap");
    }
  }

  // 4. Clone the init.
  os::UniqueFd parent_end, child_end;
  make_sync_pair(parent_end, child_end);
  plan.sync_fd = child_end.get();
  int pidfd = -1;
  bool in_cgroup = false;
  pid_t pid = clone_child(ns.clone_flags, cgroup->clone_fd(), &pidfd, &in_cgroup, &plan.unshare_flags);
  if (!tasks_files.empty()) in_cgroup = true;
  if (pid < 0) {
    int err = errno;
    os::throw_errno(err, "clone the container init" + clone_failure_hint(err, ns.clone_flags));
  }
  if (pid == 0) container_init(plan);
  Created c;
  c.pid = pid;
  c.stop_signal = stop_sig;
  c.is_our_child = true;
  c.pidfd.reset(pidfd);
  c.terminal = proc.terminal;
  child_end.reset();
  tasks_files.clear();
  pid_t clone_pid = pid;
  Guard kill_init([&] {
    ::kill(clone_pid, SIGKILL);
    ::waitpid(clone_pid, nullptr, 0);
    if (c.pid != clone_pid) ::kill(c.pid, SIGKILL);
  });

  os::fault_point("create.cloned");

  // 5. Drive it: cgroup, maps, hooks, ready.
  if (!in_cgroup) cgroup->apply(pid);
  // The systemd driver knows its scope's cgroup only once systemd has put
  // the init there: recorded before, the path had no directory, and every
  // later command (update, pause, events, exec) found no cgroup.
  if (cgroup->driver() == cgroups::Driver::systemd) st.cgroup_path = cgroup->path();
  os::fault_point("create.cgroup_applied");
  if (maps) {
    // Missing helpers were settled in the plan; these are helpers that fail.
    std::string fallback = userns::write_id_maps(pid, *maps);
    if (!fallback.empty()) log_warn(fallback + "; the container gets a single mapping of your own id");
  }
  send_or_throw(parent_end.get(), Msg::maps_written);
  os::fault_point("create.maps_written");
  if (ns.fork_again) {
    Packet p = expect_msg(parent_end.get(), Msg::init_pid);
    c.pid = static_cast<pid_t>(p.value);
    c.is_our_child = false;
    c.pidfd.reset(os::sys::pidfd_open(c.pid));
    ::waitpid(clone_pid, nullptr, 0);
    os::fault_point("create.init_pid");
  }
  if (!plan.rlimits_in_child) set_rlimits_of(c.pid, plan.process);
  st.pid = c.pid;
  auto start_time = os::process_start_time(c.pid);
  if (!start_time) throw os::Error("container init exited during create");
  st.pid_start_time = *start_time;
  if (claim) claim->record(c.pid, *start_time);
  FuseOverlays fuse(plan.rootfs, store.container_dir(req.id), ns.new_user_ns || ns.joined_user_ns);
  fuse.expect(parent_end.get(), Msg::rootfs_ready);
  os::fault_point("create.rootfs_ready");
  if (spec.hooks) poststop_state = hook_state_json(st, Status::stopped);
  if (spec.hooks) {
    std::string hs = hook_state_json(st, Status::creating);
    run_hooks(spec.hooks->prestart, hs, "prestart");
    run_hooks(spec.hooks->create_runtime, hs, "createRuntime");
  }
  send_or_throw(parent_end.get(), Msg::hooks_done);
  os::fault_point("create.hooks_done");
  if (plan.seccomp && plan.seccomp->notify) send_seccomp_agent(parent_end.get(), *plan.seccomp, st);
  os::UniqueFd master;
  expect_msg(parent_end.get(), Msg::ready, &master);
  os::fault_point("create.ready");
  if (proc.terminal) {
    if (!master) throw os::Error("container init: no pty master came with ready");
    if (!req.console_socket.empty())
      send_console(req.console_socket, master.get());
    else
      c.console_master = std::move(master);
  }

  // 6. Record the state, then let the init wait for start.
  st.status = Status::created;
  store.save(st);
  os::fault_point("create.state_saved");
  write_pid_file(req.pid_file, c.pid);
  os::fault_point("create.pid_file");
  fuse.commit();
  os::fault_point("create.fuse_committed");
  send_or_throw(parent_end.get(), Msg::committed);
  os::fault_point("create.committed");
  if (run) {
    c.state = st;
    if (spec.hooks) c.poststart = spec.hooks->poststart;
  }
  kill_init.dismiss();
  release_persistent.dismiss();
  destroy_cgroup.dismiss();
  remove_dir.dismiss();
  poststop.dismiss();
  return c;
}

}  // namespace

void write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return;
  std::string abs = path[0] == '/' ? path : absolute_path(".") + "/" + path;
  os::write_file_atomic(abs, std::to_string(pid), 0644);
}

// --console-socket: send the pty master over SCM_RIGHTS (runc's protocol:
// the payload is a name, the fd rides along).
void send_console(const std::string& socket_path, int master) {
  os::UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) os::throw_errno("create a socket for --console-socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    throw os::Error("--console-socket " + os::quote(socket_path) + ": path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    os::throw_errno("connect to --console-socket " + os::quote(socket_path));
  static const char name[] = "/dev/ptmx";
  if (os::send_with_fd(s.get(), name, sizeof name - 1, master) < 0)
    os::throw_errno("send the pty to --console-socket " + os::quote(socket_path));
}

// SCMP_ACT_NOTIFY: the listener fd goes to the agent at listenerPath with
// the container process state (config-linux.md "Seccomp").
void send_seccomp_agent(int sync_fd, const SeccompPlan& seccomp, const State& st) {
  os::UniqueFd listener;
  expect_msg(sync_fd, Msg::seccomp_fd, &listener);
  if (!listener) throw os::Error("container init: no seccomp listener fd came with seccomp_fd");
  nlohmann::json process_state = {
      {"ociVersion", spec::kOciVersion},
      {"fds", {"seccompFd"}},
      {"pid", st.pid},
      {"metadata", seccomp.listener_metadata},
      {"state", nlohmann::json::parse(hook_state_json(st, Status::creating))},
  };
  send_seccomp_listener(seccomp.listener_path, listener.get(), process_state.dump());
}

pid_t clone_child(unsigned long flags, int cgroup_fd, int* pidfd_out, bool* into_cgroup, unsigned long* late_unshare) {
  auto defer_cgroupns = [&] {
    if (!late_unshare || !(flags & CLONE_NEWCGROUP)) return;
    flags &= ~static_cast<unsigned long>(CLONE_NEWCGROUP);
    *late_unshare |= CLONE_NEWCGROUP;
  };
  if (cgroup_fd < 0) defer_cgroupns();
  struct clone_args args = {};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd_out);
  args.exit_signal = SIGCHLD;
  *into_cgroup = false;
  long pid = -1;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
    pid = os::sys::clone3(&args, sizeof args);
    if (pid >= 0) {
      if (pid > 0) *into_cgroup = true;
      return static_cast<pid_t>(pid);
    }
    // Before Linux 5.7 (E2BIG for the larger struct, EINVAL for the flag):
    // the caller moves the child with Manager::apply() before it runs.
    defer_cgroupns();
    args.flags = flags | CLONE_PIDFD;
    args.cgroup = 0;
  }
  pid = os::sys::clone3(&args, sizeof args);
  if (pid < 0 && errno == ENOSYS) {
    // Before Linux 5.3: clone without a pidfd (the stack argument 0 makes it fork-like).
    *pidfd_out = -1;
    pid = ::syscall(SYS_clone, flags | SIGCHLD, 0, nullptr, nullptr, 0);
  }
  return static_cast<pid_t>(pid);
}

void create_container(const Context& ctx, const CreateRequest& req) {
  validate_container_id(req.id);
  StateStore store(ctx.state_root);
  auto lock = store.lock(req.id);
  LockFileJanitor janitor(store, req.id);
  create_container_locked(ctx, req, store, nullptr);
  os::fault_point("create.done");
}

int run_container(const Context& ctx, const RunRequest& req) {
  validate_container_id(req.create.id);
  StateStore store(ctx.state_root);
  // In the foreground the init (or, after a second fork, its orphan) must
  // come back to us to be reaped.
  if (!req.detach) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigset_t forward = forwarded_signals();
  Created c;
  sigset_t old;
  {
    // One lock for both: no other command can come between, so start needs
    // neither the state nor the config read again.
    auto lock = store.lock(req.create.id);
    LockFileJanitor janitor(store, req.create.id);
    c = create_container_locked(ctx, req.create, store, &req);
    os::fault_point("run.created");
    // From here on signals are for the container: wait_and_forward reads
    // them from a signalfd (those that arrive during start wait there).
    if (!req.detach) ::sigprocmask(SIG_BLOCK, &forward, &old);
    try {
      start_created(store, c.state, &c.poststart, c.pidfd.get());
      os::fault_point("run.started");
    } catch (...) {
      try {
        if (auto s = store.load(req.create.id)) destroy_container(store, *s);
      } catch (...) {
      }
      throw;
    }
  }
  if (req.detach) return 0;

  int status = wait_and_forward(c.pid, c.pidfd.get(), forward, c.console_master.get(), c.stop_signal);
  os::fault_point("run.exited");
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  {
    auto lock = store.lock(req.create.id);
    LockFileJanitor janitor(store, req.create.id);
    if (auto s = store.load(req.create.id)) {
      s->status = Status::stopped;
      s->foreground = false;  // ended as it should: an ordinary stopped container
      if (req.keep)
        store.save(*s);
      else
        destroy_container(store, *s);
    }
  }
  os::fault_point("run.destroyed");
  return status;
}

}  // namespace rrun::core
