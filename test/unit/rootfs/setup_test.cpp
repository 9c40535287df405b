// Executes real plans in a child process with a private mount namespace
// (made rprivate before anything else, so nothing reaches the host). Root
// only; the rootless case drops to nobody and makes its own user namespace.

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <rrun/rootfs/plan.hpp>
#include <rrun/rootfs/resolve.hpp>
#include <rrun/rootfs/setup.hpp>

namespace fs = std::filesystem;
using namespace rrun;

namespace {

constexpr uid_t kNobody = 65534;

struct Bundle {
  std::string dir;
  std::string rootfs;
  Bundle() {
    char tmpl[] = "/tmp/rrun-rootfs-setup-XXXXXX";
    dir = ::mkdtemp(tmpl);
    ::chmod(dir.c_str(), 0755);
    rootfs = dir + "/rootfs";
    for (const char* d : {"etc", "secret/dir/inner", "ro_dir", "proc", "dev", "tmp", "mnt", "sys"})
      fs::create_directories(rootfs + "/" + d);
    write(rootfs + "/etc/secretfile", "etc-secret");
    write(rootfs + "/secret/file", "secret");
    write(rootfs + "/secret/dir/inner/x", "x");
    write(rootfs + "/ro_dir/f", "f");
    fs::create_directory_symlink("/", rootfs + "/linkroot");
    fs::create_directory_symlink("../../etc", rootfs + "/linketc");
    fs::create_directories(dir + "/data");
    write(dir + "/data/hello", "hello");
    write(dir + "/onefile", "one");
  }
  ~Bundle() { fs::remove_all(dir); }
  static void write(const std::string& p, const std::string& s) { std::ofstream(p) << s; }
  void chown_all(uid_t u) {
    ::lchown(dir.c_str(), u, u);
    for (auto& e : fs::recursive_directory_iterator(dir)) ::lchown(e.path().c_str(), u, u);
  }
};

spec::Mount mnt(const std::string& dest, const std::string& type, const std::string& source,
                std::vector<std::string> options) {
  spec::Mount m;
  m.destination = dest;
  m.type = type;
  m.source = source;
  m.options = std::move(options);
  return m;
}

spec::Spec test_spec(bool readonly_root) {
  spec::Spec s;
  s.root = spec::Root{"rootfs", readonly_root};
  s.linux = spec::Linux{};
  s.mounts = {
      mnt("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mnt("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mnt("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mnt("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mnt("/tmp", "tmpfs", "tmpfs", {"size=1m", "mode=1777", "nodev"}),
      mnt("/mnt/data", "bind", "data", {"rbind", "ro", "nosuid"}),
      mnt("/linkroot/rrun-escape-a", "tmpfs", "tmpfs", {"size=1m"}),
      mnt("/linketc/rrun-escape-b", "tmpfs", "tmpfs", {"size=1m"}),
      mnt("/linketc/rrun-escape-file", "bind", "onefile", {"bind"}),
      mnt("/mnt/rro", "bind", "/sys", {"rbind", "rro", "rnosuid"}),
  };
  s.linux->masked_paths = {"/secret/file", "/secret/dir", "/absent", "/linketc/secretfile"};
  s.linux->readonly_paths = {"/ro_dir", "/absent_ro"};
  return s;
}

// Runs `body` in a forked child and returns "" on success or the failure
// text it wrote to the pipe.
std::string run_child(const std::function<std::string()>& body) {
  int p[2];
  BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    std::string msg;
    try {
      msg = body();
    } catch (const std::exception& e) {
      msg = std::string("exception: ") + e.what();
    }
    if (!msg.empty()) (void)!::write(p[1], msg.data(), msg.size());
    ::_exit(msg.empty() ? 0 : 1);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    out = "child died with status " + std::to_string(status);
  return out;
}

std::string describe(const os::StepFailure& f) {
  return std::string(f.step) + ": " + f.detail + ": " + std::strerror(f.err);
}

std::string private_mount_ns() {
  if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare: ") + std::strerror(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("rprivate: ") + std::strerror(errno);
  return "";
}

std::string run_plan(const rootfs::RootfsPlan& plan) {
  os::StepFailure f;
  if (rootfs::prepare_rootfs(plan, f) != 0) return "prepare: " + describe(f);
  if (rootfs::finalize_rootfs(plan, f) != 0) return "finalize: " + describe(f);
  return "";
}

#define EXPECT(cond)                                                                                 \
  do {                                                                                               \
    if (!(cond)) return std::string("check failed: " #cond " (errno ") + std::strerror(errno) + ")"; \
  } while (0)

bool is_ro(const char* p) {
  struct statvfs sv {};
  return ::statvfs(p, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

bool is_char_dev(const char* p, unsigned maj, unsigned min) {
  struct stat st {};
  return ::stat(p, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj && minor(st.st_rdev) == min;
}

std::string link_of(const char* p) {
  char buf[256];
  ssize_t n = ::readlink(p, buf, sizeof buf - 1);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::string read_all(const char* p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What every plan of test_spec() must show from inside.
std::string check_common(bool readonly_root) {
  char cwd[256];
  EXPECT(::getcwd(cwd, sizeof cwd) && std::string(cwd) == "/");
  EXPECT(::access("/etc/secretfile", F_OK) == 0);
  EXPECT(::access("/linkroot", F_OK) == 0);
  // tmpfs with size and mode
  struct statvfs sv {};
  EXPECT(::statvfs("/tmp", &sv) == 0);
  EXPECT(sv.f_blocks * sv.f_frsize == 1024 * 1024);
  struct stat st {};
  EXPECT(::stat("/tmp", &st) == 0 && (st.st_mode & 07777) == 01777);
  EXPECT(::mkdir("/tmp/w", 0755) == 0);
  // the bundle-relative read-only bind
  EXPECT(read_all("/mnt/data/hello") == "hello");
  EXPECT(is_ro("/mnt/data"));
  EXPECT(::statvfs("/mnt/data", &sv) == 0 && (sv.f_flag & ST_NOSUID));
  EXPECT(::open("/mnt/data/new", O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS);
  // rro reaches the submounts of /sys
  EXPECT(is_ro("/mnt/rro"));
  if (::access("/mnt/rro/fs/cgroup", F_OK) == 0) EXPECT(is_ro("/mnt/rro/fs/cgroup"));
  // destinations behind symlinks to "/" and "../../etc" stay inside
  EXPECT(::statvfs("/rrun-escape-a", &sv) == 0 && sv.f_blocks * sv.f_frsize == 1024 * 1024);
  EXPECT(::statvfs("/etc/rrun-escape-b", &sv) == 0 && sv.f_blocks * sv.f_frsize == 1024 * 1024);
  EXPECT(read_all("/etc/rrun-escape-file") == "one");
  // masks
  EXPECT(is_char_dev("/secret/file", 1, 3));
  EXPECT(read_all("/secret/file").empty());
  EXPECT(is_char_dev("/etc/secretfile", 1, 3));
  EXPECT(::access("/secret/dir/inner", F_OK) != 0);
  EXPECT(is_ro("/secret/dir"));
  // readonly paths
  EXPECT(is_ro("/ro_dir"));
  EXPECT(read_all("/ro_dir/f") == "f");
  EXPECT(::open("/ro_dir/new", O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS);
  // /dev
  for (auto d :
       {std::pair{"/dev/null", 3u}, {"/dev/zero", 5u}, {"/dev/full", 7u}, {"/dev/random", 8u}, {"/dev/urandom", 9u}})
    EXPECT(is_char_dev(d.first, 1, d.second));
  EXPECT(is_char_dev("/dev/tty", 5, 0));
  EXPECT(link_of("/dev/fd") == "/proc/self/fd");
  EXPECT(link_of("/dev/stdin") == "/proc/self/fd/0");
  EXPECT(link_of("/dev/stdout") == "/proc/self/fd/1");
  EXPECT(link_of("/dev/stderr") == "/proc/self/fd/2");
  EXPECT(link_of("/dev/ptmx") == "pts/ptmx");
  EXPECT(::access("/dev/core", F_OK) == 0 || ::access("/proc/kcore", F_OK) != 0);
  EXPECT(::stat("/dev/pts/ptmx", &st) == 0 && S_ISCHR(st.st_mode));
  EXPECT(::stat("/dev/shm", &st) == 0 && (st.st_mode & 07777) == 01777);
  int fd = ::open("/dev/null", O_WRONLY);
  EXPECT(fd >= 0 && ::write(fd, "x", 1) == 1);
  ::close(fd);
  // /proc is the container's
  EXPECT(::access("/proc/self/fd", F_OK) == 0);
  // the root
  EXPECT(is_ro("/") == readonly_root);
  if (readonly_root) EXPECT(::mkdir("/newdir", 0755) != 0 && errno == EROFS);
  return "";
}

std::string check_host_untouched(const Bundle& b) {
  for (const char* p : {"/rrun-escape-a", "/etc/rrun-escape-b", "/etc/rrun-escape-file"})
    if (fs::exists(p)) return std::string("escaped onto the host: ") + p;
  if (!fs::is_directory(b.rootfs + "/rrun-escape-a")) return "rootfs/rrun-escape-a was not created";
  if (!fs::is_directory(b.rootfs + "/etc/rrun-escape-b")) return "rootfs/etc/rrun-escape-b was not created";
  if (!fs::is_regular_file(b.rootfs + "/etc/rrun-escape-file")) return "rootfs/etc/rrun-escape-file was not created";
  return "";
}

// No mount under this test's bundle (other tests may be mounting their own
// rrun directories at the same time).
bool no_leaked_mounts(const Bundle& b) {
  return read_all("/proc/self/mountinfo").find(b.dir) == std::string::npos;
}

void run_as_root(bool readonly_root, bool manual, bool no_pivot, const std::string& propagation = "") {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root");
    return;
  }
  Bundle b;
  auto s = test_spec(readonly_root);
  s.linux->rootfs_propagation = propagation;
  spec::Device d;
  d.type = "c";
  d.path = "/dev/mydev";
  d.major = 1;
  d.minor = 5;
  d.file_mode = 0600;
  d.uid = 1000;
  d.gid = 1001;
  s.linux->devices.push_back(d);
  rootfs::PlanOptions o;
  o.no_pivot = no_pivot;
  o.host_cgroup2 = rootfs::host_cgroup_is_unified();
  auto plan = rootfs::plan_rootfs(s, b.dir, o);
  std::string err = run_child([&]() -> std::string {
    rootfs::force_manual_resolution(manual);
    if (auto e = private_mount_ns(); !e.empty()) return e;
    if (auto e = run_plan(plan); !e.empty()) return e;
    if (auto e = check_common(readonly_root); !e.empty()) return e;
    struct stat st {};
    EXPECT(::stat("/dev/mydev", &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 07777) == 0600);
    EXPECT(st.st_uid == 1000 && st.st_gid == 1001);
    return "";
  });
  BOOST_TEST(err.empty(), err);
  std::string host = check_host_untouched(b);
  BOOST_TEST(host.empty(), host);
  BOOST_TEST(no_leaked_mounts(b));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rootfs_setup)

BOOST_AUTO_TEST_CASE(root_pivot) {
  run_as_root(false, false, false);
}

BOOST_AUTO_TEST_CASE(root_readonly_root) {
  run_as_root(true, false, false, "private");
}

BOOST_AUTO_TEST_CASE(root_manual_resolution) {
  run_as_root(false, true, false, "rslave");
}

BOOST_AUTO_TEST_CASE(root_no_pivot) {
  run_as_root(true, false, true);
}

BOOST_AUTO_TEST_CASE(failure_names_step_and_path) {
  if (::geteuid() != 0) return;
  Bundle b;
  spec::Spec s;
  s.root = spec::Root{"rootfs", false};
  s.mounts = {mnt("/mnt/x", "no-such-fs-type", "none", {})};
  auto plan = rootfs::plan_rootfs(s, b.dir, {});
  std::string err = run_child([&]() -> std::string {
    if (auto e = private_mount_ns(); !e.empty()) return e;
    os::StepFailure f;
    if (rootfs::prepare_rootfs(plan, f) == 0) return "prepare succeeded";
    std::string got = describe(f);
    if (got.find("mount: mounts[0]: mount `none` (type `no-such-fs-type`") != 0 ||
        got.find("on `/mnt/x`") == std::string::npos || f.err != ENODEV)
      return "unexpected failure text: " + got;
    return "";
  });
  BOOST_TEST(err.empty(), err);
  BOOST_TEST(no_leaked_mounts(b));
}

BOOST_AUTO_TEST_CASE(rootless_as_nobody) {
  // As root: drop to nobody first; as a user: run as that user.
  const bool root = ::geteuid() == 0;
  const uid_t uid = root ? kNobody : ::geteuid();
  const gid_t gid = root ? kNobody : ::getegid();
  Bundle b;
  if (root) b.chown_all(kNobody);
  auto s = test_spec(true);
  s.mounts.push_back(mnt("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
  s.mounts.push_back(mnt("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  s.mounts.push_back(mnt("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  s.linux->readonly_paths.push_back("/proc/sys");
  s.linux->masked_paths.push_back("/proc/kcore");
  rootfs::PlanOptions o;
  o.rootless = true;
  o.new_user_ns = true;
  o.gid_mappings = {{0, gid, 1}};
  o.host_cgroup2 = rootfs::host_cgroup_is_unified();
  auto plan = rootfs::plan_rootfs(s, b.dir, o);
  std::string err = run_child([&]() -> std::string {
    if (root) {
      EXPECT(::setgroups(0, nullptr) == 0);
      EXPECT(::setresgid(gid, gid, gid) == 0);
      EXPECT(::setresuid(uid, uid, uid) == 0);
      ::prctl(PR_SET_DUMPABLE, 1);
    }
    EXPECT(::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) == 0);
    std::ofstream("/proc/self/setgroups") << "deny";
    { std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1\n"; }
    { std::ofstream("/proc/self/gid_map") << "0 " << gid << " 1\n"; }
    EXPECT(::getuid() == 0);
    // pid 1 of the new pid namespace, so that proc can be mounted.
    std::string inner = run_child([&]() -> std::string {
      EXPECT(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
      if (auto e = run_plan(plan); !e.empty()) return e;
      if (auto e = check_common(true); !e.empty()) return e;
      EXPECT(::getpid() == 1);
      EXPECT(is_ro("/sys"));
      if (::access("/sys/fs/cgroup/cpu", F_OK) == 0) EXPECT(is_ro("/sys/fs/cgroup/cpu"));
      EXPECT(is_ro("/proc/sys"));
      // devpts came up although gid=5 is not mapped
      struct stat st {};
      EXPECT(::stat("/dev/pts/ptmx", &st) == 0);
      return "";
    });
    return inner;
  });
  BOOST_TEST(err.empty(), err);
  std::string host = check_host_untouched(b);
  BOOST_TEST(host.empty(), host);
  BOOST_TEST(no_leaked_mounts(b));
}

BOOST_AUTO_TEST_CASE(idmapped_bind) {
  if (::geteuid() != 0) return;
  Bundle b;
  const std::string src = b.dir + "/idsrc";
  fs::create_directories(src);
  spec::Spec s;
  s.root = spec::Root{"rootfs", false};
  auto m = mnt("/mnt/idmapped", "bind", src, {"rbind", "idmap"});
  m.uid_mappings = {{0, 1000, 10}};
  m.gid_mappings = {{0, 1000, 10}};
  s.mounts = {m};
  auto plan = rootfs::plan_rootfs(s, b.dir, {});
  std::string err = run_child([&]() -> std::string {
    if (auto e = private_mount_ns(); !e.empty()) return e;
    // The source: a tmpfs (idmap-capable since 6.3) inside this private namespace.
    EXPECT(::mount("tmpfs", src.c_str(), "tmpfs", 0, "size=1m") == 0);
    EXPECT(::chown(src.c_str(), 2, 3) == 0);
    if (auto e = run_plan(plan); !e.empty()) return e;
    struct stat st {};
    EXPECT(::stat("/mnt/idmapped", &st) == 0);
    // on-disk 2:3 is seen through the mapping 0:1000:10 as 1002:1003
    if (st.st_uid != 1002 || st.st_gid != 1003)
      return "idmapped owner " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) + ", expected 1002:1003";
    return "";
  });
  BOOST_TEST(err.empty(), err);
  BOOST_TEST(no_leaked_mounts(b));
}

BOOST_AUTO_TEST_SUITE_END()
