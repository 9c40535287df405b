// rrun: parse, configure logging, run one command, print the one error line.

#include <unistd.h>

#include <exception>
#include <string>
#include <vector>

#include <rrun/core/log.hpp>
#include <rrun/os/fault.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"

namespace {

void report_error(const std::string& what) {
  const std::string msg = rrun::cli::printable_error(what);
  rrun::core::log_error(msg);
  const std::string line = "rrun: " + msg + "\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

// Best effort: send a parse error to --log too.
void configure_log_leniently(const std::vector<std::string>& args) {
  try {
    rrun::cli::GlobalOptions g = rrun::cli::scan_global_options(args);
    rrun::core::set_log({g.log, rrun::core::parse_log_format(g.log_format), g.debug});
  } catch (...) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rrun;
  os::init_fault_points();
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  cli::Invocation inv;
  try {
    inv = cli::parse_args(args);
  } catch (const std::exception& e) {
    configure_log_leniently(args);
    report_error(e.what());
    return 1;
  }
  try {
    const cli::GlobalOptions& g = inv.global;
    core::set_log({g.log, core::parse_log_format(g.log_format), g.debug});
    if (g.version) {
      cli::print(cli::version_text(g.criu));
      return 0;
    }
    if (g.help || inv.command.empty()) {
      cli::print(cli::global_usage());
      return 0;
    }
    if (inv.help) {
      cli::print(cli::command_usage(*cli::find_command(inv.command)));
      return 0;
    }
    core::log_debug("command " + inv.command);
    cli::act_as_state_owner(inv);
    return cli::find_handler(inv.command)(inv);
  } catch (const std::exception& e) {
    report_error(e.what());
    return 1;
  }
}
