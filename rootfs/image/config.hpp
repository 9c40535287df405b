#pragma once
// The parts of an OCI image config (application/vnd.oci.image.config.v1+json,
// also Docker's) that a container takes from its image, and the manifests
// that lead to it. Pure: parsing only (nlohmann/json), bounded input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store.hpp"

namespace rrun::image {

struct ImageConfig {
  std::string os, architecture, variant;
  std::vector<std::string> entrypoint;  // config.Entrypoint
  std::vector<std::string> cmd;         // config.Cmd
  std::vector<std::string> env;         // config.Env, NAME=VALUE
  std::string working_dir;              // config.WorkingDir
  std::string user;                     // config.User: "", "name", "uid", "uid:gid", "name:group"
  std::string stop_signal;              // config.StopSignal: "SIGTERM", "15", ...
  std::vector<std::string> diff_ids;    // rootfs.diff_ids, bottom first
};

// Throws os::Error "image config sha256:...: WHAT" (`what` names it).
ImageConfig parse_image_config(std::string_view json, const std::string& what);

// The host's platform as OCI names it: os "linux", architecture "amd64",
// "arm64" (variant "v8"), "arm" (variant "v7"), ...
struct Platform {
  std::string os, architecture, variant;
};
Platform host_platform();

struct Manifest {
  std::string config_digest;
  uint64_t config_size = 0;  // config.size: what its download may be
  std::vector<LayerRef> layers;  // bottom first
};
enum class ManifestKind { image, index };
// The kind of a manifest document from its mediaType (or, when absent, its
// shape: "manifests" = index, "layers" = image). Docker v2 schema 2 and OCI.
ManifestKind manifest_kind(std::string_view json, const std::string& what);
Manifest parse_manifest(std::string_view json, const std::string& what);
// The digest of the manifest for `p` in an index / manifest list; os::Error
// naming the platforms there are when none matches.
std::string pick_platform(std::string_view index_json, const Platform& p, const std::string& what);

}  // namespace rrun::image
