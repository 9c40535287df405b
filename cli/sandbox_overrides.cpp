// Per-task values in a sandbox (README "Per-task overrides"): `${VAR}` in
// the file's values, taken from the host's environment while parsing, and
// the command line's changes to the parsed file (sandbox.hpp
// SandboxOverrides): one file, many tasks of a job
// (`srun rrun run -f job.yaml -- ./task $SLURM_PROCID`).

#include <cstdlib>
#include <filesystem>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include "sandbox.hpp"

namespace rrun::cli {

namespace {

bool name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9');
}

// The `}` that closes the `${` whose body starts at `from` (nested `${...}`
// in a default counted, `$${` skipped); npos when there is none.
size_t closing_brace(const std::string& text, size_t from) {
  int depth = 1;
  for (size_t i = from; i < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      i += 2;
    } else if (text.compare(i, 2, "${") == 0) {
      ++depth;
      ++i;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string::npos;
}

// The value of the body of one `${BODY}`: NAME or NAME:-default.
std::string expand_one(const std::string& body, const EnvLookup& env, const Origin& at) {
  size_t n = 0;
  if (!body.empty() && name_start(body[0]))
    while (n < body.size() && name_char(body[n])) ++n;
  std::string name = body.substr(0, n);
  bool with_default = body.compare(n, 2, ":-") == 0;
  if (name.empty() || (n != body.size() && !with_default))
    at.fail("invalid ${" + body + "}; use ${NAME} or ${NAME:-default} (and $${ for a literal ${)");
  std::optional<std::string> value = env(name);
  if (!with_default) {
    if (!value) at.fail("${" + name + "} is not set in the environment; set it or write ${" + name + ":-default}");
    return *value;
  }
  if (value && !value->empty()) return *value;
  return expand_host_variables(body.substr(n + 2), env, at);
}

// "NAME=VALUE" or "NAME" (the host's value; nothing when the host has
// none, as podman). `where` names the flag or the line for errors.
void add_env(const std::string& entry, const EnvLookup& env, const std::string& where, SandboxDoc& d) {
  // (Only an --env-file line can hold one: a command-line argument can't.)
  if (entry.find('\0') != std::string::npos)
    throw os::Error(where + ": contains a NUL byte (\\0), which no variable can hold; remove it");
  size_t eq = entry.find('=');
  std::string name = entry.substr(0, eq);
  if (name.empty() || name.find_first_of(" \t\n") != std::string::npos)
    throw os::Error(where + ": invalid variable name \"" + name + "\"; use NAME=VALUE or NAME");
  if (eq != std::string::npos) {
    d.env.emplace_back(name, entry.substr(eq + 1));
  } else if (std::optional<std::string> value = env(name)) {
    d.env.emplace_back(name, *value);
  }
}

// podman's --env-file: NAME=VALUE lines (the value as written: quotes are
// kept), NAME alone for the host's value, # comments and blank lines;
// leading blanks are ignored.
void add_env_file(const std::string& file, const EnvLookup& env, SandboxDoc& d) {
  std::optional<std::string> text;
  try {
    text = os::read_input_file_if_exists(file, kMaxSandboxFile);
  } catch (const std::exception& e) {
    throw os::Error("--env-file " + file + ": " + e.what());
  }
  if (!text) throw os::Error("--env-file " + file + ": no such file");
  size_t line_no = 0;
  for (size_t at = 0; at < text->size();) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(at, end - at);
    at = end + 1;
    ++line_no;
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.empty() || line[0] == '#') continue;
    add_env(line, env, "--env-file " + file + ":" + std::to_string(line_no), d);
  }
}

// -v SRC:DST[:ro|rw]: SRC relative to the current directory (as podman).
SandboxMount volume_mount(const std::string& v) {
  Origin at{"-v " + v};
  size_t c1 = v.find(':');
  size_t c2 = c1 == std::string::npos ? c1 : v.find(':', c1 + 1);
  std::string src = v.substr(0, c1);
  std::string dst = c1 == std::string::npos ? "" : v.substr(c1 + 1, c2 == std::string::npos ? c2 : c2 - c1 - 1);
  std::string opts = c2 == std::string::npos ? "" : v.substr(c2 + 1);
  if (src.empty() || dst.empty()) at.fail("expected SRC:DST[:ro|rw] (a host path and a path in the container)");
  if (dst[0] != '/') at.fail("\"" + dst + "\" must be an absolute path in the container");
  SandboxMount m;
  m.at = at;
  m.target = mount_target(dst, at);
  for (const std::string& o : os::split(opts, ',')) {
    if (o == "ro" || o == "rw")
      m.readonly = o == "ro";
    else if (!o.empty())
      at.fail("unknown option \"" + o + "\"; use ro or rw");
  }
  std::string abs = std::filesystem::absolute(src).lexically_normal().string();
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  m.source = {abs, at};
  return m;
}

}  // namespace

std::optional<std::string> host_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string expand_host_variables(const std::string& text, const EnvLookup& env, const Origin& at) {
  if (text.find("${") == std::string::npos) return text;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    out.append(text, i, dollar - i);
    if (text.compare(dollar, 3, "$${") == 0) {
      out += "${";
      i = dollar + 3;
    } else if (text.compare(dollar, 2, "${") != 0) {
      out += '$';
      i = dollar + 1;
    } else {
      size_t end = closing_brace(text, dollar + 2);
      if (end == std::string::npos)
        at.fail("unterminated ${ in \"" + text + "\"; close it with } (or write $${ for a literal ${)");
      out += expand_one(text.substr(dollar + 2, end - dollar - 2), env, at);
      i = end + 1;
    }
  }
  return out;
}

void apply_sandbox_overrides(SandboxDoc& d, const SandboxOverrides& o, const EnvLookup& env) {
  for (const std::string& file : o.env_files) add_env_file(file, env, d);
  for (const std::string& e : o.env) add_env(e, env, "-e " + e, d);
  for (const std::string& v : o.volumes) d.mounts.push_back(volume_mount(v));
  if (o.tty) d.tty = *o.tty;
  if (o.command && !o.command->empty()) {
    Origin at{"the command after `--`"};
    if ((*o.command)[0].empty()) at.fail("the program must not be empty");
    d.command = From<std::vector<std::string>>{*o.command, at};
  }
}

}  // namespace rrun::cli
