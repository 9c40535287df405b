#pragma once
// The loopback interface of a new network namespace. A fresh namespace has
// `lo` down; runc leaves it so, and so does rrun for OCI bundles. The YAML
// front-end asks for it to be up with the annotation
// `rrun.network.loopback: up` (kLoopbackAnnotation), honoured only when the
// container gets a new network namespace.

#include <rrun/os/step.hpp>

namespace rrun::core {

inline constexpr const char* kLoopbackAnnotation = "rrun.network.loopback";

// Child side, in the new network namespace (with CAP_NET_ADMIN over it):
// sets IFF_UP on `lo`. No allocation. Returns 0, or -1 with `f` filled.
int bring_up_loopback(os::StepFailure& f) noexcept;

}  // namespace rrun::core
