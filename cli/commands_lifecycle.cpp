// The lifecycle verbs: create, start, run, kill, delete. Each parses its
// flags into a core request, makes one core call, and prints nothing on
// success (as runc).

#include <csignal>

#include <rrun/core/container.hpp>
#include <rrun/os/error.hpp>
#include <rrun/spec/parse.hpp>

#include "commands.hpp"
#include "sandbox.hpp"

namespace rrun::cli {

namespace {

core::Context context(const Invocation& inv) {
  return command_context(inv, true);
}

core::CreateRequest create_request(const Invocation& inv) {
  core::CreateRequest req;
  if (inv.has("file")) {
    // A YAML sandbox: translated now, so that a bad file creates nothing;
    // the bundle is generated under the state directory (core/container.hpp).
    if (inv.has("bundle"))
      throw os::Error(inv.command + ": --file and --bundle can't be used together (a sandbox file is its own bundle)");
    Sandbox sb = load_sandbox(inv.get("file"), current_sandbox_host(is_rootless(inv)));
    req.id = inv.args.empty() ? sb.name : inv.args[0];
    req.generated_config = spec::serialize_spec(sb.spec, true);
    req.generated_files = std::move(sb.files);
  } else {
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

int cmd_create(const Invocation& inv) {
  core::create_container(context(inv), create_request(inv));
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
  return core::run_container(context(inv), req);
}

int cmd_kill(const Invocation& inv) {
  int sig = inv.args.size() > 1 ? core::parse_signal(inv.args[1]) : SIGTERM;
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
