// The command line: cli::parse_args over an argv split from the input (one
// argument per line, as the shell would have passed them), and the scan of
// the global flags that runs before it.

#include <exception>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "fuzz.hpp"

namespace cli = rrun::cli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = rrun::fuzz::as_text(data, size);
  std::vector<std::string> args;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    args.emplace_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  (void)cli::scan_global_options(args);
  try {
    cli::Invocation inv = cli::parse_args(args);
    // What the commands read back from it.
    for (const auto& [name, values] : inv.flags) {
      (void)inv.get(name);
      (void)inv.get_bool(name);
      (void)inv.get_list(name);
      try {
        (void)inv.get_int(name);
      } catch (const std::exception&) {
      }
    }
    (void)inv.args_before_dashdash();
    (void)inv.args_after_dashdash();
    if (const cli::CommandSpec* c = cli::find_command(inv.command)) (void)cli::command_usage(*c);
  } catch (const std::exception&) {
  }
  return 0;
}
