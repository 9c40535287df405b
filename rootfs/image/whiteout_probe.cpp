#include "whiteout_probe.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "store.hpp"

namespace rrun::image {

namespace {

// In the probe's child: a new user namespace where the caller is 0, as
// rrun's single mapping makes it (the child writes its own maps).
bool enter_own_userns(uid_t uid, gid_t gid) noexcept {
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
  auto put = [](const char* path, const char* text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;  // no setgroups file: an old kernel
    bool ok = ::write(fd, text, std::strlen(text)) >= 0;
    ::close(fd);
    return ok;
  };
  char uid_map[32], gid_map[32];
  std::snprintf(uid_map, sizeof uid_map, "0 %u 1\n", static_cast<unsigned>(uid));
  std::snprintf(gid_map, sizeof gid_map, "0 %u 1\n", static_cast<unsigned>(gid));
  return put("/proc/self/setgroups", "deny") && put("/proc/self/uid_map", uid_map) &&
         put("/proc/self/gid_map", gid_map);
}

// The probe's directory: lower2/f is an xattr whiteout of lower1/f.
// nullopt when it cannot be made (no answer: nothing cached); false when
// the file system refuses the xattrs (an answer).
std::optional<bool> make_probe_dir(const std::string& d, const std::string& prefix) {
  try {
    for (const char* sub : {"/lower1", "/lower2", "/merged"}) os::mkdir_p(d + sub, 0755);
    os::open_file(d + "/lower1/f", O_WRONLY | O_CREAT | O_EXCL, 0644);
    os::open_file(d + "/lower2/f", O_WRONLY | O_CREAT | O_EXCL, 0644);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return ::setxattr((d + "/lower2/f").c_str(), (prefix + "whiteout").c_str(), "", 0, 0) == 0 &&
         ::setxattr((d + "/lower2").c_str(), (prefix + "opaque").c_str(), "x", 1, 0) == 0;
}

// A read-only overlay of lower2 on lower1, mounted in a child with its own
// mount namespace (and user namespace, rootless): the mount dies with it.
std::optional<bool> try_overlay(const std::string& d, bool userxattr) {
  const std::string merged = d + "/merged";
  const std::string data = "lowerdir=" + d + "/lower2:" + d + "/lower1" + (userxattr ? ",userxattr" : "");
  const std::string hidden = merged + "/f";
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    bool in_ns = uid == 0 ? ::unshare(CLONE_NEWNS) == 0 : enter_own_userns(uid, gid);
    if (!in_ns || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(2);
    if (::mount("overlay", merged.c_str(), "overlay", MS_RDONLY, data.c_str()) != 0) ::_exit(2);
    struct stat st {};
    ::_exit(::lstat(hidden.c_str(), &st) != 0 && errno == ENOENT ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The probe itself, on the file system of the store's tmp/ when it is
// there (where the layers go), else $TMPDIR or /tmp.
std::optional<bool> probe(const std::string& store_root, bool userxattr) {
  std::string base = store_root + "/tmp";
  struct stat st {};
  if (::stat(base.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    const char* t = std::getenv("TMPDIR");
    base = t && *t == '/' && ::stat(t, &st) == 0 && S_ISDIR(st.st_mode) ? t : "/tmp";
  }
  std::string d = base + "/whiteout-probe.XXXXXX";
  if (!::mkdtemp(d.data())) return std::nullopt;
  std::optional<bool> made = make_probe_dir(d, userxattr ? "user.overlay." : "trusted.overlay.");
  std::optional<bool> works = made && *made ? try_overlay(d, userxattr) : made;
  try {
    os::remove_tree(d);
  } catch (const std::exception&) {
    // Under tmp/, prune takes what stays; elsewhere it is a few empty files.
  }
  return works;
}

// STORE/whiteout-probe-KIND: "BOOT_ID 0|1", the answer for this boot.
std::optional<bool> cached(const std::string& file, const std::string& boot) {
  try {
    std::optional<std::string> text = os::read_file_if_exists(file);
    if (text && text->size() == boot.size() + 3 && text->compare(0, boot.size(), boot) == 0 &&
        (*text)[boot.size()] == ' ')
      return (*text)[boot.size() + 1] == '1';
  } catch (const std::exception&) {
    // Unreadable: probe again.
  }
  return std::nullopt;
}

std::string boot_id() {
  try {
    std::string id = os::read_file_if_exists("/proc/sys/kernel/random/boot_id").value_or("");
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id.find(' ') == std::string::npos ? id : "";
  } catch (const std::exception&) {
    return "";
  }
}

}  // namespace

bool kernel_hides_xattr_whiteouts(bool userxattr) {
  static int known[2] = {-1, -1};  // per process: [userxattr]
  int& k = known[userxattr ? 1 : 0];
  if (k >= 0) return k == 1;
  const std::string root = Store::default_root();
  const std::string file = root + "/whiteout-probe-" + (userxattr ? "user" : "trusted");
  const std::string boot = boot_id();
  std::optional<bool> works = boot.empty() ? std::nullopt : cached(file, boot);
  if (!works) {
    works = probe(root, userxattr);
    if (works && !boot.empty() && os::path_exists(root)) {
      try {
        os::write_file_atomic(file, boot + " " + (*works ? "1" : "0") + "\n", 0600);
      } catch (const std::exception&) {
        // Not cached: the next process probes again.
      }
    }
  }
  k = works.value_or(false) ? 1 : 0;
  return k == 1;
}

}  // namespace rrun::image
