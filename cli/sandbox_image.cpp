// An image's config under a sandbox: sandbox.hpp apply_sandbox_image. Each
// step fills one thing the sandbox did not say, in the SandboxDoc, so that
// the translations (sandbox.cpp) still handle each key in one place.

#include <algorithm>

#include <rrun/core/container.hpp>
#include <rrun/os/error.hpp>

#include "image_files.hpp"
#include "sandbox.hpp"

namespace rrun::cli {

namespace {

std::string what_of(const SandboxImage& img) {
  return "image " + img.name;
}

// The top layer is the rootfs, the others its overlay's lower directories.
void set_layers(SandboxDoc& d, const SandboxImage& img) {
  const std::vector<std::string>& dirs = img.layers.dirs;
  if (dirs.empty()) d.image->at.fail(what_of(img) + " has no layers");
  d.rootfs = {dirs.front(), d.image->at};
  d.rootfs_given = true;
  d.image_layers = img.layers;
}

// process.args = Entrypoint + Cmd; `entrypoint:` replaces the first,
// `command:` (or `-- CMD`) the second.
void set_args(SandboxDoc& d, const SandboxImage& img) {
  image::ImageConfig c = img.config;
  if (d.entrypoint) c.entrypoint = d.entrypoint->value;
  if (d.command) c.cmd = d.command->value;
  std::vector<std::string> args = image_args(c);
  Origin at = d.command ? d.command->at : d.entrypoint ? d.entrypoint->at : d.image->at;
  if (args.empty()) at.fail(what_of(img) + " has no Entrypoint or Cmd; give `command:` (or a command after `--`)");
  if (args[0].empty()) at.fail(what_of(img) + ": the program (Entrypoint or Cmd) is empty");
  d.command = From<std::vector<std::string>>{std::move(args), at};
}

bool env_has(const std::vector<std::pair<std::string, std::string>>& env, const std::string& name) {
  return std::any_of(env.begin(), env.end(), [&](const auto& e) { return e.first == name; });
}

// The image's Env under the sandbox's (later entries win); HOME from the
// user's passwd entry when neither sets it, `/` for a user without one (as
// podman); not for `user: keep`, which sets the caller's.
void set_env(SandboxDoc& d, const SandboxImage& img, const std::string& home) {
  std::vector<std::pair<std::string, std::string>> env = image_env(img.config);
  if (d.user != UserMode::keep && !env_has(env, "HOME") && !env_has(d.env, "HOME"))
    env.insert(env.begin(), {"HOME", image_home(home)});
  env.insert(env.end(), d.env.begin(), d.env.end());
  d.env = std::move(env);
}

void set_workdir(SandboxDoc& d, const SandboxImage& img) {
  if (d.workdir.empty()) d.workdir = image_workdir(img.config);
}

// The image's /etc/passwd and /etc/group, read once.
struct ImageAccounts {
  const SandboxImage& img;
  std::optional<std::string> passwd, group;
  const std::string& get(std::optional<std::string>& slot, const char* path) {
    if (!slot) slot = read_image_file(img.layers, path, what_of(img)).value_or("");
    return *slot;
  }
};

// User unless `user:`; returns the user's home ("" when unknown).
std::string set_user(SandboxDoc& d, const SandboxImage& img, ImageAccounts& acc) {
  const std::string& user = img.config.user;
  const std::string what = what_of(img) + ": config";
  if (!d.user_given && !user.empty()) {
    ImageUser u = resolve_image_user(user, acc.get(acc.passwd, "/etc/passwd"), acc.get(acc.group, "/etc/group"), what);
    d.user = u.uid == 0 && u.gid == 0 ? UserMode::root : UserMode::ids;
    d.uid = u.uid;
    d.gid = u.gid;
    d.user_at = Origin{what + " User \"" + user + "\""};
    return u.home;
  }
  if (d.user == UserMode::keep) return "";
  // HOME only: an image whose passwd can't be read just gets none.
  try {
    std::string uid = std::to_string(d.user == UserMode::ids ? d.uid : 0);
    return resolve_image_user(uid, acc.get(acc.passwd, "/etc/passwd"), "", what).home;
  } catch (const std::exception&) {
    return "";
  }
}

void set_stop_signal(SandboxDoc& d, const SandboxImage& img) {
  const std::string& sig = img.config.stop_signal;
  if (sig.empty()) return;
  try {
    core::parse_signal(sig);
  } catch (const std::exception& e) {
    d.image->at.fail(what_of(img) + ": config StopSignal: " + e.what());
  }
  d.stop_signal = sig;
}

}  // namespace

std::vector<std::string> image_args(const image::ImageConfig& c) {
  std::vector<std::string> args = c.entrypoint;
  args.insert(args.end(), c.cmd.begin(), c.cmd.end());
  return args;
}

std::vector<std::pair<std::string, std::string>> image_env(const image::ImageConfig& c) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const std::string& e : c.env) {
    size_t eq = e.find('=');
    if (eq == 0 || eq == std::string::npos) continue;
    env.emplace_back(e.substr(0, eq), e.substr(eq + 1));
  }
  return env;
}

std::string image_workdir(const image::ImageConfig& c) {
  const std::string& wd = c.working_dir;
  return wd.empty() || wd[0] == '/' ? wd : "/" + wd;
}

void apply_sandbox_image(SandboxDoc& d, const SandboxImage& img) {
  set_layers(d, img);
  set_args(d, img);
  ImageAccounts acc{img, std::nullopt, std::nullopt};
  std::string home = set_user(d, img, acc);
  set_env(d, img, home);
  set_workdir(d, img);
  set_stop_signal(d, img);
}

}  // namespace rrun::cli
