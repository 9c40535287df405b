// `checkpoint` and `restore` through CRIU (the `criu` binary with options,
// the way runc drives it over RPC). Nothing here is on the path of
// create/run/exec: it is reached only from these two commands.
//
// checkpoint: criu dump of the init's tree (-t PID: the pid namespace, the
//   mount namespace with the container's binds described as external mounts
//   keyed by their destination; a terminal, whose master lies outside the
//   container, external by its tty key), then, unless --leave-running or
//   --pre-dump, the container is destroyed as by `delete` (runc).
//   rrun-checkpoint.json next to the images records the init's stdio and
//   its terminal's key.
// restore: the bundle's config planned as create plans it (rootfs, binds,
//   cgroup with its limits), then criu restore with --root the rootfs,
//   --external mnt[DEST]:SOURCE for each bind, --inherit-fd for stdio that
//   were pipes and for the terminal (the slave of a new pty whose master
//   goes to --console-socket, as create sends it), the tree restored as
//   rrun's child (--restore-sibling) in the container's cgroup; the result
//   is recorded as an ordinary running container.

#include <fcntl.h>
#include <linux/major.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>
#include <rrun/rootfs/overlay.hpp>
#include <rrun/rootfs/plan.hpp>
#include <rrun/spec/parse.hpp>

#include "container.hpp"
#include "id.hpp"
#include "init_steps.hpp"
#include "lifecycle.hpp"
#include "log.hpp"
#include "state.hpp"

namespace rrun::core {

namespace {

// Next to CRIU's images: what restore needs that CRIU does not keep.
constexpr const char* kCheckpointInfo = "rrun-checkpoint.json";
// Restore's stdio go to criu at these fds (fd[N] of --inherit-fd), the
// terminal's new slave after them.
constexpr int kInheritBase = 10;
constexpr int kInheritTty = kInheritBase + 3;

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) os::throw_errno("get the current directory");
  return std::string(cwd) + "/" + path;
}

// The criu binary: --criu PATH, else `criu` in $PATH.
std::string find_criu(const std::string& flag, const std::string& verb) {
  const std::string remedy = "rrun " + verb + " needs CRIU: install it with `apt-get install criu`";
  if (!flag.empty()) {
    std::string path = flag.find('/') == std::string::npos ? rootfs::find_program(flag, std::getenv("PATH")) : flag;
    if (path.empty() || ::access(path.c_str(), X_OK) != 0)
      throw os::Error(verb + ": criu not found at " + os::quote(flag) + " (--criu): " + remedy +
                      ", or give the path of the criu binary with --criu");
    return path;
  }
  std::string path = rootfs::find_program("criu", std::getenv("PATH"));
  if (path.empty())
    throw os::Error(verb + ": `criu` is not installed (not found in $PATH): " + remedy +
                    ", or give its path with --criu PATH");
  return path;
}

void check_criu_options(const CriuOptions& o, const std::string& verb) {
  const std::string& m = o.manage_cgroups_mode;
  if (!m.empty() && m != "soft" && m != "full" && m != "strict" && m != "ignore")
    throw os::Error(verb + ": --manage-cgroups-mode " + os::quote(m) + ": expected soft, full, strict or ignore");
  for (const auto& ns : o.empty_ns)
    if (ns != "network" && ns != "net")
      throw os::Error(verb + ": --empty-ns " + os::quote(ns) + ": only `network` can be left empty (as runc)");
}

// CRIU 3.17 checkpoints a user namespace only as root in the initial one:
// its --unprivileged mode (CAP_CHECKPOINT_RESTORE) refuses user namespaces,
// and every rootless container has one.
void refuse_rootless(const Context& ctx, const std::string& verb) {
  if (!ctx.rootless) return;
  throw os::Error(verb +
                  ": not supported rootless: CRIU can dump and restore a container's user namespace only as root "
                  "(its unprivileged mode with CAP_CHECKPOINT_RESTORE supports no user namespaces); run `rrun " +
                  verb + "` as root");
}

