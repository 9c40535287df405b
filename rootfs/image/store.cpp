// The store's layout, blobs, locks and tmp/ (records: store_records.cpp,
// prune: store_prune.cpp).

#include "store.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/userns/detect.hpp>

#include "digest.hpp"
#include "store_files.hpp"

namespace rrun::image {

namespace {

const char* const kSubdirs[] = {"blobs", "blobs/sha256", "layers", "tmp", "locks"};

// An absolute path from the environment, else nullptr (the XDG base
// directory spec ignores relative values).
const char* absolute_env(const char* name) {
  const char* v = std::getenv(name);
  return v && v[0] == '/' ? v : nullptr;
}

std::string home_dir() {
  if (const char* h = absolute_env("HOME")) return h;
  if (struct passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_dir && pw->pw_dir[0] == '/') return pw->pw_dir;
  throw os::Error("cannot find the image store: neither XDG_DATA_HOME nor HOME is set; set one of them");
}

std::string strip_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// A lock or tmp/ name: one path component of our own making.
void check_name(const std::string& name, const char* what) {
  if (name.empty() || name == "." || name == ".." || name.size() > 200 ||
      name.find_first_of("/@\n") != std::string::npos)
    throw os::Error(std::string("image store: invalid ") + what + " name \"" + name + "\"");
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) < 0 && errno != EEXIST) os::throw_errno("create directory " + os::quote(path));
}

void check_owner(const std::string& root) {
  struct stat st;
  if (::stat(root.c_str(), &st) < 0) os::throw_errno("stat image store " + os::quote(root));
  if (!S_ISDIR(st.st_mode)) throw os::Error("image store " + os::quote(root) + " is not a directory");
  if (st.st_uid != ::geteuid())
    throw os::Error("image store " + os::quote(root) + " belongs to uid " + std::to_string(st.st_uid) +
                    ", not to you (uid " + std::to_string(::geteuid()) +
                    "): set XDG_DATA_HOME to a directory of your own");
}

}  // namespace

// ---------------------------------------------------------------- layout

std::string Store::default_root() {
  if (const char* xdg = absolute_env("XDG_DATA_HOME")) return strip_slashes(xdg) + "/rrun";
  if (!userns::running_rootless(::geteuid())) return "/var/lib/rrun";
  return strip_slashes(home_dir()) + "/.local/share/rrun";
}

Store::Store(std::string root) : root_(strip_slashes(std::move(root))) {
  try {
    if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) {
      if (errno != ENOENT) os::throw_errno("create directory " + os::quote(root_));
      os::mkdir_p(root_, 0700);  // ~/.local/share may be missing: the XDG spec says 0700
    }
    check_owner(root_);
    for (const char* sub : kSubdirs) make_dir(root_ + "/" + sub);
  } catch (...) {
    os::rethrow_with_context("image store");
  }
}

// ---------------------------------------------------------------- blobs

std::string Store::blob_path(std::string_view digest) const {
  check_digest(digest, "blob");
  return root_ + "/blobs/sha256/" + digest_hex(digest);
}

