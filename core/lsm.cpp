#include "lsm.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

namespace rrun::core {

std::string check_selinux_label(const std::string& field, const std::string& label, const std::string& sys) {
  if (label.empty()) return "";
  if (os::path_exists(sys + "/fs/selinux/enforce"))
    throw os::Error(field + ": SELinux labels are not supported by rrun yet; remove the label");
  return field + ": SELinux is not enabled on this host; label " + os::quote(label) + " ignored";
}

bool apparmor_enabled(const std::string& sys) {
  auto text = os::read_file_if_exists(sys + "/module/apparmor/parameters/enabled");
  return text && !text->empty() && (*text)[0] == 'Y';
}

void check_apparmor_profile(const std::string& field, const std::string& profile, const std::string& sys) {
  if (profile.empty() || apparmor_enabled(sys)) return;
  throw os::Error(field + ": AppArmor is not enabled on this host (" + sys +
                  "/module/apparmor/parameters/enabled); remove the profile");
}

os::UniqueFd open_proc_for_profile(const std::string& profile) {
  if (profile.empty()) return {};
  os::UniqueFd fd(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) os::throw_errno("open `/proc` to apply the AppArmor profile " + os::quote(profile));
  return fd;
}

int apply_apparmor_profile(int proc_fd, const std::string& profile, os::StepFailure& f) noexcept {
  if (profile.empty()) return 0;
  const char* attr = "thread-self/attr/apparmor/exec";
  int fd = ::openat(proc_fd, attr, O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) fd = ::openat(proc_fd, attr = "thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return os::fail_step(f, errno, "apparmor", "open `/proc/%s`", attr);
  struct statfs sf;
  if (::fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
    ::close(fd);
    return os::fail_step(f, EXDEV, "apparmor", "`/proc/%s` is not on procfs", attr);
  }
  char text[4096];
  int n = std::snprintf(text, sizeof text, "exec %s", profile.c_str());
  if (n < 0 || static_cast<size_t>(n) >= sizeof text) {
    ::close(fd);
    return os::fail_step(f, ENAMETOOLONG, "apparmor", "profile name of %zu bytes", profile.size());
  }
  ssize_t w = ::write(fd, text, static_cast<size_t>(n));
  int err = errno;
  ::close(fd);
  if (w != n)
    return os::fail_step(f, w < 0 ? err : EIO, "apparmor",
                         "apply the AppArmor profile `%s` (is it loaded? `aa-status` lists the loaded profiles)",
                         profile.c_str());
  return 0;
}

}  // namespace rrun::core