// What rrun cannot describe to CRIU yet is refused before CRIU runs.
void refuse_unsupported(const spec::Spec& spec, const rootfs::RootfsPlan& plan, const std::string& verb) {
  if (plan.root_overlay || !plan.overlays.empty())
    throw os::Error(verb + ": overlay mounts (rrun.rootfs.overlay, mounts of type overlay) are not supported by "
                           "rrun's " +
                    verb + " yet");
  if (!plan.own_mount_ns) throw os::Error(verb + ": a container without a mount namespace of its own is not supported");
  if (spec.linux)
    for (size_t i = 0; i < spec.linux->namespaces.size(); ++i)
      if (!spec.linux->namespaces[i].path.empty())
        throw os::Error(verb + ": linux.namespaces[" + std::to_string(i) +
                        "]: a joined namespace (path) is not supported by rrun's " + verb + " yet");
}

rootfs::RootfsPlan plan_mounts(const spec::Spec& spec, const std::string& bundle, bool no_pivot) {
  rootfs::PlanOptions ropts = rootfs::plan_options_from_spec(spec, false);
  ropts.no_pivot = no_pivot;
  ropts.new_user_ns = spec.linux && spec.linux->has_namespace(spec::NamespaceType::user);
  return rootfs::plan_rootfs(spec, bundle, ropts);
}

// The binds from the host: CRIU cannot dump what lies outside the
// container's mount namespace, so each is external, keyed by its
// destination (runc's keys); restore maps the key back to the source.
std::vector<std::pair<std::string, std::string>> external_binds(const rootfs::RootfsPlan& plan) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto* ops : {&plan.ops_before_pivot, &plan.ops_after_pivot})
    for (const auto& op : *ops)
      if (op.kind == rootfs::OpKind::bind || op.kind == rootfs::OpKind::bind_device)
        out.emplace_back(op.destination, op.source);
  return out;
}

void add_common_flags(std::vector<std::string>& args, const CriuOptions& o) {
  if (o.tcp_established) args.push_back("--tcp-established");
  if (o.ext_unix_sk) args.push_back("--ext-unix-sk");
  if (o.shell_job) args.push_back("--shell-job");
  if (o.file_locks) args.push_back("--file-locks");
  if (o.link_remap) args.push_back("--link-remap");
  if (o.tcp_skip_in_flight) args.push_back("--tcp-skip-in-flight");
  args.push_back("--manage-cgroups=" + (o.manage_cgroups_mode.empty() ? "soft" : o.manage_cgroups_mode));
}

// The reason CRIU gives: the first "Error (...)" line of its log, without
// the timestamp; else the last line of its own output; else its status.
std::string criu_reason(const std::string& log, const std::string& out, int status) {
  auto first_error = [](const std::string& text) -> std::string {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? text.size() : nl + 1;
      size_t e = line.find("Error (");
      if (e != std::string::npos) return line.substr(e);
    }
    return "";
  };
  std::string r = first_error(log);
  if (r.empty()) r = first_error(out);
  if (r.empty()) {
    std::string t = out;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    size_t nl = t.rfind('\n');
    r = nl == std::string::npos ? t : t.substr(nl + 1);
  }
  if (r.empty()) r = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "killed by a signal";
  return r;
}

struct CriuRun {
  std::string binary;
  std::vector<std::string> args;  // after the binary
  std::string work;               // the work directory (logs)
  std::string log_name;           // dump.log, restore.log
  std::string what;               // "checkpoint: criu dump"
  // restore: criu runs in a mount namespace of its own where `root` is a
  // mount point (CRIU pivots into it); nothing reaches the host's.
  std::string root;
  bool pass_stdio = false;             // rrun's 0-2 at kInheritBase + 0..2
  int tty_slave = -1;                  // at kInheritTty
  cgroups::Manager* cgroup = nullptr;  // criu joins it before it runs
};

