#include "pull.hpp"

#include <dirent.h>

#include <algorithm>
#include <variant>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/json_input.hpp>

#include "auth.hpp"
#include "digest.hpp"
#include "http.hpp"
#include "layout.hpp"
#include "media_types.hpp"
#include "source.hpp"

namespace rrun::image {

namespace {

using Json = nlohmann::json;

// The registry as users name it (docker.io, not the API host): the key of
// auth files and of certs.d.
std::string user_host(const ImageRef& ref) {
  return ref.registry == "registry-1.docker.io" ? "docker.io" : ref.registry;
}

// The *.crt files of the registry's certs.d directory: --cert-dir, else the
// first of ~/.config/containers/certs.d/HOST, /etc/containers/certs.d/HOST,
// /etc/docker/certs.d/HOST that exists (as the containers tools look).
std::vector<std::string> ca_files(const PullOptions& opts, const std::string& host) {
  std::vector<std::string> dirs;
  if (!opts.cert_dir.empty()) {
    dirs.push_back(opts.cert_dir);
  } else {
    dirs.push_back(user_config_dir() + "/containers/certs.d/" + host);
    dirs.push_back("/etc/containers/certs.d/" + host);
    dirs.push_back("/etc/docker/certs.d/" + host);
  }
  for (const std::string& d : dirs) {
    DIR* dir = ::opendir(d.c_str());
    if (!dir) {
      if (d == opts.cert_dir) os::throw_errno("--cert-dir " + os::quote(d));
      continue;
    }
    std::vector<std::string> files;
    while (struct dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name.size() > 4 && name.ends_with(".crt")) files.push_back(d + "/" + name);
    }
    ::closedir(dir);
    std::sort(files.begin(), files.end());
    return files;
  }
  return {};
}

// The registry's own words from its error body
// ({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}).
std::string registry_message(const HttpResponse& r) {
  try {
    Json j = spec::parse_json_input<Json>(r.body, "the registry's answer");
    const Json& e = j.at("errors").at(0);
    std::string msg = e.value("message", "");
    std::string code = e.value("code", "");
    if (!code.empty()) msg += (msg.empty() ? "" : " ") + std::string("(") + code + ")";
    if (!msg.empty()) return msg;
  } catch (const std::exception&) {
    // Not the registry's JSON (a proxy's page): the status says enough.
  }
  return "";
}

std::string status_text(const HttpResponse& r) {
  std::string msg = registry_message(r);
  return "HTTP " + std::to_string(r.status) + (msg.empty() ? "" : ": " + msg);
}

// The registry client of one pull: the scheme (https, or http for
// --tls-verify=false when the registry does not speak TLS), the
// credentials, and the token of the last challenge.
class Registry : public BlobSource {
 public:
  Registry(const ImageRef& ref, const PullOptions& opts)
      : ref_(ref), opts_(opts), host_(user_host(ref)), http_(TlsOptions{opts.tls_verify, tls_cas(opts)}) {}

  TopManifest top_manifest() {
    const std::string reference = ref_.digest.empty() ? ref_.tag : ref_.digest;
    HttpResponse r = get_manifest(reference);
    TopManifest top;
    top.body = std::move(r.body);
    top.digest = ref_.digest.empty() ? sha256_of(top.body) : ref_.digest;
    std::string claimed = r.header("docker-content-digest");
    if (claimed.starts_with("sha256:") && claimed != sha256_of(top.body))
      throw os::Error("manifest " + reference + ": the registry says its digest is " + claimed + ", it is " +
                      sha256_of(top.body));
    return top;
  }

  std::string fetch_document(const std::string& digest) override { return get_manifest(digest).body; }

