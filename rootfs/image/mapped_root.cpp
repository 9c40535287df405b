#include "mapped_root.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/userns/detect.hpp>
#include <rrun/userns/idmap.hpp>
#include <rrun/userns/plan.hpp>

namespace rrun::image {

namespace {

// The child's messages on the control socket (SOCK_SEQPACKET: one message
// per send): "R" ready for its maps, then "K" done or "E<error>".
constexpr size_t kMaxMessage = 4096;

void send_message(int fd, const std::string& m) {
  while (::send(fd, m.data(), std::min(m.size(), kMaxMessage), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// "" when the peer closed without a message.
std::string receive_message(int fd) {
  char buf[kMaxMessage];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
}

[[noreturn]] void child_main(int ctl, const std::function<void()>& in_child) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::unshare(CLONE_NEWUSER) != 0) {
    send_message(ctl, std::string("Ecannot create a user namespace for the unpack: ") + std::strerror(errno));
    ::_exit(1);
  }
  send_message(ctl, "R");
  // The maps are written (or the parent gave up and closed the socket).
  if (receive_message(ctl) != "G") ::_exit(1);
  std::string result = "K";
  try {
    in_child();
  } catch (const std::exception& e) {
    result = std::string("E") + e.what();
  }
  send_message(ctl, result);
  ::_exit(0);
}

// Kills and reaps the child unless it was reaped already.
struct Child {
  pid_t pid;
  int status = 0;
  bool reaped = false;
  int wait() {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
    return status;
  }
  ~Child() {
    if (reaped) return;
    ::kill(pid, SIGKILL);
    wait();
  }
};

bool single_own_id(const std::vector<spec::IdMapping>& m, uint32_t own) {
  return m.size() == 1 && m[0].container_id == 0 && m[0].host_id == own && m[0].size == 1;
}

std::string ended(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

void run_as_mapped_root(const std::vector<spec::IdMapping>& uid_map, const std::vector<spec::IdMapping>& gid_map,
                        const std::function<void()>& in_child, const std::function<void()>& in_parent,
                        bool fallback_to_single) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    os::throw_errno("create a socket pair for the unpack");
  os::UniqueFd mine(sv[0]), theirs(sv[1]);
  pid_t pid = ::fork();
  if (pid < 0) os::throw_errno("fork the unpack process");
  if (pid == 0) {
    mine.reset();
    child_main(theirs.get(), in_child);
  }
  Child child{pid};
  theirs.reset();

  std::string m = receive_message(mine.get());
  if (m.empty() || m[0] != 'R') {
    child.wait();
    throw os::Error(m.size() > 1 ? m.substr(1) : "the unpack process failed (" + ended(child.status) + ")");
  }
  userns::MappingPlan plan;
  plan.uid_map = uid_map;
  plan.gid_map = gid_map;
  plan.own_uid = ::geteuid();
  plan.own_gid = ::getegid();
  const bool single = single_own_id(uid_map, plan.own_uid) && single_own_id(gid_map, plan.own_gid);
  // Root writes any map itself, as for a container (plan_mappings).
  const bool privileged = plan.own_uid == 0 && userns::in_initial_user_namespace();
  plan.use_helpers = !single && !privileged;
  plan.deny_setgroups = single;
  plan.fallback_to_single = fallback_to_single && !single;
  userns::write_id_maps(pid, plan);
  send_message(mine.get(), "G");

  in_parent();
  m = receive_message(mine.get());
  child.wait();
  if (m == "K") return;
  if (m.size() > 1 && m[0] == 'E') throw os::Error(m.substr(1));
  throw os::Error("the unpack process ended without a result (" + ended(child.status) + ")");
}

}  // namespace rrun::image