[[noreturn]] void criu_child(const CriuRun& r, int go_fd, const char* const* argv) {
  // Lifted above the fds the dup2s below fill, which they might be among.
  if (go_fd >= 0 && (go_fd = ::fcntl(go_fd, F_DUPFD_CLOEXEC, kInheritTty + 1)) < 0) ::_exit(126);
  int tty = r.tty_slave >= 0 ? ::fcntl(r.tty_slave, F_DUPFD_CLOEXEC, kInheritTty + 1) : -1;
  if (r.tty_slave >= 0 && (tty < 0 || ::dup2(tty, kInheritTty) < 0)) ::_exit(126);
  if (r.pass_stdio)
    for (int i = 0; i < 3; ++i)
      if (::dup2(i, kInheritBase + i) < 0) ::_exit(126);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::string out = r.work + "/" + r.log_name + ".out";
  int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (null_fd < 0 || out_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0)
    ::_exit(126);
  if (!r.root.empty()) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0 ||
        ::mount(r.root.c_str(), r.root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      dprintf(2, "rrun: prepare the mount namespace for criu: %s\n", std::strerror(errno));
      ::_exit(126);
    }
  }
  char c;
  if (go_fd >= 0 && ::read(go_fd, &c, 1) != 1) ::_exit(126);
  ::execv(argv[0], const_cast<char* const*>(argv));
  dprintf(2, "rrun: exec %s: %s\n", argv[0], std::strerror(errno));
  ::_exit(127);
}

// Runs criu and waits for it; throws os::Error with CRIU's reason and
// where its log is.
void run_criu(const CriuRun& r) {
  std::vector<std::string> all{r.binary};
  all.insert(all.end(), r.args.begin(), r.args.end());
  std::vector<const char*> argv;
  for (const auto& a : all) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  log_debug(r.what + ": " + [&] {
    std::string s;
    for (const auto& a : all) s += (s.empty() ? "" : " ") + a;
    return s;
  }());
  int go[2];
  if (::pipe2(go, O_CLOEXEC) < 0) os::throw_errno("make a pipe for criu");
  os::UniqueFd go_rd(go[0]), go_wr(go[1]);
  pid_t pid = ::fork();
  if (pid < 0) os::throw_errno("fork for criu");
  if (pid == 0) criu_child(r, go_rd.get(), argv.data());
  go_rd.reset();
  try {
    if (r.cgroup) r.cgroup->apply(pid);
  } catch (...) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw;
  }
  if (::write(go_wr.get(), "g", 1) != 1) {
    // the child is gone already; its status says why
  }
  go_wr.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) os::throw_errno("wait for criu");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  const std::string log = r.work + "/" + r.log_name;
  std::string reason = criu_reason(os::read_file_if_exists(log).value_or(""),
                                   os::read_file_if_exists(log + ".out").value_or(""), status);
  throw os::Error(r.what + " failed: " + reason + " (log: " + os::quote(log) + ")");
}

