#include "v2.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>

#include <rrun/os/error.hpp>
#include <rrun/os/text.hpp>

#include "cgfs.hpp"
#include "common.hpp"
#include "detect.hpp"
#include "ebpf.hpp"
#include "resources.hpp"
#include "stats.hpp"

namespace rrun::cgroups {

namespace {

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string words(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out.empty() ? "none" : out;
}

std::vector<std::string> read_words(const std::string& dir, const std::string& file) {
  std::vector<std::string> out;
  auto text = cgfs::read(dir, file);
  if (!text) return out;
  return os::words(*text);
}


}  // namespace

V2Location resolve_v2_location(const std::string& cgroup_root, const std::string& own, bool own_is_leaf,
                               const std::string& cgroups_path, const std::string& id, bool rootless) {
  std::string root = cgfs::clean(cgroup_root);
  std::string own_cg = cgfs::clean(own.empty() ? "/" : own);
  if (own_cg.empty() || own_cg[0] != '/') own_cg = "/" + own_cg;
  // The default and rootless paths are below `base`; relative paths below
  // the delegated cgroup rootless, below the parent of our own cgroup as
  // root (runc fs2), cleaned first so that ".." cannot leave it.
  std::string base = !rootless ? "/" : own_is_leaf ? cgfs::dirname(own_cg) : own_cg;
  std::string rel_base = rootless ? base : cgfs::dirname(own_cg);
  std::string path = cgroups_path.empty() ? ""
                                          : clean_cgroups_path(cgroups_path, rootless ? "the delegated cgroup"
                                                                                      : "the parent of rrun's cgroup");
  std::string cg;
  if (path.empty())
    cg = cgfs::join(base, "rrun/" + id);
  else if (path[0] == '/')
    cg = path;
  else
    cg = cgfs::clean(cgfs::join(rel_base, path));
  if (cg.empty() || cg[0] != '/') cg = "/" + cg;
  if (rootless && (!cgfs::is_within(cg, base) || cg == base || cg == cgfs::join(base, kLeafName)))
    throw os::Error("linux.cgroupsPath " + os::quote(cgroups_path) + ": outside the cgroup delegated to this user (" +
                    os::quote(base) + "); use a path below it, or leave cgroupsPath empty for " +
                    os::quote(base + "/rrun/ID"));
  if (cg == "/")
    throw os::Error("linux.cgroupsPath " + os::quote(cgroups_path) +
                    ": names the root cgroup; give the container a cgroup of its own");
  return {cgfs::clean(root + cg), cgfs::clean(base == "/" ? root : root + base)};
}

V2Controllers v2_controllers(const spec::Resources* r) {
  V2Controllers out;
  if (r) {
    for (const auto& c : controllers_of(v2_resource_writes(*r)))
      if (c != "cgroup") out.needed.push_back(c);  // cgroup.max.* are core files
  }
  for (const char* c : {"cpu", "io", "memory", "pids"})
    if (!contains(out.needed, c)) out.wanted.push_back(c);
  return out;
}

V2Manager::V2Manager(std::string dir, std::string delegation_root, std::string own_dir, bool rootless)
    : dir_(std::move(dir)),
      delegation_root_(std::move(delegation_root)),
      own_dir_(std::move(own_dir)),
      rootless_(rootless) {}

void V2Manager::open_dir() {
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) fd_.reset(fd);
}

void V2Manager::move_processes_to_leaf(const std::string& dir) {
  std::string leaf = cgfs::join(dir, kLeafName);
  cgfs::make_dir(leaf);
  for (pid_t pid : cgfs::procs(dir, false)) {
    int err = cgfs::try_write(leaf, "cgroup.procs", std::to_string(pid));
    if (err && err != ESRCH)
      os::throw_errno(err, "move process " + std::to_string(pid) + " from " + os::quote(dir) + " into " +
                               os::quote(leaf) +
                               " (a cgroup with processes cannot enable controllers for its children)");
  }
}

