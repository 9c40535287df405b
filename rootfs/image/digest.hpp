#pragma once
// sha256 digests ("sha256:<64 hex>") with libcrypto, loaded with dlopen on
// first use (libs.hpp): the plain bundle path never loads it.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace rrun::image {

// True for "sha256:" followed by 64 lower-case hex digits (the only
// algorithm rrun accepts; also what keeps a digest safe as a file name).
bool valid_digest(std::string_view d);
// Throws os::Error naming `what` ("manifest digest", "layers[2].digest").
void check_digest(std::string_view d, const std::string& what);
// "sha256:abc..." -> "abc..."
std::string digest_hex(std::string_view d);

class Sha256 {
 public:
  Sha256();  // throws os::Error when libcrypto cannot be loaded (with the package to install)
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string finish();  // "sha256:<hex>"; once

 private:
  void* ctx_ = nullptr;
};

std::string sha256_of(std::string_view data);

}  // namespace rrun::image
