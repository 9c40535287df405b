#include "exe_guard.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <functional>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

extern char** environ;

namespace rrun::core {

extern const unsigned char kTrampoline[];
extern const unsigned long kTrampoline_size;

namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// An executable memfd filled by `fill`, then sealed against any change.
os::UniqueFd make_sealed_memfd(const char* name, const std::function<void(int)>& fill) {
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
  // MFD_EXEC: since Linux 6.3 a memfd may be created non-executable by default.
  int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) os::throw_errno(std::string("create the memfd `") + name + "` (vm.memfd_noexec must be below 2)");
  os::UniqueFd owned(fd);
  fill(fd);
  if (::fchmod(fd, 0555) < 0) os::throw_errno(std::string("chmod the memfd `") + name + "`");
  if (::fcntl(fd, F_ADD_SEALS, kSeals) < 0) os::throw_errno(std::string("seal the memfd `") + name + "`");
  return owned;
}

void copy_all(int from, int to) {
  for (;;) {
    ssize_t n = ::sendfile(to, from, nullptr, 1 << 30);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) os::throw_errno("copy the rrun binary into a memfd");
    if (n == 0) return;
  }
}

std::vector<char*> split_cmdline(std::string& text) {
  std::vector<char*> argv;
  for (size_t at = 0; at < text.size(); at += std::char_traits<char>::length(&text[at]) + 1) argv.push_back(&text[at]);
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

ExeGuard choose_exe_guard(bool shares_user_ns, bool owner_mapped) {
  if (shares_user_ns) return ExeGuard::sealed_copy;
  return owner_mapped ? ExeGuard::trampoline : ExeGuard::dumpable_off;
}

bool binary_owner_mapped(const std::string& binary, const std::vector<spec::IdMapping>& uid_map) {
  struct stat st;
  if (::stat(binary.c_str(), &st) < 0) return true;
  return spec::maps_host_id(uid_map, st.st_uid);
}

bool running_from_sealed_copy() {
  os::UniqueFd exe = os::open_file("/proc/self/exe", O_RDONLY);
  int seals = ::fcntl(exe.get(), F_GET_SEALS);
  return seals >= 0 && (seals & kSeals) == kSeals;
}

void run_from_sealed_copy() {
  if (running_from_sealed_copy()) return;
  std::string cmdline = os::read_file("/proc/self/cmdline");
  std::vector<char*> argv = split_cmdline(cmdline);
  os::UniqueFd copy = make_sealed_memfd("rrun", [](int fd) {
    os::UniqueFd exe = os::open_file("/proc/self/exe", O_RDONLY);
    copy_all(exe.get(), fd);
  });
  ::syscall(SYS_execveat, copy.get(), "", argv.data(), environ, AT_EMPTY_PATH);
  os::throw_errno("re-execute rrun from its sealed copy");
}

os::UniqueFd make_exec_trampoline() {
  return make_sealed_memfd("rrun-trampoline", [](int fd) {
    os::write_all(os::BorrowedFd(fd),
                  std::string_view(reinterpret_cast<const char*>(kTrampoline), kTrampoline_size));
  });
}

}  // namespace rrun::core
