// The image verbs (README "Images"): pull, images, rmi, prune, unpack, and
// the store's images for sandboxes (`image:`, `run --image`). Each parses
// its flags, makes one call of the image library (rootfs/image/), prints.
// Nothing here is on the path of a plain bundle: create, run and exec of a
// config.json never reach this file.

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include <rrun/core/container.hpp>
#include <rrun/core/log.hpp>
#include <rrun/image/config.hpp>
#include <rrun/image/digest.hpp>
#include <rrun/image/layer.hpp>
#include <rrun/image/pull.hpp>
#include <rrun/image/ref.hpp>
#include <rrun/image/store.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

#include "commands.hpp"
#include "image_files.hpp"
#include "sandbox.hpp"

namespace rrun::cli {

namespace {

const char* const kPullFlags[] = {"tls-verify", "cert-dir", "authfile", "creds", "quiet"};

image::PullOptions pull_options(const Invocation& inv) {
  image::PullOptions o;
  if (inv.has("tls-verify")) o.tls_verify = inv.get_bool("tls-verify");
  o.cert_dir = inv.get("cert-dir");
  o.auth_file = inv.get("authfile");
  o.creds = inv.get("creds");
  return o;
}

image::Store open_image_store() {
  return image::Store(image::Store::default_root());
}

// The 12 hex digits `rrun images` shows of a manifest digest.
std::string short_id(const std::string& digest) {
  return image::digest_hex(digest).substr(0, 12);
}

// 3 significant digits in SI units, as podman: "1.23 MB", "512 kB".
std::string human_size(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 999.5 && u + 1 < std::size(kUnits)) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g %s", v, kUnits[u]);
  return buf;
}

// "5 minutes ago", as podman shows times.
std::string time_ago(int64_t when, int64_t now) {
  if (when <= 0) return "never";
  int64_t d = now > when ? now - when : 0;
  if (d == 0) return "less than a second ago";
  struct Unit {
    int64_t seconds;
    const char* name;
  };
  static const Unit kUnits[] = {{7 * 86400, "week"}, {86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
  for (const Unit& u : kUnits) {
    if (d < u.seconds && u.seconds > 1) continue;
    int64_t n = d / u.seconds;
    return std::to_string(n) + " " + u.name + (n == 1 ? "" : "s") + " ago";
  }
  return "less than a second ago";
}

std::string rfc3339(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  char buf[32];
  if (!::gmtime_r(&tt, &tm) || !std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm)) return "";
  return buf;
}

// An image named as the user typed it: an ID prefix or a stored name as
// `rrun images` shows them, else a reference in any spelling.
std::optional<image::ImageRecord> find_named_image(const image::Store& store, const std::string& name) {
  if (auto r = store.find_image(name)) return r;
  try {
    return store.find_image(image::parse_ref(name).canonical());
  } catch (const os::Error&) {
    return std::nullopt;
  }
}

// The config.json of `rrun unpack`: rrun spec's (rootless: with the id
// mapping the rootfs was unpacked with), the process from the image.
spec::Spec unpacked_spec(const Invocation& inv, const image::ImageConfig& cfg, const image::UnpackIds& ids,
                         const std::string& rootfs, const std::string& what) {
  spec::Spec s;
  if (is_rootless(inv)) {
    spec::RootlessIds r;
    r.uid = ids.uid_map.empty() ? ::geteuid() : ids.uid_map[0].host_id;
    r.gid = ids.gid_map.empty() ? ::getegid() : ids.gid_map[0].host_id;
    if (ids.uid_map.size() > 1 && ids.gid_map.size() > 1) {
      r.sub_uid = ids.uid_map[1];
      r.sub_gid = ids.gid_map[1];
    }
    s = spec::default_rootless_spec(r);
  } else {
    s = spec::default_spec();
  }
  spec::Process& p = *s.process;
  p.terminal = false;
  if (std::vector<std::string> args = image_args(cfg); !args.empty())
    p.args = std::move(args);
  else
    core::warn(what + " has no Entrypoint or Cmd: config.json runs " + (p.args.empty() ? "nothing" : p.args[0]));
  std::vector<std::pair<std::string, std::string>> env = image_env(cfg);
  set_process_env(p, env);
  if (std::string wd = image_workdir(cfg); !wd.empty()) p.cwd = wd;
  ImageLayers flat{{rootfs}, image::WhiteoutFormat::fuse};
  std::string passwd = read_image_file(flat, "/etc/passwd", what).value_or("");
  std::string group = cfg.user.empty() ? "" : read_image_file(flat, "/etc/group", what).value_or("");
  ImageUser u = resolve_image_user(cfg.user, passwd, group, what + ": config");
  p.user.uid = u.uid;
  p.user.gid = u.gid;
  if (std::none_of(env.begin(), env.end(), [](const auto& e) { return e.first == "HOME"; }))
    set_process_env(p, "HOME", image_home(u.home));
  if (!cfg.stop_signal.empty()) s.annotations[core::kStopSignalAnnotation] = cfg.stop_signal;
  return s;
}

// Undoes a failed unpack: the rootfs (as its owner ids require) and a
// directory `unpack` made.
struct UnpackRollback {
  std::string dir, rootfs;
  bool made_dir = false;
  bool done = false;
  ~UnpackRollback() {
    if (done) return;
    try {
      if (os::path_exists(rootfs)) image::remove_unpacked(rootfs);
    } catch (const std::exception& e) {
      core::warn("unpack: could not remove " + os::quote(rootfs) + ": " + e.what());
    }
    if (made_dir) ::rmdir(dir.c_str());
  }
};

}  // namespace

void refuse_pull_flags_without_image(const Invocation& inv) {
  if (inv.has("file") || inv.has("image") || inv.has("from")) return;
  for (const char* f : kPullFlags)
    if (inv.has(f))
      throw os::Error(
          inv.command + ": --" + f +
          " is for images (--image REF, or `image:` in a sandbox file); a bundle's rootfs is used as it is");
}

ImageResolver image_resolver(const Invocation& inv) {
  image::PullOptions opts = pull_options(inv);
  bool quiet = inv.get_bool("quiet");
  return [opts, quiet](const std::string& text, bool rootless, const std::string& driver) {
    image::ImageRef ref = image::parse_ref(text);
    image::Store store = open_image_store();
    image::UnpackIds ids = image::unpack_ids_for_caller();
    // Cached: only the store's records and directories (no library loaded),
    // and no probe of the kernel: layers of the kernel's form were unpacked
    // because it reads them, the fuse form because it did not.
    std::optional<image::ImageRecord> rec = store.find_image(ref.canonical());
    image::WhiteoutFormat format = image::WhiteoutFormat::fuse;
    std::vector<std::string> layers;
    if (rec) {
      image::WhiteoutFormat kernel =
          rootless ? image::WhiteoutFormat::overlay_user : image::WhiteoutFormat::overlay_trusted;
      for (image::WhiteoutFormat f : {kernel, image::WhiteoutFormat::fuse}) {
        if (driver == "fuse" && f != image::WhiteoutFormat::fuse) continue;
        layers = image::unpacked_layers(store, *rec, f, ids);
        format = f;
        if (!layers.empty()) break;
      }
    }
    if (!layers.empty()) {
      store.touch_image(rec->name);
    } else {
      format = image::choose_whiteout_format(rootless, driver);
      image::Progress progress = image::Progress::for_stdout(quiet);
      rec = image::ensure_image(store, ref, opts, progress);
      layers = image::prepare_layers(store, *rec, format, ids, progress);
    }
    SandboxImage img;
    img.name = rec->name;
    img.config = image::parse_image_config(store.read_blob(rec->config_digest), rec->config_digest);
    img.layers = {std::move(layers), format};
    return img;
  };
}

std::string image_sandbox_name(const std::string& text) {
  image::ImageRef ref = image::parse_ref(text);
  std::string base = ref.transport == image::Transport::docker ? ref.repository : ref.path;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  base = base.substr(base.find_last_of('/') + 1);
  base = base.substr(0, base.find('.'));  // busybox.oci-archive.tar -> busybox
  for (char& c : base)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '+') c = '-';
  if (base.empty() || !std::isalnum(static_cast<unsigned char>(base[0]))) base = "image" + base;
  return base.substr(0, 64);
}

