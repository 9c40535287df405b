#include "idmap.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>

#include "advice.hpp"

extern char** environ;

namespace rrun::userns {
namespace {

using spec::IdMapping;

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string first_line(const std::string& text) {
  std::string t = trim(text);
  return trim(t.substr(0, t.find('\n')));
}

// A helper started by start_helper(), to be waited for by finish_helper().
struct RunningHelper {
  std::string name;
  std::string subid_file;
  std::string error;  // it could not be started: the message
  pid_t pid = -1;
  os::UniqueFd output;  // read end of its stdout and stderr

  RunningHelper() = default;
  RunningHelper(RunningHelper&& o) noexcept
      : name(std::move(o.name)),
        subid_file(std::move(o.subid_file)),
        error(std::move(o.error)),
        pid(std::exchange(o.pid, -1)),
        output(std::move(o.output)) {}
  RunningHelper& operator=(RunningHelper&&) = delete;
  // Not finished (the other one could not be started): reaped, never left.
  ~RunningHelper() {
    if (pid >= 0)
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
  }
};

const char* const kInstallHelpers =
    "install the \"uidmap\" package (`apt-get install uidmap`; `dnf install shadow-utils` on Fedora)";

std::string not_found(const std::string& name) {
  return name + " not found: " + kInstallHelpers;
}

RunningHelper start_helper(const std::string& name, const std::string& found, pid_t child,
                           const std::vector<IdMapping>& map, const std::string& subid_file, const IdMapOptions& opts) {
  RunningHelper h;
  h.name = name;
  h.subid_file = subid_file;
  std::optional<std::string> path = found.empty() ? find_helper(name, opts) : found;
  if (!path) {
    h.error = not_found(name);
    return h;
  }

  std::vector<std::string> args{name, std::to_string(child)};
  for (const IdMapping& m : map) {
    args.push_back(std::to_string(m.container_id));
    args.push_back(std::to_string(m.host_id));
    args.push_back(std::to_string(m.size));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) os::throw_errno("run " + os::quote(*path) + ": pipe");
  h.output.reset(fds[0]);
  os::UniqueFd wr(fds[1]);

  // stdin /dev/null; stdout and stderr into the pipe; nothing else inherited.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  int err = ::posix_spawn(&h.pid, path->c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) os::throw_errno(err, "run " + os::quote(*path));
  return h;
}

// Its output and exit status: "" when it succeeded, else the message.
std::string finish_helper(RunningHelper& h) {
  if (h.pid < 0) return h.error;
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(h.output.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 65536) output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(h.pid, &status, 0) < 0) {
    if (errno != EINTR) os::throw_errno("wait for " + h.name);
  }
  h.pid = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};

  std::string msg = first_line(output);
  if (msg.empty()) msg = "no message";
  if (WIFSIGNALED(status))
    return h.name + " killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
           "): " + msg;
  return h.name + " failed (exit status " + std::to_string(WEXITSTATUS(status)) + "): " + msg + "; check " +
         h.subid_file;
}

void write_map_file(const std::string& path, const std::string& what, const std::string& text) {
  try {
    os::write_file(path, text);
  } catch (...) {
    std::string shown = trim(text);
    for (char& c : shown)
      if (c == '\n') c = ',';
    os::rethrow_with_context("write the " + what + " map (" + shown + ")");
  }
}

void write_setgroups_deny(const std::string& proc_dir) {
  try {
    os::write_file(proc_dir + "/setgroups", "deny");
  } catch (const os::SystemError& e) {
    if (e.err() == ENOENT) return;  // kernels before 3.19 have no setgroups file
    os::rethrow_with_context("deny setgroups in the user namespace");
  }
}

}  // namespace

