#pragma once
// OCI hooks (config.md "POSIX-platform Hooks"): each runs in order with the
// container's state JSON on stdin, its own env, and an optional timeout in
// seconds. Output is collected and shown only when the hook fails.

#include <string>
#include <vector>

#include <rrun/os/step.hpp>
#include <rrun/spec/spec.hpp>

namespace rrun::core {

// Runs one hook to completion. noexcept so the container init can use it
// (createContainer, startContainer); 0 or -1 with `f` filled.
int run_hook(const spec::Hook& hook, const std::string& state_json, const char* phase, size_t index,
             os::StepFailure& f) noexcept;

// Parent side: runs the hooks in order and throws os::Error for the first
// that fails ("createRuntime hook #1 `/usr/bin/x`: exited with status 2: ...").
void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& state_json, const char* phase);

// poststop: runs every hook and returns one message per failure (the spec
// says they are only logged).
std::vector<std::string> run_hooks_collect_failures(const std::vector<spec::Hook>& hooks, const std::string& state_json,
                                                    const char* phase);

}  // namespace rrun::core
