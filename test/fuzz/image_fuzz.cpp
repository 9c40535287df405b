// Image metadata from a registry or an archive (rootfs/image/config): the
// manifest's kind, an image manifest, an index / manifest list (the
// platform picked for the host and for others), an image config; and an
// image reference as typed after `image:` or `rrun pull`.

#include <exception>
#include <string>

#include <rrun/image/config.hpp>
#include <rrun/image/ref.hpp>

#include "fuzz.hpp"

namespace image = rrun::image;

using rrun::fuzz::try_parse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json = rrun::fuzz::as_text(data, size);
  const std::string what = "manifest sha256:fuzz";
  try_parse([&] { (void)image::manifest_kind(json, what); });
  try_parse([&] { (void)image::parse_manifest(json, what); });
  try_parse([&] { (void)image::parse_image_config(json, what); });
  static const image::Platform platforms[] = {
      image::host_platform(), {"linux", "arm64", "v8"}, {"linux", "arm", "v7"}, {"windows", "amd64", ""}};
  for (const image::Platform& p : platforms) try_parse([&] { (void)image::pick_platform(json, p, what); });
  if (size < 512) try_parse([&] { (void)image::parse_ref(std::string(json)); });
  return 0;
}
