// `checkpoint` and `restore` (runc's flags): parse into a core request, one
// core call (core/checkpoint.cpp), print nothing on success.

#include <initializer_list>
#include <utility>

#include <rrun/core/container.hpp>
#include <rrun/os/error.hpp>

#include "commands.hpp"

namespace rrun::cli {

namespace {

// Flags runc has that rrun cannot honour: refused, naming the flag.
void refuse_flags(const Invocation& inv, std::initializer_list<std::pair<const char*, const char*>> flags) {
  for (const auto& [name, why] : flags) {
    if (!inv.has(name)) continue;
    if (inv.get(name) == "false") continue;
    throw os::Error(inv.command + ": --" + name + " is not supported by rrun: " + why);
  }
}

constexpr const char* kLazy =
    "CRIU's lazy migration needs its page server and lazy-pages daemon, which rrun does not run; leave it out";

core::CriuOptions criu_options(const Invocation& inv) {
  core::CriuOptions o;
  o.criu = inv.global.criu;
  o.image_path = inv.get("image-path", "checkpoint");  // runc: ./checkpoint
  if (o.image_path.empty()) o.image_path = "checkpoint";
  o.work_path = inv.get("work-path");
  o.tcp_established = inv.get_bool("tcp-established");
  o.tcp_skip_in_flight = inv.get_bool("tcp-skip-in-flight");
  o.link_remap = inv.get_bool("link-remap");
  o.ext_unix_sk = inv.get_bool("ext-unix-sk");
  o.shell_job = inv.get_bool("shell-job");
  o.file_locks = inv.get_bool("file-locks");
  o.auto_dedup = inv.get_bool("auto-dedup");
  o.manage_cgroups_mode = inv.get("manage-cgroups-mode");
  o.empty_ns = inv.get_list("empty-ns");
  return o;
}

}  // namespace

int cmd_checkpoint(const Invocation& inv) {
  refuse_flags(inv, {{"lazy-pages", kLazy},
                     {"status-fd", "it goes with --lazy-pages"},
                     {"page-server", "images are written to --image-path only"}});
  core::CheckpointRequest req;
  req.id = inv.args.at(0);
  req.criu = criu_options(inv);
  req.parent_path = inv.get("parent-path");
  req.leave_running = inv.get_bool("leave-running");
  req.pre_dump = inv.get_bool("pre-dump");
  core::checkpoint_container(command_context(inv, true), req);
  return 0;
}

int cmd_restore(const Invocation& inv) {
  refuse_flags(inv, {{"lazy-pages", kLazy},
                     {"lsm-profile", "the restored process keeps the profile it was checkpointed with"},
                     {"lsm-mount-context", "the rootfs keeps the context of the bundle's config"}});
  core::RestoreRequest req;
  req.id = inv.args.at(0);
  req.criu = criu_options(inv);
  req.bundle = inv.get("bundle", ".");
  req.detach = inv.get_bool("detach");
  req.pid_file = inv.get("pid-file");
  req.no_subreaper = inv.get_bool("no-subreaper");
  req.no_pivot = inv.get_bool("no-pivot");
  req.console_socket = inv.get("console-socket");
  return core::restore_container(command_context(inv, true), req);
}

}  // namespace rrun::cli