std::vector<std::string> V2Manager::enable(const std::string& dir, const std::vector<std::string>& controllers,
                                           std::string& why) {
  std::vector<std::string> todo;
  std::vector<std::string> enabled = read_words(dir, "cgroup.subtree_control");
  for (const auto& c : controllers)
    if (!contains(enabled, c)) todo.push_back(c);
  if (todo.empty()) return {};
  std::string all;
  for (const auto& c : todo) all += (all.empty() ? "+" : " +") + c;
  if (cgfs::try_write(dir, "cgroup.subtree_control", all) == 0) return {};
  // One by one, to know which fail (crun does the same).
  std::vector<std::string> failed;
  bool moved = false;
  for (const auto& c : todo) {
    int err = cgfs::try_write(dir, "cgroup.subtree_control", "+" + c);
    if (err == EBUSY && !moved && dir == own_dir_ && !cgfs::procs(dir, false).empty()) {
      move_processes_to_leaf(dir);
      moved = true;
      err = cgfs::try_write(dir, "cgroup.subtree_control", "+" + c);
    }
    if (err) {
      failed.push_back(c);
      why = "write `+" + c + "` to " + os::quote(cgfs::join(dir, "cgroup.subtree_control")) + ": " +
            std::error_code(err, std::generic_category()).message();
      if (err == EBUSY) why += " (the cgroup has processes of its own: the no-internal-processes rule)";
    }
  }
  return failed;
}

std::vector<std::string> V2Manager::create(const spec::Resources* r) {
  // Translate (and validate) before the first mkdir.
  V2Controllers ctrls = v2_controllers(r);
  if (r) v2_resource_writes(*r);
  std::vector<std::string> warnings;
  std::vector<std::string> created;
  try {
    // The cgroups from the delegation root down to the container's parent.
    std::vector<std::string> chain;
    for (std::string d = cgfs::dirname(dir_); cgfs::is_within(d, delegation_root_); d = cgfs::dirname(d)) {
      chain.push_back(d);
      if (d == delegation_root_ || d == "/") break;
    }
    std::reverse(chain.begin(), chain.end());
    if (chain.empty() || chain.front() != delegation_root_)
      throw os::Error("cgroup " + os::quote(dir_) + " is not below " + os::quote(delegation_root_));

    std::vector<std::string> offered;
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string& d = chain[i];
      if (i > 0 && cgfs::make_dir(d)) created.push_back(d);
      // A new cgroup offers what its parent enabled; a file says it exactly.
      if (cgfs::read(d, "cgroup.controllers") || i == 0) offered = available_controllers(d);
      std::vector<std::string> want;
      for (const auto& c : ctrls.needed) {
        if (contains(missing_, c)) continue;
        if (contains(offered, c)) {
          want.push_back(c);
          continue;
        }
        std::string what = "the cgroup v2 controller " + os::quote(c) + " is not available in " + os::quote(d) +
                           " (cgroup.controllers: " + words(offered) + ")";
        if (!rootless_) throw os::Error("linux.resources: " + what);
        missing_.push_back(c);
        // Rootless in a delegated subtree: the controller is what is missing.
        warnings.push_back(what + ", so the " + c + " limits were not applied; " +
                           delegation_remedy({Mode::v2, true, false, systemd_is_init()}));
      }
      for (const auto& c : ctrls.wanted)
        if (contains(offered, c)) want.push_back(c);
      std::string why;
      std::vector<std::string> failed = enable(d, want, why);
      std::vector<std::string> now;
      for (const auto& c : want)
        if (!contains(failed, c)) now.push_back(c);
      for (const auto& c : failed) {
        if (!contains(ctrls.needed, c)) continue;  // only for stats
        if (!rootless_)
          throw os::Error("linux.resources: cannot enable the cgroup v2 controller " + os::quote(c) + ": " + why);
        missing_.push_back(c);
        warnings.push_back("cannot enable the cgroup v2 controller " + os::quote(c) + " (" + why + "), so the " + c +
                           " limits were not applied");
      }
      offered = now;
    }
    if (cgfs::make_dir(dir_)) created.push_back(dir_);
    open_dir();
    if (!fd_) os::throw_errno("open cgroup " + os::quote(dir_));
    if (r) {
      auto more = write_resources(*r);
      warnings.insert(warnings.end(), more.begin(), more.end());
    }
  } catch (...) {
    fd_.reset();
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
    throw;
  }
  return warnings;
}

std::vector<std::string> V2Manager::write_resources(const spec::Resources& r) {
  std::vector<std::string> warnings;
  std::vector<FileWrite> writes = v2_resource_writes(r);
  std::vector<std::string> skipped;
  for (const auto& w : writes) {
    if (contains(missing_, w.controller)) continue;
    try {
      cgfs::apply(dir_, w);
    } catch (const os::SystemError& e) {
      int err = e.err();
      if (!rootless_ || (err != EPERM && err != EACCES && err != ENOENT && err != EROFS)) throw;
      warnings.push_back(std::string(e.what()) + "; the limit was not applied");
    }
  }
  if (!r.devices.empty()) {
    // Device nodes cannot be created rootless anyway; an unprivileged user
    // cannot load cgroup device programs.
    if (!rootless_) {
      std::vector<spec::DeviceCgroupRule> rules = r.devices;
      for (const auto& d : default_device_rules()) rules.push_back(d);
      auto program = device_program(rules);
      if (!fd_) open_dir();
      if (!fd_) os::throw_errno("open cgroup " + os::quote(dir_));
      attach_device_program(fd_.get(), program);
    }
  }
  return warnings;
}

