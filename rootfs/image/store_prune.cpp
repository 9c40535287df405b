// Store::prune: what no image record references goes, and what processes
// that are gone left in tmp/.

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "digest.hpp"
#include "store.hpp"
#include "store_files.hpp"

namespace rrun::image {

namespace {

using RemoveDir = void (*)(const std::string& dir);

// The hex digests of the blobs the records reference (manifest, config,
// layers) and of the layers, whose unpacked directories are named by them.
struct References {
  std::set<std::string> blobs, layers;
};

References references_of(const std::vector<ImageRecord>& records) {
  References refs;
  for (const ImageRecord& r : records) {
    refs.blobs.insert(digest_hex(r.manifest_digest));
    refs.blobs.insert(digest_hex(r.config_digest));
    for (const LayerRef& l : r.layers) {
      refs.blobs.insert(digest_hex(l.digest));
      refs.layers.insert(digest_hex(l.digest));
    }
  }
  return refs;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    os::throw_errno("open directory " + os::quote(dir));
  }
  while (struct dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.emplace_back(e->d_name);
  ::closedir(d);
  return out;
}

bool is_hex64(std::string_view s) {
  return s.size() >= 64 && s.substr(0, 64).find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Removes `path` (a file, or a directory through remove_dir) and returns
// the bytes it held.
uint64_t remove_entry(const std::string& path, RemoveDir remove_dir) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return 0;
    os::throw_errno("stat " + os::quote(path));
  }
  uint64_t bytes = store_files::disk_bytes(path);
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) os::throw_errno("remove " + os::quote(path));
  } else if (remove_dir) {
    remove_dir(path);
  } else {
    os::remove_tree(path);
  }
  return bytes;
}

void prune_blobs(const std::string& root, const References& refs, Store::PruneResult& res) {
  std::string dir = root + "/blobs/sha256";
  for (const std::string& name : entries(dir)) {
    if (refs.blobs.count(name)) continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0 || S_ISDIR(st.st_mode)) continue;
    if (::unlink(path.c_str()) < 0) {
      if (errno == ENOENT) continue;
      os::throw_errno("remove " + os::quote(path));
    }
    ++res.blobs;
    res.bytes += static_cast<uint64_t>(st.st_size);
  }
}

// An unreferenced layers/VARIANT/HEX is renamed into tmp/ first (under the
// layer's lock, skipped while an unpack holds it), then removed: a crash
// half-way leaves a tmp/ leftover, never a partial layer that looks whole.
void prune_layers(const std::string& root, const References& refs, RemoveDir remove_dir, Store::PruneResult& res) {
  for (const std::string& variant : entries(root + "/layers")) {
    std::string vdir = root + "/layers/" + variant;
    struct stat st;
    if (::lstat(vdir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) continue;
    for (const std::string& name : entries(vdir)) {
      if (!is_hex64(name) || refs.layers.count(name.substr(0, 64))) continue;
      std::string lock = root + "/locks/layer-" + variant + "-" + name.substr(0, 64);
      os::UniqueFd held = store_files::try_lock_path(lock);
      if (!held) continue;
      std::string moved = root + "/tmp/" + store_files::tmp_name("prune");
      if (::rename((vdir + "/" + name).c_str(), moved.c_str()) < 0) {
        if (errno == ENOENT) continue;
        os::throw_errno("rename " + os::quote(vdir + "/" + name) + " to " + os::quote(moved));
      }
      res.bytes += remove_entry(moved, remove_dir);
      ++res.layers;
    }
    ::rmdir(vdir.c_str());  // fails while the variant has layers: fine
  }
}

void prune_tmp(const std::string& root, RemoveDir remove_dir, Store::PruneResult& res) {
  std::string dir = root + "/tmp";
  for (const std::string& name : entries(dir)) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0 || !store_files::tmp_creator_gone(name, st.st_mtime)) continue;
    res.bytes += remove_entry(path, remove_dir);
    ++res.tmp;
  }
}

// Lock files accumulate (one per blob and layer ever fetched): the idle
// ones go. Safe: a process that locks a file removed meanwhile locks again
// (store_files::lock_path). "prune" is ours now and "images" stays.
void prune_locks(const std::string& root) {
  std::string dir = root + "/locks";
  for (const std::string& name : entries(dir)) {
    if (name == "prune" || name == "images") continue;
    std::string path = dir + "/" + name;
    os::UniqueFd held = store_files::try_lock_path(path);
    if (held) ::unlink(path.c_str());
  }
}

}  // namespace

Store::PruneResult Store::prune(void (*remove_dir)(const std::string& dir)) const {
  prune_guard_.reset();  // our own shared hold would wait for ourselves
  os::UniqueFd held =
      store_files::lock_path(root_ + "/locks/prune", false, "waiting for another rrun to finish pulling");
  References refs = references_of(images());
  PruneResult res;
  try {
    prune_blobs(root_, refs, res);
    prune_layers(root_, refs, remove_dir, res);
    prune_tmp(root_, remove_dir, res);
    prune_locks(root_);
  } catch (...) {
    os::rethrow_with_context("prune " + os::quote(root_));
  }
  return res;
}

}  // namespace rrun::image