  void fetch_blob(const std::string& digest, uint64_t size, Store::BlobWriter& w, Progress& progress) override {
    HttpRequest req;
    req.sink = [&](const char* data, size_t n) {
      if (w.written() + n > size)
        throw os::Error("blob " + digest + ": the registry sends more than its " + std::to_string(size) + " bytes");
      w.write(data, n);
      progress.advance(n);
    };
    HttpResponse r = send("/blobs/" + digest, req, "blob " + digest);
    if (r.status != 200) fail_status(r, "blob " + digest);
  }

 private:
  std::vector<std::string> tls_cas(const PullOptions& opts) { return ca_files(opts, host_); }

  std::string url(const std::string& path) const {
    return scheme_ + "://" + ref_.registry + "/v2/" + ref_.repository + path;
  }

  HttpResponse get_manifest(const std::string& reference) {
    HttpRequest req;
    req.headers.push_back(std::string("Accept: ") + media::kManifestAccept);
    req.max_body = media::kMaxDocument;
    HttpResponse r = send("/manifests/" + reference, req, "manifest " + reference);
    if (r.status != 200) fail_status(r, "manifest " + reference);
    return r;
  }

  // One request, authenticated as the registry asks (a 401 answers with a
  // challenge: take it, and send the request again once).
  HttpResponse send(const std::string& path, HttpRequest req, const std::string& what) {
    for (int attempt = 0;; ++attempt) {
      req.url = url(path);
      if (basic_) req.basic = std::make_pair(creds_->user, creds_->password);
      req.bearer = token_;
      auto result = http_.get(req);
      if (auto* e = std::get_if<TransportError>(&result)) {
        // --tls-verify=false: a registry that does not speak TLS is asked
        // again over http (skopeo does the same); decided on the first request.
        if (!opts_.tls_verify && scheme_ == "https" && !scheme_known_) {
          scheme_ = "http";
          scheme_known_ = true;
          --attempt;
          continue;
        }
        fail_transport(*e, what);
      }
      scheme_known_ = true;
      HttpResponse r = std::get<HttpResponse>(std::move(result));
      if (r.status != 401 || attempt > 0) return r;
      authenticate(r);
    }
  }

  const CredentialSearch& credentials() {
    if (!creds_loaded_) {
      search_ = find_credentials(opts_, host_, ref_.repository);
      creds_ = search_.found;
      creds_loaded_ = true;
    }
    return search_;
  }

  void authenticate(const HttpResponse& r) {
    std::optional<Challenge> ch = parse_challenge(r.header("www-authenticate"));
    credentials();
    if (ch && ch->scheme == "basic") {
      if (!creds_) fail_auth_required(r);
      basic_ = true;
      return;
    }
    if (!ch || ch->scheme != "bearer" || ch->params["realm"].empty())
      throw os::Error(host_ + " asks for authentication (HTTP 401) without a Basic or Bearer challenge rrun knows (" +
                      r.header("www-authenticate") + ")");
    token_ = fetch_token(*ch);
  }

  // The token of a Bearer challenge: GET realm?service=...&scope=..., with
  // the credentials when there are any (anonymous otherwise).
  std::string fetch_token(Challenge& ch) {
    const std::string& realm = ch.params["realm"];
    if (!realm.starts_with("https://") && !realm.starts_with("http://"))
      throw os::Error(host_ + ": the token realm \"" + realm + "\" is not an http(s) URL");
    std::string scope = ch.params.count("scope") ? ch.params["scope"] : "repository:" + ref_.repository + ":pull";
    std::string u = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    if (ch.params.count("service")) u += "service=" + http_.escape(ch.params["service"]) + "&";
    u += "scope=" + http_.escape(scope);
    HttpRequest req;
    req.url = u;
    req.max_body = 1 << 20;
    if (creds_) req.basic = std::make_pair(creds_->user, creds_->password);
    auto result = http_.get(req);
    if (auto* e = std::get_if<TransportError>(&result)) fail_transport(*e, "the token server " + realm);
    HttpResponse r = std::get<HttpResponse>(std::move(result));
    if (r.status == 401 || r.status == 403) {
      if (!creds_) fail_auth_required(r);
      fail_auth_refused(r);
    }
    if (r.status != 200) throw os::Error("the token server " + realm + ": " + status_text(r));
    try {
      Json j = spec::parse_json_input<Json>(r.body, "the token server's answer");
      std::string token = j.value("token", "");
      if (token.empty()) token = j.value("access_token", "");
      if (!token.empty()) return token;
    } catch (const std::exception&) {
    }
    throw os::Error("the token server " + realm + " answered without a token");
  }

