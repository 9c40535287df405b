#include "exe_guard.hpp"

#include <elf.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
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

// Copies `size` bytes of `from` (or up to its end) from its start.
void copy_prefix(int from, int to, std::uint64_t size) {
  while (size > 0) {
    ssize_t n = ::sendfile(to, from, nullptr, size < (1u << 30) ? size : (1u << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) os::throw_errno("copy the rrun binary into a memfd");
    if (n == 0) return;
    size -= static_cast<std::uint64_t>(n);
  }
}

// The size of the copy of the binary open as `exe`: its loaded extent
// (elf_loaded_extent), read from its first page.
std::uint64_t copy_size(int exe) {
  struct stat st;
  if (::fstat(exe, &st) < 0) os::throw_errno("stat the rrun binary");
  char head[4096];
  ssize_t n;
  do n = ::pread(exe, head, sizeof head, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) os::throw_errno("read the rrun binary's ELF header");
  return elf_loaded_extent(std::string_view(head, static_cast<size_t>(n)), static_cast<std::uint64_t>(st.st_size));
}

// Set for the re-executed rrun only: "DEV:INO" of the overlay view it runs
// from (running_from_sealed_copy checks it against /proc/self/exe, and
// removes it, so that nothing rrun starts inherits it).
constexpr const char* kViewEnv = "_RRUN_EXE_VIEW";

std::string dev_ino(const struct stat& st) { return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino); }

// A file system made with the new mount API and mounted nowhere: the fd of
// its root, or empty. `configure` sets its parameters on the context fd.
os::UniqueFd detached_mount(const char* type, const std::function<bool(int)>& configure, unsigned attrs) {
  os::UniqueFd ctx(::fsopen(type, FSOPEN_CLOEXEC));
  if (!ctx || !configure(ctx.get()) || ::fsconfig(ctx.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) return {};
  return os::UniqueFd(::fsmount(ctx.get(), FSMOUNT_CLOEXEC, attrs));
}

// The rrun binary through an overlayfs made only of lower layers, as runc
// 1.2 protects its binary: its directory over an empty tmpfs, both given by
// fd ("lowerdir+" with an fd: Linux 6.13), mounted nowhere. An overlay
// without an upper layer cannot be made writable: not by a remount, and not
// by a read-write clone of its mount (what defeats a read-only bind). It
// shares the binary's page cache, so nothing is copied. Empty where the
// kernel can't (older kernels, no CAP_SYS_ADMIN over our mount namespace, a
// directory overlayfs does not take as a layer): then the memfd copy.
os::UniqueFd open_overlay_view() {
  if (const char* force = std::getenv("RRUN_TEST_EXE_COPY"); force && std::strcmp(force, "memfd") == 0) return {};
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0 || path[0] != '/') return {};
  path[n] = '\0';
  char* slash = std::strrchr(path, '/');
  std::string name(slash + 1);
  std::string dir = slash == path ? "/" : std::string(path, slash);
  os::UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return {};
  os::UniqueFd empty = detached_mount("tmpfs", [](int) { return true; }, MOUNT_ATTR_RDONLY);
  if (!empty) return {};
  os::UniqueFd mnt = detached_mount(
      "overlay",
      [&](int ctx) {
        return ::fsconfig(ctx, FSCONFIG_SET_FD, "lowerdir+", nullptr, dir_fd.get()) == 0 &&
               ::fsconfig(ctx, FSCONFIG_SET_FD, "lowerdir+", nullptr, empty.get()) == 0;
      },
      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
  if (!mnt) return {};
  return os::UniqueFd(::openat(mnt.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
}

std::vector<char*> split_cmdline(std::string& text) {
  std::vector<char*> argv;
  for (size_t at = 0; at < text.size(); at += std::char_traits<char>::length(&text[at]) + 1) argv.push_back(&text[at]);
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

ExeGuard choose_exe_guard(bool shares_user_ns, bool may_ptrace, bool owner_mapped) {
  if (shares_user_ns) return may_ptrace ? ExeGuard::sealed_copy : ExeGuard::trampoline;
  return owner_mapped ? ExeGuard::trampoline : ExeGuard::dumpable_off;
}

bool may_hold_ptrace(const CapsPlan& caps) {
  const uint64_t any = caps.bounding | caps.effective | caps.inheritable | caps.permitted | caps.ambient;
  return (any >> CAP_SYS_PTRACE) & 1;
}

bool binary_owner_mapped(const std::string& binary, const std::vector<spec::IdMapping>& uid_map) {
  struct stat st;
  if (::stat(binary.c_str(), &st) < 0) return true;
  return spec::maps_host_id(uid_map, st.st_uid);
}

std::uint64_t elf_loaded_extent(std::string_view head, std::uint64_t file_size) {
  Elf64_Ehdr eh;
  if (head.size() < sizeof eh) return file_size;
  std::memcpy(&eh, head.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
    return file_size;
  std::uint64_t table_end = eh.e_phoff + std::uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff < sizeof eh || table_end > head.size()) return file_size;
  std::uint64_t end = table_end;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, head.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
    if (ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset) return file_size;
    if (ph.p_offset + ph.p_filesz > end) end = ph.p_offset + ph.p_filesz;
  }
  return end;
}

bool running_from_sealed_copy() {
  os::UniqueFd exe = os::open_file("/proc/self/exe", O_RDONLY);
  int seals = ::fcntl(exe.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return true;
  const char* view = std::getenv(kViewEnv);
  if (!view) return false;
  std::string expected(view);
  ::unsetenv(kViewEnv);
  struct stat st;
  struct statfs fs;
  return ::fstat(exe.get(), &st) == 0 && ::fstatfs(exe.get(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC &&
         dev_ino(st) == expected;
}

void run_from_sealed_copy() {
  if (running_from_sealed_copy()) return;
  std::string cmdline = os::read_file("/proc/self/cmdline");
  std::vector<char*> argv = split_cmdline(cmdline);
  os::UniqueFd view = open_overlay_view();
  struct stat st;
  if (view && ::fstat(view.get(), &st) == 0) {
    ::setenv(kViewEnv, dev_ino(st).c_str(), 1);
    ::syscall(SYS_execveat, view.get(), "", argv.data(), environ, AT_EMPTY_PATH);
    ::unsetenv(kViewEnv);  // and on to the copy
  }
  os::UniqueFd copy = make_sealed_memfd("rrun", [](int fd) {
    os::UniqueFd exe = os::open_file("/proc/self/exe", O_RDONLY);
    copy_prefix(exe.get(), fd, copy_size(exe.get()));
  });
  ::syscall(SYS_execveat, copy.get(), "", argv.data(), environ, AT_EMPTY_PATH);
  os::throw_errno("re-execute rrun from its sealed copy");
}

os::UniqueFd make_sealed_program(const char* name, const unsigned char* bytes, unsigned long size) {
  return make_sealed_memfd(name, [&](int fd) {
    os::write_all(os::BorrowedFd(fd), std::string_view(reinterpret_cast<const char*>(bytes), size));
  });
}

os::UniqueFd make_exec_trampoline() {
  return make_sealed_program("rrun-trampoline", kTrampoline, kTrampoline_size);
}

}  // namespace rrun::core
