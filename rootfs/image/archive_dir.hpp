#pragma once
// An image archive (oci-archive:, docker-archive:; a tar, compressed or
// not) unpacked with libarchive into a fresh directory under the store's
// tmp/, removed when done (internal to rootfs/image: layout.cpp).
//
// Only regular files and directories are written. Links between the
// archive's files (docker save's repeated layers are symlinks) are kept as
// a map and followed by resolve(), never made on disk: nothing in the
// archive makes rrun read or write outside the directory.

#include <map>
#include <string>

#include "store.hpp"

namespace rrun::image {

class ExtractedArchive {
 public:
  // Throws os::Error naming `archive` on a bad tar or an entry outside it.
  ExtractedArchive(const Store& store, const std::string& archive);
  ~ExtractedArchive();
  ExtractedArchive(const ExtractedArchive&) = delete;
  ExtractedArchive& operator=(const ExtractedArchive&) = delete;

  // The file the archive's `name` is, following its links; "" when there
  // is none.
  std::string resolve(const std::string& name) const;

 private:
  std::string archive_;
  std::string dir_;
  std::map<std::string, std::string> links_;  // entry -> target, both relative to the archive's root
};

// "a/./b/../c" -> "a/c"; "" when the name leaves the root ("../x", "/x").
std::string archive_name(const std::string& name);

}  // namespace rrun::image
