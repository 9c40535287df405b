#include "auth.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/json_input.hpp>

#include "libs.hpp"
#include "pull.hpp"

namespace rrun::image {

namespace {

using Json = nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// base64 through libcrypto (no hand-written codecs); nullopt when `in` is
// not base64.
std::optional<std::string> base64_decode(const std::string& in) {
  static int (*decode)(unsigned char*, const unsigned char*, int) = [] {
    int (*fn)(unsigned char*, const unsigned char*, int) = nullptr;
    load_symbols("libcrypto.so.3", "libssl3", {{reinterpret_cast<void**>(&fn), "EVP_DecodeBlock"}});
    return fn;
  }();
  if (in.empty() || in.size() % 4 != 0 || in.size() > (1 << 20)) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = decode(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                 static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t pad = in.ends_with("==") ? 2 : in.ends_with("=") ? 1 : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// An "auths" key as the containers tools normalize it: a URL
// ("https://index.docker.io/v1/") is its host; index.docker.io is docker.io.
std::string normalize_key(std::string key) {
  bool url = false;
  for (const char* scheme : {"https://", "http://"})
    if (key.starts_with(scheme)) key.erase(0, std::string(scheme).size()), url = true;
  if (url) key = key.substr(0, key.find('/'));
  while (key.size() > 1 && key.back() == '/') key.pop_back();
  if (key == "index.docker.io" || key == "registry-1.docker.io") key = "docker.io";
  return key;
}

// The keys an entry may have for host/repository, most specific first:
// "host/a/b/c", "host/a/b", "host/a", "host".
std::vector<std::string> keys_for(const std::string& host, const std::string& repository) {
  std::vector<std::string> keys;
  std::string path = host + "/" + repository;
  for (;;) {
    keys.push_back(path);
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash < host.size()) break;
    path.resize(slash);
  }
  if (keys.back() != host) keys.push_back(host);
  return keys;
}

std::optional<Credentials> decode_entry(const Json& entry, const std::string& file, const std::string& key) {
  if (!entry.is_object()) return std::nullopt;
  auto auth = entry.find("auth");
  if (auth == entry.end() || !auth->is_string() || auth->get<std::string>().empty()) return std::nullopt;
  std::optional<std::string> plain = base64_decode(auth->get<std::string>());
  size_t colon = plain ? plain->find(':') : std::string::npos;
  if (colon == std::string::npos || colon == 0)
    throw os::Error(file + ": auths.\"" + key + "\".auth is not base64 of USER:PASSWORD");
  return Credentials{plain->substr(0, colon), plain->substr(colon + 1), file};
}

// The credential helper a file names for `host`, "" when none.
std::string helper_in(const Json& j, const std::string& host) {
  auto helpers = j.find("credHelpers");
  if (helpers != j.end() && helpers->is_object())
    for (const auto& [k, v] : helpers->items())
      if (normalize_key(k) == host && v.is_string()) return v.get<std::string>();
  auto store = j.find("credsStore");
  if (store != j.end() && store->is_string() && !store->get<std::string>().empty()) return store->get<std::string>();
  return "";
}

std::string home_dir() {
  if (const char* h = std::getenv("HOME"); h && *h) return h;
  if (struct passwd* pw = ::getpwuid(::geteuid())) return pw->pw_dir;
  return "/";
}

}  // namespace

std::optional<Challenge> parse_challenge(std::string_view h) {
  size_t i = 0;
  while (i < h.size() && h[i] == ' ') ++i;
  size_t start = i;
  while (i < h.size() && h[i] != ' ') ++i;
  if (i == start) return std::nullopt;
  Challenge c;
  c.scheme = lower(std::string(h.substr(start, i - start)));
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    size_t eq = h.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name = lower(std::string(h.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      for (++i; i < h.size() && h[i] != '"'; ++i) {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i];
      }
      ++i;  // the closing quote
    } else {
      size_t end = h.find(',', i);
      if (end == std::string_view::npos) end = h.size();
      value = std::string(h.substr(i, end - i));
      while (!value.empty() && value.back() == ' ') value.pop_back();
      i = end;
    }
    c.params[name] = value;
  }
  return c;
}

CredentialSearch find_credentials_in(const std::vector<std::string>& files, const std::string& host,
                                     const std::string& repository) {
  CredentialSearch out;
  const std::vector<std::string> keys = keys_for(host, repository);
  for (const std::string& file : files) {
    std::optional<std::string> text = os::read_input_file_if_exists(file);
    if (!text) continue;
    Json j;
    try {
      j = spec::parse_json_input<Json>(*text, file);
    } catch (const Json::parse_error& e) {
      throw os::Error(file + ": not valid JSON at byte " + std::to_string(e.byte));
    }
    if (!j.is_object()) throw os::Error(file + ": not a JSON object");
    auto auths = j.find("auths");
    if (auths != j.end() && auths->is_object()) {
      for (const std::string& want : keys)
        for (const auto& [k, entry] : auths->items())
          if (normalize_key(k) == want)
            if (auto creds = decode_entry(entry, file, k)) {
              out.found = std::move(creds);
              return out;
            }
    }
    if (std::string helper = helper_in(j, host); !helper.empty() && out.helper.empty())
      out.helper = file + " names the credential helper docker-credential-" + helper + " for " + host +
                   ", which rrun does not run";
  }
  return out;
}

std::string user_config_dir() {
  const char* config = std::getenv("XDG_CONFIG_HOME");
  return config && *config ? std::string(config) : home_dir() + "/.config";
}

std::vector<std::string> default_auth_files() {
  std::vector<std::string> files;
  if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) files.emplace_back(f);
  if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d && *d)
    files.push_back(std::string(d) + "/containers/auth.json");
  files.push_back(user_config_dir() + "/containers/auth.json");
  const char* docker = std::getenv("DOCKER_CONFIG");
  files.push_back((docker && *docker ? std::string(docker) : home_dir() + "/.docker") + "/config.json");
  return files;
}

Credentials parse_creds_flag(const std::string& creds) {
  size_t colon = creds.find(':');
  if (colon == std::string::npos || colon == 0)
    throw os::Error("--creds: expected USER:PASSWORD (rrun does not prompt for a password)");
  return Credentials{creds.substr(0, colon), creds.substr(colon + 1), "--creds"};
}

CredentialSearch find_credentials(const PullOptions& opts, const std::string& host, const std::string& repository) {
  if (!opts.creds.empty()) return CredentialSearch{parse_creds_flag(opts.creds), ""};
  if (!opts.auth_file.empty()) {
    if (!os::path_exists(opts.auth_file))
      throw os::Error("--authfile " + os::quote(opts.auth_file) +
                      ": no such file; give the file `podman login --authfile` wrote");
    return find_credentials_in({opts.auth_file}, host, repository);
  }
  return find_credentials_in(default_auth_files(), host, repository);
}

}  // namespace rrun::image
