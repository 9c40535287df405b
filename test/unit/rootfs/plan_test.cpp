#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/rootfs/plan.hpp>

namespace rrun::rootfs {
inline std::ostream& operator<<(std::ostream& os, OpKind k) {
  return os << op_kind_name(k);
}
}  // namespace rrun::rootfs

namespace fs = std::filesystem;
using namespace rrun;
using rrun::rootfs::OpKind;

namespace {

struct Bundle {
  std::string dir;
  Bundle() {
    char tmpl[] = "/tmp/rrun-rootfs-plan-XXXXXX";
    dir = ::mkdtemp(tmpl);
    fs::create_directories(dir + "/rootfs");
  }
  ~Bundle() { fs::remove_all(dir); }
};

spec::Spec base_spec() {
  spec::Spec s;
  s.root = spec::Root{"rootfs", false};
  s.linux = spec::Linux{};
  return s;
}

spec::Mount mnt(const std::string& dest, const std::string& type, const std::string& source,
                std::vector<std::string> options) {
  spec::Mount m;
  m.destination = dest;
  m.type = type;
  m.source = source;
  m.options = std::move(options);
  return m;
}

const rootfs::MountOp* find_op(const std::vector<rootfs::MountOp>& ops, const std::string& dest) {
  for (const auto& op : ops)
    if (op.destination == dest) return &op;
  return nullptr;
}

std::string error_of(const spec::Spec& s, const std::string& bundle, const rootfs::PlanOptions& o = {}) {
  try {
    rootfs::plan_rootfs(s, bundle, o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

rootfs::PlanOptions rootless_opts() {
  rootfs::PlanOptions o;
  o.rootless = true;
  o.new_user_ns = true;
  o.gid_mappings = {{0, 1000, 1}};
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_plan)

BOOST_AUTO_TEST_CASE(flags_and_data) {
  auto mo = rootfs::parse_mount_options(
      {"ro", "nosuid", "nodev", "noexec", "relatime", "size=65536k", "mode=755", "strictatime"}, "mounts[0]");
  BOOST_TEST(mo.flags == (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_STRICTATIME));
  BOOST_TEST(mo.data == "size=65536k,mode=755");
  BOOST_TEST(!mo.bind);

  mo = rootfs::parse_mount_options(
      {"ro", "rw", "nosuid", "suid", "sync", "async", "dirsync", "mand", "nomand", "noatime", "atime", "nodiratime",
       "diratime", "norelatime", "nostrictatime", "nosymfollow", "remount", "defaults"},
      "m");
  BOOST_TEST(mo.flags == (MS_DIRSYNC | MS_NOSYMFOLLOW | MS_REMOUNT));
  BOOST_TEST(mo.data.empty());

  mo = rootfs::parse_mount_options({"newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}, "m");
  BOOST_TEST(mo.flags == 0u);
  BOOST_TEST(mo.data == "newinstance,ptmxmode=0666,mode=0620,gid=5");
}

BOOST_AUTO_TEST_CASE(bind_propagation_and_recursive_attrs) {
  auto mo = rootfs::parse_mount_options({"rbind", "rprivate", "rro", "rnosuid", "rnoatime"}, "m");
  BOOST_TEST(mo.bind);
  BOOST_TEST(mo.recursive);
  BOOST_TEST(mo.propagation == (MS_PRIVATE | MS_REC));
  BOOST_TEST(mo.attr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME));
  BOOST_TEST(mo.attr_clr == uint64_t(MOUNT_ATTR__ATIME));

  mo = rootfs::parse_mount_options({"bind", "shared", "rslave", "rrw", "rexec", "rnosymfollow"}, "m");
  BOOST_TEST(mo.bind);
  BOOST_TEST(!mo.recursive);
  BOOST_TEST(mo.propagation == (MS_SLAVE | MS_REC));  // the last one wins
  BOOST_TEST(mo.attr_set == uint64_t(MOUNT_ATTR_NOSYMFOLLOW));
  BOOST_TEST(mo.attr_clr == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC));

  for (const char* p : {"private", "shared", "slave", "unbindable", "runbindable", "rshared"})
    BOOST_TEST(rootfs::parse_mount_options({p}, "m").propagation != 0u);

  mo = rootfs::parse_mount_options({"rbind", "ridmap"}, "m");
  BOOST_TEST(mo.idmap);
  BOOST_TEST(mo.idmap_recursive);
}

BOOST_AUTO_TEST_CASE(option_errors_name_the_json_path) {
  BOOST_CHECK_EXCEPTION(rootfs::parse_mount_options({"rw", ""}, "mounts[3]"), os::Error, [](const os::Error& e) {
    return std::string(e.what()).find("mounts[3].options[1]: empty option") == 0;
  });
  BOOST_CHECK_THROW(rootfs::parse_propagation("sideways", "linux.rootfsPropagation"), os::Error);
}

BOOST_AUTO_TEST_CASE(root_and_bind_sources_relative_to_bundle) {
  Bundle b;
  fs::create_directories(b.dir + "/data");
  auto s = base_spec();
  s.root->readonly = true;
  s.mounts.push_back(mnt("/data", "none", "data", {"rbind", "ro"}));
  s.mounts.push_back(mnt("/abs", "bind", "/etc", {}));
  s.mounts.push_back(mnt("//tmp//x/", "tmpfs", "tmpfs", {"size=1m"}));
  auto plan = rootfs::plan_rootfs(s, b.dir, {});
  BOOST_TEST(plan.rootfs == fs::canonical(b.dir + "/rootfs").string());
  BOOST_TEST(plan.readonly_root);
  BOOST_TEST(plan.root_propagation == (MS_SLAVE | MS_REC));
  BOOST_TEST(plan.rootfs_propagation == 0u);

  auto* data = find_op(plan.ops_before_pivot, "/data");
  BOOST_REQUIRE(data);
  BOOST_TEST(data->kind == OpKind::bind);
  BOOST_TEST(data->source == b.dir + "/data");
  BOOST_TEST(data->recursive);
  BOOST_TEST(data->flags == unsigned(MS_RDONLY));
  BOOST_TEST(data->origin == "mounts[0]");

  auto* abs = find_op(plan.ops_before_pivot, "/abs");
  BOOST_REQUIRE(abs);
  BOOST_TEST(abs->kind == OpKind::bind);
  BOOST_TEST(abs->source == "/etc");
  BOOST_TEST(!abs->recursive);

  auto* tmp = find_op(plan.ops_before_pivot, "/tmp/x");
  BOOST_REQUIRE(tmp);
  BOOST_TEST(tmp->kind == OpKind::mount);
  BOOST_TEST(tmp->fstype == "tmpfs");
  BOOST_TEST(tmp->data == "size=1m");
}

BOOST_AUTO_TEST_CASE(plan_errors_name_the_json_path) {
  Bundle b;
  auto s = base_spec();
  s.root.reset();
  BOOST_TEST(error_of(s, b.dir).find("root.path: required") == 0);

  s = base_spec();
  s.root->path = "missing";
  BOOST_TEST(error_of(s, b.dir).find("root.path: resolve") == 0);

  s = base_spec();
  s.mounts.push_back(mnt("/x", "", "", {}));
  BOOST_TEST(error_of(s, b.dir).find("mounts[0].type: required") == 0);

  s = base_spec();
  s.mounts.push_back(mnt("/x", "tmpfs", "tmpfs", {}));
  s.mounts.push_back(mnt("", "tmpfs", "tmpfs", {}));
  BOOST_TEST(error_of(s, b.dir).find("mounts[1].destination") == 0);

  // Over the root, also through "..": refused (rootfs::mount_destination,
  // which the YAML front-end uses too).
  for (const char* root : {"/", "//", "/a/..", "/a/b/../../", "/..", "/.", "/a/../b/..", "/../../."}) {
    s = base_spec();
    s.mounts.push_back(mnt(root, "tmpfs", "tmpfs", {}));
    BOOST_TEST(error_of(s, b.dir) == "mounts[0].destination: cannot mount over the container's root `/`", root);
  }
  BOOST_TEST(rootfs::mount_destination("/a//b/") == "/a/b");
  BOOST_TEST(rootfs::mount_destination("/a/../b") == "/a/../b");  // resolved inside the rootfs
  BOOST_TEST(rootfs::mount_destination("/../x") == "/../x");
  BOOST_TEST(rootfs::mount_destination("/a/.") == "/a/.");

  s = base_spec();
  s.mounts.push_back(mnt("/x", "bind", "/tmp", {"rbind", "tmpcopyup"}));
  BOOST_TEST(error_of(s, b.dir).find("mounts[0].options: `tmpcopyup` is only for tmpfs mounts, not bind mounts") == 0);
  s = base_spec();
  s.mounts.push_back(mnt("/x", "proc", "proc", {"tmpcopyup"}));
  BOOST_TEST(error_of(s, b.dir).find("mounts[0].options: `tmpcopyup` is only for tmpfs mounts, not type `proc`") == 0);

  s = base_spec();
  s.linux->rootfs_propagation = "sideways";
  BOOST_TEST(error_of(s, b.dir).find("linux.rootfsPropagation") == 0);

  s = base_spec();
  s.linux->masked_paths = {"/ok", "relative"};
  BOOST_TEST(error_of(s, b.dir).find("linux.maskedPaths[1]") == 0);

  s = base_spec();
  spec::Device d;
  d.type = "x";
  d.path = "/dev/foo";
  s.linux->devices.push_back(d);
  BOOST_TEST(error_of(s, b.dir).find("linux.devices[0].type") == 0);

  s = base_spec();
  d.type = "c";
  d.path = "/dev/rrun-no-such-device";
  s.linux->devices.push_back(d);
  std::string err = error_of(s, b.dir, rootless_opts());
  BOOST_TEST(err.find("linux.devices[0].path: host device `/dev/rrun-no-such-device`") == 0, err);

  s = base_spec();
  auto m = mnt("/x", "bind", "/etc", {"rbind"});
  m.uid_mappings = {{0, 1000, 1}};
  s.mounts.push_back(m);
  BOOST_TEST(error_of(s, b.dir).find("mounts[0]") == 0);
}

BOOST_AUTO_TEST_CASE(propagation) {
  Bundle b;
  auto s = base_spec();
  s.linux->rootfs_propagation = "private";
  auto plan = rootfs::plan_rootfs(s, b.dir, {});
  BOOST_TEST(plan.root_propagation == (MS_PRIVATE | MS_REC));
  BOOST_TEST(plan.rootfs_propagation == unsigned(MS_PRIVATE));
  BOOST_TEST(plan.rootfs_parent_mount.empty());
  s.linux->rootfs_propagation = "shared";
  plan = rootfs::plan_rootfs(s, b.dir, {});
  BOOST_TEST(plan.rootfs_propagation == unsigned(MS_SHARED));
  BOOST_TEST(!plan.rootfs_parent_mount.empty());
  // An unbindable "/" could not be bound onto the rootfs: rprivate before.
  for (const char* p : {"unbindable", "runbindable"}) {
    s.linux->rootfs_propagation = p;
    plan = rootfs::plan_rootfs(s, b.dir, {});
    BOOST_TEST(plan.root_propagation == (MS_PRIVATE | MS_REC));
    BOOST_TEST((plan.rootfs_propagation & MS_UNBINDABLE) != 0u);
  }
}

// Sharing the caller's mount namespace: nothing to mount; what needs a mount
// namespace is refused, naming the field.
BOOST_AUTO_TEST_CASE(without_mount_namespace) {
  Bundle b;
  auto s = base_spec();
  BOOST_TEST(!rootfs::owns_mount_namespace(s));
  rootfs::PlanOptions o;
  o.own_mount_ns = false;
  auto plan = rootfs::plan_rootfs(s, b.dir, o);
  BOOST_TEST(!plan.own_mount_ns);
  BOOST_TEST(plan.rootfs == fs::canonical(b.dir + "/rootfs").string());
  BOOST_TEST(plan.ops_before_pivot.empty());
  BOOST_TEST(plan.ops_after_pivot.empty());
  BOOST_TEST(plan.root_propagation == 0u);
  auto refused = [&](const spec::Spec& t) {
    std::string e = error_of(t, b.dir, o);
    return e.substr(0, e.find(':'));
  };
  auto t = s;
  t.mounts.push_back(mnt("/proc", "proc", "proc", {}));
  BOOST_TEST(refused(t) == "mounts");
  t = s;
  t.linux->masked_paths = {"/proc/kcore"};
  BOOST_TEST(refused(t) == "linux.maskedPaths");
  t = s;
  t.linux->readonly_paths = {"/proc/sys"};
  BOOST_TEST(refused(t) == "linux.readonlyPaths");
  t = s;
  t.root->readonly = true;
  BOOST_TEST(refused(t) == "root.readonly");
  t = s;
  t.linux->rootfs_propagation = "private";
  BOOST_TEST(refused(t) == "linux.rootfsPropagation");
  t = s;
  t.linux->devices.push_back(spec::Device{});
  BOOST_TEST(refused(t) == "linux.devices");
  t = s;
  t.annotations["rrun.rootfs.overlay"] = "ephemeral";
  BOOST_TEST(refused(t) == "annotations.rrun.rootfs.overlay");
  t = s;
  t.linux->namespaces = {{spec::NamespaceType::mount, ""}};
  BOOST_TEST(rootfs::owns_mount_namespace(t));
  t.linux->namespaces = {{spec::NamespaceType::mount, "/proc/self/ns/mnt"}};
  BOOST_TEST(!rootfs::owns_mount_namespace(t));
}

BOOST_AUTO_TEST_CASE(rootless_sysfs_mqueue_cgroup_devpts) {
  Bundle b;
  auto s = base_spec();
  s.mounts.push_back(mnt("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
  s.mounts.push_back(mnt("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  s.mounts.push_back(mnt("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  s.mounts.push_back(
      mnt("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  auto plan = rootfs::plan_rootfs(s, b.dir, rootless_opts());

  auto* sys = find_op(plan.ops_before_pivot, "/sys");
  BOOST_REQUIRE(sys);
  BOOST_TEST(sys->kind == OpKind::bind);
  BOOST_TEST(sys->source == "/sys");
  BOOST_TEST(sys->recursive);
  BOOST_TEST((sys->flags & MS_RDONLY) != 0u);
  BOOST_TEST(sys->attr_set == uint64_t(MOUNT_ATTR_RDONLY));

  auto* mq = find_op(plan.ops_before_pivot, "/dev/mqueue");
  BOOST_REQUIRE(mq);
  BOOST_TEST(mq->kind == OpKind::bind);
  BOOST_TEST(mq->source == "/dev/mqueue");
  BOOST_TEST(mq->optional);

  auto* cg = find_op(plan.ops_before_pivot, "/sys/fs/cgroup");
  BOOST_REQUIRE(cg);
  BOOST_TEST(cg->kind == OpKind::bind);
  BOOST_TEST(cg->source == "/sys/fs/cgroup");
  BOOST_TEST(cg->optional);
  BOOST_TEST(cg->attr_set == uint64_t(MOUNT_ATTR_RDONLY));

  auto* pts = find_op(plan.ops_before_pivot, "/dev/pts");
  BOOST_REQUIRE(pts);
  BOOST_TEST(pts->kind == OpKind::mount);
  BOOST_TEST(pts->data == "newinstance,ptmxmode=0666,mode=0620");

  // With the namespaces of its own the fs is mounted, with the bind as fallback.
  auto o = rootless_opts();
  o.new_net_ns = o.new_ipc_ns = o.new_cgroup_ns = true;
  o.host_cgroup2 = true;
  o.gid_mappings = {{0, 1000, 1}, {1, 100000, 65536}};
  plan = rootfs::plan_rootfs(s, b.dir, o);
  sys = find_op(plan.ops_before_pivot, "/sys");
  BOOST_TEST(sys->kind == OpKind::mount);
  BOOST_TEST(sys->fallback_source == "/sys");
  mq = find_op(plan.ops_before_pivot, "/dev/mqueue");
  BOOST_TEST(mq->kind == OpKind::mount);
  BOOST_TEST(mq->fallback_source == "/dev/mqueue");
  cg = find_op(plan.ops_before_pivot, "/sys/fs/cgroup");
  BOOST_TEST(cg->kind == OpKind::mount);
  BOOST_TEST(cg->fstype == "cgroup2");
  BOOST_TEST(cg->fallback_source == "/sys/fs/cgroup");
  pts = find_op(plan.ops_before_pivot, "/dev/pts");
  BOOST_TEST(pts->data == "newinstance,ptmxmode=0666,mode=0620,gid=5");

  // As root without a user namespace: nothing changes (cgroup on a hybrid host is bound).
  rootfs::PlanOptions root;
  root.host_cgroup2 = false;
  plan = rootfs::plan_rootfs(s, b.dir, root);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys")->kind == OpKind::mount);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys")->fallback_source.empty());
  BOOST_TEST(find_op(plan.ops_before_pivot, "/dev/mqueue")->kind == OpKind::mount);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/dev/pts")->data == "newinstance,ptmxmode=0666,mode=0620,gid=5");
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys/fs/cgroup")->kind == OpKind::bind);
  root.host_cgroup2 = true;
  plan = rootfs::plan_rootfs(s, b.dir, root);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys/fs/cgroup")->fstype == "cgroup2");
}

// A hybrid host's /sys/fs/cgroup, as its mountinfo shows it.
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup systemd rw,xattr,release_agent=/x,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
    "42 31 0:39 / /sys/fs/cgroup/memory/sub rw - cgroup cgroup rw,memory\n"
    "43 22 0:40 / /mnt/cg rw - cgroup cgroup rw,pids\n"
    "44 31 0:41 / /sys/fs/cgroupx rw - cgroup cgroup rw,blkio\n";

BOOST_AUTO_TEST_CASE(host_cgroup_hierarchies_from_mountinfo) {
  auto h = rootfs::parse_cgroup_hierarchies(kHybridMountinfo);
  // The unified hierarchy and other named ones are left out: the init does not join them.
  BOOST_REQUIRE_EQUAL(h.size(), 3u);
  BOOST_TEST(h[0].dir == "cpu,cpuacct");
  BOOST_TEST(h[0].fstype == "cgroup");
  BOOST_TEST(h[0].options == "cpu,cpuacct");
  BOOST_TEST(!h[0].named);
  BOOST_TEST(h[1].dir == "memory");
  BOOST_TEST(h[1].options == "memory");
  BOOST_TEST(h[2].dir == "systemd");
  BOOST_TEST(h[2].options == "xattr,name=systemd");
  BOOST_TEST(h[2].named);
  BOOST_TEST(rootfs::parse_cgroup_hierarchies("1 0 0:1 / /sys/fs/cgroup/x rw - cgroup cgroup rw,name=x\n").empty());
  BOOST_TEST(rootfs::parse_cgroup_hierarchies("31 23 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n").empty());
}

BOOST_AUTO_TEST_CASE(host_cgroup_links_of_comounted_controllers) {
  Bundle b;
  const std::string root = b.dir + "/cgroup";
  fs::create_directories(root + "/cpu,cpuacct");
  fs::create_directories(root + "/net_cls,net_prio");
  fs::create_directories(root + "/memory");
  fs::create_directory_symlink("cpu,cpuacct", root + "/cpu");
  fs::create_directory_symlink("cpu,cpuacct", root + "/cpuacct");
  fs::create_directory_symlink("memory", root + "/net_cls");  // not the hierarchy's: left out
  auto h = rootfs::parse_cgroup_hierarchies("1 0 0:1 / " + root + "/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n" +
                                                "2 0 0:2 / " + root +
                                                "/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n" +
                                                "3 0 0:3 / " + root + "/memory rw - cgroup cgroup rw,memory\n",
                                            root);
  BOOST_REQUIRE_EQUAL(h.size(), 3u);
  auto links = rootfs::read_cgroup_links(root, h);
  BOOST_REQUIRE_EQUAL(links.size(), 2u);
  BOOST_TEST(links[0].name == "cpu");
  BOOST_TEST(links[0].target == "cpu,cpuacct");
  BOOST_TEST(links[1].name == "cpuacct");
  BOOST_TEST(links[1].target == "cpu,cpuacct");
}

BOOST_AUTO_TEST_CASE(cgroup_mount_on_v1_with_a_cgroup_namespace) {
  Bundle b;
  auto s = base_spec();
  s.mounts.push_back(mnt("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  rootfs::PlanOptions o;
  o.host_cgroup2 = false;
  o.new_cgroup_ns = true;
  o.host_cgroup_tree.hierarchies = rootfs::parse_cgroup_hierarchies(kHybridMountinfo);
  o.host_cgroup_tree.links = {{"cpu", "cpu,cpuacct"}, {"cpuacct", "cpu,cpuacct"}};
  auto plan = rootfs::plan_rootfs(s, b.dir, o);

  constexpr unsigned long kDefault = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  auto* tmpfs = find_op(plan.ops_before_pivot, "/sys/fs/cgroup");
  BOOST_REQUIRE(tmpfs);
  BOOST_TEST(tmpfs->kind == OpKind::mount);
  BOOST_TEST(tmpfs->fstype == "tmpfs");
  BOOST_TEST(tmpfs->flags == kDefault);  // read-only once filled
  BOOST_TEST(tmpfs->data == "mode=755");
  auto expect_mount = [&](const std::string& dir, const std::string& fstype, const std::string& data) {
    auto* op = find_op(plan.ops_before_pivot, "/sys/fs/cgroup/" + dir);
    BOOST_REQUIRE_MESSAGE(op, dir);
    BOOST_TEST(op->kind == OpKind::mount);
    BOOST_TEST(op->fstype == fstype);
    BOOST_TEST(op->source == fstype);
    BOOST_TEST(op->data == data);
    BOOST_TEST(op->flags == (kDefault | MS_RDONLY));
    BOOST_TEST(op->origin == "mounts[0]");
  };
  expect_mount("cpu,cpuacct", "cgroup", "cpu,cpuacct");
  expect_mount("memory", "cgroup", "memory");
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/sys/fs/cgroup/systemd"));
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/sys/fs/cgroup/unified"));
  for (const char* link : {"cpu", "cpuacct"}) {
    auto* op = find_op(plan.ops_before_pivot, std::string("/sys/fs/cgroup/") + link);
    BOOST_REQUIRE(op);
    BOOST_TEST(op->kind == OpKind::symlink);
    BOOST_TEST(op->link_target == "cpu,cpuacct");
  }
  BOOST_TEST(plan.ops_before_pivot.size() >= 5u);
  auto* ro = find_op(plan.ops_after_pivot, "/sys/fs/cgroup");
  BOOST_REQUIRE(ro);
  BOOST_TEST(ro->kind == OpKind::remount_readonly);

  // rw: nothing read-only.
  s.mounts[0].options = {"nosuid", "noexec", "nodev", "relatime", "rw"};
  plan = rootfs::plan_rootfs(s, b.dir, o);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys/fs/cgroup/memory")->flags == kDefault);
  BOOST_TEST(!find_op(plan.ops_after_pivot, "/sys/fs/cgroup"));

  // Without a cgroup namespace, in a user namespace, rootless: the host's tree is bound.
  auto bound = [&](rootfs::PlanOptions opts) {
    auto p = rootfs::plan_rootfs(s, b.dir, opts);
    auto* op = find_op(p.ops_before_pivot, "/sys/fs/cgroup");
    return op && op->kind == OpKind::bind && op->source == "/sys/fs/cgroup" &&
           !find_op(p.ops_before_pivot, "/sys/fs/cgroup/memory");
  };
  auto no_cgroupns = o;
  no_cgroupns.new_cgroup_ns = false;
  BOOST_TEST(bound(no_cgroupns));
  auto userns = o;
  userns.new_user_ns = true;
  BOOST_TEST(bound(userns));
  auto rootless = o;
  rootless.rootless = rootless.new_user_ns = true;
  BOOST_TEST(bound(rootless));
  auto unknown = o;
  unknown.host_cgroup_tree = {};
  BOOST_TEST(bound(unknown));
}

// The container's cgroups known (the v1 driver's directories, name=systemd
// among them): one directory per hierarchy it has a cgroup in; a fresh mount
// with a cgroup namespace, a bind of its own directory without one.
BOOST_AUTO_TEST_CASE(cgroup_mount_on_v1_shows_the_container_cgroups) {
  Bundle b;
  auto s = base_spec();
  s.mounts.push_back(mnt("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  rootfs::PlanOptions o;
  o.host_cgroup2 = false;
  o.host_cgroup_tree.hierarchies = rootfs::parse_cgroup_hierarchies(kHybridMountinfo);
  o.host_cgroup_tree.links = {{"cpu", "cpu,cpuacct"}, {"cpuacct", "cpu,cpuacct"}};
  o.container_cgroups = {{"cpu", "/sys/fs/cgroup/cpu,cpuacct/rrun/c"},
                         {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct/rrun/c"},
                         {"name=systemd", "/sys/fs/cgroup/systemd/rrun/c"}};
  constexpr unsigned long kRo = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;

  // No cgroup namespace: binds of the container's directories; no memory
  // cgroup, no memory directory.
  auto plan = rootfs::plan_rootfs(s, b.dir, o);
  auto* tmpfs = find_op(plan.ops_before_pivot, "/sys/fs/cgroup");
  BOOST_REQUIRE(tmpfs);
  BOOST_TEST(tmpfs->fstype == "tmpfs");
  auto* cpu = find_op(plan.ops_before_pivot, "/sys/fs/cgroup/cpu,cpuacct");
  BOOST_REQUIRE(cpu);
  BOOST_TEST(cpu->kind == OpKind::bind);
  BOOST_TEST(cpu->source == "/sys/fs/cgroup/cpu,cpuacct/rrun/c");
  BOOST_TEST(cpu->recursive);
  BOOST_TEST(cpu->flags == kRo);
  auto* systemd = find_op(plan.ops_before_pivot, "/sys/fs/cgroup/systemd");
  BOOST_REQUIRE(systemd);
  BOOST_TEST(systemd->kind == OpKind::bind);
  BOOST_TEST(systemd->source == "/sys/fs/cgroup/systemd/rrun/c");
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/sys/fs/cgroup/memory"));
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/sys/fs/cgroup/unified"));
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys/fs/cgroup/cpu")->link_target == "cpu,cpuacct");
  BOOST_TEST(find_op(plan.ops_after_pivot, "/sys/fs/cgroup")->kind == OpKind::remount_readonly);

  // A cgroup namespace: fresh mounts, name=systemd with its options.
  o.new_cgroup_ns = true;
  plan = rootfs::plan_rootfs(s, b.dir, o);
  systemd = find_op(plan.ops_before_pivot, "/sys/fs/cgroup/systemd");
  BOOST_REQUIRE(systemd);
  BOOST_TEST(systemd->kind == OpKind::mount);
  BOOST_TEST(systemd->fstype == "cgroup");
  BOOST_TEST(systemd->data == "xattr,name=systemd");
  BOOST_TEST(systemd->flags == kRo);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys/fs/cgroup/cpu,cpuacct")->kind == OpKind::mount);
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/sys/fs/cgroup/memory"));

  // Without a link target shown, no link.
  o.container_cgroups = {{"memory", "/sys/fs/cgroup/memory/rrun/c"}};
  o.new_cgroup_ns = false;
  plan = rootfs::plan_rootfs(s, b.dir, o);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/sys/fs/cgroup/memory")->source == "/sys/fs/cgroup/memory/rrun/c");
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/sys/fs/cgroup/cpu"));
}

BOOST_AUTO_TEST_CASE(tmpcopyup_on_a_tmpfs) {
  Bundle b;
  auto s = base_spec();
  s.mounts.push_back(mnt("/run", "tmpfs", "tmpfs", {"rw", "nosuid", "tmpcopyup"}));
  s.mounts.push_back(mnt("/tmp", "tmpfs", "tmpfs", {"tmpcopyup", "mode=1777", "uid=5"}));
  s.mounts.push_back(mnt("/x", "tmpfs", "tmpfs", {"size=1m"}));
  auto plan = rootfs::plan_rootfs(s, b.dir, {});
  auto* run = find_op(plan.ops_before_pivot, "/run");
  BOOST_REQUIRE(run);
  BOOST_TEST(run->copy_up);
  BOOST_TEST(run->copy_up_root.mode);
  BOOST_TEST(run->copy_up_root.owner);
  BOOST_TEST(run->data.empty());
  auto* tmp = find_op(plan.ops_before_pivot, "/tmp");
  BOOST_TEST(tmp->copy_up);
  BOOST_TEST(!tmp->copy_up_root.mode);
  BOOST_TEST(!tmp->copy_up_root.owner);
  BOOST_TEST(tmp->data == "mode=1777,uid=5");
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/x")->copy_up);
}

BOOST_AUTO_TEST_CASE(dev_devices_and_links) {
  Bundle b;
  auto s = base_spec();
  s.mounts.push_back(mnt("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k", "ro"}));
  spec::Device d;
  d.type = "c";
  d.path = "/dev/null";  // overrides the default one
  d.major = 1;
  d.minor = 3;
  d.file_mode = 0600;
  d.uid = 1000;
  d.gid = 1001;
  s.linux->devices.push_back(d);
  d.path = "/dev/fuse";
  d.major = 10;
  d.minor = 229;
  d.file_mode.reset();
  s.linux->devices.push_back(d);
  auto plan = rootfs::plan_rootfs(s, b.dir, {});
  BOOST_TEST(plan.setup_dev);

  auto* dev = find_op(plan.ops_before_pivot, "/dev");
  BOOST_REQUIRE(dev);
  BOOST_TEST((dev->flags & MS_RDONLY) == 0u);  // made read-only after the devices
  auto* ro_dev = find_op(plan.ops_after_pivot, "/dev");
  BOOST_REQUIRE(ro_dev);
  BOOST_TEST(ro_dev->kind == OpKind::remount_readonly);

  int nulls = 0;
  for (const auto& op : plan.ops_before_pivot) nulls += op.destination == "/dev/null";
  BOOST_TEST(nulls == 1);
  auto* null = find_op(plan.ops_before_pivot, "/dev/null");
  BOOST_TEST(null->kind == OpKind::mknod);
  BOOST_TEST(null->mode == (S_IFCHR | 0600));
  BOOST_TEST(null->uid == 1000u);
  BOOST_TEST(null->gid == 1001u);
  BOOST_TEST(null->origin == "linux.devices[0]");
  for (const char* p : {"/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom"}) {
    auto* op = find_op(plan.ops_before_pivot, p);
    BOOST_REQUIRE(op);
    BOOST_TEST(op->kind == OpKind::mknod);
    BOOST_TEST(op->mode == (S_IFCHR | 0666));
  }
  BOOST_TEST(find_op(plan.ops_before_pivot, "/dev/tty")->dev == makedev(5, 0));
  auto* fuse = find_op(plan.ops_before_pivot, "/dev/fuse");
  BOOST_TEST(fuse->dev == makedev(10, 229));
  BOOST_TEST(fuse->mode == (S_IFCHR | 0666));

  struct Link {
    const char* path;
    const char* target;
  };
  for (auto l :
       {Link{"/dev/fd", "/proc/self/fd"}, Link{"/dev/stdin", "/proc/self/fd/0"}, Link{"/dev/stdout", "/proc/self/fd/1"},
        Link{"/dev/stderr", "/proc/self/fd/2"}, Link{"/dev/ptmx", "pts/ptmx"}, Link{"/dev/core", "/proc/kcore"}}) {
    auto* op = find_op(plan.ops_before_pivot, l.path);
    BOOST_REQUIRE(op);
    BOOST_TEST(op->kind == OpKind::symlink);
    BOOST_TEST(op->link_target == l.target);
  }
  BOOST_TEST(find_op(plan.ops_before_pivot, "/dev/ptmx")->replace);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/dev/core")->only_if_exists == "/proc/kcore");

  // Rootless: the host's nodes are bound.
  s.linux->devices.pop_back();
  plan = rootfs::plan_rootfs(s, b.dir, rootless_opts());
  null = find_op(plan.ops_before_pivot, "/dev/null");
  BOOST_TEST(null->kind == OpKind::bind_device);
  BOOST_TEST(null->source == "/dev/null");
  BOOST_TEST(find_op(plan.ops_before_pivot, "/dev/urandom")->kind == OpKind::bind_device);

  // A bind mount on /dev: the runtime leaves /dev alone (runc).
  s = base_spec();
  s.mounts.push_back(mnt("/dev", "bind", "/dev", {"rbind"}));
  plan = rootfs::plan_rootfs(s, b.dir, {});
  BOOST_TEST(!plan.setup_dev);
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/dev/null"));
  BOOST_TEST(!find_op(plan.ops_before_pivot, "/dev/ptmx"));
}

BOOST_AUTO_TEST_CASE(masked_and_readonly_paths) {
  Bundle b;
  auto s = base_spec();
  s.linux->masked_paths = {"/proc/kcore", "/proc/acpi"};
  s.linux->readonly_paths = {"/proc/sys", "/proc/bus"};
  auto plan = rootfs::plan_rootfs(s, b.dir, {});
  BOOST_REQUIRE(plan.ops_after_pivot.size() == 4u);
  // runc's order: readonly paths, then masks.
  BOOST_TEST(plan.ops_after_pivot[0].kind == OpKind::readonly);
  BOOST_TEST(plan.ops_after_pivot[0].destination == "/proc/sys");
  BOOST_TEST(plan.ops_after_pivot[1].destination == "/proc/bus");
  BOOST_TEST(plan.ops_after_pivot[2].kind == OpKind::mask);
  BOOST_TEST(plan.ops_after_pivot[2].destination == "/proc/kcore");
  BOOST_TEST(plan.ops_after_pivot[3].origin == "linux.maskedPaths[1]");
}

BOOST_AUTO_TEST_CASE(proc_in_a_user_namespace_without_a_pid_namespace) {
  // The caller's pid namespace (podman --pid=host rootless, a sandbox's
  // `share: [pid]`): a new proc can't be mounted there; the host's is bound.
  Bundle b;
  auto s = base_spec();
  s.mounts.push_back(mnt("/proc", "proc", "proc", {}));
  auto plan = rootfs::plan_rootfs(s, b.dir, rootless_opts());
  auto* proc = find_op(plan.ops_before_pivot, "/proc");
  BOOST_REQUIRE(proc);
  BOOST_TEST(proc->kind == OpKind::bind);
  BOOST_TEST(proc->source == "/proc");
  BOOST_TEST(proc->recursive);
  // With a pid namespace of its own, or as root without a user namespace: mounted.
  auto o = rootless_opts();
  o.new_pid_ns = true;
  plan = rootfs::plan_rootfs(s, b.dir, o);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/proc")->kind == OpKind::mount);
  plan = rootfs::plan_rootfs(s, b.dir, rootfs::PlanOptions{});
  BOOST_TEST(find_op(plan.ops_before_pivot, "/proc")->kind == OpKind::mount);
  BOOST_TEST(find_op(plan.ops_before_pivot, "/proc")->fstype == "proc");
}

BOOST_AUTO_TEST_CASE(options_from_spec) {
  auto s = base_spec();
  s.linux->namespaces = {{spec::NamespaceType::network, ""}, {spec::NamespaceType::ipc, "/proc/1/ns/ipc"}};
  s.linux->gid_mappings = {{0, 1000, 1}};
  auto o = rootfs::plan_options_from_spec(s, true);
  BOOST_TEST(o.rootless);
  // Rootless alone is no user namespace of the container's: root in a user
  // namespace shares it; the one rrun adds for an unprivileged caller is set by create.
  BOOST_TEST(!o.new_user_ns);
  BOOST_TEST(o.new_net_ns);
  BOOST_TEST(o.new_ipc_ns);
  BOOST_TEST(!o.new_pid_ns);
  BOOST_TEST(!o.new_cgroup_ns);
  BOOST_TEST(o.gid_mappings.size() == 1u);
  s.linux->namespaces.push_back({spec::NamespaceType::user, ""});
  BOOST_TEST(rootfs::plan_options_from_spec(s, true).new_user_ns);
}

BOOST_AUTO_TEST_SUITE_END()