void V2Manager::apply(pid_t pid) {
  cgfs::write(dir_, "cgroup.procs", std::to_string(pid));
}

std::vector<std::string> V2Manager::set(const spec::Resources& resources) {
  if (resources.memory && resources.memory->check_before_update.value_or(false) && resources.memory->limit &&
      *resources.memory->limit > 0)
    check_memory_before_update(dir_, "memory.current", static_cast<uint64_t>(*resources.memory->limit));
  return write_resources(resources);
}

void V2Manager::set_frozen(bool frozen) {
  const char* verb = frozen ? "pause" : "resume";
  int err = cgfs::try_write(dir_, "cgroup.freeze", frozen ? "1" : "0");
  if (err == ENOENT && !is_dir(dir_))
    throw os::Error(std::string("cannot ") + verb + " the container: its cgroup " + os::quote(dir_) + " is gone");
  if (err == ENOENT)
    throw os::Error(std::string("cannot ") + verb + " the container: " + os::quote(dir_) +
                    " has no cgroup.freeze (the kernel is older than 5.2)");
  if (err) os::throw_errno(err, "write to " + os::quote(cgfs::join(dir_, "cgroup.freeze")));
  // cgroup.events changes (POLLPRI) when the state settles. Reading the
  // open fd again (pread) re-arms the notification.
  std::string events = cgfs::join(dir_, "cgroup.events");
  os::UniqueFd fd(::open(events.c_str(), O_RDONLY | O_CLOEXEC));
  struct timespec start {};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    std::string text;
    if (fd) {
      char buf[512];
      ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
      if (n > 0) text.assign(buf, static_cast<size_t>(n));
    }
    auto keyed = cgfs::parse_keyed(text);
    auto it = keyed.find("frozen");
    if (it == keyed.end() || it->second == (frozen ? 1u : 0u)) return;
    struct timespec now {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= 10) break;
    struct pollfd p {
      fd.get(), POLLPRI, 0
    };
    if (::poll(&p, 1, 10) != 0) sleep_ms(1);  // a regular file (tests) is always ready
  }
  if (frozen) cgfs::try_write(dir_, "cgroup.freeze", "0");
  throw os::Error(std::string("cannot ") + verb + " the container: " + os::quote(events) + " did not show `frozen " +
                  (frozen ? "1" : "0") + "` within 10 s");
}

void V2Manager::freeze() {
  set_frozen(true);
}

void V2Manager::thaw() {
  set_frozen(false);
}

bool V2Manager::frozen() const {
  auto keyed = cgfs::read_keyed(dir_, "cgroup.events");
  auto it = keyed.find("frozen");
  if (it != keyed.end()) return it->second == 1;
  auto freeze = cgfs::read_u64(dir_, "cgroup.freeze");
  return freeze && *freeze == 1;
}

void V2Manager::kill_all(int sig) {
  if (!is_dir(dir_)) return;
  if (sig == SIGKILL && cgfs::try_write(dir_, "cgroup.kill", "1") == 0) return;  // kernel >= 5.14
  // Frozen, nothing forks between reading cgroup.procs and the signal.
  bool froze = false;
  if (!frozen() && cgfs::read(dir_, "cgroup.freeze")) {
    try {
      freeze();
      froze = true;
    } catch (const std::exception&) {
    }
  }
  try {
    cgfs::signal_all(dir_, sig);
  } catch (...) {
    if (froze) cgfs::try_write(dir_, "cgroup.freeze", "0");
    throw;
  }
  if (froze) thaw();
}

std::vector<pid_t> V2Manager::pids() const {
  return cgfs::procs(dir_, true);
}

Stats V2Manager::stats() const {
  return read_v2_stats(dir_);
}

void V2Manager::destroy() {
  fd_.reset();
  if (!is_dir(dir_)) return;
  kill_all(SIGKILL);
  if (frozen()) cgfs::try_write(dir_, "cgroup.freeze", "0");
  wait_until_empty(dir_);
  cgfs::remove(dir_);
  remove_rrun_parent(dir_);
}

}  // namespace rrun::cgroups
