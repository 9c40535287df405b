// The commands about rrun itself: help, completion, and the text of
// `rrun --version`.

#include <rrun/cgroups/systemd.hpp>
#include <rrun/core/version.hpp>
#include <rrun/os/error.hpp>
#include <rrun/userns/idmap.hpp>
#include <rrun/userns/subid.hpp>

#include "commands.hpp"
#include "help.hpp"

namespace rrun::cli {

// `git describe` of the source tree at build time (packaging/cmake/commit.cmake).
extern const char* const kCommit;

int cmd_help(const Invocation& inv) {
  if (inv.has("man")) {
    std::string dir = inv.get("man");
    if (dir.empty()) throw os::Error("help: --man needs a directory");
    if (!inv.args.empty()) throw os::Error("help: --man writes every page; leave out \"" + inv.args[0] + "\"");
    try {
      write_man_pages(dir);
    } catch (const std::exception&) {
      os::rethrow_with_context("help: write the man pages");
    }
    return 0;
  }
  if (inv.args.empty()) {
    print(global_usage());
    return 0;
  }
  const CommandSpec* cmd = find_command(inv.args[0]);
  if (!cmd) throw os::Error("help: unknown command \"" + inv.args[0] + "\"; see `rrun help`");
  print(command_usage(*cmd));
  return 0;
}

int cmd_completion(const Invocation& inv) {
  print(completion_script(inv.args[0]));
  return 0;
}

// What this build finds at run time, as runc and crun print it. The
// libraries rrun loads on demand are loaded here to tell (a few
// milliseconds, and never on the container path).
std::string version_text(const std::string& criu_flag) {
  std::string out = std::string("rrun version ") + core::rrun_version() + "\ncommit: " + kCommit +
                    "\nspec: " + core::spec_version() + "\nlibseccomp: " + core::libseccomp_version() + "\n";
  out += std::string("libsubid: ") + (userns::libsubid_loadable() ? "found" : "not found (install libsubid4)") + "\n";
  std::string why;
  out +=
      "libsystemd: " + (cgroups::libsystemd_loadable(&why) ? std::string("found") : "not found (" + why + ")") + "\n";
  std::optional<std::string> criu;
  if (!criu_flag.empty())
    criu = criu_flag;
  else
    criu = userns::find_helper("criu", {std::nullopt, "/usr/sbin", "/proc"});
  out += "criu: " + (criu ? *criu : std::string("not found (install criu)")) + "\n";
  return out;
}

}  // namespace rrun::cli
