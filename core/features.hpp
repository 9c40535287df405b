#pragma once
// `rrun features`: the runtime-spec features document (features.md,
// features-linux.md), shaped and ordered like runc's output.

#include <string>
#include <vector>

namespace rrun::core {

// What depends on the running host and libraries; gathered by
// host_features(), given by hand in unit tests.
struct HostFeatures {
  bool idmapped_mounts = false;            // probe_idmapped_mount() succeeded
  std::vector<std::string> seccomp_archs;  // seccomp_known_archs()
  std::vector<std::string> seccomp_flags;  // seccomp_supported_flags()
  std::string libseccomp_version;          // "2.5.4"
};

HostFeatures host_features();

// The document, pretty-printed with runc's four-space indent, ending in a
// newline. Everything but HostFeatures comes from rrun's own tables: the
// mount options of rootfs/plan, the seccomp names of core/seccomp, the
// namespace names of the spec model, the capabilities libcap knows.
std::string features_json(const HostFeatures& host);

// Every capability name libcap knows, "CAP_CHOWN" first, in number order.
std::vector<std::string> known_capabilities();

}  // namespace rrun::core
