#include "v1.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include "cgfs.hpp"
#include "common.hpp"
#include "resources.hpp"
#include "stats.hpp"

namespace rrun::cgroups {

namespace {

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> split(const std::string& s, char sep) {
  return os::split(s, sep);
}

bool empty_value(const std::optional<std::string>& v) {
  return v && v->find_first_not_of(" \n") == std::string::npos;
}

// A cpuset cgroup takes no task until cpuset.cpus and cpuset.mems are set:
// the cgroups from the first one with values down to `dir` get their
// parent's values (crun initialize_cpuset_subsystem, runc cpuset
// ensureParent).
void init_cpuset(const std::string& dir) {
  std::vector<std::string> chain;
  for (std::string d = dir; !d.empty() && d != "/"; d = cgfs::dirname(d)) {
    if (!empty_value(cgfs::read(d, "cpuset.cpus")) && !empty_value(cgfs::read(d, "cpuset.mems"))) break;
    chain.push_back(d);
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    std::string parent = cgfs::dirname(*it);
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
      if (!empty_value(cgfs::read(*it, file))) continue;
      auto theirs = cgfs::read(parent, file);
      if (!theirs) continue;
      std::string value = *theirs;
      while (!value.empty() && value.back() == '\n') value.pop_back();
      if (!value.empty()) cgfs::write(*it, file, value);
    }
  }
}

// Creates `dir` and the missing directories above it; returns those it
// created, top first.
std::vector<std::string> make_dirs(const std::string& dir, bool cpuset) {
  std::vector<std::string> created;
  // A parent found may be gone by the mkdir below it: `delete` of another
  // container removes the shared `rrun` parent once it is empty
  // (remove_rrun_parent). Then the walk starts again (seen under 50
  // parallel runs).
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> missing;
    for (std::string d = dir; !d.empty() && d != "/" && !is_dir(d); d = cgfs::dirname(d)) missing.push_back(d);
    std::reverse(missing.begin(), missing.end());
    try {
      for (const auto& d : missing)
        if (cgfs::make_dir(d)) created.push_back(d);
      break;
    } catch (const os::SystemError& e) {
      if (e.err() != ENOENT || attempt == 9) throw;
    }
  }
  if (cpuset) init_cpuset(dir);
  return created;
}

