#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <ostream>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/rootfs/fuse_daemon.hpp>
#include <rrun/rootfs/overlay.hpp>
#include <rrun/rootfs/plan.hpp>

#include "../temp_dir.hpp"

using namespace rrun;
using rrun::rootfs::OverlayDriver;
using rrun::rootfs::RootOverlay;

namespace rrun::rootfs {
inline std::ostream& operator<<(std::ostream& os, OverlayDriver d) {
  return os << overlay_driver_name(d);
}
}  // namespace rrun::rootfs

namespace {

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct Bundle {
  test::TempDir tmp;
  spec::Spec spec;
  Bundle() {
    os::mkdir_p(tmp.path + "/rootfs", 0751);
    ::chmod((tmp.path + "/rootfs").c_str(), 0751);
    spec.root = spec::Root{"rootfs", false};
    spec.linux = spec::Linux{};
  }
  rootfs::RootfsPlan plan(const rootfs::PlanOptions& o) const { return rootfs::plan_rootfs(spec, tmp.path, o); }
};

rootfs::PlanOptions rootless(const std::string& fuse = "/usr/bin/fuse-overlayfs") {
  rootfs::PlanOptions o;
  o.rootless = true;
  o.new_user_ns = true;
  o.fuse_overlayfs = fuse;
  return o;
}

spec::Mount overlay_mount(const std::string& dest, std::vector<std::string> options) {
  spec::Mount m;
  m.destination = dest;
  m.type = "overlay";
  m.source = "overlay";
  m.options = std::move(options);
  return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_overlay)

BOOST_AUTO_TEST_CASE(driver_values) {
  BOOST_TEST(rootfs::parse_overlay_driver("") == OverlayDriver::automatic);
  BOOST_TEST(rootfs::parse_overlay_driver("auto") == OverlayDriver::automatic);
  BOOST_TEST(rootfs::parse_overlay_driver("kernel") == OverlayDriver::kernel);
  BOOST_TEST(rootfs::parse_overlay_driver("fuse") == OverlayDriver::fuse);
  std::string e = error_of([] { rootfs::parse_overlay_driver("Fuse"); });
  BOOST_TEST(e == "annotations.rrun.overlay.driver: unknown value `Fuse` (expected auto, kernel or fuse)");
}

BOOST_AUTO_TEST_CASE(rootfs_overlay_values) {
  BOOST_TEST((rootfs::parse_rootfs_overlay("").mode == RootOverlay::Mode::none));
  BOOST_TEST((rootfs::parse_rootfs_overlay("ephemeral").mode == RootOverlay::Mode::ephemeral));
  auto p = rootfs::parse_rootfs_overlay("persistent:/var/tmp/x/");
  BOOST_TEST((p.mode == RootOverlay::Mode::persistent));
  BOOST_TEST(p.dir == "/var/tmp/x");
  BOOST_TEST(contains(error_of([] { rootfs::parse_rootfs_overlay("volatile"); }),
                      "annotations.rrun.rootfs.overlay: unknown value `volatile` (expected ephemeral or "
                      "persistent:/ABS/DIR)"));
  BOOST_TEST(contains(error_of([] { rootfs::parse_rootfs_overlay("persistent:rel/dir"); }),
                      "annotations.rrun.rootfs.overlay: `persistent:rel/dir`: needs an absolute directory"));
  BOOST_TEST(rootfs::checked_persistent_dir("/var/tmp/x//") == "/var/tmp/x");
  BOOST_TEST(error_of([] { rootfs::checked_persistent_dir("/a,b"); }) ==
             "the directory must not contain `,` or `:` (they separate the overlay's mount options)");
  BOOST_TEST(contains(error_of([] { rootfs::parse_rootfs_overlay("persistent:"); }), "needs an absolute directory"));
  BOOST_TEST(contains(error_of([] { rootfs::parse_rootfs_overlay("persistent:/a:b"); }), "must not contain"));
  BOOST_TEST(contains(error_of([] { rootfs::parse_rootfs_overlay("persistent:/"); }), "cannot hold"));
}

BOOST_AUTO_TEST_CASE(data_several_lowers_and_relative_paths) {
  auto d = rootfs::parse_overlay_data("lowerdir=/l1:l2:/with\\:colon,upperdir=u,workdir=/w,redirect_dir=off", "/b",
                                      "mounts[0].options");
  BOOST_TEST(d.lowerdirs.size() == 3u);
  BOOST_TEST(d.lowerdirs[0] == "/l1");
  BOOST_TEST(d.lowerdirs[1] == "/b/l2");
  BOOST_TEST(d.lowerdirs[2] == "/with:colon");
  BOOST_TEST(d.upperdir == "/b/u");
  BOOST_TEST(d.workdir == "/w");
  BOOST_TEST(d.other.size() == 1u);
  BOOST_TEST(rootfs::kernel_overlay_data(d, true) ==
             "lowerdir=/l1:/b/l2:/with\\:colon,upperdir=/b/u,workdir=/w,redirect_dir=off,userxattr");
  BOOST_TEST(rootfs::kernel_overlay_data(d, false) ==
             "lowerdir=/l1:/b/l2:/with\\:colon,upperdir=/b/u,workdir=/w,redirect_dir=off");
  // Given explicitly: kept once, even outside a user namespace.
  auto x = rootfs::parse_overlay_data("lowerdir=/a:/b,userxattr", "/", "m");
  BOOST_TEST(rootfs::kernel_overlay_data(x, true) == "lowerdir=/a:/b,userxattr");
  BOOST_TEST(rootfs::kernel_overlay_data(x, false) == "lowerdir=/a:/b,userxattr");
}

BOOST_AUTO_TEST_CASE(data_errors) {
  auto err = [](const std::string& data) {
    return error_of([&] { rootfs::parse_overlay_data(data, "/b", "mounts[1].options"); });
  };
  BOOST_TEST(err("upperdir=/u,workdir=/w") == "mounts[1].options: an overlay mount needs `lowerdir=DIR[:DIR...]`");
  BOOST_TEST(contains(err("lowerdir=/a,upperdir=/u"), "`upperdir` and `workdir` go together"));
  BOOST_TEST(contains(err("lowerdir=/a"), "needs at least two lower directories"));
  BOOST_TEST(contains(err("lowerdir=/a::/b,upperdir=/u,workdir=/w"), "has an empty directory"));
  BOOST_TEST(contains(err("lowerdir=/a,lowerdir=/b"), "`lowerdir` given twice"));
  BOOST_TEST(contains(err("lowerdir+=/a"), "`lowerdir+` is not supported"));
  BOOST_TEST(contains(err("lowerdir=/a,upperdir=,workdir=/w"), "`upperdir` needs a directory"));
}

BOOST_AUTO_TEST_CASE(fuse_argv) {
  auto d = rootfs::parse_overlay_data("lowerdir=/l1:/l2,upperdir=/u,workdir=/w,index=off", "/", "m");
  auto argv = rootfs::fuse_overlayfs_argv("/usr/bin/fuse-overlayfs", d, 3);
  std::vector<std::string> want = {"/usr/bin/fuse-overlayfs", "-f", "-o", "lowerdir=/l1:/l2,upperdir=/u,workdir=/w",
                                   "/dev/fd/3"};
  BOOST_TEST(argv == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(find_fuse_overlayfs_in_path) {
  test::TempDir t;
  os::mkdir_p(t.path + "/a");
  os::mkdir_p(t.path + "/b");
  os::write_file_atomic(t.path + "/a/fuse-overlayfs", "not executable");
  os::write_file_atomic(t.path + "/b/fuse-overlayfs", "#!/bin/sh\n");
  ::chmod((t.path + "/b/fuse-overlayfs").c_str(), 0755);
  std::string path = "relative:" + t.path + "/a:" + t.path + "/b";
  BOOST_TEST(rootfs::find_fuse_overlayfs(path.c_str()) == t.path + "/b/fuse-overlayfs");
  std::string none = t.path + "/a";
  BOOST_TEST(rootfs::find_fuse_overlayfs(none.c_str()) == "");
}

BOOST_AUTO_TEST_CASE(plan_spec_overlay_mount) {
  Bundle b;
  b.spec.mounts.push_back(overlay_mount("/merged", {"ro", "lowerdir=/l1:/l2", "upperdir=up", "workdir=/w"}));
  auto plan = b.plan(rootless());
  BOOST_REQUIRE(plan.ops_before_pivot.size() >= 1u);
  const auto& op = plan.ops_before_pivot[0];
  BOOST_TEST((op.kind == rootfs::OpKind::overlay));
  BOOST_TEST(op.destination == "/merged");
  BOOST_TEST((op.flags & MS_RDONLY) != 0u);
  BOOST_REQUIRE(plan.overlays.size() == 1u);
  const auto& om = plan.overlays[op.overlay];
  BOOST_TEST(om.origin == "mounts[0]");
  BOOST_TEST(om.kernel_data == "lowerdir=/l1:/l2,upperdir=" + b.tmp.path + "/up,workdir=/w,userxattr");
  BOOST_TEST(om.fuse_binary == "/usr/bin/fuse-overlayfs");
  BOOST_TEST(!plan.root_overlay);

  // As root without a user namespace: no userxattr.
  rootfs::PlanOptions root;
  root.fuse_overlayfs = "";
  auto p2 = b.plan(root);
  BOOST_TEST(p2.overlays[0].kernel_data == "lowerdir=/l1:/l2,upperdir=" + b.tmp.path + "/up,workdir=/w");
}

BOOST_AUTO_TEST_CASE(plan_driver_annotation) {
  Bundle b;
  b.spec.mounts.push_back(overlay_mount("/m", {"lowerdir=/a:/b"}));
  b.spec.annotations["rrun.overlay.driver"] = "kernel";
  BOOST_TEST((b.plan(rootless()).overlays[0].driver == OverlayDriver::kernel));
  b.spec.annotations["rrun.overlay.driver"] = "fuse";
  BOOST_TEST((b.plan(rootless()).overlays[0].driver == OverlayDriver::fuse));
  // Forcing fuse without fuse-overlayfs: an error before anything is made.
  std::string e = error_of([&] { b.plan(rootless("")); });
  BOOST_TEST(
      contains(e, "mounts[0]: annotations.rrun.overlay.driver is `fuse` but fuse-overlayfs was not found in PATH"));
  BOOST_TEST(contains(e, "apt install fuse-overlayfs"));
  // auto without it: planned, the child says so if the kernel refuses.
  b.spec.annotations.erase("rrun.overlay.driver");
  BOOST_TEST(b.plan(rootless("")).overlays[0].fuse_binary == "");
  b.spec.annotations["rrun.overlay.driver"] = "both";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "annotations.rrun.overlay.driver: unknown value `both`"));
}

BOOST_AUTO_TEST_CASE(plan_ephemeral_root) {
  Bundle b;
  b.spec.annotations["rrun.rootfs.overlay"] = "ephemeral";
  auto plan = b.plan(rootless());
  BOOST_REQUIRE(plan.root_overlay.has_value());
  const auto& om = plan.overlays[*plan.root_overlay];
  BOOST_TEST(om.root);
  BOOST_TEST(om.ephemeral);
  BOOST_TEST(om.in_userns);
  BOOST_TEST(om.origin == "annotations.rrun.rootfs.overlay");
  BOOST_TEST(om.data.lowerdirs.size() == 1u);
  BOOST_TEST(om.data.lowerdirs[0] == plan.rootfs);
  BOOST_TEST(om.data.upperdir.empty());
  BOOST_TEST(om.root_mode == 0751u);
}

BOOST_AUTO_TEST_CASE(plan_persistent_root_makes_dirs) {
  Bundle b;
  std::string dir = b.tmp.path + "/state/x";
  b.spec.annotations["rrun.rootfs.overlay"] = "persistent:" + dir;
  auto plan = b.plan(rootless());
  const auto& om = plan.overlays[*plan.root_overlay];
  BOOST_TEST(!om.ephemeral);
  BOOST_TEST(om.data.upperdir == dir + "/upper");
  BOOST_TEST(om.data.workdir == dir + "/work");
  BOOST_TEST(om.kernel_data ==
             "lowerdir=" + plan.rootfs + ",upperdir=" + dir + "/upper,workdir=" + dir + "/work,userxattr");
  struct stat st {};
  BOOST_REQUIRE(::stat((dir + "/upper").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0751u);
  BOOST_REQUIRE(::stat((dir + "/work").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
  // A second plan reuses them.
  BOOST_TEST(error_of([&] { b.plan(rootless()); }) == "");
}

BOOST_AUTO_TEST_CASE(plan_root_overlay_errors) {
  Bundle b;
  b.spec.annotations["rrun.rootfs.overlay"] = "persistent:" + b.tmp.path + "/rootfs/inside";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "must not be inside root.path"));
  os::write_file_atomic(b.tmp.path + "/file", "x");
  os::mkdir_p(b.tmp.path + "/p");
  os::write_file_atomic(b.tmp.path + "/p/upper", "x");
  b.spec.annotations["rrun.rootfs.overlay"] = "persistent:" + b.tmp.path + "/p";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "is not a directory"));
  b.spec.annotations["rrun.rootfs.overlay"] = "tmpfs";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "annotations.rrun.rootfs.overlay: unknown value `tmpfs`"));
}

