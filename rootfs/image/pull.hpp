#pragma once
// Getting an image into the store: from a registry (HTTP API v2 through
// libcurl), an OCI layout, an OCI archive or a docker-archive. Every blob is
// verified against its digest before it is kept; an interrupted pull leaves
// nothing half-written (store.hpp). Two pulls of one image by one user:
// one downloads each blob, the other waits for it (the blob's lock) and
// finds it there.
//
// Registry auth: anonymous, bearer tokens (the WWW-Authenticate challenge),
// basic with credentials from $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
// ~/.config/containers/auth.json, ~/.docker/config.json ("auths" -> "auth":
// base64 user:password), as podman and docker write them. TLS with the
// system's CAs plus the CA files (*.crt) of the registry's certs.d
// directory (--cert-dir, else ~/.config/containers/certs.d/HOST:PORT,
// /etc/containers/certs.d/HOST:PORT, /etc/docker/certs.d/HOST:PORT).

#include <string>

#include "progress.hpp"
#include "ref.hpp"
#include "store.hpp"

namespace rrun::image {

struct PullOptions {
  bool tls_verify = true;  // --tls-verify=false: plain HTTP or unverified TLS (a local registry)
  std::string cert_dir;    // --cert-dir DIR
  std::string auth_file;   // --authfile FILE (else the search above)
  std::string creds;       // --creds USER:PASSWORD
};

// Fetches everything `ref` needs that the store lacks and records the image.
// Errors name the reference and what went wrong, with a remedy where there
// is one: "pull docker://127.0.0.1:5000/x:y: authentication required: log in
// with `podman login 127.0.0.1:5000` or give --creds".
ImageRecord pull_image(const Store& store, const ImageRef& ref, const PullOptions& opts, Progress& progress);

// The stored record of `ref` (touched), pulling it first when there is none.
ImageRecord ensure_image(const Store& store, const ImageRef& ref, const PullOptions& opts, Progress& progress);

}  // namespace rrun::image
