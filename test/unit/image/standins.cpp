// TEMPORARY stand-ins for store.cpp, digest.cpp and progress.cpp (being
// written by other branches) so that layer_test links; removed when they
// land on main. Only what layer.cpp uses. Weak: where the real ones are
// linked too (a merge in either order), theirs win.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <rrun/image/digest.hpp>
#include <rrun/image/libs.hpp>
#include <rrun/image/progress.hpp>
#include <rrun/image/store.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

namespace rrun::image {

[[gnu::weak]] std::string Store::default_root() {
  if (::geteuid() == 0) return "/var/lib/rrun";
  const char* x = std::getenv("XDG_DATA_HOME");
  if (x && *x == '/') return std::string(x) + "/rrun";
  return std::string(std::getenv("HOME")) + "/.local/share/rrun";
}

[[gnu::weak]] Store::Store(std::string root) : root_(std::move(root)) {
  for (const char* sub : {"", "/blobs/sha256", "/layers", "/tmp", "/locks"}) os::mkdir_p(root_ + sub, 0700);
}

[[gnu::weak]] std::string Store::blob_path(std::string_view digest) const {
  return root_ + "/blobs/sha256/" + digest_hex(digest);
}

[[gnu::weak]] bool Store::has_blob(std::string_view digest) const {
  return os::path_exists(blob_path(digest));
}

[[gnu::weak]] os::UniqueFd Store::lock(const std::string& name) const {
  os::UniqueFd fd = os::open_file(root_ + "/locks/" + name, O_RDWR | O_CREAT, 0600);
  if (::flock(fd.get(), LOCK_EX) != 0) os::throw_errno("lock");
  return fd;
}

[[gnu::weak]] std::string Store::make_tmp_dir(const std::string& prefix) const {
  std::string t = root_ + "/tmp/" + prefix + "XXXXXX";
  if (!::mkdtemp(t.data())) os::throw_errno("mkdtemp");
  return t;
}

[[gnu::weak]] bool valid_digest(std::string_view d) {
  if (d.size() != 71 || d.substr(0, 7) != "sha256:") return false;
  for (char c : d.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

[[gnu::weak]] void check_digest(std::string_view d, const std::string& what) {
  if (!valid_digest(d)) throw os::Error(what + ": not a sha256 digest");
}

[[gnu::weak]] std::string digest_hex(std::string_view d) {
  return std::string(d.substr(d.find(':') + 1));
}

namespace {
struct Evp {
  void* (*ctx_new)();
  const void* (*sha256)();
  int (*init)(void*, const void*, void*);
  int (*update)(void*, const void*, size_t);
  int (*final)(void*, unsigned char*, unsigned*);
  void (*ctx_free)(void*);
} evp;
}  // namespace

[[gnu::weak]] Sha256::Sha256() {
  if (!evp.ctx_new)
    load_symbols("libcrypto.so.3", "libssl3",
                 {{reinterpret_cast<void**>(&evp.ctx_new), "EVP_MD_CTX_new"},
                  {reinterpret_cast<void**>(&evp.sha256), "EVP_sha256"},
                  {reinterpret_cast<void**>(&evp.init), "EVP_DigestInit_ex"},
                  {reinterpret_cast<void**>(&evp.update), "EVP_DigestUpdate"},
                  {reinterpret_cast<void**>(&evp.final), "EVP_DigestFinal_ex"},
                  {reinterpret_cast<void**>(&evp.ctx_free), "EVP_MD_CTX_free"}});
  ctx_ = evp.ctx_new();
  evp.init(ctx_, evp.sha256(), nullptr);
}

[[gnu::weak]] Sha256::~Sha256() {
  evp.ctx_free(ctx_);
}

[[gnu::weak]] void Sha256::update(const void* data, size_t n) {
  evp.update(ctx_, data, n);
}

[[gnu::weak]] std::string Sha256::finish() {
  unsigned char md[32];
  unsigned n = 0;
  evp.final(ctx_, md, &n);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

[[gnu::weak]] std::string sha256_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

[[gnu::weak]] void Progress::start(const std::string& what, uint64_t total) {
  what_ = what;
  total_ = total;
  done_ = 0;
}
[[gnu::weak]] void Progress::advance(uint64_t bytes) {
  done_ += bytes;
}
[[gnu::weak]] void Progress::done() {}

}  // namespace rrun::image