BOOST_AUTO_TEST_CASE(rootfs_overlay_lower_values) {
  auto dirs = rootfs::parse_rootfs_overlay_lower("/s/layers/user-0\\:1000\\:1\\,1/b:/c");
  BOOST_TEST(dirs.size() == 2u);
  BOOST_TEST(dirs[0] == "/s/layers/user-0:1000:1,1/b");
  BOOST_TEST(dirs[1] == "/c");
  BOOST_TEST(rootfs::format_rootfs_overlay_lower(dirs) == "/s/layers/user-0\\:1000\\:1\\,1/b:/c");
  BOOST_TEST(rootfs::parse_rootfs_overlay_lower(rootfs::format_rootfs_overlay_lower({"/a\\b"}))[0] == "/a\\b");
  BOOST_TEST(contains(error_of([] { rootfs::parse_rootfs_overlay_lower(""); }),
                      "annotations.rrun.rootfs.overlay.lower: empty"));
  BOOST_TEST(contains(error_of([] { rootfs::parse_rootfs_overlay_lower("/a::/b"); }), "has an empty directory"));
  BOOST_TEST(
      contains(error_of([] { rootfs::parse_rootfs_overlay_lower("/a:rel"); }), "`rel` is not an absolute directory"));
}

BOOST_AUTO_TEST_CASE(plan_root_with_lower_layers) {
  Bundle b;
  os::mkdir_p(b.tmp.path + "/l:1");
  os::mkdir_p(b.tmp.path + "/l2");
  b.spec.annotations["rrun.rootfs.overlay"] = "ephemeral";
  b.spec.annotations["rrun.rootfs.overlay.lower"] =
      rootfs::format_rootfs_overlay_lower({b.tmp.path + "/l:1", b.tmp.path + "/l2"});
  auto plan = b.plan(rootless());
  const auto& om = plan.overlays[*plan.root_overlay];
  BOOST_TEST(om.data.lowerdirs.size() == 3u);
  BOOST_TEST(om.data.lowerdirs[0] == plan.rootfs);
  BOOST_TEST(om.data.lowerdirs[1] == b.tmp.path + "/l:1");
  BOOST_TEST(om.data.lowerdirs[2] == b.tmp.path + "/l2");
  BOOST_TEST(om.kernel_more_lowers == ":" + b.tmp.path + "/l\\:1:" + b.tmp.path + "/l2");
  auto argv = rootfs::fuse_overlayfs_argv("/f", om.data, 3);
  BOOST_TEST(contains(argv[3], "lowerdir=" + plan.rootfs + ":" + b.tmp.path + "/l\\:1:" + b.tmp.path + "/l2"));
  // Persistent: the kernel's data string has them all.
  std::string dir = b.tmp.path + "/p";
  b.spec.annotations["rrun.rootfs.overlay"] = "persistent:" + dir;
  auto p = b.plan(rootless());
  BOOST_TEST(p.overlays[*p.root_overlay].kernel_data == "lowerdir=" + p.rootfs + ":" + b.tmp.path +
                                                            "/l\\:1:" + b.tmp.path + "/l2,upperdir=" + dir +
                                                            "/upper,workdir=" + dir + "/work,userxattr");
}

