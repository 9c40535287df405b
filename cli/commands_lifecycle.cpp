// The lifecycle verbs: create, start, run, kill, delete. Each parses its
// flags into a core request, makes one core call, and prints nothing on
// success (as runc).

#include <unistd.h>

#include <csignal>

#include <rrun/core/container.hpp>
#include <rrun/core/state.hpp>
#include <rrun/os/error.hpp>
#include <rrun/spec/parse.hpp>

#include "commands.hpp"
#include "sandbox.hpp"

namespace rrun::cli {

namespace {

core::Context context(const Invocation& inv) {
  return command_context(inv, true);
}

// The flags of SandboxOverrides and --name-suffix, as the user writes them.
const std::pair<const char*, const char*> kSandboxFlags[] = {{"env", "-e"},          {"env-file", "--env-file"},
                                                             {"volume", "-v"},       {"tty", "--tty"},
                                                             {"no-tty", "--no-tty"}, {"name-suffix", "--name-suffix"}};

// The ID of a sandbox: the argument, else NAME-SUFFIX with --name-suffix,
// else the file's name.
std::string sandbox_id(const Invocation& inv, const std::string& name) {
  std::vector<std::string> ids = inv.args_before_dashdash();
  if (!inv.has("name-suffix")) return ids.empty() ? name : ids[0];
  if (!ids.empty())
    throw os::Error(inv.command + ": an ID (\"" + ids[0] + "\") and --name-suffix can't be used together");
  return name + "-" + inv.get("name-suffix");
}

// `tty: true` gives the process a terminal that only a foreground `run`
// feeds, from its own standard input: from anything but a terminal the
// process would wait for input forever (podman run -t warns). Refused
// before anything is made. `create` and `run -d` hand the terminal to
// --console-socket, as with a bundle, and without one are refused too.
void check_sandbox_terminal(const Invocation& inv, const spec::Spec& s) {
  if (!s.process->terminal || inv.has("console-socket")) return;
  std::string what =
      inv.get_bool("tty") || !inv.has("file") ? std::string("--tty") : "`tty: true` in " + inv.get("file");
  if (inv.command == "create")
    throw os::Error("create: " + what + " needs --console-socket to hand the terminal to; use --no-tty");
  if (inv.get_bool("detach"))
    throw os::Error("run -d: " + what +
                    ": a detached sandbox can't keep a terminal without --console-socket; use --no-tty "
                    "(`rrun exec -t ID sh` gives a terminal later)");
  if (!::isatty(STDIN_FILENO))
    throw os::Error("run: " + what + ", but the standard input is not a terminal; use --no-tty");
}

// A YAML sandbox: translated now, so that a bad file creates nothing; the
// bundle is generated under the state directory (core/container.hpp).
void sandbox_request(const Invocation& inv, core::CreateRequest& req) {
  const char* flag = inv.has("file") ? "--file" : "--image";
  if (inv.has("bundle"))
    throw os::Error(inv.command + ": " + flag + " and --bundle can't be used together (a sandbox is its own bundle)");
  if (inv.has("file") && inv.has("image"))
    throw os::Error(inv.command + ": --file and --image can't be used together; put `image:` in the file");
  SandboxHost host = current_sandbox_host(is_rootless(inv));
  host.image = image_resolver(inv);
  SandboxOverrides overrides = sandbox_overrides(inv, "file");
  Sandbox sb = inv.has("file")
                   ? load_sandbox(inv.get("file"), host, overrides)
                   : translate_image_sandbox(inv.get("image"), image_sandbox_name(inv.get("image")), host, overrides);
  check_sandbox_terminal(inv, sb.spec);
  req.id = sandbox_id(inv, sb.name);
  req.generated_config = spec::serialize_spec(sb.spec, true);
  req.generated_files = std::move(sb.files);
}

// The sandbox's ID came from its file or image (no ID, no --name-suffix).
bool id_from_file(const Invocation& inv) {
  return (inv.has("file") || inv.has("image")) && inv.args_before_dashdash().empty() && !inv.has("name-suffix");
}

// A sandbox named by its file whose name is taken: say how to name another.
[[noreturn]] void rethrow_with_id_hint(const Invocation& inv, const core::ContainerExists& e) {
  if (!id_from_file(inv)) throw e;
  throw os::Error(std::string(e.what()) + "; give another ID (rrun " + inv.command +
                  (inv.has("file") ? " -f FILE.yaml" : " --image REF") + " ID) or --name-suffix SUFFIX");
}

// `run -f` in the foreground without an ID, as the tasks of a job do
// (`srun rrun run -f job.yaml`): the sandbox's name, else NAME-PID (our
// pid: distinct between the tasks on one node), else NAME-PID-2, ... . A
// name taken meanwhile by another task is found by create's exclusive
// mkdir (ContainerExists), and the next one is tried.
int run_under_free_id(const core::Context& ctx, core::RunRequest req) {
  const std::string name = req.create.id;
  const std::string pid = std::to_string(::getpid());
  constexpr int kAttempts = 100;
  for (int attempt = 1;; ++attempt) {
    try {
      return core::run_container(ctx, req);
    } catch (const core::ContainerExists&) {
      if (attempt == kAttempts) throw;
    }
    req.create.id = name + "-" + pid + (attempt == 1 ? "" : "-" + std::to_string(attempt));
  }
}

core::CreateRequest create_request(const Invocation& inv) {
  core::CreateRequest req;
  refuse_pull_flags_without_image(inv);
  if (inv.has("file") || inv.has("image")) {
    sandbox_request(inv, req);
  } else {
    sandbox_overrides(inv, "file");  // refused without -f
    req.id = inv.args.at(0);
    req.bundle = inv.get("bundle", ".");
  }
  req.pid_file = inv.get("pid-file");
  req.console_socket = inv.get("console-socket");
  req.no_pivot = inv.get_bool("no-pivot");
  req.no_new_keyring = inv.get_bool("no-new-keyring");
  if (auto n = inv.get_int("preserve-fds")) req.preserve_fds = static_cast<unsigned>(*n);
  if (inv.has("init")) req.init = inv.get_bool("init");
  return req;
}

}  // namespace

SandboxOverrides sandbox_overrides(const Invocation& inv, const char* file_flag) {
  std::string with = std::string(file_flag) == "from" ? "--from FILE.yaml" : "-f FILE.yaml or --image REF";
  if (!inv.has(file_flag) && !(std::string(file_flag) == "file" && inv.has("image"))) {
    for (const auto& [name, shown] : kSandboxFlags)
      if (inv.has(name))
        throw os::Error(inv.command + ": " + shown + " is for sandbox files (" + with +
                        "); a bundle's config.json is used as it is");
    return {};
  }
  if (inv.has("tty") && inv.has("no-tty")) throw os::Error(inv.command + ": --tty and --no-tty can't be used together");
  SandboxOverrides o;
  o.command = inv.args_after_dashdash();
  o.env_files = inv.get_list("env-file");
  o.env = inv.get_list("env");
  o.volumes = inv.get_list("volume");
  if (inv.has("tty")) o.tty = inv.get_bool("tty");
  if (inv.has("no-tty")) o.tty = !inv.get_bool("no-tty");
  return o;
}

int cmd_create(const Invocation& inv) {
  core::CreateRequest req = create_request(inv);
  try {
    core::create_container(context(inv), req);
  } catch (const core::ContainerExists& e) {
    rethrow_with_id_hint(inv, e);
  }
  return 0;
}

int cmd_start(const Invocation& inv) {
  core::start_container(context(inv), inv.args.at(0));
  return 0;
}

int cmd_run(const Invocation& inv) {
  core::RunRequest req;
  req.create = create_request(inv);
  req.detach = inv.get_bool("detach");
  req.keep = inv.get_bool("keep");
  if (id_from_file(inv) && !req.detach) return run_under_free_id(context(inv), req);
  try {
    return core::run_container(context(inv), req);
  } catch (const core::ContainerExists& e) {
    rethrow_with_id_hint(inv, e);
  }
}

int cmd_kill(const Invocation& inv) {
  // No signal: the container's stop signal (an image's StopSignal), else SIGTERM.
  std::optional<int> sig;
  if (inv.args.size() > 1) sig = core::parse_signal(inv.args[1]);
  core::kill_container(context(inv), inv.args.at(0), sig, inv.get_bool("all"));
  return 0;
}

int cmd_exec(const Invocation& inv) {
  core::ExecRequest req;
  req.id = inv.args.at(0);
  req.args.assign(inv.args.begin() + 1, inv.args.end());
  req.process_file = inv.get("process");
  req.cwd = inv.get("cwd");
  req.env = inv.get_list("env");
  req.tty = inv.get_bool("tty");
  req.user = inv.get("user");
  req.additional_gids = inv.get_list("additional-gids");
  req.caps = inv.get_list("cap");
  req.no_new_privs = inv.get_bool("no-new-privs");
  req.apparmor = inv.get("apparmor");
  req.process_label = inv.get("process-label");
  req.cgroup = inv.get_list("cgroup");
  req.detach = inv.get_bool("detach");
  req.pid_file = inv.get("pid-file");
  req.console_socket = inv.get("console-socket");
  if (auto n = inv.get_int("preserve-fds")) req.preserve_fds = static_cast<unsigned>(*n);
  req.ignore_paused = inv.get_bool("ignore-paused");
  return core::exec_container(context(inv), req);
}

int cmd_delete(const Invocation& inv) {
  core::delete_container(context(inv), inv.args.at(0), inv.get_bool("force"));
  return 0;
}

}  // namespace rrun::cli