int cmd_pull(const Invocation& inv) {
  image::ImageRef ref = image::parse_ref(inv.args.at(0));
  image::Store store = open_image_store();
  image::Progress progress = image::Progress::for_stdout(inv.get_bool("quiet"));
  image::ImageRecord rec = image::pull_image(store, ref, pull_options(inv), progress);
  print(image::digest_hex(rec.manifest_digest) + "\n");
  return 0;
}

int cmd_images(const Invocation& inv) {
  std::string format = inv.get("format", "table");
  if (format != "table" && format != "json")
    throw os::Error("images: invalid format \"" + format + "\"; use table or json");
  std::vector<image::ImageRecord> recs = open_image_store().images();
  std::string out;
  if (inv.get_bool("quiet")) {
    for (const auto& r : recs) out += short_id(r.manifest_digest) + "\n";
  } else if (format == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : recs)
      list.push_back({{"name", r.name},
                      {"id", r.manifest_digest},
                      {"config", r.config_digest},
                      {"size", r.size},
                      {"layers", r.layers.size()},
                      {"pulled", rfc3339(r.pulled)},
                      {"last_used", rfc3339(r.last_used)}});
    out = list.dump(2) + "\n";
  } else {
    int64_t now = static_cast<int64_t>(::time(nullptr));
    std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "PULLED", "LAST USED"}};
    for (const auto& r : recs)
      rows.push_back({r.name, short_id(r.manifest_digest), human_size(r.size), time_ago(r.pulled, now),
                      time_ago(r.last_used, now)});
    out = tabulate(rows);
  }
  print(out);
  return 0;
}