BOOST_AUTO_TEST_CASE(plan_root_lower_layer_errors) {
  Bundle b;
  b.spec.annotations["rrun.rootfs.overlay.lower"] = "/";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }),
                      "annotations.rrun.rootfs.overlay.lower: needs annotations.rrun.rootfs.overlay"));
  b.spec.annotations["rrun.rootfs.overlay"] = "ephemeral";
  b.spec.annotations["rrun.rootfs.overlay.lower"] = b.tmp.path + "/missing";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "`" + b.tmp.path + "/missing` does not exist"));
  os::write_file_atomic(b.tmp.path + "/file", "x");
  b.spec.annotations["rrun.rootfs.overlay.lower"] = b.tmp.path + "/file";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "is not a directory"));
  os::mkdir_p(b.tmp.path + "/rootfs/sub");
  b.spec.annotations["rrun.rootfs.overlay.lower"] = b.tmp.path + "/rootfs/sub";
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "is root.path or inside it"));
  std::string many;
  for (int i = 0; i < 40; ++i) many += (many.empty() ? "" : ":") + b.tmp.path + "/" + std::string(100, 'x');
  os::mkdir_p(b.tmp.path + "/" + std::string(100, 'x'));
  b.spec.annotations["rrun.rootfs.overlay.lower"] = many;
  BOOST_TEST(contains(error_of([&] { b.plan(rootless()); }), "more than the kernel takes (4096)"));
  b.spec.annotations["rrun.overlay.driver"] = "fuse";
  BOOST_TEST(error_of([&] { b.plan(rootless()); }) == "");
}

