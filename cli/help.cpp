// `rrun --help`, `rrun COMMAND --help`, `rrun help` and the man pages,
// rendered from the command table and help_docs.cpp (help.hpp).

#include "help.hpp"

#include <rrun/core/version.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include "commands.hpp"

namespace rrun::cli {

namespace {

// A documentation text cut into blocks: paragraphs, list items ("- ") and
// command lines (indented by two spaces).
struct Block {
  enum Kind { para, item, code } kind;
  std::string text;
};

std::vector<Block> blocks_of(std::string_view text) {
  std::vector<Block> out;
  bool open = false;  // a paragraph or item that the next line continues
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) {
      open = false;
    } else if (line.substr(0, 2) == "  ") {
      out.push_back({Block::code, std::string(line.substr(2))});
      open = false;
    } else if (line.substr(0, 2) == "- ") {
      out.push_back({Block::item, std::string(line.substr(2))});
      open = true;
    } else if (open) {
      out.back().text += " " + std::string(line);
    } else {
      out.push_back({Block::para, std::string(line)});
      open = true;
    }
  }
  return out;
}

// ------------------------------------------------------------ terminal

// `text` wrapped at 80 columns, every line indented by `indent` spaces
// (`first` for the first one).
std::string wrap(std::string_view text, size_t indent, size_t first) {
  std::string out(first, ' ');
  size_t col = first;
  bool line_empty = true;
  for (const std::string& word : os::split(text, ' ')) {
    if (!line_empty && col + 1 + word.size() > 80) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    line_empty = false;
  }
  return out + "\n";
}

// Blocks as terminal text under a heading: paragraphs and items at 3
// spaces, command lines at 6.
std::string text_blocks(std::string_view text) {
  std::string out;
  Block::Kind last = Block::para;
  bool first = true;
  for (const Block& b : blocks_of(text)) {
    if (!first && (b.kind == Block::para || (b.kind != last && last == Block::code))) out += "\n";
    if (b.kind == Block::code)
      out += "      " + b.text + "\n";
    else if (b.kind == Block::item)
      out += wrap("- " + b.text, 5, 3);
    else
      out += wrap(b.text, 3, 3);
    last = b.kind;
    first = false;
  }
  return out;
}

std::string flag_lines(const std::vector<FlagSpec>& flags) {
  std::string out;
  for (const auto& f : flags) {
    std::string left = "   --" + std::string(f.name);
    if (f.alias) left += ", -" + std::string(f.alias);
    if (f.kind != FlagKind::boolean) left += " value";
    if (left.size() < 30)
      left.resize(30, ' ');
    else
      left += "  ";
    out += left + f.help + "\n";
  }
  return out;
}

std::string not_implemented_note(const CommandSpec& cmd) {
  return std::string("Not implemented yet: `rrun ") + cmd.name + "` accepts runc's flags, then exits with status 1 " +
         "and the error `rrun: " + cmd.name + ": not implemented yet`.";
}

std::string summary_of(const CommandSpec& cmd) {
  return std::string(cmd.summary) + (implemented(cmd) ? "" : " (not implemented yet)");
}

std::string usage_line(const CommandSpec& cmd) {
  return std::string("rrun ") + cmd.name + (cmd.flags.empty() ? "" : " [command options]") +
         (*cmd.args_usage ? " " : "") + cmd.args_usage;
}

// ------------------------------------------------------------ troff

// Text for troff: backslashes and dashes escaped, `spans` in bold.
std::string roff(std::string_view text) {
  std::string out;
  bool bold = false;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else if (c == '`') {
      out += bold ? "\\fR" : "\\fB";
      bold = !bold;
    } else
      out += c;
  }
  if (bold) out += "\\fR";
  // A line that would start with a control character is protected.
  std::string safe;
  for (size_t i = 0; i < out.size(); ++i) {
    if ((i == 0 || out[i - 1] == '\n') && (out[i] == '.' || out[i] == '\'')) safe += "\\&";
    safe += out[i];
  }
  return safe;
}

std::string roff_blocks(std::string_view text) {
  std::string out;
  Block::Kind last = Block::para;
  for (const Block& b : blocks_of(text)) {
    if (b.kind == Block::code) {
      if (last != Block::code) out += ".PP\n.RS 4\n.nf\n";
      out += roff(b.text) + "\n";
    } else {
      if (last == Block::code) out += ".fi\n.RE\n";
      out += (b.kind == Block::item ? ".IP \\(bu 2\n" : ".PP\n") + roff(b.text) + "\n";
    }
    last = b.kind;
  }
  if (last == Block::code) out += ".fi\n.RE\n";
  return out;
}

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::string man_header(const std::string& page, int section, const char* title) {
  return ".\\\" Generated by rrun help --man; edit cli/help_docs.cpp and cli/args.cpp instead.\n.TH " +
         roff(upper(page)) + " " + std::to_string(section) + " \"\" \"rrun " + core::rrun_version() + "\" \"" + title +
         "\"\n.nh\n.ad l\n.SH NAME\n";
}