  [[noreturn]] void fail_auth_required(const HttpResponse& r) {
    std::string helper = search_.helper.empty() ? "" : " (" + search_.helper + ")";
    throw os::Error(host_ + " requires authentication (" + status_text(r) + ")" + helper +
                    ": log in with `podman login " + host_ + "`, or give --creds USER:PASSWORD or --authfile FILE");
  }

  [[noreturn]] void fail_auth_refused(const HttpResponse& r) {
    throw os::Error(host_ + " refused the credentials from " + creds_->source + " for user \"" + creds_->user + "\" (" +
                    status_text(r) + "): check them, or log in again with `podman login " + host_ + "`");
  }

  [[noreturn]] void fail_status(const HttpResponse& r, const std::string& what) {
    if (r.status == 401) {
      if (!creds_) fail_auth_required(r);
      fail_auth_refused(r);
    }
    if (r.status == 403 && creds_) fail_auth_refused(r);
    std::string hint;
    if (r.status == 404) hint = ": is the name " + ref_.repository + " right, and is it on " + host_ + "?";
    throw os::Error(what + ": " + status_text(r) + " from " + host_ + hint);
  }

  [[noreturn]] void fail_transport(const TransportError& e, const std::string& what) {
    if (e.connect)
      throw os::Error(what + ": cannot connect to " + host_ + " (" + e.message + "): is the registry running there?");
    if (e.tls && opts_.tls_verify)
      throw os::Error(what + ": TLS with " + host_ + " failed (" + e.message +
                      "): give its CA with --cert-dir DIR (a " + "*.crt file) or in ~/.config/containers/certs.d/" +
                      host_ + "/, or --tls-verify=false for a " + "registry of your own");
    throw os::Error(what + ": the registry went away during the transfer (" + e.message +
                    "); nothing was kept, pull "
                    "again");
  }

  const ImageRef& ref_;
  PullOptions opts_;
  std::string host_;
  Http http_;
  std::string scheme_ = "https";
  bool scheme_known_ = false;
  bool creds_loaded_ = false;
  CredentialSearch search_;
  std::optional<Credentials> creds_;
  bool basic_ = false;
  std::string token_;
};

ImageRecord pull_from_registry(const Store& store, const ImageRef& ref, const PullOptions& opts, Progress& progress) {
  Registry registry(ref, opts);
  TopManifest top = registry.top_manifest();
  return import_image(store, ref.canonical(), top, registry, progress);
}

}  // namespace

ImageRecord pull_image(const Store& store, const ImageRef& ref, const PullOptions& opts, Progress& progress) {
  try {
    switch (ref.transport) {
      case Transport::docker:
        return pull_from_registry(store, ref, opts, progress);
      case Transport::oci:
        return pull_oci_layout(store, ref, progress);
      case Transport::oci_archive:
        return pull_oci_archive(store, ref, progress);
      case Transport::docker_archive:
        return pull_docker_archive(store, ref, progress);
    }
    throw os::Error("unknown transport");
  } catch (...) {
    os::rethrow_with_context("pull " + ref.canonical());
  }
}

ImageRecord ensure_image(const Store& store, const ImageRef& ref, const PullOptions& opts, Progress& progress) {
  const std::string name = ref.canonical();
  if (std::optional<ImageRecord> r = store.find_image(name)) {
    store.touch_image(name);
    r->last_used = ::time(nullptr);
    return *r;
  }
  return pull_image(store, ref, opts, progress);
}

}  // namespace rrun::image