BOOST_AUTO_TEST_CASE(daemon_list_format_and_stop_of_strangers) {
  std::vector<rootfs::FuseDaemon> ds(2);
  ds[0].pid = 12;
  ds[0].start_time = 34;
  ds[1].pid = 56;
  ds[1].start_time = 78;
  BOOST_TEST(rootfs::format_fuse_daemons(ds) == "12 34\n56 78\n");
  // Our own pid with another start time is someone else: left alone, no wait.
  std::string stranger = std::to_string(::getpid()) + " 1\n";
  rootfs::stop_fuse_daemons(stranger, 5000);
  BOOST_TEST(::kill(::getpid(), 0) == 0);
}

// Issue 11 point 5: files whose owner the container does not map break the
// kernel overlay's copy-up (EOVERFLOW); found before anything runs.
BOOST_AUTO_TEST_CASE(unmapped_owner_found_on_host_ids) {
  std::vector<spec::IdMapping> own = {{0, 1000, 1}};
  std::vector<spec::IdMapping> sub = {{0, 1000, 1}, {1, 100000, 65536}};
  std::vector<rootfs::FileOwner> files = {{"/r", 1000, 1000}, {"/r/bin", 1000, 1000}};
  BOOST_TEST(!rootfs::find_unmapped_owner(files, own, own));
  files.push_back({"/r/etc", 1000, 0});  // chown -R user, the group stays root's
  auto g = rootfs::find_unmapped_owner(files, own, own);
  BOOST_REQUIRE(g);
  BOOST_TEST(g->path == "/r/etc");
  BOOST_TEST(g->kind == std::string("gid"));
  BOOST_TEST(g->id == 0u);
  files.back() = {"/r/etc", 100001, 100001};  // the subordinate range, mapped only with it
  BOOST_TEST(!rootfs::find_unmapped_owner(files, sub, sub));
  auto u = rootfs::find_unmapped_owner(files, own, own);
  BOOST_REQUIRE(u);
  BOOST_TEST(u->kind == std::string("uid"));
  BOOST_TEST(u->id == 100001u);
  files.back() = {"/r/etc", 165536, 1000};  // one past the range
  BOOST_TEST(rootfs::find_unmapped_owner(files, sub, sub)->id == 165536u);
}

