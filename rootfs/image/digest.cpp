#include "digest.hpp"

#include <openssl/evp.h>

#include <rrun/os/error.hpp>

#include "libs.hpp"

namespace rrun::image {

namespace {

constexpr std::string_view kPrefix = "sha256:";
constexpr size_t kHexLen = 64;

bool lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// libcrypto's EVP digest API, resolved once per process on first use.
struct Crypto {
  decltype(&::EVP_MD_CTX_new) md_ctx_new;
  decltype(&::EVP_MD_CTX_free) md_ctx_free;
  decltype(&::EVP_sha256) sha256;
  decltype(&::EVP_DigestInit_ex) init;
  decltype(&::EVP_DigestUpdate) update;
  decltype(&::EVP_DigestFinal_ex) final;
};

Crypto load_crypto() {
  Crypto c{};
  load_symbols("libcrypto.so.3", "libssl3",
               {{reinterpret_cast<void**>(&c.md_ctx_new), "EVP_MD_CTX_new"},
                {reinterpret_cast<void**>(&c.md_ctx_free), "EVP_MD_CTX_free"},
                {reinterpret_cast<void**>(&c.sha256), "EVP_sha256"},
                {reinterpret_cast<void**>(&c.init), "EVP_DigestInit_ex"},
                {reinterpret_cast<void**>(&c.update), "EVP_DigestUpdate"},
                {reinterpret_cast<void**>(&c.final), "EVP_DigestFinal_ex"}});
  return c;
}

// A failed load throws from the static's initializer, so the next call
// tries again (and fails again with the same message).
const Crypto& crypto() {
  static const Crypto c = load_crypto();
  return c;
}

EVP_MD_CTX* ctx_of(void* p) {
  return static_cast<EVP_MD_CTX*>(p);
}

}  // namespace

bool valid_digest(std::string_view d) {
  if (d.size() != kPrefix.size() + kHexLen || d.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : d.substr(kPrefix.size()))
    if (!lower_hex(c)) return false;
  return true;
}

void check_digest(std::string_view d, const std::string& what) {
  if (!valid_digest(d))
    throw os::Error(what + ": invalid digest \"" + std::string(d.substr(0, 100)) +
                    "\": expected sha256: and 64 lower-case hex digits");
}

std::string digest_hex(std::string_view d) {
  if (d.substr(0, kPrefix.size()) == kPrefix) d.remove_prefix(kPrefix.size());
  return std::string(d);
}

Sha256::Sha256() {
  const Crypto& c = crypto();
  EVP_MD_CTX* ctx = c.md_ctx_new();
  if (!ctx) throw os::Error("sha256: cannot allocate a digest context");
  if (c.init(ctx, c.sha256(), nullptr) != 1) {
    c.md_ctx_free(ctx);
    throw os::Error("sha256: cannot initialize the digest");
  }
  ctx_ = ctx;
}

Sha256::~Sha256() {
  if (ctx_) crypto().md_ctx_free(ctx_of(ctx_));
}

void Sha256::update(const void* data, size_t n) {
  if (!ctx_) throw os::Error("sha256: update after finish");
  if (n && crypto().update(ctx_of(ctx_), data, n) != 1) throw os::Error("sha256: update failed");
}

std::string Sha256::finish() {
  if (!ctx_) throw os::Error("sha256: finished twice");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  int ok = crypto().final(ctx_of(ctx_), md, &len);
  crypto().md_ctx_free(ctx_of(ctx_));
  ctx_ = nullptr;
  if (ok != 1 || len != kHexLen / 2) throw os::Error("sha256: final failed");
  static const char hex[] = "0123456789abcdef";
  std::string out(kPrefix);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

std::string sha256_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

}  // namespace rrun::image
