#pragma once
// The CLI verbs. A verb is: Invocation -> one core call -> print; it returns
// the exit status and reports errors by throwing (main prints them).
// To add a command: write `int cmd_NAME(const Invocation&)` in a
// commands_*.cpp and point its row of the table in dispatch.cpp at it.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <rrun/core/container.hpp>
#include <rrun/core/state.hpp>

#include "args.hpp"

namespace rrun::cli {

struct SandboxOverrides;
struct SandboxImage;
using ImageResolver = std::function<SandboxImage(const std::string& ref, bool rootless, const std::string& driver)>;

using CommandFn = int (*)(const Invocation&);

// The handler of a command of command_table(); never null for those.
CommandFn find_handler(std::string_view command);

int cmd_spec(const Invocation& inv);
int cmd_state(const Invocation& inv);
int cmd_list(const Invocation& inv);
// commands_lifecycle.cpp
int cmd_create(const Invocation& inv);
int cmd_start(const Invocation& inv);
int cmd_run(const Invocation& inv);
int cmd_kill(const Invocation& inv);
int cmd_delete(const Invocation& inv);
int cmd_exec(const Invocation& inv);
// commands_cgroup.cpp
int cmd_pause(const Invocation& inv);
int cmd_resume(const Invocation& inv);
int cmd_ps(const Invocation& inv);
int cmd_update(const Invocation& inv);
int cmd_checkpoint(const Invocation& inv);
int cmd_restore(const Invocation& inv);
int cmd_events(const Invocation& inv);
// commands_doctor.cpp
int cmd_doctor(const Invocation& inv);
int cmd_features(const Invocation& inv);
// commands_image.cpp
int cmd_pull(const Invocation& inv);
int cmd_images(const Invocation& inv);
int cmd_rmi(const Invocation& inv);
int cmd_prune(const Invocation& inv);
int cmd_unpack(const Invocation& inv);
// Throws os::Error("<command>: not implemented yet").
int cmd_not_implemented(const Invocation& inv);

// Whether this invocation runs rootless (--rootless, else detection).
bool is_rootless(const Invocation& inv);
// The state store of --root (or the default). `create`: make the root
// directory if missing (commands that write); read-only commands pass false.
core::StateStore open_store(const Invocation& inv, bool create);

// Root acting on containers in a --root that another user owns (slurmstepd
// runs oci.conf's RunTimeQuery and RunTimeDelete as root on the user's
// --root) becomes that user first: the user wrote every state file there,
// and as root rrun would trust none of them (core::check_not_foreign); as
// the owner it trusts them and can do no more than the user could. For the
// commands that act on existing containers; throws if the switch fails.
void act_as_state_owner(const Invocation& inv);

// The command line's changes to a sandbox file (`-e`, `--env-file`, `-v`,
// `--tty`, `--no-tty`, the command after `--`) of `run -f`, `create -f` and
// `spec --from` (`file_flag`); an error when they are given without it.
SandboxOverrides sandbox_overrides(const Invocation& inv, const char* file_flag);

// The images of the store (Store::default_root) for a sandbox's `image:`
// and `run --image`, with the pull flags of `inv` (commands_image.cpp).
// A cached image is looked up without libcurl, libarchive or libcrypto.
ImageResolver image_resolver(const Invocation& inv);

// The container ID `run --image REF` takes by default: the image's name
// (debian for docker://debian:bookworm, the directory's for oci:DIR).
std::string image_sandbox_name(const std::string& ref);

// The pull flags (--tls-verify, --cert-dir, --authfile, --creds, --quiet)
// are for images: an error when given without -f, --image or --from.
void refuse_pull_flags_without_image(const Invocation& inv);

// Creates `path` (which must not exist) with `text`; `exists` is the error
// when it does.
void write_new_file(const std::string& path, const std::string& text, const std::string& exists);

// Go's text/tabwriter as runc configures it (minwidth 12, padding 3,
// spaces): every column but the last as wide as its widest cell plus 3.
std::string tabulate(const std::vector<std::vector<std::string>>& rows);

// The core::Context of the global flags; `create_root` as for open_store.
core::Context command_context(const Invocation& inv, bool create_root);

// commands_help.cpp
int cmd_help(const Invocation& inv);
int cmd_completion(const Invocation& inv);
// The text `rrun --version` prints: versions, the commit, and what this
// build finds at run time (libsubid, libsystemd, criu: `criu_flag` or PATH).
std::string version_text(const std::string& criu_flag = "");

// Writes `text` to stdout; throws os::SystemError on failure (EPIPE...).
void print(std::string_view text);
// An exception's message as main prints it after "rrun: ": one printable
// line whatever the message holds. A message that spans lines
// (a helper's stderr) is joined with spaces; any other control character left
// in it (one no os::quote escaped: a name formatted in the container's init,
// a library's text) is escaped.
std::string printable_error(const std::string& what);

}  // namespace rrun::cli
