// Sandboxes with `image:` (and `rrun run --image`): the image's config
// given directly (the resolver is the test's), its layers in the data
// directory or a temp dir; golden config.json files as sandbox_test.cpp
// (RRUN_UPDATE_GOLDEN=1 rewrites them). And the image's files read through
// its layers (image_files.hpp).

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <cli/image_files.hpp>
#include <cli/sandbox.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

#include "../temp_dir.hpp"
#include "sandbox_hosts.hpp"

using namespace rrun;
using image::WhiteoutFormat;
using rrun::test::replace_all;

namespace {

const std::string kData = std::string(RRUN_TEST_DATA) + "/sandbox";

image::ImageConfig app_config() {
  image::ImageConfig c;
  c.entrypoint = {"/bin/entry", "-v"};
  c.cmd = {"--serve"};
  c.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "A=image", "B=image"};
  c.working_dir = "/srv";
  c.user = "app:staff";
  c.stop_signal = "SIGQUIT";
  return c;
}

// What the resolver was asked, and the image it gives.
struct FakeImages {
  image::ImageConfig config = app_config();
  std::vector<std::string> layers = {kData + "/image/top", kData + "/image/base"};
  WhiteoutFormat format = WhiteoutFormat::fuse;
  std::string ref, driver;
  bool rootless = false;
  int calls = 0;

  cli::ImageResolver resolver() {
    return [this](const std::string& r, bool rl, const std::string& d) {
      ref = r;
      rootless = rl;
      driver = d;
      ++calls;
      cli::SandboxImage img;
      img.name = "oci:/x/layout:v1";
      img.config = config;
      img.layers = {layers, format};
      return img;
    };
  }
};

cli::SandboxHost root_host(FakeImages& images) {
  cli::SandboxHost h = test::root_host();
  h.image = images.resolver();
  return h;
}

cli::SandboxHost rootless_host(FakeImages& images, bool with_range = true) {
  cli::SandboxHost h = test::rootless_host(with_range);
  h.image = images.resolver();
  return h;
}

cli::Sandbox translate(const std::string& yaml, const cli::SandboxHost& host, const cli::SandboxOverrides& o = {}) {
  return cli::translate_sandbox(yaml, kData + "/t.yaml", host, o);
}

void check_golden(const std::string& yaml, const cli::SandboxHost& host, const std::string& golden) {
  cli::Sandbox sb = cli::load_sandbox(kData + "/" + yaml, host);
  std::string got = replace_all(spec::serialize_spec(sb.spec, true), kData, "@DATA@") + "\n";
  std::string path = kData + "/" + golden;
  if (std::getenv("RRUN_UPDATE_GOLDEN")) os::write_file_atomic(path, got);
  BOOST_TEST(got == os::read_file(path), yaml << " -> " << golden << " differs; got:\n" << got);
  BOOST_TEST(spec::serialize_spec(spec::parse_spec(got), true) + "\n" == got);
}

std::string error_of(const std::string& yaml, const cli::SandboxHost& host, const cli::SandboxOverrides& o = {}) {
  try {
    translate(yaml, host, o);
  } catch (const os::Error& e) {
    return replace_all(e.what(), kData, "@DATA@");
  }
  return "(no error)";
}

