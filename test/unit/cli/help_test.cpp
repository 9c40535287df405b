// Help, man pages and completions come from the command table and
// help_docs.cpp: every command has a page, every flag appears in its page
// and its --help, the pages render without warnings, and the sandbox page
// names every key the parser accepts.

#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include <cli/args.hpp>
#include <cli/help.hpp>
#include <cli/sandbox_doc.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "../temp_dir.hpp"

using namespace rrun;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A flag as the man page spells it: \fB\-\-name\fR.
std::string man_flag(const std::string& name) {
  std::string out = "\\fB";
  for (char c : "--" + name) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out + "\\fR";
}

// Runs `command` through the shell; its standard output and exit status.
std::pair<std::string, int> run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

// The keys the sandbox parser accepts at `path` (a YAML with an unknown key
// there), from its "expected one of a, b, c" error.
std::vector<std::string> accepted_keys(const std::string& yaml) {
  std::string e;
  try {
    cli::parse_sandbox(yaml, "/nonexistent/t.yaml", [](const std::string&) { return std::nullopt; });
  } catch (const os::Error& err) {
    e = err.what();
  }
  auto at = e.find("expected one of ");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no key list in: " + e);
  std::vector<std::string> keys;
  std::string rest = e.substr(at + 16);
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t comma = rest.find(", ", pos);
    if (comma == std::string::npos) comma = rest.size();
    keys.push_back(rest.substr(pos, comma - pos));
    pos = comma + 2;
  }
  BOOST_REQUIRE(keys.size() >= 2);
  return keys;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_help)

