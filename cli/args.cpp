#include "args.hpp"

#include <cerrno>
#include <cstdlib>

#include <rrun/os/error.hpp>
#include <rrun/os/text.hpp>

namespace rrun::cli {

namespace {

constexpr FlagKind B = FlagKind::boolean;
constexpr FlagKind V = FlagKind::value;
constexpr FlagKind L = FlagKind::list;

const char* const kConsoleSocket =
    "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's "
    "pseudoterminal";
const char* const kPidfdSocket = "path to an AF_UNIX socket which will receive a pidfd of the container's process";
const char* const kPreserveFds =
    "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)";

std::vector<CommandSpec> build_table() {
  const FlagSpec bundle{"bundle", "b", V,
                        "path to the root of the bundle directory, defaults to the current directory"};
  const FlagSpec pid_file{"pid-file", nullptr, V, "specify the file to write the process id to"};
  const FlagSpec console_socket{"console-socket", nullptr, V, kConsoleSocket};
  const FlagSpec pidfd_socket{"pidfd-socket", nullptr, V, kPidfdSocket};
  const FlagSpec preserve_fds{"preserve-fds", nullptr, V, kPreserveFds};
  const FlagSpec no_pivot{"no-pivot", nullptr, B,
                          "do not use pivot root to jail process inside rootfs (for a rootfs on a ramdisk)"};
  const FlagSpec no_new_keyring{"no-new-keyring", nullptr, B, "do not create a new session keyring for the container"};
  const FlagSpec no_subreaper{"no-subreaper", nullptr, B,
                              "disable the use of the subreaper used to reap reparented processes"};
  const FlagSpec detach{"detach", "d", B, "detach from the container's process"};
  const FlagSpec sandbox_file{"file", "f", V,
                              "a YAML sandbox file to run instead of a bundle (README \"YAML sandboxes\"); the ID "
                              "defaults to its name"};
  const FlagSpec init{"init", nullptr, B,
                      "run rrun's init as the container's PID 1: it runs the process as its child, forwards every "
                      "signal to it and reaps orphans (--init=false: not even when the annotation rrun.init asks)"};
  const FlagSpec empty_ns{"empty-ns", nullptr, L, "create a namespace, but don't restore its properties"};
  // Per-task changes to a sandbox file (README "Per-task overrides"), for
  // `run -f`, `create -f` and `spec --from`; a command goes after `--`.
  const std::vector<FlagSpec> sandbox_overrides{
      {"env", "e", L, "with a sandbox file: set NAME=VALUE, or NAME to the host's value (left out where unset)"},
      {"env-file", nullptr, L, "with a sandbox file: read NAME=VALUE and NAME lines from a file (# comments)"},
      {"volume", "v", L, "with a sandbox file: bind-mount SRC:DST[:ro|rw] (SRC relative to the current directory)"},
      {"tty", "t", B, "with a sandbox file: give the process a terminal (instead of `tty:`)"},
      {"no-tty", nullptr, B, "with a sandbox file: no terminal (instead of `tty:`)"}};
  const FlagSpec name_suffix{"name-suffix", nullptr, V,
                             "with -f and no ID: the ID is NAME-SUFFIX (distinct IDs for the tasks of a job)"};
  auto with_overrides = [&](std::vector<FlagSpec> flags, bool suffix) {
    flags.insert(flags.end(), sandbox_overrides.begin(), sandbox_overrides.end());
    if (suffix) flags.push_back(name_suffix);
    return flags;
  };
  // Getting an image (README "Images"): `pull`, `unpack`, and a sandbox's
  // `image:` or `run --image` pulling on first use.
  const std::vector<FlagSpec> pull_flags{
      {"tls-verify", nullptr, B,
       "verify the registry's TLS certificate and refuse plain HTTP (--tls-verify=false: a local registry)"},
      {"cert-dir", nullptr, V, "a directory of CA certificates (*.crt) for the registry"},
      {"authfile", nullptr, V,
       "the registry credentials file, as `podman login` writes it (default: $REGISTRY_AUTH_FILE, "
       "$XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)"},
      {"creds", nullptr, V, "USER:PASSWORD for the registry"},
      {"quiet", "q", B, "no progress while pulling and unpacking"}};
  const FlagSpec image{"image", nullptr, V,
                       "run an image (docker://, oci:, oci-archive:, docker-archive:) as a sandbox with only "
                       "`image:`; the ID defaults to the image's name"};
  auto with_pull = [&](std::vector<FlagSpec> flags) {
    flags.insert(flags.end(), pull_flags.begin(), pull_flags.end());
    return flags;
  };

  std::vector<CommandSpec> t;
  t.push_back({"checkpoint",
               "<container-id>",
               "checkpoint a running container",
               {{"image-path", nullptr, V, "path for saving criu image files"},
                {"work-path", nullptr, V, "path for saving work files and logs"},
                {"parent-path", nullptr, V, "path for previous criu image files in pre-dump"},
                {"leave-running", nullptr, B, "leave the process running after checkpointing"},
                {"tcp-established", nullptr, B, "allow open tcp connections"},
                {"tcp-skip-in-flight", nullptr, B, "skip in-flight tcp connections"},
                {"link-remap", nullptr, B, "allow one to link unlinked files back when possible"},
                {"ext-unix-sk", nullptr, B, "allow external unix sockets"},
                {"shell-job", nullptr, B, "allow shell jobs"},
                {"lazy-pages", nullptr, B, "use userfaultfd to lazily restore memory pages"},
                {"status-fd", nullptr, V, "criu writes \\0 to this FD once lazy-pages is ready"},
                {"page-server", nullptr, V, "ADDRESS:PORT of the page server"},
                {"file-locks", nullptr, B, "handle file locks, for safety"},
                {"pre-dump", nullptr, B, "dump container's memory information only, leave the container running"},
                {"manage-cgroups-mode", nullptr, V, "cgroups mode: soft (default), ignore, full and strict"},
                empty_ns,
                {"auto-dedup", nullptr, B, "enable auto deduplication of memory images"}},
               1,
               1});
  t.push_back({"completion",
               "bash|zsh|fish",
               "print a shell completion script: commands, flags and the container IDs of --root",
               {},
               1,
               1});
  t.push_back({"create",
               "<container-id> | -f FILE.yaml [container-id] [-- COMMAND ARGS...] | --image REF [container-id] [-- "
               "COMMAND ARGS...]",
               "create a container",
               with_pull(with_overrides({bundle, sandbox_file, image, console_socket, pidfd_socket, pid_file, no_pivot,
                                         no_new_keyring, preserve_fds, init},
                                        true)),
               1, 1, false, "file|image", "file|image"});
  t.push_back({"delete",
               "<container-id>",
               "delete any resources held by the container, often used with detached containers",
               {{"force", "f", B, "forcibly delete the container if it is still running (uses SIGKILL)"}},
               1,
               1});
  t.push_back({"doctor",
               "",
               "check what rootless containers need on this host",
               {{"format", "f", V, "select one of: text or json (default: text)"}},
               0,
               0});
  t.push_back({"events",
               "<container-id>",
               "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
               {{"interval", nullptr, V, "set the stats collection interval (default 5s)"},
                {"stats", nullptr, B, "display the container's stats then exit"}},
               1,
               1});
  t.push_back({"exec",
               "<container-id> <command> [command options]  || -p process.json <container-id>",
               "execute new process inside the container",
               {console_socket,
                pidfd_socket,
                {"cwd", nullptr, V, "current working directory in the container"},
                {"env", "e", L, "set environment variables"},
                {"tty", "t", B, "allocate a pseudo-TTY"},
                {"user", "u", V, "UID (format: <uid>[:<gid>])"},
                {"additional-gids", "g", L, "additional gids"},
                {"process", "p", V, "path to the process.json"},
                detach,
                pid_file,
                {"process-label", nullptr, V, "set the asm process label for the process commonly used with selinux"},
                {"apparmor", nullptr, V, "set the apparmor profile for the process"},
                {"no-new-privs", nullptr, B, "set the no new privileges value for the process"},
                {"cap", "c", L, "add a capability to the bounding set for the process"},
                preserve_fds,
                {"cgroup", nullptr, L, "run the process in an (existing) sub-cgroup(s)"},
                {"ignore-paused", nullptr, B, "allow exec in a paused container"},
                no_subreaper},
               1,
               -1,
               true});
  t.push_back({"features", "", "show the enabled features", {}, 0, 0});
  t.push_back({"help",
               "[command]",
               "show rrun's help, or a command's",
               {{"man", nullptr, V,
                 "write the man pages instead: rrun.1 and rrun-COMMAND.1 into DIR/man1, rrun-sandbox.5 into DIR/man5"}},
               0,
               1});
  t.push_back({"images",
               "",
               "list the images in rrun's store: name, id, size, when pulled and last used",
               {{"format", "f", V, "select one of: table or json (default: table)"},
                {"quiet", "q", B, "display only image IDs"}},
               0,
               0});
  t.push_back({"kill",
               "<container-id> [signal]",
               "kill sends the specified signal (default: the image's StopSignal, else SIGTERM) to the container's "
               "init process",
               {{"all", "a", B, "send the specified signal to all processes inside the container"}},
               1,
               2});
  t.push_back({"list",
               "",
               "lists containers started by rrun with the given root",
               {{"format", "f", V, "select one of: table or json (default: table)"},
                {"quiet", "q", B, "display only container IDs"}},
               0,
               0});
  t.push_back({"pause", "<container-id>", "pause suspends all processes inside the container", {}, 1, 1});
  t.push_back(
      {"prune", "", "free the space of rrun's store that no image uses (blobs, unpacked layers, leftovers)", {}, 0, 0});
  t.push_back({"ps",
               "<container-id> [ps options]",
               "ps displays the processes running inside a container",
               {{"format", "f", V, "select one of: table or json (default: table)"}},
               1,
               -1,
               true});
  t.push_back({"restore",
               "<container-id>",
               "restore a container from a previous checkpoint",
               {console_socket,
                {"image-path", nullptr, V, "path to criu image files for restoring"},
                {"work-path", nullptr, V, "path for saving work files and logs"},
                {"tcp-established", nullptr, B, "allow open tcp connections"},
                {"ext-unix-sk", nullptr, B, "allow external unix sockets"},
                {"shell-job", nullptr, B, "allow shell jobs"},
                {"file-locks", nullptr, B, "handle file locks, for safety"},
                {"manage-cgroups-mode", nullptr, V, "cgroups mode: soft (default), ignore, full and strict"},
                bundle,
                detach,
                pid_file,
                no_subreaper,
                no_pivot,
                empty_ns,
                {"auto-dedup", nullptr, B, "enable auto deduplication of memory images"},
                {"lazy-pages", nullptr, B, "use userfaultfd to lazily restore memory pages"},
                {"lsm-profile", nullptr, V, "apply the given LSM profile (type:label) to the restored process"},
                {"lsm-mount-context", nullptr, V, "mount context for the restored container's rootfs"}},
               1,
               1});
  t.push_back({"pull", "<image>",
               "pull an image into rrun's store (docker://HOST/NAME:TAG, oci:DIR[:TAG], oci-archive:FILE[:TAG], "
               "docker-archive:FILE) and print its id",
               pull_flags, 1, 1});
  t.push_back({"resume", "<container-id>", "resumes all processes that have been previously paused", {}, 1, 1});
  t.push_back(
      {"rmi", "<image|id>...", "remove images from rrun's store (`rrun prune` then frees their space)", {}, 1, -1});
  t.push_back({"run",
               "<container-id> | -f FILE.yaml [container-id] [-- COMMAND ARGS...] | --image REF [container-id] [-- "
               "COMMAND ARGS...]",
               "create and run a container",
               with_pull(with_overrides({bundle,
                                         console_socket,
                                         pidfd_socket,
                                         detach,
                                         {"keep", nullptr, B, "do not delete the container after it exits"},
                                         pid_file,
                                         no_subreaper,
                                         no_pivot,
                                         no_new_keyring,
                                         preserve_fds,
                                         sandbox_file,
                                         image,
                                         init},
                                        true)),
               1, 1, false, "file|image", "file|image"});
  t.push_back({"spec", "[--from FILE.yaml [-- COMMAND ARGS...]]", "create a new specification file (config.json)",
               with_pull(with_overrides(
                   {bundle,
                    {"rootless", nullptr, B, "generate a configuration for a rootless container"},
                    {"from", nullptr, V, "translate a YAML sandbox file (README \"YAML sandboxes\") instead"}},
                   false)),
               0, 0, false, nullptr, "from"});
  t.push_back({"start", "<container-id>", "executes the user defined process in a created container", {}, 1, 1});
  t.push_back({"state", "<container-id>", "output the state of a container", {}, 1, 1});
  t.push_back(
      {"unpack", "<image> <directory>",
       "write an image as a bundle: DIRECTORY/config.json from its config and DIRECTORY/rootfs, for `rrun run -b`",
       pull_flags, 2, 2});
  t.push_back({"update",
               "<container-id>",
               "update container resource constraints",
               {{"resources", "r", V, "path to a file with the resources to update, or - for the standard input"},
                {"blkio-weight", nullptr, V, "per cgroup weight, range is from 10 to 1000"},
                {"cpu-period", nullptr, V, "CPU CFS period to be used for hardcapping (in usecs)"},
                {"cpu-quota", nullptr, V, "CPU CFS hardcap limit (in usecs); allowed cpu time in a given period"},
                {"cpu-burst", nullptr, V, "CPU CFS hardcap burst limit (in usecs)"},
                {"cpu-share", nullptr, V, "CPU shares (relative weight vs. other containers)"},
                {"cpu-shares", nullptr, V, "the same as --cpu-share"},
                {"cpu-rt-period", nullptr, V, "CPU realtime period to be used for hardcapping (in usecs)"},
                {"cpu-rt-runtime", nullptr, V, "CPU realtime hardcap limit (in usecs)"},
                {"cpuset-cpus", nullptr, V, "CPU(s) to use"},
                {"cpuset-mems", nullptr, V, "memory node(s) to use"},
                {"cpu-idle", nullptr, V, "set cgroup SCHED_IDLE or not, 0: default, 1: SCHED_IDLE"},
                {"kernel-memory", nullptr, V, "kernel memory limit (in bytes)"},
                {"kernel-memory-tcp", nullptr, V, "kernel memory limit (in bytes) for tcp buffer"},
                {"memory", nullptr, V, "memory limit (in bytes)"},
                {"memory-reservation", nullptr, V, "memory reservation or soft_limit (in bytes)"},
                {"memory-swap", nullptr, V, "total memory usage (memory + swap); -1 for unlimited swap"},
                {"pids-limit", nullptr, V, "maximum number of pids allowed in the container"},
                {"l3-cache-schema", nullptr, V, "the string of Intel RDT/CAT L3 cache schema"},
                {"mem-bw-schema", nullptr, V, "the string of Intel RDT/MBA memory bandwidth schema"}},
               1,
               1});
  return t;
}

std::vector<FlagSpec> build_globals() {
  return {
      {"debug", nullptr, B, "enable debug logging"},
      {"log", nullptr, V, "set the log file to write rrun logs to (default is '/dev/stderr')"},
      {"log-format", nullptr, V, "set the log format ('text' (default), or 'json')"},
      {"root", nullptr, V,
       "root directory for storage of container state (default: /run/rrun, or $XDG_RUNTIME_DIR/rrun, or "
       "/tmp/rrun-$UID when rootless)"},
      {"criu", nullptr, V, "path to the criu binary used for checkpoint and restore"},
      {"systemd-cgroup", nullptr, B,
       "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\""},
      {"rootless", nullptr, V, "ignore cgroup permission errors ('true', 'false', or 'auto')"},
      {"help", "h", B, "show help"},
      {"version", "v", B, "print the version"},
  };
}

// Go's strconv.ParseBool.
std::optional<bool> parse_bool(std::string_view v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") return false;
  return std::nullopt;
}

struct FlagToken {
  std::string name;  // without dashes
  std::optional<std::string> value;
  std::string shown;  // as typed, before '='
};

bool looks_like_flag(const std::string& tok) {
  return tok.size() > 1 && tok[0] == '-';
}

FlagToken split_flag(const std::string& tok) {
  FlagToken f;
  size_t dashes = tok.compare(0, 2, "--") == 0 ? 2 : 1;
  std::string body = tok.substr(dashes);
  auto eq = body.find('=');
  if (eq != std::string::npos) {
    f.value = body.substr(eq + 1);
    body.resize(eq);
  }
  f.name = body;
  f.shown = tok.substr(0, dashes) + body;
  return f;
}

const FlagSpec* find_flag(const std::vector<FlagSpec>& table, const std::string& name) {
  if (name.empty() || name[0] == '-') return nullptr;
  for (const auto& f : table)
    if (name == f.name || (f.alias && name == f.alias)) return &f;
  return nullptr;
}

std::string plural(int n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// Reads the value of a flag: from `--name=value` or the next token.
std::string take_value(const std::string& where, const FlagToken& f, const FlagSpec& spec,
                       const std::vector<std::string>& toks, size_t& i) {
  if (f.value) return *f.value;
  if (i + 1 >= toks.size())
    throw os::Error(where + "flag --" + spec.name + " needs a value; see `rrun " +
                    (where.empty() ? std::string("--help") : where.substr(0, where.size() - 2) + " --help") + "`");
  return toks[++i];
}

bool take_bool(const std::string& where, const FlagToken& f) {
  if (!f.value) return true;
  auto b = parse_bool(*f.value);
  if (!b)
    throw os::Error(where + "invalid value \"" + *f.value + "\" for flag " + f.shown + ": expected true or false");
  return *b;
}

// The first of the `|`-separated flag names `names` that `inv` has, or "".
std::string given_of(const char* names, const Invocation& inv) {
  if (!names) return "";
  for (const std::string& n : os::split(names, '|'))
    if (inv.has(n)) return n;
  return "";
}

// `run -f FILE.yaml [ID] [-- CMD ARGS...]`: at most max_args before `--`
// (none needed: the file names the sandbox); a command without `--` is
// refused, since its first word would be taken for the ID.
void check_args_before_command(const CommandSpec& cmd, const Invocation& inv) {
  std::vector<std::string> before = inv.args_before_dashdash();
  if (static_cast<int>(before.size()) <= cmd.max_args) return;
  std::string given = given_of(cmd.command_after_dashdash_with, inv);
  std::string flag = given == "from" ? "--from FILE.yaml" : given == "image" ? "--image REF" : "-f FILE.yaml";
  std::string id = cmd.max_args > 0 ? " [ID]" : "";
  throw os::Error(inv.command + ": " + (cmd.max_args > 0 ? "more than one argument" : "an argument") + " (\"" +
                  before[static_cast<size_t>(cmd.max_args)] + "\") with " + flag +
                  "; put the command after `--`: rrun " + inv.command + " " + flag + id + " -- COMMAND ARGS...");
}

void set_global(GlobalOptions& g, const FlagSpec& spec, const std::string& value) {
  std::string n = spec.name;
  if (n == "debug")
    g.debug = value == "true";
  else if (n == "log")
    g.log = value;
  else if (n == "log-format")
    g.log_format = value;
  else if (n == "root")
    g.root = value;
  else if (n == "criu")
    g.criu = value;
  else if (n == "systemd-cgroup")
    g.systemd_cgroup = value == "true";
  else if (n == "rootless")
    g.rootless = value;
  else if (n == "help")
    g.help = value == "true";
  else if (n == "version")
    g.version = value == "true";
}

}  // namespace

const std::vector<CommandSpec>& command_table() {
  static const std::vector<CommandSpec> table = build_table();
  return table;
}

const std::vector<FlagSpec>& global_flag_table() {
  static const std::vector<FlagSpec> table = build_globals();
  return table;
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& c : command_table())
    if (name == c.name) return &c;
  return nullptr;
}

std::string Invocation::get(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return fallback;
  return it->second.back();
}

bool Invocation::get_bool(const std::string& name) const {
  return get(name, "false") == "true";
}

std::vector<std::string> Invocation::get_list(const std::string& name) const {
  auto it = flags.find(name);
  return it == flags.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> Invocation::args_before_dashdash() const {
  return dashdash ? std::vector<std::string>(args.begin(), args.begin() + static_cast<long>(*dashdash)) : args;
}

std::optional<std::vector<std::string>> Invocation::args_after_dashdash() const {
  if (!dashdash) return std::nullopt;
  return std::vector<std::string>(args.begin() + static_cast<long>(*dashdash), args.end());
}

std::optional<long long> Invocation::get_int(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  std::string v = get(name);
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno == ERANGE || n < 0)
    throw os::Error(command + ": invalid value \"" + v + "\" for flag --" + name + ": expected a non-negative number");
  return n;
}

Invocation parse_args(const std::vector<std::string>& toks) {
  Invocation inv;
  size_t i = 0;
  // Global flags, up to the command.
  for (; i < toks.size(); ++i) {
    const std::string& tok = toks[i];
    if (tok == "--") {
      ++i;
      break;
    }
    if (!looks_like_flag(tok)) break;
    FlagToken f = split_flag(tok);
    const FlagSpec* spec = find_flag(global_flag_table(), f.name);
    if (!spec) {
      std::string hint = "see `rrun --help`";
      for (const auto& c : command_table())
        if (find_flag(c.flags, f.name)) hint = "command flags go after the command; see `rrun --help`";
      throw os::Error("unknown global flag " + f.shown + "; " + hint);
    }
    if (spec->kind == FlagKind::boolean)
      set_global(inv.global, *spec, take_bool("", f) ? "true" : "false");
    else
      set_global(inv.global, *spec, take_value("", f, *spec, toks, i));
  }
  if (inv.global.rootless != "auto") {
    // runc's parseBoolOrAuto: "auto" or a Go boolean.
    auto b = parse_bool(inv.global.rootless);
    if (!b) throw os::Error("invalid --rootless value \"" + inv.global.rootless + "\": use true, false or auto");
    inv.global.rootless = *b ? "true" : "false";
  }
  if (i >= toks.size()) return inv;

  inv.command = toks[i++];
  const CommandSpec* cmd = find_command(inv.command);
  if (!cmd) throw os::Error("unknown command \"" + inv.command + "\"; see `rrun --help`");
  std::string where = inv.command + ": ";

  bool flags_ended = false;
  for (; i < toks.size(); ++i) {
    const std::string& tok = toks[i];
    if (!flags_ended && tok == "--") {
      flags_ended = true;
      inv.dashdash = inv.args.size();
      continue;
    }
    if (flags_ended || !looks_like_flag(tok)) {
      inv.args.push_back(tok);
      if (cmd->args_end_flags && !flags_ended) {
        flags_ended = true;
        if (i + 1 < toks.size() && toks[i + 1] == "--") ++i;  // `exec ID -- CMD`
      }
      continue;
    }
    FlagToken f = split_flag(tok);
    if (f.name == "help" || f.name == "h") {
      inv.help = take_bool(where, f);
      continue;
    }
    const FlagSpec* spec = find_flag(cmd->flags, f.name);
    if (!spec) {
      std::string hint = "see `rrun " + inv.command + " --help`";
      if (find_flag(global_flag_table(), f.name))
        hint = "global flags go before the command: `rrun " + f.shown + " ... " + inv.command + "`";
      throw os::Error(where + "unknown flag " + f.shown + "; " + hint);
    }
    auto& values = inv.flags[spec->name];
    if (spec->kind == FlagKind::boolean) {
      values.assign(1, take_bool(where, f) ? "true" : "false");
    } else {
      std::string v = take_value(where, f, *spec, toks, i);
      if (spec->kind == FlagKind::value) values.clear();
      values.push_back(std::move(v));
    }
  }

  if (inv.help) return inv;
  bool trailing_command = !given_of(cmd->command_after_dashdash_with, inv).empty();
  if (trailing_command) check_args_before_command(*cmd, inv);
  if (!trailing_command && !(!given_of(cmd->args_optional_with, inv).empty() && inv.args.empty())) {
    int n = static_cast<int>(inv.args.size());
    std::string usage = "; usage: rrun " + inv.command + " [flags] " + cmd->args_usage;
    if (cmd->min_args == cmd->max_args && n != cmd->min_args) {
      if (cmd->min_args == 0) throw os::Error(where + "takes no arguments, got \"" + inv.args[0] + "\"" + usage);
      throw os::Error(where + "expected exactly " + plural(cmd->min_args, "argument") + ", got " + std::to_string(n) +
                      usage);
    }
    if (n < cmd->min_args)
      throw os::Error(where + "expected at least " + plural(cmd->min_args, "argument") + ", got " + std::to_string(n) +
                      usage);
    if (cmd->max_args >= 0 && n > cmd->max_args)
      throw os::Error(where + "expected at most " + plural(cmd->max_args, "argument") + ", got " + std::to_string(n) +
                      usage);
  }
  return inv;
}

GlobalOptions scan_global_options(const std::vector<std::string>& toks) noexcept {
  GlobalOptions g;
  try {
    for (size_t i = 0; i < toks.size() && looks_like_flag(toks[i]) && toks[i] != "--"; ++i) {
      FlagToken f = split_flag(toks[i]);
      const FlagSpec* spec = find_flag(global_flag_table(), f.name);
      if (!spec) continue;
      if (spec->kind == FlagKind::boolean) {
        auto b = f.value ? parse_bool(*f.value) : std::optional<bool>(true);
        set_global(g, *spec, b.value_or(false) ? "true" : "false");
      } else if (f.value) {
        set_global(g, *spec, *f.value);
      } else if (i + 1 < toks.size()) {
        set_global(g, *spec, toks[++i]);
      }
    }
  } catch (...) {
  }
  return g;
}

Invocation parse_args(int argc, const char* const* argv) {
  std::vector<std::string> toks;
  for (int k = 1; k < argc; ++k) toks.emplace_back(argv[k]);
  return parse_args(toks);
}

}  // namespace rrun::cli