// The init's terminal as CRIU names a tty: tty[RDEV:DEV], st_rdev and
// st_dev in hex (criu/tty.c, get_tty_driver); "" when none of its stdio is
// a pty slave any more. Its master is held outside the container (by the
// --console-socket receiver), so CRIU can dump the slave only as external.
std::string terminal_key(pid_t pid) {
  for (int fd = 0; fd < 3; ++fd) {
    struct stat st;
    std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    if (::stat(link.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) continue;
    unsigned m = major(st.st_rdev);
    if (m < UNIX98_PTY_SLAVE_MAJOR || m >= UNIX98_PTY_SLAVE_MAJOR + UNIX98_PTY_MAJOR_COUNT) continue;
    char key[64];
    std::snprintf(key, sizeof key, "tty[%llx:%llx]", static_cast<unsigned long long>(st.st_rdev),
                  static_cast<unsigned long long>(st.st_dev));
    return key;
  }
  return "";
}

std::string fd_target(pid_t pid, int fd) {
  char buf[PATH_MAX];
  std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

void prepare_dirs(const CriuOptions& o, std::string& image, std::string& work) {
  image = absolute(o.image_path);
  work = o.work_path.empty() ? image : absolute(o.work_path);
  os::mkdir_p(image, 0700);
  os::mkdir_p(work, 0700);
}

}  // namespace

void checkpoint_container(const Context& ctx, const CheckpointRequest& req) {
  const std::string verb = req.pre_dump ? "checkpoint --pre-dump" : "checkpoint";
  validate_container_id(req.id);
  check_criu_options(req.criu, "checkpoint");
  StateStore store(ctx.state_root);
  os::FileLock lock = store.lock(req.id);
  LockFileJanitor janitor(store, req.id);
  std::optional<State> s = store.load(req.id);
  if (s && !settle_abandoned(store, *s)) s.reset();
  if (!s) throw os::Error("container " + os::quote(req.id) + " does not exist");
  Status live = store.status_of(*s);
  if (live != Status::running)
    throw os::Error("cannot checkpoint container " + os::quote(req.id) + ": it is " + status_name(live) +
                    " (only a running container can be checkpointed)");
  refuse_rootless(ctx, "checkpoint");
  const std::string criu = find_criu(req.criu.criu, "checkpoint");
  spec::Spec spec = load_container_spec(store, req.id);
  rootfs::RootfsPlan plan = plan_mounts(spec, s->bundle, false);
  refuse_unsupported(spec, plan, "checkpoint");

  CriuRun r;
  r.binary = criu;
  r.what = "checkpoint: criu " + std::string(req.pre_dump ? "pre-dump" : "dump");
  r.log_name = req.pre_dump ? "pre-dump.log" : "dump.log";
  std::string image;
  prepare_dirs(req.criu, image, r.work);
  nlohmann::json info;
  info["id"] = req.id;
  info["bundle"] = s->bundle;
  info["descriptors"] = nlohmann::json::array();
  for (int fd = 0; fd < 3; ++fd) info["descriptors"].push_back(fd_target(s->pid, fd));
  const std::string tty = spec.process && spec.process->terminal ? terminal_key(s->pid) : "";
  if (!tty.empty()) info["terminal"] = tty;
  os::write_file_atomic(image + "/" + kCheckpointInfo, info.dump(2) + "\n", 0600);

  r.args = {req.pre_dump ? "pre-dump" : "dump", "--images-dir", image, "--work-dir", r.work, "--log-file",
            r.log_name, "-v4", "--tree", std::to_string(s->pid), "--root", plan.rootfs};
  add_common_flags(r.args, req.criu);
  for (const auto& [dest, source] : external_binds(plan)) r.args.push_back("--external=mnt[" + dest + "]:" + dest);
  if (!tty.empty()) r.args.push_back("--external=" + tty);
  if (req.leave_running) r.args.push_back("--leave-running");
  if (req.criu.auto_dedup) r.args.push_back("--auto-dedup");
  for (size_t i = 0; i < req.criu.empty_ns.size(); ++i) r.args.insert(r.args.end(), {"--empty-ns", "net"});
  if (req.pre_dump) r.args.push_back("--track-mem");
  if (!req.parent_path.empty()) {
    r.args.insert(r.args.end(), {"--prev-images-dir", req.parent_path, "--track-mem"});
  }
  run_criu(r);
  // runc destroys a checkpointed container: its processes are gone (CRIU
  // killed them), its cgroup and state go too, poststop hooks run.
  if (!req.leave_running && !req.pre_dump) destroy_container(store, *s);
}

namespace {

// restore's half of kCheckpointInfo (absent or unreadable: nothing to add).
struct CheckpointInfo {
  std::vector<std::string> descriptors;  // the init's 0-2 as /proc/PID/fd showed them
  std::string terminal;                  // its terminal's tty key; "" without one
};

CheckpointInfo read_checkpoint_info(const std::string& image) {
  CheckpointInfo out;
  auto text = os::read_file_if_exists(image + "/" + kCheckpointInfo);
  if (!text) return out;
  nlohmann::json info = nlohmann::json::parse(*text, nullptr, false);
  if (info.is_discarded() || !info.is_object()) return out;
  if (info.contains("descriptors") && info["descriptors"].is_array())
    for (const auto& d : info["descriptors"]) out.descriptors.push_back(d.is_string() ? d.get<std::string>() : "");
  if (info.contains("terminal") && info["terminal"].is_string()) out.terminal = info["terminal"].get<std::string>();
  return out;
}

// --inherit-fd for each stdio of the checkpointed init that was a pipe
// (runc: the caller's new pipes take their place); other stdio (the
// container's own /dev/null, files in it) CRIU restores itself.
void add_inherited_stdio(std::vector<std::string>& args, const CheckpointInfo& info) {
  for (size_t i = 0; i < info.descriptors.size() && i < 3; ++i)
    if (info.descriptors[i].rfind("pipe:", 0) == 0)
      args.push_back("--inherit-fd=fd[" + std::to_string(kInheritBase + static_cast<int>(i)) +
                     "]:" + info.descriptors[i]);
}

// The restored terminal: a new pty whose slave CRIU gives the restored
// processes in place of the checkpointed one (--inherit-fd for its key) and
// whose master goes to --console-socket, as create sends it. The pair comes
// from rrun's /dev/ptmx (the host's devpts), not the container's: CRIU takes
// the slave before it builds the container's mount namespace, whose devpts
// it mounts anew and empty (runc has CRIU open it there over RPC,
// orphan_pts_master, which the criu binary has no option for). The
// processes keep their fds and their controlling terminal; only the
// slave's name (/proc/1/fd/0) is the host's /dev/pts/N. A later checkpoint
// marks this slave external by its own key, as the first.
struct RestoredTerminal {
  os::UniqueFd master;
  os::UniqueFd slave;
};

RestoredTerminal open_restored_terminal() {
  os::StepFailure f;
  int master, slave;
  if (open_pty(O_CLOEXEC, &master, &slave, f) < 0)
    throw os::SystemError(f.err, std::string("restore: ") + f.detail + " for the container's terminal");
  return {os::UniqueFd(master), os::UniqueFd(slave)};
}

int wait_restored(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno == EINTR) continue;
    return 0;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 0;
}

// The directory of a v2 cgroup relative to the hierarchy's root, for
// --cgroup-root; "" where rrun does not know it (v1, systemd: CRIU then
// restores into the cgroups it dumped).
std::string cgroup_root_for_criu(const cgroups::Manager& m) {
  if (m.driver() != cgroups::Driver::v2) return "";
  const std::string prefix = "/sys/fs/cgroup";
  const std::string p = m.path();
  if (p.compare(0, prefix.size(), prefix) != 0) return "";
  std::string rel = p.substr(prefix.size());
  return rel.empty() ? "/" : rel;
}

// Steps 1-6 of create, with CRIU in place of the clone, under the lock.
State restore_locked(const Context& ctx, const RestoreRequest& req, StateStore& store, const std::string& criu,
                     const std::string& image, const CheckpointInfo& info, const std::string& bundle,
                     const spec::Spec& spec, const std::string& config_text, const rootfs::RootfsPlan& plan) {
  os::FileLock lock = store.lock(req.id);
  LockFileJanitor janitor(store, req.id);
  State st = creating_state(req.id);
  st.oci_version = spec.oci_version;
  st.bundle = bundle;
  st.rootfs = plan.rootfs;
  st.annotations = spec.annotations;
  st.rootless = ctx.rootless;
  st.systemd_cgroup = ctx.systemd_cgroup;
  if (!store.create_container_dir(st)) throw ContainerExists("container " + os::quote(req.id) + " already exists");
  bool done = false;
  std::unique_ptr<cgroups::Manager> cgroup;
  try {
    os::write_file_atomic(store.config_path(req.id), config_text, 0600);
    cgroups::ManagerRequest cgreq;
    cgreq.id = req.id;
    if (spec.linux) cgreq.cgroups_path = spec.linux->cgroups_path;
    cgreq.rootless = ctx.rootless;
    cgreq.systemd_flag = ctx.systemd_cgroup;
    cgroup = cgroups::make_manager(cgreq);
    if (cgroup->driver() != cgroups::Driver::none)
      record_cgroup(store, req.id, cgroups::driver_name(cgroup->driver()), cgroup->path());
    const spec::Resources* resources = spec.linux && spec.linux->resources ? &*spec.linux->resources : nullptr;
    for (const auto& w : cgroup->create(resources)) log_warn(w);
    st.cgroup_driver = cgroups::driver_name(cgroup->driver());
    st.cgroup_path = cgroup->path();

    CriuRun r;
    r.binary = criu;
    r.what = "restore: criu restore";
    r.log_name = "restore.log";
    std::string img;
    prepare_dirs(req.criu, img, r.work);
    r.root = plan.rootfs;
    r.pass_stdio = true;
    r.cgroup = cgroup->driver() != cgroups::Driver::none ? cgroup.get() : nullptr;
    const std::string pidfile = r.work + "/restore.pid";
    ::unlink(pidfile.c_str());
    r.args = {"restore", "--images-dir", image, "--work-dir", r.work, "--log-file", r.log_name, "-v4", "--root",
              plan.rootfs, "--restore-detached", "--restore-sibling", "--pidfile", pidfile};
    add_common_flags(r.args, req.criu);
    if (std::string cg = cgroup_root_for_criu(*cgroup); !cg.empty() && req.criu.manage_cgroups_mode != "ignore")
      r.args.insert(r.args.end(), {"--cgroup-root", cg});
    for (const auto& [dest, source] : external_binds(plan))
      r.args.push_back("--external=mnt[" + dest + "]:" + source);
    if (req.criu.auto_dedup) r.args.push_back("--auto-dedup");
    add_inherited_stdio(r.args, info);
    RestoredTerminal tty;
    if (!info.terminal.empty()) {
      tty = open_restored_terminal();
      r.tty_slave = tty.slave.get();
      r.args.push_back("--inherit-fd=fd[" + std::to_string(kInheritTty) + "]:" + info.terminal);
      // Before CRIU resumes the processes, as runc's orphan-pts-master: the
      // receiver misses none of their output.
      send_console(req.console_socket, tty.master.get());
      tty.master.reset();
    }
    if (!req.detach && !req.no_subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    run_criu(r);
    tty.slave.reset();
    // The systemd driver knows its scope's cgroup only once systemd has put
    // a process there (criu, above), as in create.
    if (cgroup->driver() == cgroups::Driver::systemd) st.cgroup_path = cgroup->path();

    std::string pid_text = os::read_file(pidfile);
    st.pid = static_cast<pid_t>(std::atoi(pid_text.c_str()));
    auto start = st.pid > 0 ? os::process_start_time(st.pid) : std::nullopt;
    if (!start) throw os::Error("restore: the restored init (pid " + pid_text + ") is gone");
    st.pid_start_time = *start;
    st.status = Status::running;
    store.save(st);
    write_pid_file(req.pid_file, st.pid);
    done = true;
  } catch (...) {
    if (!done) {
      if (st.pid > 0) ::kill(st.pid, SIGKILL);
      try {
        if (cgroup) cgroup->destroy();
      } catch (...) {
      }
      store.remove_container(req.id);
    }
    throw;
  }
  return st;
}

}  // namespace

int restore_container(const Context& ctx, const RestoreRequest& req) {
  validate_container_id(req.id);
  check_criu_options(req.criu, "restore");
  refuse_rootless(ctx, "restore");
  const std::string criu = find_criu(req.criu.criu, "restore");
  const std::string image = absolute(req.criu.image_path);
  if (!os::path_exists(image + "/inventory.img"))
    throw os::Error("restore: no checkpoint in " + os::quote(image) +
                    " (no inventory.img): give the --image-path of a `rrun checkpoint`");
  char buf[PATH_MAX];
  if (!::realpath(req.bundle.c_str(), buf)) os::throw_errno("resolve bundle path " + os::quote(req.bundle));
  const std::string bundle = buf;
  std::string config_text;
  spec::Spec spec = spec::load_spec(bundle, &config_text);
  if (!spec.root || !spec.process) throw os::Error("config.json: root and process: required to restore a container");
  rootfs::RootfsPlan plan = plan_mounts(spec, bundle, req.no_pivot);
  refuse_unsupported(spec, plan, "restore");
  const CheckpointInfo info = read_checkpoint_info(image);
  if (!info.terminal.empty() && req.console_socket.empty())
    throw os::Error("restore: the checkpoint in " + os::quote(image) +
                    " has a terminal (process.terminal): give --console-socket SOCKET to receive its new pty master, "
                    "as for create");

  StateStore store(ctx.state_root);
  State st = restore_locked(ctx, req, store, criu, image, info, bundle, spec, config_text, plan);
  if (req.detach) return 0;
  // In the foreground as run: wait, then remove the container.
  int code = wait_restored(st.pid);
  delete_container(ctx, req.id, true);
  return code;
}

}  // namespace rrun::core
