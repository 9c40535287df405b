#pragma once
// runc-compatible argument parsing, table driven (no CLI11: startup time, and
// urfave/cli's exact rules):
//   rrun [global flags] COMMAND [flags and args in any order]
// - a flag is `--name` or `-name` (Go accepts one or two dashes for every
//   flag, long or short: `-root X`, `--b X`);
// - a value flag takes `--name value` or `--name=value`;
// - a boolean is `--name` or `--name=true|false` (also 1/0, t/f as Go);
// - a list flag (exec --env, --cap) may repeat and collects every value;
// - `--` ends the flags, and so does the first argument of `exec` and `ps`
//   (whose trailing arguments belong to the command: runc's SkipArgReorder);
// - global flags go before the command only.
// Errors are os::Error with one-line messages such as
//   create: unknown flag --foo; see `rrun create --help`

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrun::cli {

enum class FlagKind { boolean, value, list };

struct FlagSpec {
  const char* name;   // long name, without dashes
  const char* alias;  // short alias ("b"), or nullptr
  FlagKind kind;
  const char* help;
};

struct CommandSpec {
  const char* name;
  const char* args_usage;  // "<container-id>"
  const char* summary;
  std::vector<FlagSpec> flags;
  int min_args = 0;
  int max_args = 0;             // -1: unbounded
  bool args_end_flags = false;  // exec, ps: everything after the first argument is an argument
  // With this flag given (or one of "a|b"), the arguments may be left out
  // (`run -f FILE.yaml` takes its ID from the file).
  const char* args_optional_with = nullptr;
  // With this flag given (or one of "a|b"), what follows `--` is a command
  // for the container (`run -f FILE.yaml [ID] -- CMD ARGS...`), not counted
  // as arguments.
  const char* command_after_dashdash_with = nullptr;
};

// Every runc command, in runc's order.
const std::vector<CommandSpec>& command_table();
const CommandSpec* find_command(std::string_view name);
// The global flags.
const std::vector<FlagSpec>& global_flag_table();

struct GlobalOptions {
  std::string root;                 // --root, empty when absent
  std::string log;                  // --log
  std::string log_format = "text";  // --log-format
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";  // --rootless auto|true|false
  std::string criu;               // --criu: the criu binary of checkpoint/restore
  bool version = false;           // --version / -v
  bool help = false;              // --help / -h
};

struct Invocation {
  GlobalOptions global;
  std::string command;  // empty: none given (only global flags)
  // Command flags by long name, in the order given. Booleans hold "true" or
  // "false"; value flags every value given (the last one wins); list flags
  // every value.
  std::map<std::string, std::vector<std::string>> flags;
  std::vector<std::string> args;
  // How many of `args` came before a `--` that ended the flags (unset: no
  // `--`); with CommandSpec::command_after_dashdash_with the rest is the
  // trailing command.
  std::optional<size_t> dashdash;
  bool help = false;  // `COMMAND --help`

  bool has(const std::string& name) const { return flags.count(name) != 0; }
  // The last value of a value flag, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // A boolean flag: false when absent.
  bool get_bool(const std::string& name) const;
  // Every value of a list flag (empty when absent).
  std::vector<std::string> get_list(const std::string& name) const;
  // A non-negative integer value flag (`--preserve-fds 3`); throws os::Error.
  std::optional<long long> get_int(const std::string& name) const;
  // The arguments before `--` (all of them without one), and those after it.
  std::vector<std::string> args_before_dashdash() const;
  std::optional<std::vector<std::string>> args_after_dashdash() const;
};

// Parses the arguments after argv[0]. Checks the number of positional
// arguments unless --help was given. Throws os::Error.
Invocation parse_args(const std::vector<std::string>& args);
Invocation parse_args(int argc, const char* const* argv);

// The global flags before the command, skipping whatever does not parse:
// used to find --log and --log-format when parse_args() failed, so that the
// error still reaches the log file.
GlobalOptions scan_global_options(const std::vector<std::string>& args) noexcept;

// Help texts (help.cpp).
std::string global_usage();
std::string command_usage(const CommandSpec& cmd);

}  // namespace rrun::cli
