// Layer tars (rootfs/image/extract): the input is a layer blob (tar,
// tar+gzip or tar+zstd) fed from memory (a memfd) through rrun's libarchive
// reading, path cleaning and entry checks, and unpacked into a scratch
// directory on tmpfs that is emptied after every input. The whiteout
// handling and id squashing vary with the input's size, so that each form
// gets run without a header of our own in front of the tar.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <string>

#include <rrun/image/extract.hpp>

#include "fuzz.hpp"

namespace image = rrun::image;

namespace {

const rrun::fuzz::Scratch& scratch() {
  static const rrun::fuzz::Scratch s;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const rrun::fuzz::Scratch& dir = scratch();
  int src = ::memfd_create("layer", MFD_CLOEXEC);
  if (src < 0) std::abort();
  for (size_t off = 0; off < size;) {
    ssize_t n = ::write(src, data + off, size - off);
    if (n <= 0) std::abort();
    off += static_cast<size_t>(n);
  }
  ::lseek(src, 0, SEEK_SET);
  if (::mkdirat(dir.fd(), "root", 0755) != 0) std::abort();
  int root = ::openat(dir.fd(), "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) std::abort();

  image::ExtractOptions o;
  o.what = "layer sha256:fuzz";
  static constexpr image::Whiteouts kForms[] = {image::Whiteouts::keep, image::Whiteouts::xattr_user,
                                                image::Whiteouts::xattr_trusted, image::Whiteouts::apply};
  o.whiteouts = kForms[size % 4];
  o.squash = (size / 4) % 2 == 1;
  o.own_root = (size / 8) % 2 == 1;
  try {
    image::extract_layer(src, root, o);
  } catch (const std::exception&) {
  }
  ::close(root);
  ::close(src);
  dir.clear();
  return 0;
}
