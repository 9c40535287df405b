#include "http.hpp"

// The headers for the types only: every function comes through dlopen.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <optional>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "libs.hpp"

namespace rrun::image {

namespace {

struct CurlApi {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);  // variadic: each call passes the option's own type
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  char* (*easy_escape)(CURL*, const char*, int);
  void (*free)(void*);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

const CurlApi& curl_api() {
  static const CurlApi api = [] {
    CurlApi a{};
    load_symbols("libcurl.so.4", "libcurl4",
                 {{reinterpret_cast<void**>(&a.global_init), "curl_global_init"},
                  {reinterpret_cast<void**>(&a.easy_init), "curl_easy_init"},
                  {reinterpret_cast<void**>(&a.easy_cleanup), "curl_easy_cleanup"},
                  {reinterpret_cast<void**>(&a.easy_reset), "curl_easy_reset"},
                  {reinterpret_cast<void**>(&a.easy_setopt), "curl_easy_setopt"},
                  {reinterpret_cast<void**>(&a.easy_perform), "curl_easy_perform"},
                  {reinterpret_cast<void**>(&a.easy_getinfo), "curl_easy_getinfo"},
                  {reinterpret_cast<void**>(&a.easy_strerror), "curl_easy_strerror"},
                  {reinterpret_cast<void**>(&a.easy_escape), "curl_easy_escape"},
                  {reinterpret_cast<void**>(&a.free), "curl_free"},
                  {reinterpret_cast<void**>(&a.slist_append), "curl_slist_append"},
                  {reinterpret_cast<void**>(&a.slist_free_all), "curl_slist_free_all"}});
    if (a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw os::Error("libcurl: curl_global_init failed");
    return a;
  }();
  return api;
}

constexpr size_t kMaxErrorBody = 64 << 10;

// What the callbacks of one transfer share.
struct Transfer {
  const HttpRequest* req;
  HttpResponse resp;
  long current_status = 0;  // of the response whose headers and body arrive (redirects come first)
  std::exception_ptr error;
  bool too_large = false;
};

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after a redirect, or 100 Continue)
    size_t sp = line.find(' ');
    t->current_status = sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    t->resp.headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    t->resp.headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  bool ok = t->current_status >= 200 && t->current_status < 300;
  if (!ok) {
    // An error's body (the registry's JSON), kept for the message.
    if (t->resp.body.size() < kMaxErrorBody)
      t->resp.body.append(data, std::min(len, kMaxErrorBody - t->resp.body.size()));
    return len;
  }
  if (!t->req->sink) {
    if (t->resp.body.size() + len > t->req->max_body) {
      t->too_large = true;
      return 0;  // aborts: CURLE_WRITE_ERROR
    }
    t->resp.body.append(data, len);
    return len;
  }
  try {
    t->req->sink(data, len);
  } catch (...) {
    t->error = std::current_exception();
    return 0;
  }
  return len;
}

bool is_connect_error(CURLcode c) {
  return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_RESOLVE_PROXY ||
         c == CURLE_OPERATION_TIMEDOUT;
}

bool is_tls_error(CURLcode c) {
  return c == CURLE_SSL_CONNECT_ERROR || c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CERTPROBLEM ||
         c == CURLE_SSL_CIPHER || c == CURLE_SSL_CACERT_BADFILE || c == CURLE_SSL_ISSUER_ERROR;
}

// $no_proxy and the loopback addresses: a registry on this machine is never
// reached through $http_proxy (Go's rule, which skopeo and podman follow).
std::string no_proxy_list() {
  const char* env = std::getenv("no_proxy");
  if (!env || !*env) env = std::getenv("NO_PROXY");
  std::string list = env ? env : "";
  if (list == "*") return list;
  return list + (list.empty() ? "" : ",") + "localhost,127.0.0.1,::1";
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

Http::Http(TlsOptions tls) : tls_(std::move(tls)), no_proxy_(no_proxy_list()) {
  const CurlApi& api = curl_api();
  curl_ = api.easy_init();
  if (!curl_) throw os::Error("libcurl: curl_easy_init failed");
  if (!tls_.ca_files.empty()) {
    // The system's CAs (curl's built-in bundle) and the registry's own.
    char* system_ca = nullptr;
    if (api.easy_getinfo(static_cast<CURL*>(curl_), CURLINFO_CAINFO, &system_ca) == CURLE_OK && system_ca)
      ca_blob_ = os::read_file_if_exists(system_ca).value_or("");
    for (const std::string& f : tls_.ca_files) {
      std::optional<std::string> pem = os::read_input_file_if_exists(f);
      if (!pem) os::throw_errno(ENOENT, "read " + os::quote(f));
      ca_blob_ += "\n" + *pem;
    }
  }
}

Http::~Http() {
  if (curl_) curl_api().easy_cleanup(static_cast<CURL*>(curl_));
}

std::string Http::escape(std::string_view s) {
  const CurlApi& api = curl_api();
  char* e = api.easy_escape(static_cast<CURL*>(curl_), s.data(), static_cast<int>(s.size()));
  if (!e) throw os::Error("libcurl: curl_easy_escape failed");
  std::string out(e);
  api.free(e);
  return out;
}

std::variant<HttpResponse, TransportError> Http::get(const HttpRequest& req) {
  const CurlApi& api = curl_api();
  CURL* c = static_cast<CURL*>(curl_);
  api.easy_reset(c);  // keeps the live connections
  Transfer t{&req, {}, 0, nullptr, false};
  curl_slist* headers = nullptr;
  for (const std::string& h : req.headers) headers = api.slist_append(headers, h.c_str());
  struct SlistGuard {
    const CurlApi& api;
    curl_slist* l;
    ~SlistGuard() { api.slist_free_all(l); }
  } guard{api, headers};

  // Each value is passed as the type the option expects: long, a pointer,
  // a function pointer (curl_easy_setopt is variadic).
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption o, auto v) {
    if (rc == CURLE_OK) rc = api.easy_setopt(c, o, v);
  };
  set(CURLOPT_URL, req.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 1L);
  set(CURLOPT_MAXREDIRS, 10L);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_USERAGENT, "rrun");
  set(CURLOPT_CONNECTTIMEOUT, 30L);
  // A registry that stops sending (stopped, or a dead network) ends the
  // transfer after a minute instead of hanging the pull.
  set(CURLOPT_LOW_SPEED_LIMIT, 1L);
  set(CURLOPT_LOW_SPEED_TIME, 60L);
  set(CURLOPT_NOPROXY, no_proxy_.c_str());
  set(CURLOPT_HTTPHEADER, headers);
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
  char detail[CURL_ERROR_SIZE] = "";
  set(CURLOPT_ERRORBUFFER, static_cast<char*>(detail));
  if (!tls_.verify) {
    set(CURLOPT_SSL_VERIFYPEER, 0L);
    set(CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!ca_blob_.empty()) {
    curl_blob blob{ca_blob_.data(), ca_blob_.size(), CURL_BLOB_NOCOPY};
    set(CURLOPT_CAINFO_BLOB, &blob);
  }
  if (req.basic) {
    set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    set(CURLOPT_USERNAME, req.basic->first.c_str());
    set(CURLOPT_PASSWORD, req.basic->second.c_str());
  } else if (!req.bearer.empty()) {
    set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
    set(CURLOPT_XOAUTH2_BEARER, req.bearer.c_str());
  }
  if (rc != CURLE_OK) throw os::Error(std::string("libcurl: setting up the request: ") + api.easy_strerror(rc));

  rc = api.easy_perform(c);
  if (t.error) std::rethrow_exception(t.error);
  if (t.too_large) throw os::Error(req.url + ": larger than " + std::to_string(req.max_body >> 10) + " KiB");
  if (rc != CURLE_OK) {
    TransportError e;
    e.curl_code = rc;
    e.message = detail[0] ? detail : api.easy_strerror(rc);
    e.connect = is_connect_error(rc) && t.current_status == 0;
    e.tls = is_tls_error(rc);
    return e;
  }
  api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t.resp.status);
  return std::move(t.resp);
}

}  // namespace rrun::image
