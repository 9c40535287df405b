#include "host_probe.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/syscall.hpp>
#include <rrun/userns/detect.hpp>

namespace rrun::core {

namespace {

// What a probe child sends back: fixed size, written once.
struct Record {
  char step[64] = {};
  int error = 0;
};

// Fills `r` and returns false, for `return fail(r, ...)` in a child.
bool fail(Record& r, const char* step, int err) noexcept {
  std::snprintf(r.step, sizeof r.step, "%s", step);
  r.error = err ? err : EIO;
  return false;
}

int write_text(const char* path, const char* text) noexcept {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, text, std::strlen(text));
  int err = n < 0 ? errno : 0;
  ::close(fd);
  return err;
}

// In a child: a new user namespace (and mount namespace) where the caller's
// ids are 0, as rrun's single mapping makes them.
bool enter_own_userns(Record& r, uid_t uid, gid_t gid, bool with_mount_ns) noexcept {
  if (::unshare(CLONE_NEWUSER | (with_mount_ns ? CLONE_NEWNS : 0)) != 0) return fail(r, "unshare", errno);
  int err = write_text("/proc/self/setgroups", "deny");
  if (err != 0 && err != ENOENT) return fail(r, "setgroups", err);
  char map[64];
  std::snprintf(map, sizeof map, "0 %u 1\n", static_cast<unsigned>(uid));
  if ((err = write_text("/proc/self/uid_map", map)) != 0) return fail(r, "uid_map", err);
  std::snprintf(map, sizeof map, "0 %u 1\n", static_cast<unsigned>(gid));
  if ((err = write_text("/proc/self/gid_map", map)) != 0) return fail(r, "gid_map", err);
  return true;
}

// Mount events of the child stay in the child (a mount namespace made with a
// new user namespace gets slave mounts already; this makes sure).
bool make_root_private(Record& r) noexcept {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail(r, "make / private", errno);
  return true;
}

// Runs `body` in a forked child and returns what it reported. The child
// exits right after `body`; it is always reaped.
ProbeOutcome run_in_child(const std::function<bool(Record&)>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {"pipe", errno};
  os::UniqueFd rd(fds[0]), wr(fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) return {"fork", errno};
  if (pid == 0) {
    rd.reset();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    Record r;
    body(r);
    ssize_t n = ::write(wr.get(), &r, sizeof r);
    ::_exit(n == static_cast<ssize_t>(sizeof r) ? 0 : 1);
  }
  wr.reset();
  Record r;
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = ::read(rd.get(), reinterpret_cast<char*>(&r) + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof r) return {"probe child (it exited without a result)", ECHILD};
  r.step[sizeof r.step - 1] = '\0';
  return {r.step, r.error};
}

// A fresh 0700 directory under `base`, removed by the destructor. Overlay
// leaves its work directory with mode 0: made searchable again first.
class ProbeDir {
 public:
  explicit ProbeDir(const std::string& base) {
    std::string tmpl = base + "/rrun-probe.XXXXXX";
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
    error_ = path_.empty() ? errno : 0;
  }
  ~ProbeDir() {
    if (path_.empty()) return;
    ::chmod((path_ + "/work/work").c_str(), 0700);
    try {
      os::remove_tree(path_);
    } catch (...) {
      // Nothing to report from a destructor; the directory is under TMPDIR.
    }
  }
  ProbeDir(const ProbeDir&) = delete;
  ProbeDir& operator=(const ProbeDir&) = delete;

  bool ok() const { return !path_.empty(); }
  int error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int error_ = 0;
};

bool privileged() {
  return ::geteuid() == 0 && userns::in_initial_user_namespace();
}

}  // namespace

std::string probe_tmp_base() {
  const char* t = std::getenv("TMPDIR");
  struct stat st {};
  if (t && *t == '/' && ::stat(t, &st) == 0 && S_ISDIR(st.st_mode)) return t;
  return "/tmp";
}

ProbeOutcome probe_user_namespace() {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  const std::string target = probe_tmp_base();
  return run_in_child([&](Record& r) {
    if (!enter_own_userns(r, uid, gid, true)) return false;
    if (!make_root_private(r)) return false;
    // The mount lives and dies with the child's mount namespace.
    if (::mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0)
      return fail(r, "mount tmpfs", errno);
    return true;
  });
}

