#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <vector>

#include <cli/args.hpp>
#include <rrun/os/error.hpp>

using namespace rrun;
using cli::parse_args;
using Args = std::vector<std::string>;

namespace {

std::string error_of(const Args& args) {
  try {
    parse_args(args);
  } catch (const os::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_args)

BOOST_AUTO_TEST_CASE(global_flags) {
  auto inv = parse_args(Args{"--root", "/r", "--log", "/l", "--log-format", "json", "--debug", "--systemd-cgroup",
                             "--rootless", "true", "--criu", "/c", "state", "c1"});
  BOOST_TEST(inv.global.root == "/r");
  BOOST_TEST(inv.global.log == "/l");
  BOOST_TEST(inv.global.log_format == "json");
  BOOST_TEST(inv.global.debug);
  BOOST_TEST(inv.global.systemd_cgroup);
  BOOST_TEST(inv.global.rootless == "true");
  BOOST_TEST(inv.global.criu == "/c");
  BOOST_TEST(inv.command == "state");
  BOOST_TEST(inv.args == Args{"c1"}, boost::test_tools::per_element());

  // =value, Go's single-dash long form, defaults.
  inv = parse_args(Args{"--root=/r", "-log", "/l", "-log-format=json", "-debug=false", "list"});
  BOOST_TEST(inv.global.root == "/r");
  BOOST_TEST(inv.global.log == "/l");
  BOOST_TEST(inv.global.log_format == "json");
  BOOST_TEST(!inv.global.debug);
  BOOST_TEST(inv.global.rootless == "auto");
  BOOST_TEST(!inv.global.systemd_cgroup);

  BOOST_TEST(parse_args(Args{"--version"}).global.version);
  BOOST_TEST(parse_args(Args{"-v"}).global.version);
  BOOST_TEST(parse_args(Args{"-h"}).global.help);
  BOOST_TEST(parse_args(Args{"--help"}).global.help);
  BOOST_TEST(parse_args(Args{}).command.empty());
  // `--` ends the global flags.
  BOOST_TEST(parse_args(Args{"--root", "/r", "--", "list"}).command == "list");
}

BOOST_AUTO_TEST_CASE(flags_before_or_after_the_id) {
  for (const Args& a :
       {Args{"create", "c1", "-b", "/b"}, Args{"create", "-b", "/b", "c1"}, Args{"create", "--bundle", "/b", "c1"},
        Args{"create", "--bundle=/b", "c1"}, Args{"create", "c1", "-bundle=/b"}, Args{"create", "-bundle", "/b", "c1"},
        Args{"create", "--b", "/b", "c1"}, Args{"create", "-b=/b", "c1"},
        Args{"create", "-b", "/old", "c1", "--bundle", "/b"}}) {
    auto inv = parse_args(a);
    BOOST_TEST(inv.command == "create");
    BOOST_TEST(inv.get("bundle") == "/b");
    BOOST_TEST(inv.args == Args{"c1"}, boost::test_tools::per_element());
  }
  // Slurm's oci.conf style.
  auto inv = parse_args(Args{"--root", "/r", "create", "job1", "--bundle", "/b", "--pid-file", "/p", "--no-pivot"});
  BOOST_TEST(inv.get("pid-file") == "/p");
  BOOST_TEST(inv.get_bool("no-pivot"));
  BOOST_TEST(!inv.get_bool("no-new-keyring"));
  BOOST_TEST(!inv.has("console-socket"));
  BOOST_TEST(inv.get("console-socket", "none") == "none");
}

BOOST_AUTO_TEST_CASE(booleans) {
  BOOST_TEST(parse_args(Args{"run", "-d", "c"}).get_bool("detach"));
  BOOST_TEST(parse_args(Args{"run", "--detach=true", "c"}).get_bool("detach"));
  BOOST_TEST(!parse_args(Args{"run", "--detach=false", "c"}).get_bool("detach"));
  BOOST_TEST(!parse_args(Args{"run", "-d=0", "c"}).get_bool("detach"));
  BOOST_TEST(parse_args(Args{"run", "-d=T", "c"}).get_bool("detach"));
  BOOST_TEST(parse_args(Args{"delete", "-f", "c"}).get_bool("force"));
  BOOST_TEST(parse_args(Args{"kill", "-a", "c", "KILL"}).get_bool("all"));
  // --init: given (either way) or absent, for the annotation to decide.
  BOOST_TEST(parse_args(Args{"run", "--init", "c"}).get_bool("init"));
  BOOST_TEST(parse_args(Args{"create", "c", "--init"}).get_bool("init"));
  auto off = parse_args(Args{"run", "--init=false", "c"});
  BOOST_TEST((off.has("init") && !off.get_bool("init")));
  BOOST_TEST(!parse_args(Args{"run", "c"}).has("init"));
  BOOST_TEST(error_of(Args{"run", "--detach=maybe", "c"}) ==
             "run: invalid value \"maybe\" for flag --detach: expected true or false");
  // A boolean takes no separate value: "false" is an argument (as in Go).
  BOOST_TEST(error_of(Args{"run", "--detach", "false", "c"}).find("expected exactly 1 argument, got 2") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(lists_and_numbers) {
  auto inv = parse_args(Args{"exec", "--env", "A=1", "-e", "B=2", "-e=C=3", "--cap", "CAP_SYS_ADMIN", "-c",
                             "CAP_NET_RAW", "-u", "1000:1000", "-g", "10", "--preserve-fds", "2", "c", "sh"});
  BOOST_TEST(inv.get_list("env") == (Args{"A=1", "B=2", "C=3"}), boost::test_tools::per_element());
  BOOST_TEST(inv.get_list("cap") == (Args{"CAP_SYS_ADMIN", "CAP_NET_RAW"}), boost::test_tools::per_element());
  BOOST_TEST(inv.get("user") == "1000:1000");
  BOOST_TEST(inv.get_list("additional-gids") == Args{"10"}, boost::test_tools::per_element());
  BOOST_TEST(*inv.get_int("preserve-fds") == 2);
  BOOST_TEST(inv.get_list("cwd").empty());
  BOOST_CHECK(!inv.get_int("pid-file"));
  BOOST_CHECK_THROW(parse_args(Args{"create", "--preserve-fds", "x", "c"}).get_int("preserve-fds"), os::Error);
  BOOST_CHECK_THROW(parse_args(Args{"create", "--preserve-fds=-1", "c"}).get_int("preserve-fds"), os::Error);
  // A value may start with a dash, and "-" alone is a value.
  BOOST_TEST(parse_args(Args{"update", "-r", "-", "c"}).get("resources") == "-");
  BOOST_TEST(parse_args(Args{"create", "--pid-file", "-weird", "c"}).get("pid-file") == "-weird");
}

BOOST_AUTO_TEST_CASE(exec_and_ps_keep_the_command_arguments) {
  auto inv = parse_args(Args{"exec", "-t", "--cwd", "/w", "c", "sh", "-c", "echo hi", "--env", "X"});
  BOOST_TEST(inv.get_bool("tty"));
  BOOST_TEST(inv.get("cwd") == "/w");
  BOOST_TEST(!inv.has("cap"));
  BOOST_TEST(!inv.has("env"));
  BOOST_TEST(inv.args == (Args{"c", "sh", "-c", "echo hi", "--env", "X"}), boost::test_tools::per_element());
  inv = parse_args(Args{"exec", "c", "--", "ls", "-l"});
  BOOST_TEST(inv.args == (Args{"c", "ls", "-l"}), boost::test_tools::per_element());
  inv = parse_args(Args{"exec", "-p", "/proc.json", "c"});
  BOOST_TEST(inv.get("process") == "/proc.json");
  inv = parse_args(Args{"ps", "-f", "json", "c", "-ef"});
  BOOST_TEST(inv.get("format") == "json");
  BOOST_TEST(inv.args == (Args{"c", "-ef"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(double_dash_ends_flags) {
  auto inv = parse_args(Args{"kill", "--", "-c", "9"});
  BOOST_TEST(inv.args == (Args{"-c", "9"}), boost::test_tools::per_element());
  inv = parse_args(Args{"create", "-b", "/b", "--", "-a"});
  BOOST_TEST(inv.args == Args{"-a"}, boost::test_tools::per_element());
  BOOST_TEST(inv.get("bundle") == "/b");
}

BOOST_AUTO_TEST_CASE(errors) {
  BOOST_TEST(error_of(Args{"create", "c", "--foo"}) == "create: unknown flag --foo; see `rrun create --help`");
  BOOST_TEST(error_of(Args{"create", "-x", "c"}) == "create: unknown flag -x; see `rrun create --help`");
  BOOST_TEST(error_of(Args{"create", "c", "-b"}) == "create: flag --bundle needs a value; see `rrun create --help`");
  BOOST_TEST(error_of(Args{"--root"}) == "flag --root needs a value; see `rrun --help`");
  BOOST_TEST(error_of(Args{"--foo", "list"}) == "unknown global flag --foo; see `rrun --help`");
  BOOST_TEST(error_of(Args{"--bundle", "x", "create"}) ==
             "unknown global flag --bundle; command flags go after the command; see `rrun --help`");
  BOOST_TEST(error_of(Args{"list", "--root", "/r"}) ==
             "list: unknown flag --root; global flags go before the command: `rrun --root ... list`");
  BOOST_TEST(error_of(Args{"frobnicate"}) == "unknown command \"frobnicate\"; see `rrun --help`");
  BOOST_TEST(error_of(Args{"state"}) ==
             "state: expected exactly 1 argument, got 0; usage: rrun state [flags] <container-id>");
  BOOST_TEST(error_of(Args{"state", "a", "b"}).find("expected exactly 1 argument, got 2") != std::string::npos);
  BOOST_TEST(error_of(Args{"list", "x"}).find("list: takes no arguments") == 0u);
  BOOST_TEST(error_of(Args{"kill", "c", "KILL", "x"}).find("expected at most 2 arguments, got 3") != std::string::npos);
  BOOST_TEST(error_of(Args{"exec"}).find("expected at least 1 argument, got 0") != std::string::npos);
  BOOST_TEST(error_of(Args{"---root", "/r", "list"}).find("unknown global flag") == 0u);
  BOOST_TEST(error_of(Args{"kill", "c", "KILL"}).empty());
  BOOST_TEST(error_of(Args{"--rootless", "maybe", "list"}) ==
             "invalid --rootless value \"maybe\": use true, false or auto");
  BOOST_TEST(parse_args(Args{"--rootless=1", "list"}).global.rootless == "true");
  BOOST_TEST(parse_args(Args{"--rootless", "FALSE", "list"}).global.rootless == "false");
}

BOOST_AUTO_TEST_CASE(command_help_skips_the_argument_check) {
  auto inv = parse_args(Args{"create", "--help"});
  BOOST_TEST(inv.help);
  inv = parse_args(Args{"state", "-h"});
  BOOST_TEST(inv.help);
  BOOST_TEST(cli::command_usage(*cli::find_command("create")).find("--bundle, -b value") != std::string::npos);
  BOOST_TEST(cli::global_usage().find("checkpoint") != std::string::npos);
}

// Every flag of every runc command is known, by its long name and its alias.
BOOST_AUTO_TEST_CASE(every_command_and_flag_parses) {
  const char* runc_commands[] = {"checkpoint", "create", "delete", "events", "exec",    "features",
                                 "kill",       "list",   "pause",  "ps",     "restore", "resume",
                                 "run",        "spec",   "start",  "state",  "update"};
  for (const char* name : runc_commands) BOOST_CHECK_MESSAGE(cli::find_command(name), name);
  for (const auto& cmd : cli::command_table()) {
    for (const auto& f : cmd.flags) {
      for (const char* spelling : {f.name, f.alias}) {
        if (!spelling) continue;
        Args a{cmd.name, std::string("--") + spelling};
        if (f.kind != cli::FlagKind::boolean) a.push_back("v");
        for (int k = 0; k < cmd.min_args; ++k) a.push_back("id");
        BOOST_TEST_INFO(cmd.name << " --" << spelling);
        BOOST_CHECK_NO_THROW(parse_args(a));
        auto inv = parse_args(a);
        BOOST_CHECK(inv.has(f.name));
      }
    }
  }
  // The flags DESIGN.md names.
  auto has_flag = [](const char* cmd, const char* flag) {
    for (const auto& f : cli::find_command(cmd)->flags)
      if (std::string(f.name) == flag) return true;
    return false;
  };
  for (auto [cmd, flag] : std::vector<std::pair<const char*, const char*>>{{"create", "bundle"},
                                                                           {"create", "pid-file"},
                                                                           {"create", "console-socket"},
                                                                           {"create", "no-pivot"},
                                                                           {"create", "no-new-keyring"},
                                                                           {"create", "preserve-fds"},
                                                                           {"run", "detach"},
                                                                           {"run", "keep"},
                                                                           {"kill", "all"},
                                                                           {"delete", "force"},
                                                                           {"exec", "tty"},
                                                                           {"exec", "detach"},
                                                                           {"exec", "process"},
                                                                           {"exec", "pid-file"},
                                                                           {"exec", "console-socket"},
                                                                           {"exec", "cwd"},
                                                                           {"exec", "env"},
                                                                           {"exec", "user"},
                                                                           {"exec", "cap"},
                                                                           {"exec", "no-new-privs"},
                                                                           {"ps", "format"},
                                                                           {"events", "stats"},
                                                                           {"events", "interval"},
                                                                           {"update", "resources"},
                                                                           {"update", "memory"},
                                                                           {"update", "pids-limit"},
                                                                           {"update", "cpu-quota"},
                                                                           {"list", "quiet"},
                                                                           {"list", "format"},
                                                                           {"spec", "rootless"},
                                                                           {"spec", "bundle"}}) {
    BOOST_CHECK_MESSAGE(has_flag(cmd, flag), cmd << " --" << flag);
  }
}

BOOST_AUTO_TEST_CASE(lenient_global_scan) {
  auto g = cli::scan_global_options(Args{"--log", "/l", "--bogus", "--log-format=json", "create", "--log", "/x"});
  BOOST_TEST(g.log == "/l");
  BOOST_TEST(g.log_format == "json");
  g = cli::scan_global_options(Args{"--log"});
  BOOST_TEST(g.log.empty());
}

BOOST_AUTO_TEST_CASE(sandbox_file_makes_the_id_optional) {
  auto inv = parse_args(Args{"run", "-f", "dev.yaml"});
  BOOST_TEST(inv.get("file") == "dev.yaml");
  BOOST_TEST(inv.args.empty());
  inv = parse_args(Args{"create", "--file=dev.yaml", "other"});
  BOOST_TEST(inv.get("file") == "dev.yaml");
  BOOST_TEST(inv.args == std::vector<std::string>{"other"});
  BOOST_TEST(error_of({"run"}).rfind("run: expected exactly 1 argument, got 0", 0) == 0);
  // A command goes after `--`: without it, its first word would be the ID.
  BOOST_TEST(error_of({"run", "-f", "a.yaml", "x", "y"}) ==
             "run: more than one argument (\"y\") with -f FILE.yaml; put the command after `--`: rrun run -f "
             "FILE.yaml [ID] -- COMMAND ARGS...");
  BOOST_TEST(error_of({"spec", "--from", "a.yaml", "x"}) ==
             "spec: an argument (\"x\") with --from FILE.yaml; put the command after `--`: rrun spec --from FILE.yaml "
             "-- COMMAND ARGS...");
  // Without -f, `--` only ends the flags (runc's command line).
  BOOST_TEST(error_of({"run", "--", "x", "y"}).rfind("run: expected exactly 1 argument, got 2", 0) == 0);
  inv = parse_args(Args{"spec", "--from", "dev.yaml", "-b", "out"});
  BOOST_TEST(inv.get("from") == "dev.yaml");
  BOOST_TEST(inv.get("bundle") == "out");
  BOOST_TEST(error_of({"start", "-f", "a.yaml"}).rfind("start: unknown flag -f", 0) == 0);
}

BOOST_AUTO_TEST_CASE(sandbox_command_after_dashdash_and_overrides) {
  auto inv = parse_args(Args{"run", "-f", "job.yaml", "-e", "A=1", "--env=B", "-v", "x:/y:ro", "--env-file", "f",
                             "--no-tty", "--name-suffix", "3", "--", "./task", "-e", "--", "7"});
  BOOST_TEST(inv.args_before_dashdash().empty());
  BOOST_TEST(*inv.args_after_dashdash() == (std::vector<std::string>{"./task", "-e", "--", "7"}));
  BOOST_TEST(inv.get_list("env") == (std::vector<std::string>{"A=1", "B"}));
  BOOST_TEST(inv.get_list("volume") == std::vector<std::string>{"x:/y:ro"});
  BOOST_TEST(inv.get_list("env-file") == std::vector<std::string>{"f"});
  BOOST_TEST(inv.get_bool("no-tty"));
  BOOST_TEST(inv.get("name-suffix") == "3");
  inv = parse_args(Args{"create", "-f", "job.yaml", "id", "--", "sh"});
  BOOST_TEST(inv.args_before_dashdash() == std::vector<std::string>{"id"});
  BOOST_TEST(*inv.args_after_dashdash() == std::vector<std::string>{"sh"});
  inv = parse_args(Args{"run", "-f", "job.yaml", "id"});
  BOOST_TEST(!inv.args_after_dashdash());
  inv = parse_args(Args{"spec", "--from", "job.yaml", "-t", "--", "/bin/true"});
  BOOST_TEST(inv.get_bool("tty"));
  BOOST_TEST(*inv.args_after_dashdash() == std::vector<std::string>{"/bin/true"});
  BOOST_TEST(error_of({"spec", "--name-suffix", "x"}).rfind("spec: unknown flag --name-suffix", 0) == 0);
}

BOOST_AUTO_TEST_CASE(image_commands_and_run_image) {
  auto inv = parse_args(
      Args{"pull", "--tls-verify=false", "--cert-dir", "/c", "--authfile", "/a", "--creds", "u:p", "-q", "oci:/l:v1"});
  BOOST_TEST(!inv.get_bool("tls-verify"));
  BOOST_TEST(inv.has("tls-verify"));
  BOOST_TEST(inv.get("cert-dir") == "/c");
  BOOST_TEST(inv.get("authfile") == "/a");
  BOOST_TEST(inv.get("creds") == "u:p");
  BOOST_TEST(inv.get_bool("quiet"));
  BOOST_TEST(inv.args == std::vector<std::string>{"oci:/l:v1"});
  BOOST_TEST(error_of({"pull"}).rfind("pull: expected exactly 1 argument, got 0", 0) == 0);
  BOOST_TEST(parse_args(Args{"images", "--format", "json", "-q"}).get("format") == "json");
  BOOST_TEST(parse_args(Args{"rmi", "a", "b", "c"}).args.size() == 3u);
  BOOST_TEST(error_of({"rmi"}).rfind("rmi: expected at least 1 argument, got 0", 0) == 0);
  BOOST_TEST(error_of({"prune", "x"}).rfind("prune: takes no arguments", 0) == 0);
  inv = parse_args(Args{"unpack", "--tls-verify=false", "docker://127.0.0.1:5000/x:y", "dir"});
  BOOST_TEST(inv.args.size() == 2u);
  BOOST_TEST(error_of({"unpack", "oci:/l"}).rfind("unpack: expected exactly 2 arguments, got 1", 0) == 0);
  // run --image REF [ID] [-- CMD]: the ID optional, the command after `--`.
  inv = parse_args(Args{"run", "--image", "oci:/l", "-e", "A=1", "--", "sh", "-c", "true"});
  BOOST_TEST(inv.get("image") == "oci:/l");
  BOOST_TEST(inv.args_before_dashdash().empty());
  BOOST_TEST(*inv.args_after_dashdash() == (std::vector<std::string>{"sh", "-c", "true"}));
  inv = parse_args(Args{"run", "--image", "oci:/l", "box", "--creds", "u:p"});
  BOOST_TEST(inv.args == std::vector<std::string>{"box"});
  BOOST_TEST(error_of({"run", "--image", "oci:/l", "x", "y"}) ==
             "run: more than one argument (\"y\") with --image REF; put the command after `--`: rrun run --image REF "
             "[ID] -- COMMAND ARGS...");
  BOOST_TEST(parse_args(Args{"create", "--image", "oci:/l"}).args.empty());
  BOOST_TEST(parse_args(Args{"spec", "--from", "a.yaml", "--tls-verify=false"}).has("tls-verify"));
}

BOOST_AUTO_TEST_SUITE_END()
