#pragma once
// Help, man pages and shell completions from one source: the command table
// of args.cpp (commands, flags, one-line help) and the documentation of
// help_docs.cpp (descriptions, examples, exit status, files, environment,
// the sandbox keys), so that `rrun COMMAND --help`, `rrun help`, the man
// pages and the completions cannot drift apart. None of this runs on the
// container path: the texts are static data, rendered only when asked for.

#include <string>
#include <string_view>

#include "args.hpp"

namespace rrun::cli {

// A term and its explanation (a man page's .TP entry).
struct DocItem {
  const char* term;
  const char* text;
};

// What a command's page says beyond the table. Texts are paragraphs
// separated by a blank line; a line starting with "- " begins a list item;
// in `examples`, each paragraph is one line of explanation followed by
// command lines indented by two spaces. `text` spans become bold in man.
struct CommandDoc {
  const char* name;
  const char* description;
  const char* examples;
  const char* exit_status;  // nullptr: kDefaultExitStatus
};

// rrun(1): the overview, FILES, ENVIRONMENT, EXIT STATUS.
struct OverviewDoc {
  const char* description;
  const DocItem* files;
  size_t n_files;
  const DocItem* environment;
  size_t n_environment;
  const char* exit_status;
};

// One top-level key of a sandbox file, for rrun-sandbox(5).
struct SandboxKeyDoc {
  const char* key;
  const char* type;
  const char* default_value;
  const char* text;
  const char* example;  // YAML
};

// rrun-sandbox(5) beyond the keys.
struct SandboxPageDoc {
  const char* description;
  const SandboxKeyDoc* keys;
  size_t n_keys;
  const char* sections;  // further sections: "@TITLE" lines start one
  const char* example;   // a whole sandbox file
};

extern const char* const kDefaultExitStatus;

// The documentation of `name` (nullptr when it has none: a test checks that
// every command of the table has one).
const CommandDoc* find_command_doc(std::string_view name);
const OverviewDoc& overview_doc();
const SandboxPageDoc& sandbox_page_doc();

// Whether the command does something yet: its handler in dispatch.cpp is
// not cmd_not_implemented (the one place that marks a command so).
bool implemented(const CommandSpec& cmd);

// The man pages, as troff (man(7) macros).
std::string man_overview();                       // rrun(1)
std::string man_command(const CommandSpec& cmd);  // rrun-NAME(1)
std::string man_sandbox();                        // rrun-sandbox(5)
// Writes every page to DIR/man1/ and DIR/man5/ (created when missing).
void write_man_pages(const std::string& dir);

// `rrun completion SHELL`: bash, zsh or fish; throws os::Error otherwise.
std::string completion_script(const std::string& shell);

}  // namespace rrun::cli