ProbeOutcome probe_kernel_overlay(const std::string& tmp_base) {
  ProbeDir dir(tmp_base);
  if (!dir.ok()) return {"mkdtemp", dir.error()};
  const std::string& d = dir.path();
  try {
    for (const char* sub : {"/lower/a", "/lower/b", "/upper", "/work", "/merged"}) os::mkdir_p(d + sub, 0755);
    for (const char* file : {"/lower/a/f", "/lower/b/f"})
      os::write_all(os::open_file(d + file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), "probe\n");
  } catch (const os::SystemError& e) {
    return {"prepare the probe directories", e.code().value()};
  }
  const std::string merged = d + "/merged";
  const std::string data = "lowerdir=" + d + "/lower,upperdir=" + d + "/upper,workdir=" + d + "/work,userxattr";
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  return run_in_child([&](Record& r) {
    if (!enter_own_userns(r, uid, gid, true)) return false;
    if (!make_root_private(r)) return false;
    if (::mount("overlay", merged.c_str(), "overlay", 0, data.c_str()) != 0) return fail(r, "mount overlay", errno);
    int fd = ::open((merged + "/a/f").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "x\n", 2) != 2) return fail(r, "copy-up", errno);
    ::close(fd);
    if (::rename((merged + "/a").c_str(), (merged + "/a2").c_str()) != 0 && errno != EXDEV)
      return fail(r, "rename a lower directory", errno);
    if (::unlink((merged + "/b/f").c_str()) != 0 || ::rmdir((merged + "/b").c_str()) != 0)
      return fail(r, "remove a lower directory", errno);
    ::umount2(merged.c_str(), MNT_DETACH);
    return true;
  });
}

ProbeOutcome probe_idmapped_mount(const std::string& tmp_base) {
  ProbeDir dir(tmp_base);
  if (!dir.ok()) return {"mkdtemp", dir.error()};
  const std::string path = dir.path();
  const bool as_root = privileged();
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  return run_in_child([&](Record& r) {
    if (as_root) {
      if (::unshare(CLONE_NEWNS) != 0) return fail(r, "unshare", errno);
    } else if (!enter_own_userns(r, uid, gid, true)) {
      return false;
    }
    if (!make_root_private(r)) return false;
    int tree = static_cast<int>(::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (tree < 0) return fail(r, "open_tree", errno);
    // A user namespace that holds the mapping: a grandchild cloned into it
    // waits while its maps are written and its namespace is opened.
    long gc = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (gc < 0) return fail(r, "user namespace for the mapping", errno);
    if (gc == 0) {
      for (;;) ::pause();
    }
    char path_buf[64];
    int err = 0;
    std::snprintf(path_buf, sizeof path_buf, "/proc/%ld/setgroups", gc);
    write_text(path_buf, "deny");
    std::snprintf(path_buf, sizeof path_buf, "/proc/%ld/uid_map", gc);
    if (err == 0) err = write_text(path_buf, "0 0 1\n");
    std::snprintf(path_buf, sizeof path_buf, "/proc/%ld/gid_map", gc);
    if (err == 0) err = write_text(path_buf, "0 0 1\n");
    std::snprintf(path_buf, sizeof path_buf, "/proc/%ld/ns/user", gc);
    int ns = err == 0 ? ::open(path_buf, O_RDONLY | O_CLOEXEC) : -1;
    if (err == 0 && ns < 0) err = errno;
    ::kill(static_cast<pid_t>(gc), SIGKILL);
    ::waitpid(static_cast<pid_t>(gc), nullptr, 0);
    if (err != 0) return fail(r, "user namespace for the mapping", err);
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(ns);
    if (::mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) return fail(r, "mount_setattr", errno);
    return true;
  });
}

int probe_clone3() {
  // A size below CLONE_ARGS_SIZE_VER0 is EINVAL where clone3 exists; nothing
  // is cloned.
  if (os::sys::clone3(nullptr, 0) < 0) return errno == EINVAL ? 0 : errno;
  return 0;
}

int probe_pidfd_open() {
  int fd = os::sys::pidfd_open(::getpid());
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int probe_openat2() {
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = os::sys::openat2(AT_FDCWD, "/", &how, sizeof how);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

}  // namespace rrun::core
