#include "netlo.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <rrun/os/fd.hpp>

namespace rrun::core {

int bring_up_loopback(os::StepFailure& f) noexcept {
  os::UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return os::fail_step(f, errno, "loopback", "open a socket to configure `lo`");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) return os::fail_step(f, errno, "loopback", "read the flags of `lo`");
  if (ifr.ifr_flags & IFF_UP) return 0;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0)
    return os::fail_step(f, errno, "loopback", "bring `lo` up in the container's network namespace");
  return 0;
}

}  // namespace rrun::core