// The writes of v1_resource_writes, with the retry orders of resources.hpp:
// EINVAL on memory.limit_in_bytes (above the memsw limit) writes the memsw
// value first; EINVAL on cpu.cfs_period_us writes the quota first.
void write_all(const std::map<std::string, std::string>& dirs, const std::vector<FileWrite>& writes) {
  std::vector<bool> done(writes.size(), false);
  bool devices_reset = false;
  for (size_t i = 0; i < writes.size(); ++i) {
    if (done[i]) continue;
    const FileWrite& w = writes[i];
    const std::string& dir = dirs.at(w.controller);
    if (w.controller == "devices" && !devices_reset) {
      // Deny everything, then the rules in order (runc, crun).
      cgfs::write(dir, "devices.deny", "a");
      devices_reset = true;
    }
    try {
      cgfs::apply(dir, w);
    } catch (const os::SystemError& e) {
      const char* first = nullptr;
      if (e.err() == EINVAL && w.file == "memory.limit_in_bytes") first = "memory.memsw.limit_in_bytes";
      if (e.err() == EINVAL && w.file == "cpu.cfs_period_us") first = "cpu.cfs_quota_us";
      auto it = std::find_if(writes.begin() + static_cast<long>(i) + 1, writes.end(),
                             [&](const FileWrite& x) { return first && x.file == first; });
      if (it == writes.end()) throw;
      cgfs::apply(dir, *it);
      done[static_cast<size_t>(it - writes.begin())] = true;
      cgfs::apply(dir, w);
    }
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::vector<V1Hierarchy> v1_hierarchies(const std::string& cgroup_root, const std::string& proc_self_cgroup_text) {
  std::vector<V1Hierarchy> out;
  for (const std::string& line : os::split(proc_self_cgroup_text, '\n')) {
    // "4:memory:/process_api/x", "2:cpu,cpuacct:/", "0::/", "1:name=systemd:/"
    size_t a = line.find(':');
    if (a == std::string::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string list = line.substr(a + 1, b - a - 1);
    if (list.empty() || list.rfind("name=", 0) == 0) continue;
    V1Hierarchy h;
    h.controllers = split(list, ',');
    if (h.controllers.empty()) continue;  // "3:,:/": no controller named (found by fuzzing)
    h.own = line.substr(b + 1);
    if (h.own.empty()) h.own = "/";
    std::string mount = cgfs::join(cgroup_root, list);
    if (!is_dir(mount)) mount = cgfs::join(cgroup_root, h.controllers.front());
    if (!is_dir(mount)) continue;
    h.mount = mount;
    out.push_back(h);
  }
  return out;
}

std::optional<V1Hierarchy> v1_systemd_hierarchy(const std::string& cgroup_root,
                                                const std::string& proc_self_cgroup_text) {
  constexpr std::string_view kLine = ":name=systemd:";
  for (const std::string& line : os::split(proc_self_cgroup_text, '\n')) {
    size_t a = line.find(kLine);
    if (a == std::string::npos || line.find(':') != a) continue;
    V1Hierarchy h;
    h.controllers = {"name=systemd"};
    h.own = line.substr(a + kLine.size());
    if (h.own.empty()) h.own = "/";
    h.mount = cgfs::join(cgroup_root, "systemd");
    if (!is_dir(h.mount)) return std::nullopt;
    return h;
  }
  return std::nullopt;
}

std::map<std::string, std::string> v1_cgroup_dirs(const std::vector<V1Hierarchy>& hierarchies,
                                                  const std::string& cgroups_path, const std::string& id) {
  // Relative paths are below rrun's own cgroup of each hierarchy, and ".."
  // cannot leave it (runc fs: CleanPath before the join).
  std::string path = cgroups_path.empty() ? "rrun/" + id : clean_cgroups_path(cgroups_path, "rrun's own cgroup");
  bool absolute = path[0] == '/';
  std::map<std::string, std::string> out;
  for (const auto& h : hierarchies) {
    std::string inner = absolute ? path : cgfs::clean(cgfs::join(h.own, path));
    if (inner.empty() || inner[0] != '/') inner = "/" + inner;
    if (inner == "/")
      throw os::Error("linux.cgroupsPath " + os::quote(cgroups_path) +
                      ": names the root of the cgroup hierarchy; give the container a cgroup of its own");
    for (const auto& c : h.controllers) out[c] = cgfs::clean(h.mount + inner);
  }
  return out;
}

std::unique_ptr<V1Manager> V1Manager::from_path(const std::string& path) {
  std::map<std::string, std::string> dirs;
  try {
    auto j = nlohmann::json::parse(path);
    if (!j.is_object()) throw std::runtime_error("not an object");
    for (const auto& [controller, dir] : j.items()) dirs[controller] = dir.get<std::string>();
  } catch (const std::exception& e) {
    throw os::Error("cgroup v1 path " + os::quote(path) + ": expected a JSON object of controller directories (" +
                    e.what() + ")");
  }
  return std::make_unique<V1Manager>(std::move(dirs));
}

std::string V1Manager::path() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [controller, dir] : dirs_) j[controller] = dir;
  return j.dump();
}

std::vector<std::string> V1Manager::unique_dirs() const {
  std::vector<std::string> out;
  for (const auto& [c, d] : dirs_)
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  return out;
}

const std::string* V1Manager::dir_of(const std::string& controller) const {
  auto it = dirs_.find(controller);
  return it == dirs_.end() ? nullptr : &it->second;
}

std::string V1Manager::procs_dir() const {
  for (const char* c : {"pids", "freezer", "memory", "cpu", "devices"})
    if (const std::string* d = dir_of(c)) return *d;
  return dirs_.empty() ? "" : dirs_.begin()->second;
}

std::vector<std::string> V1Manager::create(const spec::Resources* r) {
  // Translate and check everything before the first mkdir, so that a bad
  // spec leaves nothing behind.
  std::vector<FileWrite> writes = r ? v1_resource_writes(*r) : std::vector<FileWrite>{};
  for (const auto& c : controllers_of(writes)) {
    if (!dir_of(c))
      throw os::Error("linux.resources: needs the cgroup v1 controller " + os::quote(c) +
                      ", which this host does not mount (no `" + c + "` hierarchy in /proc/self/cgroup)");
  }
  std::vector<std::string> created;
  try {
    for (const auto& d : unique_dirs()) {
      bool cpuset = dir_of("cpuset") && *dir_of("cpuset") == d;
      auto now = make_dirs(d, cpuset);
      created.insert(created.end(), now.begin(), now.end());
    }
    write_all(dirs_, writes);
  } catch (...) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
    throw;
  }
  return {};
}