std::string man_flags(const std::vector<FlagSpec>& flags) {
  std::string out;
  for (const auto& f : flags) {
    std::string value = f.kind == FlagKind::boolean ? "" : " \\fIvalue\\fR";
    out += ".TP\n\\fB\\-\\-" + roff(f.name) + "\\fR";
    if (f.alias) out += ", \\fB\\-" + roff(f.alias) + "\\fR";
    out += value + (f.kind == FlagKind::list ? " (may be repeated)" : "") + "\n" + roff(f.help) + "\n";
  }
  return out;
}

std::string man_items(const DocItem* items, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += ".TP\n" + roff(items[i].term) + "\n" + roff(items[i].text) + "\n";
  return out;
}

// Pages that document the same use of a command.
bool uses_sandbox_files(const CommandSpec& cmd) {
  for (const auto& f : cmd.flags)
    if (std::string_view(f.name) == "file" || std::string_view(f.name) == "from") return true;
  return false;
}

}  // namespace

bool implemented(const CommandSpec& cmd) {
  return find_handler(cmd.name) != cmd_not_implemented;
}

std::string global_usage() {
  std::string out =
      "NAME:\n   rrun - a rootless-first OCI container runtime with runc's command line\n\n"
      "USAGE:\n   rrun [global options] command [command options] [arguments...]\n\nCOMMANDS:\n";
  for (const auto& c : command_table()) {
    std::string name = "   " + std::string(c.name);
    name.resize(16, ' ');
    out += name + summary_of(c) + "\n";
  }
  out += "\nGLOBAL OPTIONS:\n" + flag_lines(global_flag_table());
  out += "\n" + wrap(
                    "`rrun help COMMAND` (or `rrun COMMAND --help`) describes a command; `man rrun` and "
                    "`man rrun-COMMAND` say the same, and `man 5 rrun-sandbox` describes the sandbox files.",
                    0, 0);
  return out;
}

std::string command_usage(const CommandSpec& cmd) {
  std::string out =
      "NAME:\n   rrun " + std::string(cmd.name) + " - " + summary_of(cmd) + "\n\nUSAGE:\n   " + usage_line(cmd) + "\n";
  const CommandDoc* doc = find_command_doc(cmd.name);
  std::string description = implemented(cmd) ? "" : not_implemented_note(cmd);
  if (doc && *doc->description) description += (description.empty() ? "" : "\n\n") + std::string(doc->description);
  if (!description.empty()) out += "\nDESCRIPTION:\n" + text_blocks(description);
  if (!cmd.flags.empty()) out += "\nOPTIONS:\n" + flag_lines(cmd.flags);
  if (doc && doc->examples && *doc->examples) out += "\nEXAMPLES:\n" + text_blocks(doc->examples);
  if (doc && doc->exit_status) out += "\nEXIT STATUS:\n" + text_blocks(doc->exit_status);
  return out;
}

std::string man_overview() {
  const OverviewDoc& doc = overview_doc();
  std::string out = man_header("rrun", 1, "User Commands");
  out += "rrun \\- a rootless\\-first OCI container runtime with runc's command line\n";
  out +=
      ".SH SYNOPSIS\n\\fBrrun\\fR [\\fIglobal options\\fR] \\fIcommand\\fR [\\fIcommand options\\fR] "
      "[\\fIarguments\\fR...]\n";
  out += ".SH DESCRIPTION\n" + roff_blocks(doc.description);
  out += ".SH GLOBAL OPTIONS\nGlobal options go before the command.\n" + man_flags(global_flag_table());
  out += ".SH COMMANDS\nEach command has its own page, \\fBrrun\\-\\fIcommand\\fR(1).\n";
  for (const auto& c : command_table())
    out += ".TP\n\\fBrrun\\-" + roff(c.name) + "\\fR(1)\n" + roff(summary_of(c)) + "\n";
  out += ".SH FILES\n" + man_items(doc.files, doc.n_files);
  out += ".SH ENVIRONMENT\n" + man_items(doc.environment, doc.n_environment);
  out += ".SH EXIT STATUS\n" + roff_blocks(doc.exit_status);
  out +=
      ".SH SEE ALSO\n\\fBrrun\\-sandbox\\fR(5), \\fBrunc\\fR(8), \\fBcrun\\fR(1), \\fBpodman\\fR(1), "
      "\\fBnewuidmap\\fR(1), \\fBsubuid\\fR(5), \\fBuser_namespaces\\fR(7), \\fBcgroups\\fR(7)\n";
  return out;
}

