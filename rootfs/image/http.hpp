#pragma once
// HTTP GETs through libcurl, loaded with dlopen on first use (libs.hpp).
// Internal to rootfs/image: the registry client (pull.cpp) is its only user.
//
// One Http per pull: its curl handle keeps connections alive between the
// requests of a pull. Redirects are followed (registries send blobs to a
// storage service); credentials go to the first host only, never to the one
// redirected to (curl's rule, and what S3's signed URLs need).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace rrun::image {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Accept: ..."
  // Authentication, sent to the request's host only.
  std::optional<std::pair<std::string, std::string>> basic;  // user, password
  std::string bearer;                                        // a token
  // Where a 2xx body goes; the body of any other status is kept in
  // HttpResponse::body (at most 64 KiB) for its error message.
  // Throwing aborts the transfer, and perform() rethrows.
  std::function<void(const char* data, size_t n)> sink;
  size_t max_body = 0;  // without a sink: the 2xx body kept in memory, at most this (else an error)
};

struct HttpResponse {
  long status = 0;
  std::string body;                                          // without a sink, or a non-2xx status
  std::vector<std::pair<std::string, std::string>> headers;  // of the final response; names lower-case
  std::string header(std::string_view name) const;           // the first value, "" when absent
};

// A failure below HTTP (connect, TLS, a connection reset mid-body, a timeout):
// what curl said, and whether the peer was reached at all.
struct TransportError {
  int curl_code = 0;
  std::string message;
  bool connect = false;  // before any response: nothing listening, refused, DNS
  bool tls = false;      // the TLS handshake or the peer's certificate
};

struct TlsOptions {
  bool verify = true;
  std::vector<std::string> ca_files;  // added to the system's CAs
};

class Http {
 public:
  explicit Http(TlsOptions tls);  // loads libcurl; os::Error naming the package when missing
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // The response, or the transport error. A sink's exception propagates.
  std::variant<HttpResponse, TransportError> get(const HttpRequest& req);

  // "a b" -> "a%20b" (query strings of token requests).
  std::string escape(std::string_view s);

 private:
  void* curl_ = nullptr;
  TlsOptions tls_;
  std::string ca_blob_;  // the system CAs and tls_.ca_files, when there are ca_files
  std::string no_proxy_;
};

}  // namespace rrun::image
