// Layers unpacked into the store (layer.hpp): tars built here with
// libarchive's write API (loaded like rrun loads its reader), in each
// whiteout format; the safety refusals; owners, modes, xattrs, times; and
// real overlay mounts (the kernel in a user namespace, fuse-overlayfs) that
// must hide what the whiteouts hide. As root; a few parts skip otherwise.

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <rrun/image/digest.hpp>
#include <rrun/image/layer.hpp>
#include <rrun/image/libs.hpp>
#include <rrun/image/store.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/userns/detect.hpp>

#include "../core/fork_child.hpp"
#include "../temp_dir.hpp"

namespace fs = std::filesystem;
using namespace rrun;
using namespace rrun::image;

namespace rrun::image {
std::ostream& operator<<(std::ostream& o, WhiteoutFormat f) {
  return o << whiteout_format_name(f);
}
}  // namespace rrun::image

namespace {

// ---- building layers -------------------------------------------------------

struct WriteApi {
  decltype(&::archive_write_new) write_new;
  decltype(&::archive_write_set_format_pax_restricted) format_pax;
  decltype(&::archive_write_open_filename) open_filename;
  decltype(&::archive_write_header) write_header;
  decltype(&::archive_write_data) write_data;
  decltype(&::archive_write_close) close;
  decltype(&::archive_write_free) free;
  decltype(&::archive_error_string) error_string;
  decltype(&::archive_entry_new) entry_new;
  decltype(&::archive_entry_free) entry_free;
  decltype(&::archive_entry_set_pathname) set_pathname;
  decltype(&::archive_entry_set_filetype) set_filetype;
  decltype(&::archive_entry_set_perm) set_perm;
  decltype(&::archive_entry_set_uid) set_uid;
  decltype(&::archive_entry_set_gid) set_gid;
  decltype(&::archive_entry_set_size) set_size;
  decltype(&::archive_entry_set_symlink) set_symlink;
  decltype(&::archive_entry_set_hardlink) set_hardlink;
  decltype(&::archive_entry_set_mtime) set_mtime;
  decltype(&::archive_entry_set_rdev) set_rdev;
  decltype(&::archive_entry_xattr_add_entry) xattr_add;
};

const WriteApi& wa() {
  static WriteApi w;
  static bool loaded = false;
  if (!loaded) {
#define SYM(f, n) Symbol{reinterpret_cast<void**>(&w.f), #n}
    load_symbols("libarchive.so.13", "libarchive13",
                 {SYM(write_new, archive_write_new),
                  SYM(format_pax, archive_write_set_format_pax_restricted),
                  SYM(open_filename, archive_write_open_filename),
                  SYM(write_header, archive_write_header),
                  SYM(write_data, archive_write_data),
                  SYM(close, archive_write_close),
                  SYM(free, archive_write_free),
                  SYM(error_string, archive_error_string),
                  SYM(entry_new, archive_entry_new),
                  SYM(entry_free, archive_entry_free),
                  SYM(set_pathname, archive_entry_set_pathname),
                  SYM(set_filetype, archive_entry_set_filetype),
                  SYM(set_perm, archive_entry_set_perm),
                  SYM(set_uid, archive_entry_set_uid),
                  SYM(set_gid, archive_entry_set_gid),
                  SYM(set_size, archive_entry_set_size),
                  SYM(set_symlink, archive_entry_set_symlink),
                  SYM(set_hardlink, archive_entry_set_hardlink),
                  SYM(set_mtime, archive_entry_set_mtime),
                  SYM(set_rdev, archive_entry_set_rdev),
                  SYM(xattr_add, archive_entry_xattr_add_entry)});
#undef SYM
    loaded = true;
  }
  return w;
}

// One tar entry: 'f' file (data), 'd' dir, 'l' symlink (target), 'h' hard
// link (target), 'p' fifo, 'c' character device.
struct E {
  char type;
  std::string path;
  std::string data;
  mode_t perm = 0644;
  int64_t uid = 0, gid = 0;
  std::vector<std::pair<std::string, std::string>> xattrs = {};
  time_t mtime = 1600000000;
};

E reg(std::string p, std::string data, mode_t perm = 0644, int64_t uid = 0, int64_t gid = 0) {
  return {'f', std::move(p), std::move(data), perm, uid, gid};
}
E mkd(std::string p, mode_t perm = 0755, int64_t uid = 0, int64_t gid = 0) {
  return {'d', std::move(p), "", perm, uid, gid};
}
E slink(std::string p, std::string target) {
  return {'l', std::move(p), std::move(target), 0777};
}
E hlink(std::string p, std::string target) {
  return {'h', std::move(p), std::move(target)};
}

void write_tar(const std::string& path, const std::vector<E>& entries) {
  const WriteApi& w = wa();
  archive* a = w.write_new();
  w.format_pax(a);
  BOOST_REQUIRE(w.open_filename(a, path.c_str()) == ARCHIVE_OK);
  for (const E& e : entries) {
    archive_entry* en = w.entry_new();
    w.set_pathname(en, e.path.c_str());
    w.set_perm(en, e.perm);
    w.set_uid(en, e.uid);
    w.set_gid(en, e.gid);
    w.set_mtime(en, e.mtime, 0);
    switch (e.type) {
      case 'f':
        w.set_filetype(en, AE_IFREG);
        w.set_size(en, static_cast<la_int64_t>(e.data.size()));
        break;
      case 'd':
        w.set_filetype(en, AE_IFDIR);
        break;
      case 'l':
        w.set_filetype(en, AE_IFLNK);
        w.set_symlink(en, e.data.c_str());
        break;
      case 'h':
        w.set_filetype(en, AE_IFREG);
        w.set_hardlink(en, e.data.c_str());
        break;
      case 'p':
        w.set_filetype(en, AE_IFIFO);
        break;
      case 'c':
        w.set_filetype(en, AE_IFCHR);
        w.set_rdev(en, makedev(1, 3));
        break;
    }
    for (const auto& [k, v] : e.xattrs) w.xattr_add(en, k.c_str(), v.data(), v.size());
    BOOST_REQUIRE_MESSAGE(w.write_header(a, en) == ARCHIVE_OK, w.error_string(a));
    if (e.type == 'f' && !e.data.empty())
      BOOST_REQUIRE(w.write_data(a, e.data.data(), e.data.size()) == static_cast<la_ssize_t>(e.data.size()));
    w.entry_free(en);
  }
  BOOST_REQUIRE(w.close(a) == ARCHIVE_OK);
  w.free(a);
}

enum class Z { none, gzip, zstd };

const Z kCompressions[] = {Z::none, Z::gzip, Z::zstd};
const WhiteoutFormat kFormats[] = {WhiteoutFormat::overlay_user, WhiteoutFormat::overlay_trusted, WhiteoutFormat::fuse};

int sh(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct Fixture {
  test::TempDir tmp;
  Store store{tmp.path + "/store"};
  int n = 0;

  // The tar as a blob in the store, compressed as asked; its LayerRef with
  // the diff_id (or `diff_id` when given).
  LayerRef add(const std::vector<E>& entries, Z z = Z::gzip, const char* diff_id = nullptr) {
    const std::string tar = tmp.path + "/l" + std::to_string(++n) + ".tar";
    write_tar(tar, entries);
    return add_tar(tar, z, diff_id);
  }
  LayerRef add_tar(const std::string& tar, Z z = Z::gzip, const char* diff_id = nullptr) {
    std::string blob = tar;
    if (z == Z::gzip) BOOST_REQUIRE(sh("gzip -n -c " + tar + " > " + (blob = tar + ".gz")) == 0);
    if (z == Z::zstd) BOOST_REQUIRE(sh("zstd -q -c " + tar + " > " + (blob = tar + ".zst")) == 0);
    LayerRef l;
    std::string data = os::read_file(blob);
    l.digest = sha256_of(data);
    l.diff_id = diff_id ? diff_id : sha256_of(os::read_file(tar));
    l.size = data.size();
    l.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    fs::copy_file(blob, store.blob_path(l.digest), fs::copy_options::overwrite_existing);
    return l;
  }
  ImageRecord image(std::vector<LayerRef> layers) {
    ImageRecord r;
    r.name = "localhost/test:latest";
    r.layers = std::move(layers);
    return r;
  }
  bool store_clean() {
    return fs::is_empty(store.root() + "/tmp") &&
           (!fs::exists(store.root() + "/layers") ||
            std::all_of(fs::directory_iterator(store.root() + "/layers"), fs::directory_iterator(),
                        [](auto& d) { return fs::is_empty(d.path()); }));
  }
};

bool root() {
  return ::geteuid() == 0;
}

struct stat lst(const std::string& p) {
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, p);
  return st;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

std::string xattr(const std::string& p, const std::string& name) {
  char buf[256];
  ssize_t n = ::lgetxattr(p.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
}

// What prepare_layers throws, or "" when it does not.
std::string prepare_error(Fixture& f, const ImageRecord& img, WhiteoutFormat w, const UnpackIds& ids = {}) {
  Progress p = Progress::none();
  try {
    prepare_layers(f.store, img, w, ids, p);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::vector<E> full_layer() {
  std::vector<E> l = {
      mkd("./"),
      mkd("etc"),
      reg("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
      reg("etc/shadow", "secret\n", 0640, 0, 42),
      mkd("home/user", 0700, 1000, 1000),
      reg("home/user/notes", "mine\n", 0600, 1000, 1000),
      reg("bin/su", "#!/bin/sh\n", 04755),
      reg("bin/wall", "#!/bin/sh\n", 02755, 0, 5),
      mkd("tmp", 01777),
      slink("bin/sh", "/bin/busybox"),
      slink("etc/escape", "../../../../etc/passwd"),
      hlink("bin/su-link", "bin/su"),
      {'p', "run/fifo", "", 0620, 42, 42},
      {'c', "dev/null", "", 0666},
      reg("usr/bin/ping", "ping\n", 0755),
      reg("gone", "lower\n"),
      mkd("opq"),
      reg("opq/lower", "lower\n"),
      mkd("keep"),
      reg("keep/lower", "lower\n"),
  };
  l[14].xattrs = {{"user.note", "hello"},
                  {"security.capability", std::string("\x01\x00\x00\x02\x00\x20\x00\x00"
                                                      "\x00\x00\x00\x00\x00\x00\x00\x00"
                                                      "\x00\x00\x00\x00",
                                                      20)}};
  return l;
}

std::vector<E> whiteout_layer() {
  return {reg(".wh.gone", ""),         mkd("opq"),
          reg("opq/.wh..wh..opq", ""), reg("opq/new", "upper\n"),
          reg("keep/.wh.lower", ""),   reg("keep/upper", "upper\n")};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(image_layer)

BOOST_AUTO_TEST_CASE(variant_names_are_safe_in_lowerdir) {
  UnpackIds none;
  BOOST_TEST(layer_variant(WhiteoutFormat::overlay_trusted, none) == "trusted");
  BOOST_TEST(layer_variant(WhiteoutFormat::fuse, none) == "fuse");
  UnpackIds ids;
  ids.userns = true;
  ids.uid_map = {{0, 1000, 1}, {1, 100000, 65536}};
  ids.gid_map = ids.uid_map;
  BOOST_TEST(layer_variant(WhiteoutFormat::overlay_user, ids) == "user-0.1000.1-1.100000.65536");
  ids.gid_map = {{0, 1001, 1}};
  std::string v = layer_variant(WhiteoutFormat::overlay_user, ids);
  BOOST_TEST(v == "user-u0.1000.1-1.100000.65536-g0.1001.1");
  BOOST_TEST(v.find_first_of(":,/") == std::string::npos);
  BOOST_TEST(whiteout_format_name(WhiteoutFormat::overlay_user) == std::string("user"));
}

BOOST_AUTO_TEST_CASE(ids_for_root_are_the_images_own) {
  if (!root() || userns::running_rootless(0)) return;
  UnpackIds ids = unpack_ids_for_caller();
  BOOST_TEST(!ids.userns);
  BOOST_TEST(ids.uid_map.empty());
  BOOST_TEST(!ids.squash);
}

BOOST_AUTO_TEST_CASE(fuse_driver_means_fuse_and_the_kernel_probe_is_cached) {
  BOOST_TEST(choose_whiteout_format(true, "fuse") == WhiteoutFormat::fuse);
  if (!root()) return;
  // This host runs Linux 6.7+ (xattr whiteouts in lower layers).
  WhiteoutFormat a = choose_whiteout_format(false, "");
  BOOST_TEST(a == WhiteoutFormat::overlay_trusted);
  BOOST_TEST(choose_whiteout_format(true, "") == WhiteoutFormat::overlay_user);
  BOOST_TEST(choose_whiteout_format(false, "kernel") == a);
}

BOOST_AUTO_TEST_CASE(owners_modes_links_xattrs_and_times_in_every_format_and_compression) {
  if (!root()) return;
  for (WhiteoutFormat w : kFormats) {
    for (Z z : kCompressions) {
      Fixture f;
      ImageRecord img = f.image({f.add(full_layer(), z)});
      Progress p = Progress::none();
      std::vector<std::string> dirs = prepare_layers(f.store, img, w, {}, p);
      BOOST_REQUIRE(dirs.size() == 1);
      const std::string& d = dirs[0];
      BOOST_TEST(d == f.store.root() + "/layers/" + whiteout_format_name(w) + "/" + digest_hex(img.layers[0].digest));
      BOOST_TEST(os::read_file(d + "/etc/passwd") == "root:x:0:0::/root:/bin/sh\n");
      struct stat st = lst(d + "/etc/shadow");
      BOOST_TEST((st.st_uid == 0 && st.st_gid == 42 && (st.st_mode & 07777) == 0640));
      st = lst(d + "/home/user");
      BOOST_TEST((st.st_uid == 1000 && st.st_gid == 1000 && (st.st_mode & 07777) == 0700));
      BOOST_TEST(lst(d + "/home/user/notes").st_uid == 1000u);
      BOOST_TEST((lst(d + "/bin/su").st_mode & 07777) == 04755u);
      st = lst(d + "/bin/wall");
      BOOST_TEST(((st.st_mode & 07777) == 02755 && st.st_gid == 5));
      BOOST_TEST((lst(d + "/tmp").st_mode & 07777) == 01777u);
      BOOST_TEST(fs::read_symlink(d + "/bin/sh") == "/bin/busybox");
      BOOST_TEST(fs::read_symlink(d + "/etc/escape") == "../../../../etc/passwd");
      BOOST_TEST(lst(d + "/bin/su-link").st_ino == lst(d + "/bin/su").st_ino);
      st = lst(d + "/run/fifo");
      BOOST_TEST((S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0620 && st.st_uid == 42));
      BOOST_TEST(!exists(d + "/dev/null"));  // skipped, with a warning
      BOOST_TEST(xattr(d + "/usr/bin/ping", "user.note") == "hello");
      BOOST_TEST(xattr(d + "/usr/bin/ping", "security.capability") != "<none>");
      BOOST_TEST(lst(d + "/etc/passwd").st_mtime == 1600000000);
      BOOST_TEST(lst(d + "/home/user").st_mtime == 1600000000);  // after its contents
      BOOST_TEST(lst(d).st_mtime == 1600000000);
      BOOST_TEST((lst(d).st_mode & 07777) == 0755u);
      BOOST_TEST(f.store_clean() == false);  // the layer stays
      BOOST_TEST(fs::is_empty(f.store.root() + "/tmp"));
    }
  }
}

BOOST_AUTO_TEST_CASE(whiteouts_in_each_format) {
  if (!root()) return;
  for (WhiteoutFormat w : kFormats) {
    Fixture f;
    ImageRecord img = f.image({f.add(full_layer()), f.add(whiteout_layer())});
    Progress p = Progress::none();
    std::vector<std::string> dirs = prepare_layers(f.store, img, w, {}, p);
    BOOST_REQUIRE(dirs.size() == 2);
    const std::string& top = dirs[0];  // top first, as in lowerdir=
    BOOST_TEST(exists(dirs[1] + "/etc/passwd"));
    if (w == WhiteoutFormat::fuse) {
      BOOST_TEST(exists(top + "/.wh.gone"));
      BOOST_TEST(!exists(top + "/opq/.wh..wh..opq"));
      BOOST_TEST(xattr(top + "/opq", "user.fuseoverlayfs.opaque") == "y");  // what fuse-overlayfs always reads
      BOOST_TEST(exists(top + "/keep/.wh.lower"));
      BOOST_TEST(!exists(top + "/gone"));
      continue;
    }
    const std::string x = w == WhiteoutFormat::overlay_user ? "user.overlay." : "trusted.overlay.";
    BOOST_TEST(!exists(top + "/.wh.gone"));
    struct stat st = lst(top + "/gone");
    BOOST_TEST((S_ISREG(st.st_mode) && st.st_size == 0));
    BOOST_TEST(xattr(top + "/gone", x + "whiteout") == "");
    BOOST_TEST(xattr(top, x + "opaque") == "x");
    BOOST_TEST(xattr(top + "/keep/lower", x + "whiteout") == "");
    BOOST_TEST(xattr(top + "/keep", x + "opaque") == "x");
    BOOST_TEST(xattr(top + "/opq", x + "opaque") == "y");
    BOOST_TEST(!exists(top + "/opq/.wh..wh..opq"));
    BOOST_TEST(os::read_file(top + "/opq/new") == "upper\n");
    BOOST_TEST(xattr(top + "/keep/upper", x + "whiteout") == "<none>");
  }
}

BOOST_AUTO_TEST_CASE(an_opaque_directory_stays_opaque_after_a_whiteout_in_it) {
  if (!root()) return;
  Fixture f;
  ImageRecord img = f.image({f.add({reg("d/.wh..wh..opq", ""), reg("d/.wh.x", ""), reg("d/y", "")})});
  Progress p = Progress::none();
  std::string top = prepare_layers(f.store, img, WhiteoutFormat::overlay_user, {}, p)[0];
  BOOST_TEST(xattr(top + "/d", "user.overlay.opaque") == "y");
  BOOST_TEST(xattr(top + "/d/x", "user.overlay.whiteout") == "");
}

BOOST_AUTO_TEST_CASE(a_layer_may_not_forge_overlay_xattrs) {
  if (!root()) return;
  Fixture f;
  E e = reg("f", "x");
  e.xattrs = {{"user.overlay.whiteout", ""}, {"trusted.overlay.redirect", "/etc"}, {"user.ok", "1"}};
  E d = mkd("d");
  d.xattrs = {{"user.overlay.opaque", "y"}, {"user.fuseoverlayfs.opaque", "y"}};
  ImageRecord img = f.image({f.add({e, d})});
  Progress p = Progress::none();
  std::string top = prepare_layers(f.store, img, WhiteoutFormat::overlay_user, {}, p)[0];
  BOOST_TEST(xattr(top + "/f", "user.overlay.whiteout") == "<none>");
  BOOST_TEST(xattr(top + "/f", "trusted.overlay.redirect") == "<none>");
  BOOST_TEST(xattr(top + "/f", "user.ok") == "1");
  BOOST_TEST(xattr(top + "/d", "user.overlay.opaque") == "<none>");
  BOOST_TEST(xattr(top + "/d", "user.fuseoverlayfs.opaque") == "<none>");
}

BOOST_AUTO_TEST_CASE(schily_xattrs_from_gnu_tar) {
  if (!root()) return;
  Fixture f;
  const std::string src = f.tmp.path + "/src";
  fs::create_directories(src + "/d");
  os::write_file_atomic(src + "/d/f", "hi\n");
  BOOST_REQUIRE(::setxattr((src + "/d/f").c_str(), "user.foo", "bar", 3, 0) == 0);
  const std::string tar = f.tmp.path + "/gnu.tar";
  BOOST_REQUIRE(sh("tar --xattrs --xattrs-include='*' --format=pax -C " + src + " -cf " + tar + " d") == 0);
  BOOST_REQUIRE(sh("grep -q SCHILY.xattr.user.foo " + tar) == 0);
  ImageRecord img = f.image({f.add_tar(tar, Z::none)});
  Progress p = Progress::none();
  std::string top = prepare_layers(f.store, img, WhiteoutFormat::fuse, {}, p)[0];
  BOOST_TEST(xattr(top + "/d/f", "user.foo") == "bar");
}

BOOST_AUTO_TEST_CASE(later_entries_replace_earlier_ones) {
  if (!root()) return;
  Fixture f;
  ImageRecord img = f.image({f.add({
      reg("a", "first"),
      reg("a", "second"),
      reg("b", "file"),
      mkd("b"),
      reg("b/inside", "x"),
      mkd("c"),
      reg("c/inside", "x"),
      reg("c", "now a file"),
      mkd("d", 0700),
      reg("d/kept", "x"),
      mkd("d", 0755),
      reg("e", "target"),
      slink("e", "somewhere"),
  })});
  Progress p = Progress::none();
  std::string top = prepare_layers(f.store, img, WhiteoutFormat::fuse, {}, p)[0];
  BOOST_TEST(os::read_file(top + "/a") == "second");
  BOOST_TEST(os::read_file(top + "/b/inside") == "x");
  BOOST_TEST(os::read_file(top + "/c") == "now a file");
  BOOST_TEST(os::read_file(top + "/d/kept") == "x");
  BOOST_TEST((lst(top + "/d").st_mode & 07777) == 0755u);
  BOOST_TEST(fs::read_symlink(top + "/e") == "somewhere");
}

BOOST_AUTO_TEST_CASE(names_outside_the_layer_are_refused_and_nothing_stays) {
  if (!root()) return;
  Fixture f;
  const std::string outside = f.tmp.path + "/outside";
  fs::create_directories(outside);
  struct Case {
    std::vector<E> entries;
    std::string entry, words;
  };
  const std::vector<Case> cases = {
      {{reg("../escape", "x")}, "../escape", "`..`"},
      {{reg("a/../../escape", "x")}, "a/../../escape", "`..`"},
      {{reg("/abs", "x")}, "/abs", "absolute"},
      {{slink("link", outside), reg("link/file", "x")}, "link/file", "symlink `link`"},
      {{mkd("d"), slink("d/up", "../../.."), reg("d/up/escape", "x")}, "d/up/escape", "symlink `d/up`"},
      {{hlink("pw", "/etc/passwd")}, "pw", "absolute"},
      {{hlink("pw", "../../../../etc/passwd")}, "pw", "`..`"},
      {{slink("etc", "/etc"), hlink("pw", "etc/passwd")}, "pw", "symlink `etc`"},
      {{reg("f", "x"), reg("f/g", "x")}, "f/g", "not a directory"},
      {{hlink("pw", "missing")}, "pw", "hard link to `missing`"},
  };
  for (WhiteoutFormat w : kFormats) {
    for (const Case& c : cases) {
      ImageRecord img = f.image({f.add(c.entries)});
      std::string err = prepare_error(f, img, w);
      BOOST_TEST_INFO(err);
      BOOST_TEST(err.find("layer " + img.layers[0].digest) != std::string::npos);
      BOOST_TEST(err.find("entry `" + c.entry + "`") != std::string::npos);
      BOOST_TEST(err.find(c.words) != std::string::npos);
      BOOST_TEST(fs::is_empty(outside));
      BOOST_TEST(f.store_clean());
      BOOST_TEST(!exists(f.tmp.path + "/escape"));
    }
  }
  BOOST_TEST(os::read_file("/etc/passwd").find("root:") == 0);
}

BOOST_AUTO_TEST_CASE(a_wrong_diff_id_or_a_corrupt_blob_leaves_nothing) {
  if (!root()) return;
  Fixture f;
  const char* wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  ImageRecord img = f.image({f.add({reg("f", "x")}, Z::zstd, wrong)});
  std::string err = prepare_error(f, img, WhiteoutFormat::fuse);
  BOOST_TEST_INFO(err);
  BOOST_TEST(err.find("diff_id") != std::string::npos);
  BOOST_TEST(err.find(img.layers[0].digest) != std::string::npos);
  BOOST_TEST(f.store_clean());

  // A gzip stream cut short.
  LayerRef l = f.add({reg("f", std::string(200000, 'x'))}, Z::gzip);
  std::string blob = os::read_file(f.store.blob_path(l.digest));
  const std::string cut = f.tmp.path + "/cut.gz";
  os::write_file_atomic(cut, blob.substr(0, blob.size() / 2));
  LayerRef bad = l;
  std::string data = os::read_file(cut);
  bad.digest = sha256_of(data);
  fs::copy_file(cut, f.store.blob_path(bad.digest));
  err = prepare_error(f, f.image({bad}), WhiteoutFormat::fuse);
  BOOST_TEST(!err.empty());
  BOOST_TEST(f.store_clean());
  // Not a tar at all.
  const std::string junk = f.tmp.path + "/junk";
  os::write_file_atomic(junk, std::string(3000, 'j'));
  err = prepare_error(f, f.image({f.add_tar(junk, Z::none)}), WhiteoutFormat::fuse);
  BOOST_TEST_INFO(err);
  BOOST_TEST(err.find("layer sha256:") == 0);
  BOOST_TEST(f.store_clean());
}

BOOST_AUTO_TEST_CASE(layers_are_unpacked_once_and_found_without_unpacking) {
  if (!root()) return;
  Fixture f;
  ImageRecord img = f.image({f.add(full_layer()), f.add(whiteout_layer())});
  BOOST_TEST(unpacked_layers(f.store, img, WhiteoutFormat::fuse, {}).empty());
  Progress p = Progress::none();
  std::vector<std::string> dirs = prepare_layers(f.store, img, WhiteoutFormat::fuse, {}, p);
  ino_t ino = lst(dirs[0]).st_ino;
  BOOST_TEST(unpacked_layers(f.store, img, WhiteoutFormat::fuse, {}) == dirs);
  BOOST_TEST(prepare_layers(f.store, img, WhiteoutFormat::fuse, {}, p) == dirs);
  BOOST_TEST(lst(dirs[0]).st_ino == ino);
  // Another format is another variant.
  BOOST_TEST(unpacked_layers(f.store, img, WhiteoutFormat::overlay_trusted, {}).empty());
  // A layer missing from the store: none of them counts.
  remove_unpacked(dirs[1]);
  BOOST_TEST(!exists(dirs[1]));
  BOOST_TEST(unpacked_layers(f.store, img, WhiteoutFormat::fuse, {}).empty());
}

BOOST_AUTO_TEST_CASE(flatten_applies_whiteouts_and_opaque_directories) {
  if (!root()) return;
  Fixture f;
  ImageRecord img = f.image({f.add(full_layer()), f.add(whiteout_layer()),
                             f.add({reg("etc/passwd", "changed\n", 0600), hlink("etc/pw2", "etc/passwd")})});
  const std::string out = f.tmp.path + "/rootfs";
  Progress p = Progress::none();
  flatten_image(f.store, img, out, {}, p);
  BOOST_TEST(!exists(out + "/gone"));
  BOOST_TEST(!exists(out + "/.wh.gone"));
  BOOST_TEST(!exists(out + "/opq/lower"));
  BOOST_TEST(os::read_file(out + "/opq/new") == "upper\n");
  BOOST_TEST(!exists(out + "/opq/.wh..wh..opq"));
  BOOST_TEST(!exists(out + "/keep/lower"));
  BOOST_TEST(os::read_file(out + "/keep/upper") == "upper\n");
  BOOST_TEST(os::read_file(out + "/etc/passwd") == "changed\n");
  BOOST_TEST(lst(out + "/etc/pw2").st_ino == lst(out + "/etc/passwd").st_ino);
  BOOST_TEST((lst(out + "/bin/su").st_mode & 07777) == 04755u);
  BOOST_TEST(lst(out + "/etc/shadow").st_gid == 42u);
  BOOST_TEST(xattr(out + "/usr/bin/ping", "user.note") == "hello");
  BOOST_TEST(xattr(out + "/keep", "trusted.overlay.opaque") == "<none>");

  // Not empty: refused, untouched.
  std::string err;
  try {
    flatten_image(f.store, img, out, {}, p);
  } catch (const std::exception& e) {
    err = e.what();
  }
  BOOST_TEST(err.find("not empty") != std::string::npos);
  BOOST_TEST(exists(out + "/etc/passwd"));

  // A bad layer: nothing of the earlier ones stays.
  ImageRecord bad = f.image({f.add(full_layer()), f.add({reg("../x", "")})});
  const std::string out2 = f.tmp.path + "/rootfs2";
  BOOST_CHECK_THROW(flatten_image(f.store, bad, out2, {}, p), std::exception);
  BOOST_TEST(!exists(out2));
}

// The rootless path as far as root can take it: the unpack in a child that
// is root of a new user namespace whose maps the parent writes; image id N
// lands on host id BASE + N - 1, as newuidmap maps a subordinate range.
BOOST_AUTO_TEST_CASE(unpack_in_a_user_namespace_maps_the_owners) {
  if (!root()) return;
  Fixture f;
  UnpackIds ids;
  ids.userns = true;
  ids.uid_map = {{0, 0, 1}, {1, 300000, 65536}};
  ids.gid_map = ids.uid_map;
  ImageRecord img = f.image({f.add(full_layer()), f.add(whiteout_layer())});
  Progress p = Progress::none();
  std::vector<std::string> dirs = prepare_layers(f.store, img, WhiteoutFormat::overlay_user, ids, p);
  BOOST_TEST(dirs[1].find("/layers/user-0.0.1-1.300000.65536/") != std::string::npos);
  struct stat st = lst(dirs[1] + "/etc/shadow");
  BOOST_TEST((st.st_uid == 0 && st.st_gid == 300041));
  BOOST_TEST(lst(dirs[1] + "/home/user/notes").st_uid == 300999u);
  BOOST_TEST((lst(dirs[1] + "/bin/su").st_mode & 07777) == 04755u);
  BOOST_TEST(xattr(dirs[0] + "/gone", "user.overlay.whiteout") == "");
  BOOST_TEST(xattr(dirs[1] + "/usr/bin/ping", "security.capability") != "<none>");
  // A bad layer in the namespace: the error comes back, nothing stays.
  ImageRecord bad = f.image({f.add({reg("ok", ""), slink("l", "/"), reg("l/x", "")})});
  std::string err = prepare_error(f, bad, WhiteoutFormat::overlay_user, ids);
  BOOST_TEST_INFO(err);
  BOOST_TEST(err.find("entry `l/x`") != std::string::npos);
  BOOST_TEST(fs::is_empty(f.store.root() + "/tmp"));

  // Squash: a single mapping, every id 0.
  UnpackIds squash;
  squash.userns = true;
  squash.squash = true;
  squash.uid_map = {{0, 0, 1}};
  squash.gid_map = squash.uid_map;
  std::string d = prepare_layers(f.store, f.image({img.layers[0]}), WhiteoutFormat::fuse, squash, p)[0];
  BOOST_TEST(lst(d + "/home/user/notes").st_uid == 0u);
  BOOST_TEST(lst(d + "/etc/shadow").st_gid == 0u);
  BOOST_TEST((lst(d + "/bin/su").st_mode & 07777) == 04755u);
}

BOOST_AUTO_TEST_CASE(remove_unpacked_removes_read_only_trees) {
  if (!root()) return;
  Fixture f;
  const std::string d = f.tmp.path + "/tree";
  fs::create_directories(d + "/a/b");
  os::write_file_atomic(d + "/a/b/f", "x");
  ::chmod((d + "/a/b").c_str(), 0);
  ::chmod((d + "/a").c_str(), 0555);
  remove_unpacked(d);
  BOOST_TEST(!exists(d));
  remove_unpacked(d);  // absent: nothing to do
}

// ---- the overlays for real --------------------------------------------------

namespace {

// In a child with a private mount namespace (and for the user format a new
// user namespace mapping every id to itself, as `unshare -Urm` would for
// root): mount the layers (top first) and report what the merged view shows.
struct Merged {
  bool gone = true, opq_lower = true, opq_new = false, keep_lower = true, keep_upper = false, passwd = false;
};

Merged mount_and_look(const std::vector<std::string>& lowers, WhiteoutFormat w, const std::string& mnt) {
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    int flags = CLONE_NEWNS | (w == WhiteoutFormat::overlay_user ? CLONE_NEWUSER : 0);
    if (::unshare(flags) != 0) ::_exit(2);
    // As `unshare -Urm` maps root: itself only (files of other ids show as
    // nobody, which reading them does not mind).
    auto put = [](const char* path, const char* text) {
      int fd = ::open(path, O_WRONLY);
      if (fd < 0 || ::write(fd, text, std::strlen(text)) < 0) ::_exit(7);
      ::close(fd);
    };
    if (w == WhiteoutFormat::overlay_user) {
      put("/proc/self/setgroups", "deny");
      put("/proc/self/uid_map", "0 0 1\n");
      put("/proc/self/gid_map", "0 0 1\n");
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(3);
    std::string lowerdir;
    for (const std::string& l : lowers) lowerdir += (lowerdir.empty() ? "" : ":") + l;
    if (w == WhiteoutFormat::fuse) {
      std::string cmd = "fuse-overlayfs -o lowerdir=" + lowerdir + " " + mnt;
      if (std::system(cmd.c_str()) != 0) ::_exit(4);
    } else {
      std::string data = "lowerdir=" + lowerdir + (w == WhiteoutFormat::overlay_user ? ",userxattr" : "");
      if (::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, data.c_str()) != 0) ::_exit(5);
    }
    Merged m;
    m.gone = exists(mnt + "/gone");
    m.opq_lower = exists(mnt + "/opq/lower");
    m.opq_new = exists(mnt + "/opq/new");
    m.keep_lower = exists(mnt + "/keep/lower");
    m.keep_upper = exists(mnt + "/keep/upper");
    m.passwd = exists(mnt + "/etc/passwd");
    if (w == WhiteoutFormat::fuse) ::umount2(mnt.c_str(), MNT_DETACH);
    if (::write(fds[1], &m, sizeof m) != sizeof m) ::_exit(6);
    ::_exit(0);
  }
  ::close(fds[1]);
  Merged m;
  ssize_t n = ::read(fds[0], &m, sizeof m);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_REQUIRE_MESSAGE(n == sizeof m, "mount child: exit " << test::exit_code(status));
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(overlays_hide_what_the_whiteouts_hide) {
  if (!root()) return;
  for (WhiteoutFormat w : kFormats) {
    if (w == WhiteoutFormat::fuse && sh("command -v fuse-overlayfs >/dev/null && test -c /dev/fuse") != 0) {
      BOOST_TEST_MESSAGE("skipped: no fuse-overlayfs or /dev/fuse");
      continue;
    }
    Fixture f;
    ImageRecord img = f.image({f.add(full_layer()), f.add(whiteout_layer())});
    Progress p = Progress::none();
    std::vector<std::string> dirs = prepare_layers(f.store, img, w, {}, p);
    const std::string mnt = f.tmp.path + "/merged";
    fs::create_directories(mnt);
    BOOST_TEST_CONTEXT("format " << whiteout_format_name(w)) {
      Merged m = mount_and_look(dirs, w, mnt);
      BOOST_TEST(m.passwd);
      BOOST_TEST(!m.gone);
      BOOST_TEST(!m.opq_lower);
      BOOST_TEST(m.opq_new);
      BOOST_TEST(!m.keep_lower);
      BOOST_TEST(m.keep_upper);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
