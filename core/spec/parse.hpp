#pragma once
// config.json <-> Spec, and the specs `rrun spec` writes.
//
// Parsing is strict about what it knows and lenient about what it doesn't:
// a known field of the wrong type, a missing required field or a value the
// runtime-spec forbids is an os::Error whose message is one line that starts
// with the JSON path ("process.args[0]: expected a string, got number");
// unknown fields are ignored, and unknown top-level members are kept in
// Spec::extensions so that serialize_spec writes them back.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "spec.hpp"

namespace rrun::spec {

// Parses and validates the text of a config.json. Throws os::Error.
Spec parse_spec(std::string_view json_text);

// A process object alone (`exec --process process.json`); errors name the
// path from "process". Throws os::Error.
Process parse_process(std::string_view json_text);
// A linux.resources object alone (`update --resources`); errors name the
// path from "linux.resources". Throws os::Error.
Resources parse_resources(std::string_view json_text);
// Parses a linux.seccomp object on its own (a seccomp profile file); error
// paths start with `path`. Throws os::Error.
Seccomp parse_seccomp(std::string_view json_text, const std::string& path = "linux.seccomp");

// Reads and parses <bundle_dir>/config.json. Parse errors are prefixed with
// "config.json: "; an unreadable file is an os::Error (absent file) or an
// os::SystemError naming the path. With `text`, the file's bytes go there
// too (create keeps them as the container's copy without serializing again).
Spec load_spec(const std::string& bundle_dir, std::string* text = nullptr);

// The JSON text of `s`, with the runtime-spec's member names in runc's order;
// absent optionals and empty arrays, maps and strings are left out, required
// members are always written. `pretty` indents with tabs like `runc spec`.
// parse_spec(serialize_spec(s)) == s for every valid s.
std::string serialize_spec(const Spec& s, bool pretty = true);

// What `runc spec` writes (runc 1.1.5 on a cgroup v2 host), with hostname
// "rrun" and ociVersion kOciVersion.
Spec default_spec();

struct RootlessIds {
  uint32_t uid = 0;  // host uid mapped to container uid 0
  uint32_t gid = 0;
  // Optional subordinate ranges, appended as given (container_id already set,
  // normally 1).
  std::optional<IdMapping> sub_uid;
  std::optional<IdMapping> sub_gid;
};

// `runc spec --rootless`: default_spec() with a user namespace mapping
// `ids`, no network namespace, /sys bind-mounted from the host instead of a
// new sysfs, no uid=/gid= mount options and no cgroup resources.
Spec default_rootless_spec(const RootlessIds& ids);

}  // namespace rrun::spec