int cmd_rmi(const Invocation& inv) {
  image::Store store = open_image_store();
  std::vector<std::string> unknown;
  for (const std::string& name : inv.args) {
    std::optional<image::ImageRecord> rec = find_named_image(store, name);
    if (!rec || !store.remove_image(rec->name)) {
      unknown.push_back(name);
      continue;
    }
    print("removed " + rec->name + " " + short_id(rec->manifest_digest) + "\n");
  }
  if (!unknown.empty())
    throw os::Error("rmi: no image " + os::quote(unknown.front()) + " in rrun's store" +
                    (unknown.size() > 1 ? " (nor " + std::to_string(unknown.size() - 1) + " more)" : "") +
                    "; see `rrun images`");
  return 0;
}

int cmd_prune(const Invocation&) {
  image::Store::PruneResult r = open_image_store().prune(image::remove_unpacked);
  std::string leftovers = r.tmp ? " (and " + std::to_string(r.tmp) + " leftover" + (r.tmp == 1 ? "" : "s") + ")" : "";
  print("freed " + std::to_string(r.blobs) + " blob" + (r.blobs == 1 ? "" : "s") + " and " + std::to_string(r.layers) +
        " unpacked layer" + (r.layers == 1 ? "" : "s") + leftovers + ", " + human_size(r.bytes) + "\n");
  return 0;
}

int cmd_unpack(const Invocation& inv) {
  image::ImageRef ref = image::parse_ref(inv.args.at(0));
  UnpackRollback rb;
  rb.dir = inv.args.at(1);
  rb.rootfs = rb.dir + "/rootfs";
  const std::string config = rb.dir + "/config.json";
  for (const std::string& p : {config, rb.rootfs})
    if (os::path_exists(p))
      throw os::Error("unpack: " + os::quote(p) + " already exists; remove it or choose another directory");
  if (::mkdir(rb.dir.c_str(), 0755) == 0)
    rb.made_dir = true;
  else if (errno != EEXIST)
    os::throw_errno("unpack: create " + os::quote(rb.dir));
  image::Store store = open_image_store();
  image::Progress progress = image::Progress::for_stdout(inv.get_bool("quiet"));
  image::ImageRecord rec = image::ensure_image(store, ref, pull_options(inv), progress);
  image::UnpackIds ids = image::unpack_ids_for_caller();
  image::flatten_image(store, rec, rb.rootfs, ids, progress);
  image::ImageConfig cfg = image::parse_image_config(store.read_blob(rec.config_digest), rec.config_digest);
  spec::Spec s = unpacked_spec(inv, cfg, ids, rb.rootfs, "image " + rec.name);
  write_new_file(config, spec::serialize_spec(s, true) + "\n", "unpack: " + os::quote(config) + " already exists");
  rb.done = true;
  return 0;
}

}  // namespace rrun::cli
