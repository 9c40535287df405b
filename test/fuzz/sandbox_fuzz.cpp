// The YAML sandbox (cli/sandbox*): text -> Spec as `rrun spec --from` and
// `rrun run -f` translate it, for a root and a rootless caller with fixed
// host facts (no probe of the host; paths in the file resolve against the
// unit tests' sandbox data directory, read only). What the translation
// makes must parse back to the same spec, as `run -f` hands it to create.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

#include <cli/sandbox.hpp>
#include <rrun/spec/parse.hpp>

#include "fuzz.hpp"

namespace cli = rrun::cli;
namespace spec = rrun::spec;

namespace {

std::optional<std::string> fixed_env(const std::string& name) {
  if (name == "HOME") return "/root";
  if (name == "USER") return "root";
  if (name == "EMPTY") return "";
  return std::nullopt;
}

cli::SandboxHost root_host() {
  cli::SandboxHost h;
  h.user_name = "root";
  h.home = "/root";
  h.group_name = "root";
  h.nofile = 524288;
  h.hosts = "127.0.0.1 localhost\n";
  h.resolv_conf = "nameserver 192.0.2.53\n";
  h.hostname = "node";
  h.env = fixed_env;
  return h;
}

cli::SandboxHost rootless_host() {
  cli::SandboxHost h = root_host();
  h.rootless = true;
  h.uid = 1000;
  h.gid = 1001;
  h.user_name = "alice";
  h.home = "/home/alice";
  h.group_name = "staff";
  h.fuse_overlayfs = true;
  h.sub_uids = {{100000, 65536}};
  h.sub_gids = {{200000, 65536}};
  return h;
}

void translate(std::string_view yaml, const cli::SandboxHost& host) {
  static const std::string file = std::string(RRUN_FUZZ_SANDBOX_DATA) + "/fuzz.yaml";
  std::optional<cli::Sandbox> sb;
  try {
    sb = cli::translate_sandbox(yaml, file, host);
  } catch (const std::exception&) {
    return;
  }
  std::string text = spec::serialize_spec(sb->spec);
  try {
    spec::Spec again = spec::parse_spec(text);
    if (again == sb->spec) return;
    std::fprintf(stderr, "the translated spec does not parse back the same:\n%s\n---\n%s\n", text.c_str(),
                 spec::serialize_spec(again).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "the translated spec is refused: %s\n%s\n", e.what(), text.c_str());
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cli::SandboxHost root = root_host();
  static const cli::SandboxHost rootless = rootless_host();
  std::string_view yaml = rrun::fuzz::as_text(data, size);
  translate(yaml, root);
  translate(yaml, rootless);
  return 0;
}