BOOST_AUTO_TEST_CASE(fuse_argv_squashes_to_root_when_asked) {
  rootfs::OverlayData d;
  d.lowerdirs = {"/l"};
  d.upperdir = "/u";
  d.workdir = "/w";
  BOOST_TEST(rootfs::fuse_overlayfs_argv("/f", d, 3).at(3) == "lowerdir=/l,upperdir=/u,workdir=/w");
  BOOST_TEST(rootfs::fuse_overlayfs_argv("/f", d, 3, true).at(3) ==
             "lowerdir=/l,upperdir=/u,workdir=/w,squash_to_root");
}

BOOST_AUTO_TEST_CASE(fuse_idmapping_shows_the_usual_rootless_owners_under_keep_id) {
  // Shown: the usual rootless mapping (0 = the user 1000, 1.. = 100000..);
  // the container's (user: keep): 0..999 -> 100000.., 1000 -> 1000,
  // 1001.. -> 101000... The daemon sees those; fuse-overlayfs takes SEEN:SHOWN:N.
  std::vector<spec::IdMapping> shown{{0, 1000, 1}, {1, 100000, 65536}};
  std::vector<spec::IdMapping> keep{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}};
  BOOST_TEST(rootfs::fuse_overlay_idmapping(shown, keep) == "1000:0:1:0:1:1000:1001:1001:64536");
  BOOST_TEST(rootfs::fuse_overlay_idmapping(shown, {{1000, 1000, 1}}) == "1000:0:1");
  BOOST_TEST(rootfs::fuse_overlay_idmapping({{0, 5, 1}}, {{0, 7, 1}}) == "");
  BOOST_TEST((rootfs::parse_overlay_idmap("0:1000:1:1:100000:65536", "a") == shown));
  for (const char* bad : {"", "0:1", "0:1:0", "a:1:1", "0:1:1:", "0:4294967295:2", "-1:1:1"})
    BOOST_CHECK_THROW(rootfs::parse_overlay_idmap(bad, "a"), os::Error);
  rootfs::OverlayData d;
  d.lowerdirs = {"/l"};
  d.upperdir = "/u";
  d.workdir = "/w";
  BOOST_TEST(rootfs::fuse_overlayfs_argv("/f", d, 3, false, "1000:0:1", "1001:0:1").at(3) ==
             "lowerdir=/l,upperdir=/u,workdir=/w,uidmapping=1000:0:1,gidmapping=1001:0:1");
}