BOOST_AUTO_TEST_CASE(every_command_has_a_page_with_its_flags) {
  for (const auto& c : cli::command_table()) {
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(cli::find_command_doc(c.name) != nullptr);
      std::string man = cli::man_command(c);
      std::string help = cli::command_usage(c);
      BOOST_TEST(contains(man, ".TH RRUN\\-"));
      for (const char* section : {".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH EXIT STATUS", ".SH SEE ALSO"})
        BOOST_TEST(contains(man, section), section);
      BOOST_TEST(contains(help, "DESCRIPTION:"));
      for (const auto& f : c.flags) {
        BOOST_TEST(contains(man, man_flag(f.name)), f.name);
        BOOST_TEST(contains(help, std::string("--") + f.name), f.name);
        if (f.alias) BOOST_TEST(contains(man, std::string("\\fB\\-") + f.alias + "\\fR"), f.alias);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(docs_are_only_for_commands_of_the_table) {
  for (const char* name : {"frobnicate", ""}) BOOST_TEST(cli::find_command_doc(name) == nullptr);
}

BOOST_AUTO_TEST_CASE(overview_lists_commands_global_flags_and_sections) {
  std::string man = cli::man_overview();
  std::string help = cli::global_usage();
  for (const auto& c : cli::command_table()) {
    BOOST_TEST(contains(man, "\\fBrrun\\-" + std::string(c.name) + "\\fR(1)"), c.name);
    BOOST_TEST(contains(help, "   " + std::string(c.name) + " "), c.name);
  }
  for (const auto& f : cli::global_flag_table()) {
    BOOST_TEST(contains(man, man_flag(f.name)), f.name);
    BOOST_TEST(contains(help, std::string("--") + f.name), f.name);
  }
  for (const char* section : {".SH SYNOPSIS", ".SH GLOBAL OPTIONS", ".SH COMMANDS", ".SH FILES", ".SH ENVIRONMENT",
                              ".SH EXIT STATUS", ".SH SEE ALSO"})
    BOOST_TEST(contains(man, section), section);
  BOOST_TEST(contains(man, "XDG_RUNTIME_DIR"));
  BOOST_TEST(contains(man, "/etc/subuid"));
}

BOOST_AUTO_TEST_CASE(not_implemented_commands_say_so_everywhere) {
  // A command whose handler is cmd_not_implemented (dispatch.cpp), such as
  // one the table has and dispatch does not know.
  cli::CommandSpec fake{"frobnicate", "<container-id>", "frobnicate a container", {}, 1, 1};
  BOOST_TEST(!cli::implemented(fake));
  BOOST_TEST(contains(cli::command_usage(fake), "frobnicate a container (not implemented yet)"));
  BOOST_TEST(contains(cli::command_usage(fake), "rrun: frobnicate: not implemented yet"));
  BOOST_TEST(contains(cli::man_command(fake), "frobnicate a container (not implemented yet)"));
  BOOST_TEST(cli::implemented(*cli::find_command("run")));
  BOOST_TEST(!contains(cli::command_usage(*cli::find_command("run")), "not implemented"));
  // Every command of the table that is not implemented says so in each place.
  for (const auto& c : cli::command_table()) {
    if (cli::implemented(c)) continue;
    std::string line = std::string(c.summary) + " (not implemented yet)";
    BOOST_TEST(contains(cli::command_usage(c), line), c.name);
    BOOST_TEST(contains(cli::global_usage(), line), c.name);
    BOOST_TEST(contains(cli::man_command(c), line), c.name);
  }
}

BOOST_AUTO_TEST_CASE(roff_escapes) {
  std::string man = cli::man_command(*cli::find_command("run"));
  // Dashes are escaped, `code` is bold, no line starts with a stray control
  // character (only macros start with a dot).
  BOOST_TEST(contains(man, "\\fB\\-\\-detach\\fR, \\fB\\-d\\fR"));
  BOOST_TEST(!contains(man, "`"));
  for (size_t at = man.find('\n'); at != std::string::npos; at = man.find('\n', at + 1))
    if (man[at + 1] == '.' || man[at + 1] == '\'') {
      std::string macro = man.substr(at + 1, 3);
      BOOST_TEST(
          (macro == ".TH" || macro == ".SH" || macro == ".TP" || macro == ".PP" || macro == ".RS" || macro == ".RE" ||
           macro == ".IP" || macro == ".nf" || macro == ".fi" || macro == ".br" || macro == ".nh" || macro == ".ad"),
          man.substr(at + 1, 30));
    }
  std::string page = cli::man_sandbox();
  BOOST_TEST(contains(page, "$${"));
}

BOOST_AUTO_TEST_CASE(sandbox_page_names_every_key_the_parser_accepts) {
  std::string page = cli::man_sandbox();
  for (const auto& key : accepted_keys("bogus: 1\n")) BOOST_TEST(contains(page, "\\fB" + key + "\\fR: "), key);
  for (const auto& [yaml, what] :
       std::vector<std::pair<std::string, std::string>>{{"limits: {bogus: 1}\n", "limits"},
                                                        {"capabilities: {bogus: 1}\n", "capabilities"},
                                                        {"mounts: [{bogus: 1}]\n", "mounts"}}) {
    for (const auto& key : accepted_keys(yaml)) BOOST_TEST(contains(page, "\\fB" + key + "\\fR"), what + "." + key);
  }
  for (const char* section : {".SH KEYS", ".SH EXAMPLE", "Default:", "Example:"})
    BOOST_TEST(contains(page, section), section);
}

BOOST_AUTO_TEST_CASE(pages_render_without_warnings) {
  if (run("command -v groff >/dev/null 2>&1").second != 0) {
    BOOST_TEST_MESSAGE("groff is not installed; rendering not checked");
    return;
  }
  test::TempDir dir;
  cli::write_man_pages(dir.path);
  std::vector<std::string> pages{dir.path + "/man1/rrun.1", dir.path + "/man5/rrun-sandbox.5"};
  for (const auto& c : cli::command_table()) pages.push_back(dir.path + "/man1/rrun-" + c.name + ".1");
  bool have_man = run("command -v man >/dev/null 2>&1").second == 0;
  for (const auto& p : pages) {
    BOOST_TEST_CONTEXT(p) {
      BOOST_REQUIRE(os::read_file_if_exists(p).has_value());
      auto [groff, status] = run("groff -man -ww -z -Tutf8 " + p + " 2>&1");
      BOOST_TEST(status == 0);
      BOOST_TEST(groff == "");
      if (have_man) {
        auto [man, man_status] = run("MANWIDTH=80 man -l --warnings " + p + " 2>&1 >/dev/null");
        BOOST_TEST(man_status == 0);
        BOOST_TEST(man == "");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(completions_know_every_command_and_flag) {
  for (const char* shell : {"bash", "zsh", "fish"}) {
    std::string s = cli::completion_script(shell);
    BOOST_TEST_CONTEXT(shell) {
      for (const auto& c : cli::command_table()) {
        BOOST_TEST(contains(s, c.name), c.name);
        for (const auto& f : c.flags) BOOST_TEST(contains(s, f.name), c.name << " --" << f.name);
      }
      BOOST_TEST(contains(s, "list -q"));
    }
  }
  BOOST_TEST(contains(cli::completion_script("bash"), "complete -F _rrun rrun"));
  BOOST_TEST(contains(cli::completion_script("zsh"), "#compdef rrun"));
  try {
    cli::completion_script("tcsh");
    BOOST_FAIL("tcsh accepted");
  } catch (const os::Error& e) {
    BOOST_TEST(std::string(e.what()) == "completion: unknown shell \"tcsh\"; use bash, zsh or fish");
  }
}

BOOST_AUTO_TEST_SUITE_END()