void V1Manager::apply(pid_t pid) {
  for (const auto& d : unique_dirs()) cgfs::write(d, "cgroup.procs", std::to_string(pid));
}

std::vector<os::UniqueFd> V1Manager::open_tasks_files() const {
  std::vector<os::UniqueFd> fds;
  for (const auto& d : unique_dirs()) fds.push_back(os::open_file(cgfs::join(d, "tasks"), O_WRONLY | O_CLOEXEC));
  return fds;
}

std::vector<std::string> V1Manager::set(const spec::Resources& resources) {
  std::vector<FileWrite> writes = v1_resource_writes(resources);
  for (const auto& c : controllers_of(writes)) {
    if (!dir_of(c))
      throw os::Error("linux.resources: needs the cgroup v1 controller " + os::quote(c) +
                      ", which this container's cgroup does not have");
  }
  if (resources.memory && resources.memory->check_before_update.value_or(false) && resources.memory->limit &&
      *resources.memory->limit > 0) {
    if (const std::string* d = dir_of("memory"))
      check_memory_before_update(*d, "memory.usage_in_bytes", static_cast<uint64_t>(*resources.memory->limit));
  }
  write_all(dirs_, writes);
  return {};
}

void V1Manager::set_freezer(const char* state) {
  const std::string* d = dir_of("freezer");
  if (!d)
    throw os::Error(std::string("cannot ") + (std::string(state) == "FROZEN" ? "pause" : "resume") +
                    " the container: this host has no cgroup v1 freezer hierarchy");
  // FREEZING can take a while (and may need the write repeated, runc).
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (attempt % 50 == 0) cgfs::write(*d, "freezer.state", state);
    auto now = cgfs::read(*d, "freezer.state");
    if (!now) os::throw_errno(ENOENT, "read " + os::quote(cgfs::join(*d, "freezer.state")));
    if (trim(*now) == state) return;
    sleep_ms(attempt < 10 ? 1 : 10);
  }
  if (std::string(state) == "FROZEN") cgfs::try_write(*d, "freezer.state", "THAWED");
  throw os::Error("freezer.state of " + os::quote(*d) + " did not become " + state + " within 10 s");
}

void V1Manager::freeze() {
  set_freezer("FROZEN");
}

void V1Manager::thaw() {
  set_freezer("THAWED");
}

bool V1Manager::frozen() const {
  const std::string* d = dir_of("freezer");
  if (!d) return false;
  auto state = cgfs::read(*d, "freezer.state");
  return state && trim(*state) == "FROZEN";
}

void V1Manager::kill_all(int sig) {
  std::string d = procs_dir();
  if (d.empty()) return;
  // Frozen, nothing forks between reading cgroup.procs and the signal (runc
  // signalAllProcesses); SIGKILL reaches frozen tasks, others are queued
  // until the thaw.
  bool was_frozen = frozen();
  bool froze = false;
  if (dir_of("freezer") && !was_frozen) {
    try {
      freeze();
      froze = true;
    } catch (const std::exception&) {
    }
  }
  try {
    cgfs::signal_all(d, sig);
  } catch (...) {
    if (froze) cgfs::try_write(*dir_of("freezer"), "freezer.state", "THAWED");
    throw;
  }
  // A SIGKILLed task of a frozen v1 cgroup dies only once thawed: a cgroup
  // frozen before (`pause`, or an rrun killed between its freeze and thaw)
  // is thawed too, or `delete -f` would wait for it in vain.
  if (froze || (was_frozen && sig == SIGKILL)) thaw();
}

std::vector<pid_t> V1Manager::pids() const {
  return cgfs::procs(procs_dir(), true);
}

Stats V1Manager::stats() const {
  return read_v1_stats(dirs_, ::sysconf(_SC_CLK_TCK));
}

void V1Manager::destroy() {
  std::vector<std::string> dirs = unique_dirs();
  bool any = std::any_of(dirs.begin(), dirs.end(), is_dir);
  if (!any) return;
  std::string d = procs_dir();
  if (is_dir(d)) {
    // A frozen cgroup would keep SIGKILLed tasks from exiting on old
    // kernels: thaw first.
    if (frozen()) cgfs::try_write(*dir_of("freezer"), "freezer.state", "THAWED");
    cgfs::signal_all(d, SIGKILL);
    wait_until_empty(d);
  }
  for (const auto& dir : dirs) {
    cgfs::remove(dir);
    remove_rrun_parent(dir);
  }
}

}  // namespace rrun::cgroups