BOOST_AUTO_TEST_CASE(top_level_owners_lists_root_and_entries) {
  test::TempDir t;
  os::mkdir_p(t.path + "/etc");
  os::write_file_atomic(t.path + "/f", "x");
  BOOST_REQUIRE(::symlink("/nonexistent", (t.path + "/link").c_str()) == 0);
  auto owners = rootfs::top_level_owners(t.path);
  BOOST_REQUIRE_EQUAL(owners.size(), 4u);
  BOOST_TEST(owners[0].path == t.path);
  BOOST_TEST(owners[0].uid == ::geteuid());
}

BOOST_AUTO_TEST_CASE(unmapped_rootfs_owner_refused_or_fuse) {
  Bundle b;
  b.spec.annotations[rootfs::kRootfsOverlayAnnotation] = "ephemeral";
  rootfs::PlanOptions o = rootless("");
  uint32_t me = ::geteuid();
  o.uid_mappings = {{0, me + 1, 1}};
  o.gid_mappings = {{0, static_cast<uint32_t>(::getegid()), 1}};
  std::string rootfs_dir = b.tmp.path + "/rootfs";
  // auto without fuse-overlayfs: one line with the path, the owner, the remedies.
  std::string e = error_of([&] { b.plan(o); });
  BOOST_TEST(contains(e, "annotations.rrun.rootfs.overlay: `" + rootfs_dir + "` belongs to uid " + std::to_string(me) +
                             ", which the container's user namespace does not map"),
             e);
  BOOST_TEST(contains(e, "chown -R " + std::to_string(me + 1) + ":" + std::to_string(::getegid()) + " `" + rootfs_dir +
                             "`, or install fuse-overlayfs"),
             e);
  BOOST_TEST(!contains(e, "\n"));
  // The kernel driver forced: refused, with fuse-overlayfs as the other way.
  o.fuse_overlayfs = "/usr/bin/fuse-overlayfs";
  b.spec.annotations[rootfs::kOverlayDriverAnnotation] = "kernel";
  e = error_of([&] { b.plan(o); });
  BOOST_TEST(contains(e, "belongs to uid " + std::to_string(me)), e);
  BOOST_TEST(contains(e, "or use fuse-overlayfs (annotations.rrun.overlay.driver auto or fuse)"), e);
  // The fuse driver forced: nothing to check; mapped owners: the kernel stays.
  b.spec.annotations[rootfs::kOverlayDriverAnnotation] = "fuse";
  BOOST_TEST(b.plan(o).overlays.at(0).driver == OverlayDriver::fuse);
  BOOST_TEST(!b.plan(o).overlays.at(0).squash_to_root);
  b.spec.annotations[rootfs::kOverlayDriverAnnotation] = "kernel";
  o.uid_mappings = {{0, me, 1}};
  BOOST_TEST(b.plan(o).overlays.at(0).driver == OverlayDriver::kernel);
}

