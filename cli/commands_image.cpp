// The image commands: pull.

#include <rrun/image/digest.hpp>
#include <rrun/image/pull.hpp>
#include <rrun/image/ref.hpp>
#include <rrun/image/store.hpp>

#include "commands.hpp"

namespace rrun::cli {

int cmd_pull(const Invocation& inv) {
  image::ImageRef ref = image::parse_ref(inv.args.at(0));
  image::PullOptions opts;
  opts.tls_verify = !inv.has("tls-verify") || inv.get_bool("tls-verify");
  opts.cert_dir = inv.get("cert-dir");
  opts.auth_file = inv.get("authfile");
  opts.creds = inv.get("creds");
  image::Store store(image::Store::default_root());
  image::Progress progress = image::Progress::for_stdout(inv.get_bool("quiet"));
  image::ImageRecord r = image::pull_image(store, ref, opts, progress);
  print(image::digest_hex(r.manifest_digest) + "\n");  // the image's id, as podman prints it
  return 0;
}

}  // namespace rrun::cli