bool Store::has_blob(std::string_view digest) const {
  struct stat st;
  return ::lstat(blob_path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Store::read_blob(std::string_view digest, size_t limit) const {
  std::string what = "blob " + std::string(digest);
  try {
    return store_files::read_bounded(blob_path(digest), limit, what);
  } catch (const os::SystemError& e) {
    if (e.err() == ENOENT)
      throw os::Error(what + " is not in the image store " + os::quote(root_) + ": pull the image again");
    throw;
  }
}

struct Store::BlobWriter::Hash {
  Sha256 sha;
};

Store::BlobWriter::BlobWriter(const Store& store, std::string tmp_path, os::UniqueFd fd)
    : store_(&store), tmp_path_(std::move(tmp_path)), fd_(std::move(fd)), hash_(new Hash) {}

Store::BlobWriter::BlobWriter(BlobWriter&& o) noexcept
    : store_(o.store_),
      tmp_path_(std::exchange(o.tmp_path_, {})),
      fd_(std::move(o.fd_)),
      hash_(std::exchange(o.hash_, nullptr)),
      written_(o.written_),
      committed_(o.committed_) {}

Store::BlobWriter::~BlobWriter() {
  delete hash_;
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

void Store::BlobWriter::write(const void* data, size_t n) {
  if (!fd_ || committed_) throw os::Error("blob " + os::quote(tmp_path_) + ": write after commit");
  try {
    os::write_all(fd_, std::string_view(static_cast<const char*>(data), n));
  } catch (...) {
    os::rethrow_with_context("write blob " + os::quote(tmp_path_));
  }
  hash_->sha.update(data, n);
  written_ += n;
}

std::string Store::BlobWriter::commit(std::string_view expected_digest, int64_t size) {
  if (!fd_ || committed_) throw os::Error("blob " + os::quote(tmp_path_) + ": committed twice");
  std::string what = "blob " + std::string(expected_digest);
  check_digest(expected_digest, "blob");
  // Any throw below leaves the tmp file to the destructor, which removes it.
  if (size >= 0 && written_ != static_cast<uint64_t>(size))
    throw os::Error(what + ": size mismatch: expected " + std::to_string(size) + " bytes, got " +
                    std::to_string(written_));
  std::string got = hash_->sha.finish();
  if (got != expected_digest) throw os::Error(what + ": digest mismatch: got " + got);
  // Blobs are trusted once in blobs/ (read without hashing again), so the
  // data reaches the disk before the name does: a crash must not leave a
  // short file there.
  if (::fsync(fd_.get()) < 0) os::throw_errno("fsync " + os::quote(tmp_path_));
  fd_.reset();
  // Two processes may commit the same blob: the second rename replaces an
  // identical file, which readers holding the first one keep.
  std::string dest = store_->blob_path(expected_digest);
  if (::rename(tmp_path_.c_str(), dest.c_str()) < 0)
    os::throw_errno("rename " + os::quote(tmp_path_) + " to " + os::quote(dest));
  committed_ = true;
  return got;
}

Store::BlobWriter Store::new_blob() const {
  hold_against_prune();
  std::string path = root_ + "/tmp/" + store_files::tmp_name("blob");
  os::UniqueFd fd = os::open_file(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  try {
    return BlobWriter(*this, path, std::move(fd));
  } catch (...) {
    ::unlink(path.c_str());  // libcrypto missing: the hash could not start
    throw;
  }
}

void Store::put_blob(std::string_view expected_digest, std::string_view data) const {
  check_digest(expected_digest, "blob");
  std::string got = sha256_of(data);
  if (got != expected_digest) throw os::Error("blob " + std::string(expected_digest) + ": digest mismatch: got " + got);
  if (has_blob(expected_digest)) return;
  BlobWriter w = new_blob();
  w.write(data.data(), data.size());
  w.commit(expected_digest, static_cast<int64_t>(data.size()));
}

// ---------------------------------------------------------------- locks, tmp/

os::UniqueFd Store::lock(const std::string& name) const {
  check_name(name, "lock");
  return store_files::lock_path(root_ + "/locks/" + name, false, "waiting for another rrun using " + name);
}

void Store::hold_against_prune() const {
  if (prune_guard_) return;
  prune_guard_ = std::make_shared<os::UniqueFd>(
      store_files::lock_path(root_ + "/locks/prune", true, "waiting for another rrun's prune to finish"));
}

std::string Store::make_tmp_dir(const std::string& prefix) const {
  check_name(prefix, "tmp");
  for (;;) {
    std::string path = root_ + "/tmp/" + store_files::tmp_name(prefix);
    if (::mkdir(path.c_str(), 0700) == 0) return path;
    if (errno != EEXIST) os::throw_errno("create directory " + os::quote(path));
  }
}

}  // namespace rrun::image