BOOST_AUTO_TEST_CASE(root_overlay_idmap_takes_fuse_overlayfs) {
  Bundle b;
  b.spec.annotations[rootfs::kRootfsOverlayAnnotation] = "ephemeral";
  b.spec.annotations[rootfs::kRootfsOverlayUidmapAnnotation] = "0:1000:1:1:100000:65536";
  rootfs::PlanOptions o = rootless();
  o.uid_mappings = {{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}};
  o.gid_mappings = {{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}};
  BOOST_TEST(
      contains(error_of([&] { b.plan(o); }),
               "annotations.rrun.rootfs.overlay.uidmapping: needs annotations.rrun.rootfs.overlay.gidmapping too"));
  b.spec.annotations[rootfs::kRootfsOverlayGidmapAnnotation] = "0:1000:1:1:100000:65536";
  auto plan = b.plan(o);
  const auto& om = plan.overlays.at(0);
  BOOST_TEST((om.driver == OverlayDriver::fuse));
  BOOST_TEST(om.fuse_uidmapping == "1000:0:1:0:1:1000:1001:1001:64536");
  BOOST_TEST(om.fuse_gidmapping == om.fuse_uidmapping);
  b.spec.annotations[rootfs::kOverlayDriverAnnotation] = "kernel";
  BOOST_TEST(contains(error_of([&] { b.plan(o); }), "only fuse-overlayfs can show other owners"));
  b.spec.annotations.erase(rootfs::kOverlayDriverAnnotation);
  rootfs::PlanOptions no_fuse = o;
  no_fuse.fuse_overlayfs = "";
  BOOST_TEST(contains(error_of([&] { b.plan(no_fuse); }), "needs fuse-overlayfs, which was not found"));
  b.spec.annotations[rootfs::kRootfsOverlayGidmapAnnotation] = "0:1";
  BOOST_TEST(contains(error_of([&] { b.plan(o); }), "annotations.rrun.rootfs.overlay.gidmapping: invalid value"));
}

BOOST_AUTO_TEST_SUITE_END()
