#pragma once
// rrun's init for containers (core/pid1.c, tini/catatonit behaviour): with
// `run --init` / `create --init`, or the annotation `rrun.init: "true"` that
// the YAML front-end writes (`init:`, default true), the container init
// executes this small sealed program in place of the user program; it runs
// the program as its child, forwards every signal to it, reaps orphans and
// exits with the program's status. Off by default for OCI bundles, whose
// process is PID 1 as the spec says; nothing of it is made unless asked for.

#include <map>
#include <optional>
#include <string>

#include <rrun/os/fd.hpp>

namespace rrun::core {

inline constexpr const char* kInitAnnotation = "rrun.init";

// argv[0] the init insists on (pid1.c's MARKER).
inline constexpr const char* kInitMarker = "\x01rrun-init";

// Whether the container gets rrun's init: `flag` (--init[=BOOL]) when given,
// else the annotation ("true" or "false"; absent: no). Throws os::Error
// naming the annotation for any other value, flag or not.
bool wants_rrun_init(std::optional<bool> flag, const std::map<std::string, std::string>& annotations);

// The init in a memfd sealed against writes, growth and shrinking (as the
// exec trampoline, exe_guard.hpp). Throws os::SystemError.
os::UniqueFd make_rrun_init();

}  // namespace rrun::core
