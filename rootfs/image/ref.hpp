#pragma once
// Image references, as the containers tools (skopeo, podman) write them:
//   docker://[HOST[:PORT]/]NAME[:TAG|@DIGEST]   a registry (HTTP API v2)
//   oci:DIR[:TAG]                               an OCI image layout
//   oci-archive:FILE[:TAG]                      a tar of an OCI image layout
//   docker-archive:FILE                         `docker save` output
// A reference without a transport is docker://. Without HOST the registry
// is docker.io (registry-1.docker.io) and a NAME without a slash gets
// `library/`; without TAG or DIGEST the tag is `latest`.
//
// Pure: no I/O.

#include <string>

namespace rrun::image {

enum class Transport { docker, oci, oci_archive, docker_archive };

struct ImageRef {
  Transport transport = Transport::docker;
  // docker://
  std::string registry;    // "127.0.0.1:5000", "registry-1.docker.io" (the host to talk to)
  std::string repository;  // "library/debian"
  std::string tag;         // "bookworm" (empty with a digest)
  std::string digest;      // "sha256:..." (empty with a tag)
  // oci:, oci-archive:, docker-archive:
  std::string path;  // absolute, as given made absolute against the cwd
  // tag = the reference name inside the layout/archive (may be empty: the only image)

  // The name the store records and `rrun images` shows, normalized so that
  // two spellings of one image are one: "docker://docker.io/library/debian:bookworm",
  // "oci:/abs/dir:tag".
  std::string canonical() const;
};

// Throws os::Error: `invalid image reference "X": WHAT; expected docker://HOST/NAME:TAG, oci:DIR[:TAG], ...`.
ImageRef parse_ref(const std::string& text);

}  // namespace rrun::image
