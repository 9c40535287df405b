#pragma once
// The media types of the documents and blobs of an image (OCI image spec
// and Docker's registry v2 schema 2), shared by the parser (config.cpp) and
// the transports (pull.cpp, layout.cpp). Internal to rootfs/image.

#include <cstddef>

namespace rrun::image::media {

inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";

// What a registry is asked for (the Accept header of a manifest request):
// every kind rrun reads, never schema 1.
inline constexpr const char* kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

// Manifests, configs and indexes are read whole: none of a real image comes
// near this (a manifest of 127 layers is ~25 KiB).
inline constexpr size_t kMaxDocument = 4 << 20;

}  // namespace rrun::image::media
