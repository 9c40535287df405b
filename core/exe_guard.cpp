#include "exe_guard.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

namespace rrun::core {

extern const unsigned char kTrampoline[];
extern const unsigned long kTrampoline_size;

bool container_can_write_binary(const std::string& binary, bool new_user_ns, bool joined_user_ns,
                                const std::vector<spec::IdMapping>& uid_map) {
  if (!new_user_ns || joined_user_ns) return true;
  struct stat st;
  if (::stat(binary.c_str(), &st) < 0) return true;
  for (const auto& m : uid_map)
    if (st.st_uid >= m.host_id && st.st_uid - m.host_id < m.size) return true;
  return false;
}

os::UniqueFd make_exec_trampoline() {
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
  // MFD_EXEC: since Linux 6.3 a memfd may be created non-executable by default.
  int fd = ::memfd_create("rrun-trampoline", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create("rrun-trampoline", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) os::throw_errno("create the exec trampoline memfd");
  os::UniqueFd owned(fd);
  os::write_all(owned, std::string_view(reinterpret_cast<const char*>(kTrampoline), kTrampoline_size));
  if (::fchmod(fd, 0555) < 0) os::throw_errno("chmod the exec trampoline");
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    os::throw_errno("seal the exec trampoline");
  return owned;
}

}  // namespace rrun::core
