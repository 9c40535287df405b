// rrun-layer-tool: the layer API of rootfs/image/layer.hpp from the shell,
// for test_image_unpack.sh, with the caller's own ids and ranges as rrun
// uses them, on the store STORE (never root's /var/lib/rrun in a test).
//
//   rrun-layer-tool STORE prepare FORMAT BLOB[=DIFF_ID]...   the layer dirs, top first
//   rrun-layer-tool STORE flatten DIR BLOB[=DIFF_ID]...
//   rrun-layer-tool STORE remove DIR
//   rrun-layer-tool STORE variant FORMAT
// FORMAT: user, trusted, fuse, or auto (choose_whiteout_format). BLOBs are
// layer files (tar, tar+gzip, tar+zstd), bottom first, put in the store.
// Errors: one line "rrun: ..." on stderr, exit 1.

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <rrun/image/digest.hpp>
#include <rrun/image/layer.hpp>
#include <rrun/image/store.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/userns/detect.hpp>

using namespace rrun;
using namespace rrun::image;

namespace {

WhiteoutFormat format_of(const std::string& f) {
  if (f == "user") return WhiteoutFormat::overlay_user;
  if (f == "trusted") return WhiteoutFormat::overlay_trusted;
  if (f == "fuse") return WhiteoutFormat::fuse;
  if (f == "auto") return choose_whiteout_format(userns::running_rootless(::geteuid()), "");
  throw os::Error("unknown format " + os::quote(f) + " (user, trusted, fuse or auto)");
}

ImageRecord image_of(const Store& store, char** blobs, int n) {
  ImageRecord img;
  img.name = "localhost/layer-tool:latest";
  for (int i = 0; i < n; ++i) {
    std::string arg = blobs[i];
    LayerRef l;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      l.diff_id = arg.substr(eq + 1);
      arg.resize(eq);
    }
    std::string data = os::read_file(arg);
    l.digest = sha256_of(data);
    l.size = data.size();
    if (!store.has_blob(l.digest)) store.put_blob(l.digest, data);
    img.layers.push_back(l);
  }
  return img;
}

int run(int argc, char** argv) {
  if (argc < 4) throw os::Error("usage: rrun-layer-tool STORE prepare|flatten|remove|variant ...");
  const std::string store_root = argv[1];
  ++argv;
  --argc;
  const std::string cmd = argv[1];
  if (cmd == "remove") {
    remove_unpacked(argv[2]);
    return 0;
  }
  const UnpackIds ids = unpack_ids_for_caller();
  if (cmd == "variant") {
    std::printf("%s\n", layer_variant(format_of(argv[2]), ids).c_str());
    return 0;
  }
  Store store(store_root);
  ImageRecord img = image_of(store, argv + 3, argc - 3);
  Progress progress = Progress::none();
  if (cmd == "prepare") {
    for (const std::string& d : prepare_layers(store, img, format_of(argv[2]), ids, progress))
      std::printf("%s\n", d.c_str());
    return 0;
  }
  if (cmd == "flatten") {
    flatten_image(store, img, argv[2], ids, progress);
    return 0;
  }
  throw os::Error("unknown command " + os::quote(cmd));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rrun: %s\n", e.what());
    return 1;
  }
}
