#pragma once
// Registry credentials and challenges (internal to rootfs/image; pull.cpp).
//
// Credentials come from --creds, else --authfile, else the first of
// $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
// $XDG_CONFIG_HOME/containers/auth.json (~/.config), ~/.docker/config.json
// ($DOCKER_CONFIG) that has an entry for the registry, as podman and docker
// write them: "auths": {"HOST[:PORT][/NAMESPACE]": {"auth": base64(user:password)}}.
// Credential helpers (credsStore, credHelpers) are not run; a configured
// one is named in the error when the registry asks for credentials.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrun::image {

struct PullOptions;

// A WWW-Authenticate challenge: `Bearer realm="...",service="...",scope="..."`.
struct Challenge {
  std::string scheme;                         // lower-case: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower-case
};
std::optional<Challenge> parse_challenge(std::string_view header);

struct Credentials {
  std::string user, password;
  std::string source;  // "--creds", or the file they came from
};

struct CredentialSearch {
  std::optional<Credentials> found;
  std::string helper;  // "FILE names the credential helper docker-credential-X for HOST" (not run)
};

// `host` is the registry as users name it ("docker.io", "127.0.0.1:5000"),
// `repository` its path ("library/debian"): a namespaced entry
// ("HOST/library") wins over the host's. `files` in search order; missing
// ones are skipped. Throws os::Error for a file that is not valid JSON or
// an entry whose auth is not base64 of USER:PASSWORD.
CredentialSearch find_credentials_in(const std::vector<std::string>& files, const std::string& host,
                                     const std::string& repository);

// The search of the header above for `opts`: --creds, --authfile (which
// must exist), else the default files.
CredentialSearch find_credentials(const PullOptions& opts, const std::string& host, const std::string& repository);

// The files searched when neither --creds nor --authfile is given, from the
// environment.
std::vector<std::string> default_auth_files();

// $XDG_CONFIG_HOME, else ~/.config: where the containers tools keep
// auth.json and certs.d.
std::string user_config_dir();

// "USER:PASSWORD" of --creds; os::Error without a `:` or a user.
Credentials parse_creds_flag(const std::string& creds);

}  // namespace rrun::image