std::string man_command(const CommandSpec& cmd) {
  const CommandDoc* doc = find_command_doc(cmd.name);
  std::string page = std::string("rrun-") + cmd.name;
  std::string out = man_header(page, 1, "User Commands");
  out += roff(page) + " \\- " + roff(summary_of(cmd)) + "\n";
  out += ".SH SYNOPSIS\n\\fBrrun\\fR [\\fIglobal options\\fR] \\fB" + roff(cmd.name) + "\\fR" +
         (cmd.flags.empty() ? "" : " [\\fIcommand options\\fR]") + (*cmd.args_usage ? " " : "") + roff(cmd.args_usage) +
         "\n";
  out += ".SH DESCRIPTION\n";
  if (!implemented(cmd)) out += roff_blocks(not_implemented_note(cmd));
  if (doc) out += roff_blocks(doc->description);
  if (!cmd.flags.empty()) out += ".SH OPTIONS\n" + man_flags(cmd.flags);
  if (doc && doc->examples && *doc->examples) out += ".SH EXAMPLES\n" + roff_blocks(doc->examples);
  out += ".SH EXIT STATUS\n" + roff_blocks(doc && doc->exit_status ? doc->exit_status : kDefaultExitStatus);
  out += ".SH SEE ALSO\n\\fBrrun\\fR(1)";
  if (uses_sandbox_files(cmd)) out += ", \\fBrrun\\-sandbox\\fR(5)";
  return out + "\n";
}

std::string man_sandbox() {
  const SandboxPageDoc& doc = sandbox_page_doc();
  std::string out = man_header("rrun-sandbox", 5, "File Formats");
  out += "rrun\\-sandbox \\- YAML sandbox files for rrun run \\-f, create \\-f and spec \\-\\-from\n";
  out +=
      ".SH SYNOPSIS\n\\fBrrun run \\-f\\fR \\fIFILE.yaml\\fR [\\fIcontainer\\-id\\fR] [\\fB\\-\\-\\fR "
      "\\fICOMMAND ARGS\\fR...]\n.br\n\\fBrrun spec \\-\\-from\\fR \\fIFILE.yaml\\fR\n";
  out += ".SH DESCRIPTION\n" + roff_blocks(doc.description);
  out += ".SH KEYS\n";
  for (size_t i = 0; i < doc.n_keys; ++i) {
    const SandboxKeyDoc& k = doc.keys[i];
    out += ".TP\n\\fB" + roff(k.key) + "\\fR: " + roff(k.type) + "\n" + roff(k.text) +
           "\n.RS\n.PP\nDefault: " + roff(k.default_value) + ".\n.PP\nExample:\n.RS 4\n.nf\n" + roff(k.example) +
           "\n.fi\n.RE\n.RE\n";
  }
  // Further sections: "@TITLE" lines start one.
  std::string_view rest = doc.sections;
  while (!rest.empty()) {
    size_t end = rest.find("\n@", 1);
    std::string_view section = rest.substr(0, end);
    size_t nl = section.find('\n');
    out += ".SH " + roff(upper(std::string(section.substr(1, nl - 1)))) + "\n" + roff_blocks(section.substr(nl + 1));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  out += ".SH EXAMPLE\n.RS 4\n.nf\n";
  out += roff(doc.example);
  if (out.back() != '\n') out += "\n";
  out +=
      ".fi\n.RE\n.SH SEE ALSO\n\\fBrrun\\fR(1), \\fBrrun\\-run\\fR(1), \\fBrrun\\-create\\fR(1), "
      "\\fBrrun\\-spec\\fR(1), \\fBsubuid\\fR(5), \\fBcapabilities\\fR(7)\n";
  return out;
}

void write_man_pages(const std::string& dir) {
  os::mkdir_p(dir + "/man1");
  os::mkdir_p(dir + "/man5");
  os::write_file_atomic(dir + "/man1/rrun.1", man_overview());
  for (const auto& c : command_table()) os::write_file_atomic(dir + "/man1/rrun-" + c.name + ".1", man_command(c));
  os::write_file_atomic(dir + "/man5/rrun-sandbox.5", man_sandbox());
}

}  // namespace rrun::cli