std::string env_of(const cli::Sandbox& sb, const std::string& name) {
  for (const auto& e : sb.spec.process->env)
    if (e.rfind(name + "=", 0) == 0) return e.substr(name.size() + 1);
  return "(unset)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_sandbox_image)

BOOST_AUTO_TEST_CASE(golden_image) {
  FakeImages images;
  check_golden("image.yaml", root_host(images), "image.root.json");
  BOOST_TEST(images.ref == "oci:" + kData + "/layout:v1");  // relative to the file, as rootfs:
  BOOST_TEST(!images.rootless);
  BOOST_TEST(images.driver == "");
  images.format = WhiteoutFormat::overlay_user;
  check_golden("image.yaml", rootless_host(images), "image.rootless.json");
  BOOST_TEST(images.rootless);
}

BOOST_AUTO_TEST_CASE(config_fills_what_the_sandbox_does_not_say) {
  FakeImages images;
  cli::Sandbox sb = translate("image: oci:/l\n", root_host(images));
  const spec::Process& p = *sb.spec.process;
  BOOST_TEST((p.args == std::vector<std::string>{"/bin/entry", "-v", "--serve"}));
  BOOST_TEST(p.cwd == "/srv");
  // app:staff: the name in the base layer's passwd, the group in the top
  // layer's group file (it replaces the base's).
  BOOST_TEST(p.user.uid == 1000u);
  BOOST_TEST(p.user.gid == 50u);
  BOOST_TEST(env_of(sb, "PATH") == "/usr/local/bin:/usr/bin:/bin");
  BOOST_TEST(env_of(sb, "A") == "image");
  BOOST_TEST(env_of(sb, "HOME") == "/home/app");
  BOOST_TEST(env_of(sb, "TERM") == "xterm");
  const auto& a = sb.spec.annotations;
  BOOST_TEST(a.at("org.opencontainers.image.stopSignal") == "SIGQUIT");
  BOOST_TEST(a.at("rrun.rootfs.overlay") == "ephemeral");
  BOOST_TEST(a.at("rrun.rootfs.overlay.lower") == kData + "/image/base");
  BOOST_TEST(a.at("rrun.overlay.driver") == "fuse");
  BOOST_TEST(sb.spec.root->path == kData + "/image/top");
  images.format = WhiteoutFormat::overlay_trusted;
  BOOST_TEST(translate("image: oci:/l\n", root_host(images)).spec.annotations.at("rrun.overlay.driver") == "kernel");
  // One layer: no lower annotation.
  images.layers = {kData + "/image/base"};
  BOOST_TEST(translate("image: oci:/l\n", root_host(images)).spec.annotations.count("rrun.rootfs.overlay.lower") == 0u);
}

BOOST_AUTO_TEST_CASE(the_sandbox_wins) {
  FakeImages images;
  cli::SandboxHost h = root_host(images);
  cli::Sandbox sb = translate(
      "image: oci:/l\ncommand: [a, b]\nworkdir: /w\nuser: \"7:8\"\nenv: {A: mine, PATH: /bin, HOME: /h}\n", h);
  const spec::Process& p = *sb.spec.process;
  // command: replaces Cmd and keeps the Entrypoint.
  BOOST_TEST((p.args == std::vector<std::string>{"/bin/entry", "-v", "a", "b"}));
  BOOST_TEST(p.cwd == "/w");
  BOOST_TEST(p.user.uid == 7u);
  BOOST_TEST(p.user.gid == 8u);
  BOOST_TEST(env_of(sb, "A") == "mine");
  BOOST_TEST(env_of(sb, "B") == "image");
  BOOST_TEST(env_of(sb, "PATH") == "/bin");
  BOOST_TEST(env_of(sb, "HOME") == "/h");
  // entrypoint: replaces it (a string or a list); [] for none.
  sb = translate("image: oci:/l\nentrypoint: /bin/sh\n", h);
  BOOST_TEST((sb.spec.process->args == std::vector<std::string>{"/bin/sh", "--serve"}));
  sb = translate("image: oci:/l\nentrypoint: []\ncommand: [/bin/true]\n", h);
  BOOST_TEST((sb.spec.process->args == std::vector<std::string>{"/bin/true"}));
  // The command after `--` is the Cmd too.
  cli::SandboxOverrides o;
  o.command = std::vector<std::string>{"id", "-u"};
  sb = translate("image: oci:/l\n", h, o);
  BOOST_TEST((sb.spec.process->args == std::vector<std::string>{"/bin/entry", "-v", "id", "-u"}));
  // user: root over the image's User; HOME then root's.
  sb = translate("image: oci:/l\nuser: root\n", h);
  BOOST_TEST(sb.spec.process->user.uid == 0u);
  BOOST_TEST(env_of(sb, "HOME") == "/root");
}

BOOST_AUTO_TEST_CASE(image_users) {
  const std::string passwd = "root:x:0:0:root:/root:/bin/sh\napp::1000:1000::/home/app:/bin/sh\n";
  const std::string group = "root:x:0:\nstaff:x:50:app\n";
  auto user = [&](const std::string& u) { return cli::resolve_image_user(u, passwd, group, "image X: config"); };
  BOOST_TEST(user("").uid == 0u);
  BOOST_TEST(user("").home == "/root");
  BOOST_TEST(user("app").uid == 1000u);
  BOOST_TEST(user("app").gid == 1000u);
  BOOST_TEST(user("1000").gid == 1000u);
  BOOST_TEST(user("42").gid == 0u);  // no entry: group 0, as podman
  BOOST_TEST(user("42").home == "");
  BOOST_TEST(user("app:staff").gid == 50u);
  BOOST_TEST(user("42:7").gid == 7u);
  auto err = [&](const std::string& u) {
    try {
      user(u);
    } catch (const os::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  BOOST_TEST(err("nobody") == "image X: config: User \"nobody\": no user \"nobody\" in the image's /etc/passwd");
  BOOST_TEST(err("app:wheel") == "image X: config: User \"app:wheel\": no group \"wheel\" in the image's /etc/group");
  BOOST_TEST(err(":50") == "image X: config: User \":50\": no user before the `:`");
}

BOOST_AUTO_TEST_CASE(errors) {
  FakeImages images;
  cli::SandboxHost h = root_host(images);
  const std::string f = "@DATA@/t.yaml";
  BOOST_TEST(error_of("image: oci:/l\nrootfs: r\n", h) ==
             f + ":2:9: rootfs: `rootfs:` and `image:` can't be used together (the image is the root filesystem); "
                 "remove one");
  BOOST_TEST(error_of("image: oci:/l\noverlay: none\n", h) ==
             f + ":2:10: overlay: `none` can't be used with `image:`: the image's layers are shared and read-only; "
                 "use ephemeral (the default) or persistent:DIR");
  BOOST_TEST(error_of("rootfs: r\nentrypoint: [x]\n", h) ==
             f + ":2:13: entrypoint: only with `image:` (it replaces the image's Entrypoint); without one use "
                 "`command:`");
  images.config.entrypoint.clear();
  images.config.cmd.clear();
  BOOST_TEST(error_of("image: oci:/l\n", h) ==
             f + ":1:8: image: image oci:/x/layout:v1 has no Entrypoint or Cmd; give `command:` (or a command after "
                 "`--`)");
  images.config = app_config();
  images.config.user = "nobody";
  BOOST_TEST(error_of("image: oci:/l\n", h) ==
             "image oci:/x/layout:v1: config: User \"nobody\": no user \"nobody\" in the image's /etc/passwd");
  images.config = app_config();
  images.config.stop_signal = "SIGBOGUS";
  BOOST_TEST(error_of("image: oci:/l\n", h).find("image oci:/x/layout:v1: config StopSignal: invalid signal") !=
             std::string::npos);
  // The resolver's error (a failed pull), at the key.
  h.image = [](const std::string&, bool, const std::string&) -> cli::SandboxImage {
    throw os::Error("pull oci:/l: no such directory");
  };
  BOOST_TEST(error_of("image: oci:/l\n", h) == f + ":1:8: image: pull oci:/l: no such directory");
  h.image = nullptr;
  BOOST_TEST(error_of("image: oci:/l\n", h) == f + ":1:8: image: images are not available here");
}

BOOST_AUTO_TEST_CASE(rootless_image_users_must_be_mapped) {
  FakeImages images;
  // Without a subordinate range only root is mapped: the image's User
  // fails with the mapping hint, `user: root` runs it.
  cli::SandboxHost h = rootless_host(images, false);
  std::string e = error_of("image: oci:/l\n", h);
  BOOST_TEST(e.rfind("image oci:/x/layout:v1: config User \"app:staff\": uid 1000", 0) == 0, e);
  BOOST_TEST(translate("image: oci:/l\nuser: root\n", h).spec.process->user.uid == 0u);
  // With one: the default mapping, the image's ids inside.
  cli::Sandbox sb = translate("image: oci:/l\n", rootless_host(images));
  BOOST_TEST(sb.spec.process->user.uid == 1000u);
  BOOST_TEST(sb.spec.linux->uid_mappings.front().host_id == 1000u);
}

BOOST_AUTO_TEST_CASE(keep_shown_through_fuse_asks_for_fuse_layers) {
  FakeImages images;
  cli::SandboxHost h = rootless_host(images);
  h.fuse_overlayfs = true;
  translate("image: oci:/l\nuser: keep\n", h);
  BOOST_TEST(images.driver == "fuse");
  translate("image: oci:/l\n", h);
  BOOST_TEST(images.driver == "");
}

BOOST_AUTO_TEST_CASE(keep_reads_the_images_accounts_through_its_layers) {
  FakeImages images;
  cli::Sandbox sb = translate("image: oci:/l\nuser: keep\n", rootless_host(images));
  std::map<std::string, std::string> files(sb.files.begin(), sb.files.end());
  // uid 1000 is app in the base layer: no passwd of rrun's; gid 1001 is
  // added to the top layer's group file (not the base's).
  BOOST_TEST(files.count("etc-passwd") == 0u);
  BOOST_TEST(files["etc-group"] == "root:x:0:\nstaff:x:50:\nstaff:x:1001:\n");
  BOOST_TEST(env_of(sb, "HOME") == "/home/app");
  BOOST_TEST(env_of(sb, "USER") == "app");
}

BOOST_AUTO_TEST_CASE(run_image_is_a_sandbox_with_only_image) {
  FakeImages images;
  cli::SandboxOverrides o;
  o.command = std::vector<std::string>{"sh"};
  o.env = {"A=cli"};
  cli::Sandbox sb = cli::translate_image_sandbox("oci:/x/layout:v1", "layout", root_host(images), o);
  BOOST_TEST(sb.name == "layout");
  BOOST_TEST(sb.spec.hostname == "layout");
  BOOST_TEST((sb.spec.process->args == std::vector<std::string>{"/bin/entry", "-v", "sh"}));
  BOOST_TEST(env_of(sb, "A") == "cli");
  BOOST_TEST(sb.spec.annotations.at("rrun.rootfs.overlay") == "ephemeral");
  BOOST_TEST(sb.spec.annotations.at("rrun.init") == "true");
  BOOST_TEST(sb.spec.linux->seccomp.has_value());
  BOOST_TEST(images.ref == "oci:/x/layout:v1");
}

// ---- files through the layers

struct Layers {
  test::TempDir tmp;
  std::string dir(const std::string& name) const { return tmp.path + "/" + name; }
  void file(const std::string& path, const std::string& text) {
    os::mkdir_p(std::filesystem::path(path).parent_path().string());
    os::write_file_atomic(path, text);
  }
  void xattr(const std::string& path, const char* name, const char* value) {
    BOOST_REQUIRE_MESSAGE(::lsetxattr(path.c_str(), name, value, std::strlen(value), 0) == 0, path << " " << name);
  }
};

std::optional<std::string> read(const std::vector<std::string>& dirs, WhiteoutFormat f, const std::string& path) {
  return cli::read_image_file(cli::ImageLayers{dirs, f}, path, "image X");
}

BOOST_AUTO_TEST_CASE(files_through_fuse_whiteouts_and_opaque_dirs) {
  Layers l;
  l.file(l.dir("base/etc/passwd"), "base");
  l.file(l.dir("base/etc/group"), "base group");
  l.file(l.dir("base/opt/a/x"), "x");
  l.file(l.dir("top/etc/.wh.group"), "");
  l.file(l.dir("top/opt/a/.wh..wh..opq"), "");
  l.file(l.dir("top/opt/b"), "");
  std::vector<std::string> dirs = {l.dir("top"), l.dir("base")};
  BOOST_TEST(read(dirs, WhiteoutFormat::fuse, "/etc/passwd").value() == "base");
  BOOST_TEST(!read(dirs, WhiteoutFormat::fuse, "/etc/group"));
  BOOST_TEST(!read(dirs, WhiteoutFormat::fuse, "/opt/a/x"));
  BOOST_TEST(!read(dirs, WhiteoutFormat::fuse, "/nothing"));
  // The opaque directory as rrun unpacks it for fuse-overlayfs: an xattr.
  std::filesystem::remove(l.dir("top/opt/a/.wh..wh..opq"));
  BOOST_TEST(read(dirs, WhiteoutFormat::fuse, "/opt/a/x").value() == "x");
  l.xattr(l.dir("top/opt/a"), "user.fuseoverlayfs.opaque", "y");
  BOOST_TEST(!read(dirs, WhiteoutFormat::fuse, "/opt/a/x"));
  // The fuse form means nothing to the kernel's: the base's files show.
  BOOST_TEST(read(dirs, WhiteoutFormat::overlay_user, "/etc/group").value() == "base group");
  BOOST_TEST(read(dirs, WhiteoutFormat::overlay_user, "/opt/a/x").value() == "x");
}

BOOST_AUTO_TEST_CASE(files_through_xattr_whiteouts_and_opaque_dirs) {
  Layers l;
  l.file(l.dir("base/etc/group"), "base group");
  l.file(l.dir("base/etc/passwd"), "base");
  l.file(l.dir("base/opt/a/x"), "x");
  l.file(l.dir("top/etc/group"), "");
  l.xattr(l.dir("top/etc/group"), "user.overlay.whiteout", "y");
  l.xattr(l.dir("top/etc"), "user.overlay.opaque", "x");  // holds whiteouts, not opaque
  os::mkdir_p(l.dir("top/opt/a"));
  l.xattr(l.dir("top/opt/a"), "user.overlay.opaque", "y");
  std::vector<std::string> dirs = {l.dir("top"), l.dir("base")};
  BOOST_TEST(!read(dirs, WhiteoutFormat::overlay_user, "/etc/group"));
  BOOST_TEST(read(dirs, WhiteoutFormat::overlay_user, "/etc/passwd").value() == "base");
  BOOST_TEST(!read(dirs, WhiteoutFormat::overlay_user, "/opt/a/x"));
  // A file above hides a directory below.
  l.file(l.dir("top2/opt"), "a file");
  BOOST_TEST(!read({l.dir("top2"), l.dir("base")}, WhiteoutFormat::overlay_user, "/opt/a/x"));
}

BOOST_AUTO_TEST_CASE(files_refuse_links_and_big_files) {
  Layers l;
  os::mkdir_p(l.dir("top"));
  l.file(l.dir("base/etc/passwd"), std::string(100, 'x'));
  BOOST_REQUIRE(::symlink("/etc", l.dir("top/etc").c_str()) == 0);
  std::vector<std::string> dirs = {l.dir("top"), l.dir("base")};
  auto err = [&](const std::vector<std::string>& d, size_t limit) {
    try {
      cli::read_image_file(cli::ImageLayers{d, WhiteoutFormat::fuse}, "/etc/passwd", "image X", limit);
    } catch (const os::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  BOOST_TEST(err(dirs, 1000) ==
             "image X: /etc/passwd is reached through a symbolic link in a layer, which rrun does not follow");
  BOOST_TEST(err({l.dir("base")}, 10) == "image X: /etc/passwd is larger than 10 bytes, the most rrun reads");
  BOOST_TEST(err({l.dir("base")}, 100) == "(no error)");
}

BOOST_AUTO_TEST_SUITE_END()
