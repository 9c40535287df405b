#include "sync.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <rrun/os/cmsg.hpp>
#include <rrun/os/error.hpp>

namespace rrun::core {

const char* msg_name(Msg m) noexcept {
  switch (m) {
    case Msg::none:
      return "nothing";
    case Msg::maps_written:
      return "maps_written";
    case Msg::rootfs_ready:
      return "rootfs_ready";
    case Msg::hooks_done:
      return "hooks_done";
    case Msg::seccomp_fd:
      return "seccomp_fd";
    case Msg::ready:
      return "ready";
    case Msg::fuse_mount:
      return "fuse_mount";
    case Msg::fuse_started:
      return "fuse_started";
    case Msg::fuse_userns:
      return "fuse_userns";
    case Msg::committed:
      return "committed";
    case Msg::init_pid:
      return "init_pid";
    case Msg::go:
      return "go";
    case Msg::failure:
      return "failure";
  }
  return "unknown";
}

void make_sync_pair(os::UniqueFd& parent_end, os::UniqueFd& child_end) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) os::throw_errno("create the sync socketpair");
  parent_end.reset(sv[0]);
  child_end.reset(sv[1]);
}

int send_packet(int fd, const Packet& p, int pass_fd) noexcept {
  ssize_t n = os::send_with_fd(fd, &p, sizeof p, pass_fd);
  if (n < 0) return -1;
  if (static_cast<size_t>(n) != sizeof p) {
    errno = EPROTO;
    return -1;
  }
  return 0;
}

int recv_packet(int fd, Packet& p, int* received_fd) noexcept {
  struct iovec iov = {&p, sizeof p};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (received_fd) *received_fd = -1;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  if (n == 0) {
    p = Packet{};
    return 0;  // EOF: type none
  }
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int got;
      std::memcpy(&got, CMSG_DATA(c), sizeof(int));
      if (received_fd)
        *received_fd = got;
      else
        ::close(got);
    }
  }
  if (static_cast<size_t>(n) != sizeof p) {
    errno = EPROTO;
    return -1;
  }
  return 0;
}

int send_msg(int fd, Msg m) noexcept {
  Packet p;
  p.type = m;
  return send_packet(fd, p);
}

int send_failure(int fd, const os::StepFailure& f) noexcept {
  Packet p;
  p.type = Msg::failure;
  p.failure = f;
  return send_packet(fd, p);
}

Packet expect_msg(int fd, Msg expected, os::UniqueFd* received_fd) {
  return expect_msg_or(fd, expected, expected, received_fd);
}

Packet expect_msg_or(int fd, Msg expected, Msg other, os::UniqueFd* received_fd) {
  Packet p;
  int got_fd = -1;
  if (recv_packet(fd, p, &got_fd) < 0) os::throw_errno(std::string("container init: receive ") + msg_name(expected));
  os::UniqueFd owned(got_fd);
  if (p.type == Msg::failure) {
    p.failure.step[sizeof p.failure.step - 1] = 0;
    p.failure.detail[sizeof p.failure.detail - 1] = 0;
    std::string what = p.failure.step;
    if (p.failure.detail[0]) what += std::string(": ") + p.failure.detail;
    if (p.failure.err) throw os::SystemError(p.failure.err, what);
    throw os::Error(what);
  }
  if (p.type != expected && p.type != other) {
    if (p.type == Msg::none) throw os::Error(std::string("container init exited before it sent ") + msg_name(expected));
    throw os::Error(std::string("container init: expected ") + msg_name(expected) + ", got " + msg_name(p.type));
  }
  if (received_fd) *received_fd = std::move(owned);
  return p;
}

void send_or_throw(int fd, Msg m) {
  if (send_msg(fd, m) < 0) os::throw_errno(std::string("container init: send ") + msg_name(m));
}

}  // namespace rrun::core