std::optional<std::string> find_helper(const std::string& name, const IdMapOptions& opts) {
  std::string search;
  if (opts.search_path) {
    search = *opts.search_path;
  } else if (const char* env = std::getenv("PATH")) {
    search = env;
  }
  size_t pos = 0;
  while (pos <= search.size()) {
    size_t colon = search.find(':', pos);
    if (colon == std::string::npos) colon = search.size();
    std::string dir = search.substr(pos, colon - pos);
    pos = colon + 1;
    // A setuid helper found through a relative PATH entry would depend on
    // the working directory: skip those.
    if (dir.empty() || dir.front() != '/') continue;
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  if (!opts.fallback_dir.empty()) {
    std::string candidate = opts.fallback_dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return std::nullopt;
}

std::string check_helpers(MappingPlan& plan, const IdMapOptions& opts) {
  if (!plan.use_helpers) return {};
  std::string missing;
  if (auto p = find_helper("newuidmap", opts))
    plan.newuidmap_path = *p;
  else
    missing = "newuidmap";
  if (auto p = find_helper("newgidmap", opts))
    plan.newgidmap_path = *p;
  else if (missing.empty())
    missing = "newgidmap";
  if (missing.empty()) return {};
  if (plan.fallback_to_single) {
    use_single_mapping(plan, true, true);
    return not_found(missing);
  }
  const std::string own = describe_map({{plan.own_container_uid, plan.own_uid, 1}});
  const std::string own_gid = describe_map({{plan.own_container_gid, plan.own_gid, 1}});
  if (!plan.rrun_chose)
    throw os::Error(missing + " not found: linux.uidMappings and linux.gidMappings map more than your own id, " +
                    "which only newuidmap and newgidmap can do; " + kInstallHelpers +
                    ", or map only your own ids (uid " + own + ", gid " + own_gid + ")");
  throw os::Error(missing + " not found: process.user needs more than a single mapping of your own id (uid " + own +
                  ", gid " + own_gid + "), which only newuidmap and newgidmap can give; " + kInstallHelpers +
                  ", or run as your own id (uid " + std::to_string(plan.own_container_uid) + ")");
}

std::string write_id_maps(pid_t child, MappingPlan& plan, const IdMapOptions& opts) {
  const std::string proc_dir = opts.proc_root + "/" + std::to_string(child);
  if (!plan.use_helpers) {
    if (plan.deny_setgroups) write_setgroups_deny(proc_dir);
    write_map_file(proc_dir + "/gid_map", "gid", plan.gid_map_text());
    write_map_file(proc_dir + "/uid_map", "uid", plan.uid_map_text());
    return {};
  }

  std::string reason;
  auto note = [&reason](const std::string& r) { reason += (reason.empty() ? "" : "; ") + r; };

  // Both at once: each is a setuid program that execs and links five
  // libraries (1-3 ms), and they write different files. (posix_spawn
  // returns once the first has exec'd; starting the second earlier gained
  // nothing where exec work does not run in parallel: README Performance
  // 9.) The uid map's result is
  // looked at first, so that a missing uidmap package is reported as
  // "newuidmap not found", the name users know.
  RunningHelper uid_helper = start_helper("newuidmap", plan.newuidmap_path, child, plan.uid_map, "/etc/subuid", opts);
  RunningHelper gid_helper = start_helper("newgidmap", plan.newgidmap_path, child, plan.gid_map, "/etc/subgid", opts);
  std::string uid_error = finish_helper(uid_helper);
  std::string gid_error = finish_helper(gid_helper);
  if (!uid_error.empty()) {
    if (!plan.fallback_to_single) throw os::Error(uid_error);
    use_single_mapping(plan, true, false);
    write_map_file(proc_dir + "/uid_map", "uid", plan.uid_map_text());
    note(uid_error + "; mapped only uid " + std::to_string(plan.own_uid));
  }
  if (!gid_error.empty()) {
    if (!plan.fallback_to_single) throw os::Error(gid_error);
    use_single_mapping(plan, false, true);
    write_setgroups_deny(proc_dir);
    write_map_file(proc_dir + "/gid_map", "gid", plan.gid_map_text());
    note(gid_error + "; mapped only gid " + std::to_string(plan.own_gid));
  }
  return reason;
}

}  // namespace rrun::userns
