#include "features.hpp"

#include <sys/capability.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include <rrun/rootfs/plan.hpp>
#include <rrun/spec/spec.hpp>

#include "host_probe.hpp"
#include "seccomp.hpp"
#include "version.hpp"

namespace rrun::core {

namespace {

using Json = nlohmann::ordered_json;

std::vector<std::string> known_namespaces() {
  std::vector<std::string> out;
  for (int t = static_cast<int>(spec::NamespaceType::pid); t <= static_cast<int>(spec::NamespaceType::time); ++t)
    out.emplace_back(spec::namespace_type_name(static_cast<spec::NamespaceType>(t)));
  std::sort(out.begin(), out.end());
  return out;
}

Json enabled(bool on) {
  Json j;
  j["enabled"] = on;
  return j;
}

}  // namespace

std::vector<std::string> known_capabilities() {
  std::vector<std::string> out;
  for (int c = 0; c < 64; ++c) {
    char* name = cap_to_name(static_cast<cap_value_t>(c));
    if (!name) continue;
    std::string s = name;
    cap_free(name);
    // libcap names the capabilities it does not know by their number.
    if (s.rfind("cap_", 0) != 0) continue;
    for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    out.push_back(std::move(s));
  }
  return out;
}

HostFeatures host_features() {
  HostFeatures h;
  h.idmapped_mounts = probe_idmapped_mount(probe_tmp_base()).ok();
  h.seccomp_archs = seccomp_known_archs();
  h.seccomp_flags = seccomp_supported_flags();
  h.libseccomp_version = libseccomp_version();
  return h;
}

std::string features_json(const HostFeatures& host) {
  Json j;
  j["ociVersionMin"] = "1.0.0";
  j["ociVersionMax"] = spec_version();
  // In the order they run (config.md "POSIX-platform Hooks").
  j["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
  j["mountOptions"] = rootfs::known_mount_options();

  Json linux;
  linux["namespaces"] = known_namespaces();
  linux["capabilities"] = known_capabilities();
  // The drivers of cgroups/ (issue 4): v2 and v1 file systems, systemd on the
  // system and the user bus, and the rdma controller.
  linux["cgroup"] = {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", true}, {"rdma", true}};
  Json seccomp;
  seccomp["enabled"] = true;
  seccomp["actions"] = seccomp_known_actions();
  seccomp["operators"] = seccomp_known_operators();
  seccomp["archs"] = host.seccomp_archs;
  seccomp["knownFlags"] = seccomp_known_flags();
  seccomp["supportedFlags"] = host.seccomp_flags;
  linux["seccomp"] = std::move(seccomp);
  // Refused with an error naming the field (see README "Not yet").
  linux["apparmor"] = enabled(false);
  linux["selinux"] = enabled(false);
  linux["intelRdt"] = enabled(false);
  Json ext;
  ext["idmap"] = enabled(host.idmapped_mounts);
  linux["mountExtensions"] = std::move(ext);
  linux["netDevices"] = enabled(false);
  j["linux"] = std::move(linux);

  // Runtime metadata (features.md "Annotations"), sorted by key as Go
  // prints a map; not a list of config.json annotations rrun acts on.
  Json ann;
  ann["io.github.seccomp.libseccomp.version"] = host.libseccomp_version;
  ann["org.opencontainers.runc.checkpoint.enabled"] = "false";
  ann["rrun.version"] = rrun_version();
  j["annotations"] = std::move(ann);
  return j.dump(4) + "\n";
}

}  // namespace rrun::core
