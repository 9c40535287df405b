#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <rrun/core/caps.hpp>
#include <rrun/core/seccomp.hpp>
#include <rrun/os/error.hpp>
#include "fork_child.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

using namespace rrun;
using rrun::test::exit_code;
using rrun::test::run_in_child;

namespace {

spec::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                          std::optional<uint32_t> errno_ret = std::nullopt) {
  spec::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.errno_ret = errno_ret;
  return s;
}

spec::Seccomp allow_all() {
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  return s;
}

std::string error_of(const spec::Seccomp& s) {
  try {
    (void)core::plan_seccomp(s);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

int load_in_child(const core::SeccompPlan& plan, int* notify_fd = nullptr) {
  os::StepFailure f;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return 90;
  if (core::apply_seccomp(plan, notify_fd, f) < 0) {
    std::fprintf(stderr, "child: %s: %s: %s\n", f.step, f.detail, std::strerror(f.err));
    return 91;
  }
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(seccomp)

BOOST_AUTO_TEST_CASE(plan_errors_name_the_json_path) {
  auto s = allow_all();
  s.syscalls = {rule({"getpid"}, "SCMP_ACT_ERRNO"), rule({"getpid"}, "SCMP_ACT_ERRNO"),
                rule({"getpid"}, "SCMP_ACT_ERRNO"), rule({"mkdir"}, "SCMP_ACT_FOO")};
  BOOST_TEST(error_of(s) == "linux.seccomp.syscalls[3].action: unknown action \"SCMP_ACT_FOO\"");

  s = allow_all();
  s.default_action = "SCMP_ACT_BAR";
  BOOST_TEST(error_of(s) == "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_BAR\"");

  s = allow_all();
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_PDP11"};
  BOOST_TEST(error_of(s) == "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_PDP11\"");

  s = allow_all();
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NOPE"};
  BOOST_TEST(error_of(s) == "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\"");

  s = allow_all();
  s.syscalls = {rule({"getpid"}, "SCMP_ACT_KILL", 5)};
  BOOST_TEST(error_of(s) ==
             "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_KILL");

  s = allow_all();
  s.syscalls = {rule({"dup"}, "SCMP_ACT_ERRNO")};
  s.syscalls[0].args = {spec::SeccompArg{0, 1, 0, "SCMP_CMP_ALMOST"}};
  BOOST_TEST(error_of(s) == "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ALMOST\"");
  s.syscalls[0].args = {spec::SeccompArg{6, 1, 0, "SCMP_CMP_EQ"}};
  BOOST_TEST(error_of(s) == "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)");

  s = allow_all();
  s.syscalls = {rule({"getpid"}, "SCMP_ACT_NOTIFY")};
  BOOST_TEST(error_of(s) == "linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY");

  s = allow_all();
  s.default_action = "SCMP_ACT_NOTIFY";
  s.listener_path = "/run/agent.sock";
  BOOST_TEST(error_of(s) == "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");

  s = allow_all();
  s.default_action = "";
  BOOST_TEST(error_of(s) == "linux.seccomp.defaultAction: required");

  s = allow_all();
  s.syscalls = {rule({"getpid"}, "SCMP_ACT_ERRNO", 70000)};
  BOOST_TEST(error_of(s) == "linux.seccomp.syscalls[0].errnoRet: 70000 is out of range (0-65535)");
}

BOOST_AUTO_TEST_CASE(compiles_to_bpf_and_reports_unknown_syscalls) {
  auto s = allow_all();
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  s.syscalls = {rule({"mkdir", "no_such_syscall_rrun", "socketcall"}, "SCMP_ACT_ERRNO", 42),
                rule({"getpid"}, "SCMP_ACT_ALLOW"),  // equals the default: skipped
                rule({"ptrace"}, "SCMP_ACT_KILL_PROCESS"),
                rule({"reboot"}, "SCMP_ACT_LOG"),
                rule({"acct"}, "SCMP_ACT_TRAP"),
                rule({"kexec_load"}, "SCMP_ACT_TRACE")};
  std::vector<std::string> skipped;
  auto plan = core::plan_seccomp(s, &skipped);
  BOOST_TEST(plan.bpf.valid());
  BOOST_TEST(!plan.notify);
  BOOST_TEST(plan.flags == 0u);
  struct stat st;
  BOOST_REQUIRE(::fstat(plan.bpf.get(), &st) == 0);
  BOOST_TEST(st.st_size > 0);
  BOOST_TEST(st.st_size % sizeof(struct sock_filter) == 0u);
  BOOST_TEST(::lseek(plan.bpf.get(), 0, SEEK_CUR) == 0);
  BOOST_TEST(::fcntl(plan.bpf.get(), F_GETFD) & FD_CLOEXEC);
  BOOST_REQUIRE(skipped.size() == 1u);
  BOOST_TEST(skipped[0] == "no_such_syscall_rrun");
}

BOOST_AUTO_TEST_CASE(flags_map_to_the_kernel_bits) {
  auto s = allow_all();
  s.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  auto plan = core::plan_seccomp(s);
  BOOST_TEST(plan.flags ==
             unsigned(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW));
  s.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  BOOST_TEST(error_of(s) ==
             "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY");
}

BOOST_AUTO_TEST_CASE(errno_rule_applies_in_a_child) {
  auto s = allow_all();
  s.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  s.syscalls = {rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", 42), rule({"rmdir"}, "SCMP_ACT_ERRNO")};
  auto plan = core::plan_seccomp(s);
  int status = run_in_child([&] {
    if (int rc = load_in_child(plan)) return rc;
    errno = 0;
    if (::mkdir("/tmp/rrun-seccomp-test-never", 0700) != -1 || errno != 42) return 1;
    errno = 0;
    if (::rmdir("/tmp/rrun-seccomp-test-never") != -1 || errno != EPERM) return 2;  // errnoRet defaults to EPERM
    if (::getpid() <= 0) return 3;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(default_errno_ret_applies_to_the_default_action) {
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.default_errno_ret = 38;  // ENOSYS
  // Everything the child still needs after loading.
  s.syscalls = {rule({"exit_group", "exit", "getpid", "write", "rt_sigreturn", "munmap"}, "SCMP_ACT_ALLOW")};
  auto plan = core::plan_seccomp(s);
  int status = run_in_child([&] {
    if (int rc = load_in_child(plan)) return rc;
    errno = 0;
    if (::syscall(SYS_getppid) != -1 || errno != ENOSYS) return 1;
    if (::syscall(SYS_getpid) <= 0) return 2;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(argument_conditions) {
  auto s = allow_all();
  s.syscalls = {rule({"dup"}, "SCMP_ACT_ERRNO", 44)};
  s.syscalls[0].args = {spec::SeccompArg{0, 1234, 0, "SCMP_CMP_EQ"}};
  // Two comparisons of one argument: separate rules (OR).
  s.syscalls.push_back(rule({"dup2"}, "SCMP_ACT_ERRNO", 45));
  s.syscalls[1].args = {spec::SeccompArg{1, 500, 0, "SCMP_CMP_EQ"}, spec::SeccompArg{1, 501, 0, "SCMP_CMP_EQ"}};
  // Masked compare: arg0 & 0xf0 == 0x30.
  s.syscalls.push_back(rule({"close"}, "SCMP_ACT_ERRNO", 46));
  s.syscalls[2].args = {spec::SeccompArg{0, 0xf0, 0x30, "SCMP_CMP_MASKED_EQ"}};
  auto plan = core::plan_seccomp(s);
  int status = run_in_child([&] {
    if (int rc = load_in_child(plan)) return rc;
    errno = 0;
    if (::syscall(SYS_dup, 1234) != -1 || errno != 44) return 1;
    int fd = static_cast<int>(::syscall(SYS_dup, 0));
    if (fd < 0) return 2;
    errno = 0;
    if (::syscall(SYS_dup2, 0, 500) != -1 || errno != 45) return 3;
    errno = 0;
    if (::syscall(SYS_dup2, 0, 501) != -1 || errno != 45) return 4;
    if (::syscall(SYS_dup2, 0, 502) != 502) return 5;
    errno = 0;
    if (::syscall(SYS_close, 0x35) != -1 || errno != 46) return 6;
    errno = 0;
    if (::syscall(SYS_close, 0x45) != -1 || errno != EBADF) return 7;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(kill_process_kills_with_sigsys) {
  auto s = allow_all();
  s.syscalls = {rule({"getppid"}, "SCMP_ACT_KILL_PROCESS")};
  auto plan = core::plan_seccomp(s);
  int status = run_in_child([&] {
    if (int rc = load_in_child(plan)) return rc;
    ::syscall(SYS_getppid);
    return 0;
  });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGSYS);
}

BOOST_AUTO_TEST_CASE(load_without_no_new_privs_or_cap_sys_admin_fails) {
  auto s = allow_all();
  s.syscalls = {rule({"getppid"}, "SCMP_ACT_ERRNO")};
  auto plan = core::plan_seccomp(s);
  // Drop every capability (CAP_SYS_ADMIN with them) in the child.
  core::CapsPlan none = core::plan_capabilities(std::nullopt, core::read_last_cap());
  int status = run_in_child([&] {
    os::StepFailure f;
    if (::geteuid() == 0 && core::apply_capabilities(none, f) < 0) return 80;
    if (core::apply_seccomp(plan, nullptr, f) == 0) return 1;
    if (f.err != EACCES) return 2;
    if (std::string(f.step) != "seccomp") return 3;
    if (std::string(f.detail).find("no_new_privs") == std::string::npos) return 4;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(notify_returns_a_listener_fd) {
  auto s = allow_all();
  s.listener_path = "/run/agent.sock";
  s.listener_metadata = "meta";
  s.syscalls = {rule({"getppid"}, "SCMP_ACT_NOTIFY")};
  s.flags = {"SECCOMP_FILTER_FLAG_TSYNC"};
  auto plan = core::plan_seccomp(s);
  BOOST_TEST(plan.notify);
  BOOST_TEST(plan.listener_path == "/run/agent.sock");
  BOOST_TEST(plan.listener_metadata == "meta");
  int status = run_in_child([&] {
    int fd = -1;
    if (int rc = load_in_child(plan, &fd)) return rc;
    if (fd < 0) return 1;
    if (!(::fcntl(fd, F_GETFD) & FD_CLOEXEC)) return 2;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_CASE(notify_is_refused_for_write) {
  auto s = allow_all();
  s.listener_path = "/run/agent.sock";
  s.syscalls = {rule({"getppid", "write"}, "SCMP_ACT_NOTIFY")};
  BOOST_TEST(error_of(s).find("linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for `write`") == 0u);
}

BOOST_AUTO_TEST_CASE(send_listener_passes_the_fd_and_the_state) {
  char dir[] = "/tmp/rrun-seccomp-XXXXXX";
  BOOST_REQUIRE(::mkdtemp(dir));
  std::string path = std::string(dir) + "/agent.sock";
  int srv = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(srv >= 0);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  BOOST_REQUIRE(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(srv, 1) == 0);

  int pipefd[2];
  BOOST_REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
  std::string state = R"({"ociVersion":"1.3.0","fds":["seccompFd"],"metadata":"m"})";
  core::send_seccomp_listener(path, pipefd[1], state);

  int conn = ::accept4(srv, nullptr, nullptr, SOCK_CLOEXEC);
  BOOST_REQUIRE(conn >= 0);
  char buf[512] = {};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct iovec iov {
    buf, sizeof buf - 1
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  BOOST_REQUIRE(n > 0);
  BOOST_TEST(std::string(buf, static_cast<size_t>(n)) == state);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  BOOST_REQUIRE(c != nullptr);
  BOOST_TEST(c->cmsg_type == SCM_RIGHTS);
  int got = -1;
  std::memcpy(&got, CMSG_DATA(c), sizeof got);
  BOOST_TEST(got >= 0);
  // The received fd is the pipe's write end: data written to it arrives.
  BOOST_REQUIRE(::write(got, "x", 1) == 1);
  char ch = 0;
  BOOST_TEST(::read(pipefd[0], &ch, 1) == 1);
  BOOST_TEST(ch == 'x');

  ::close(got);
  ::close(conn);
  ::close(srv);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  ::unlink(path.c_str());
  ::rmdir(dir);

  BOOST_CHECK_THROW(core::send_seccomp_listener(path, 0, state), os::SystemError);
}

BOOST_AUTO_TEST_CASE(docker_like_profile_compiles_and_runs) {
  spec::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.default_errno_ret = 1;
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  s.syscalls = {rule({"accept", "access", "arch_prctl",   "brk",        "close",   "dup",          "dup2",
                      "execve", "exit",   "exit_group",   "fstat",      "getpid",  "getppid",      "mmap",
                      "munmap", "read",   "rt_sigreturn", "socketcall", "_llseek", "fadvise64_64", "arm_fadvise64_64",
                      "ipc",    "write"},
                     "SCMP_ACT_ALLOW")};
  auto personality = [](uint64_t v) {
    auto r = rule({"personality"}, "SCMP_ACT_ALLOW");
    r.args = {spec::SeccompArg{0, v, 0, "SCMP_CMP_EQ"}};
    return r;
  };
  s.syscalls.push_back(personality(0));
  s.syscalls.push_back(personality(8));
  s.syscalls.push_back(personality(0xffffffff));
  auto socket = rule({"socket"}, "SCMP_ACT_ALLOW");
  socket.args = {spec::SeccompArg{0, 40, 0, "SCMP_CMP_NE"}};
  s.syscalls.push_back(socket);
  auto clone = rule({"clone"}, "SCMP_ACT_ALLOW");
  clone.args = {spec::SeccompArg{0, 2114060288, 0, "SCMP_CMP_MASKED_EQ"}};
  s.syscalls.push_back(clone);
  std::vector<std::string> skipped;
  auto plan = core::plan_seccomp(s, &skipped);
  int status = run_in_child([&] {
    if (int rc = load_in_child(plan)) return rc;
    errno = 0;
    if (::syscall(SYS_personality, 0xffffffff) < 0) return 1;
    if (::syscall(SYS_personality, 0x20000) != -1 || errno != EPERM) return 2;
    errno = 0;
    if (::syscall(SYS_socket, 40, SOCK_STREAM, 0) != -1 || errno != EPERM) return 3;
    if (::syscall(SYS_getppid) <= 0) return 4;
    errno = 0;
    if (::syscall(SYS_getuid) != -1 || errno != EPERM) return 5;
    return 0;
  });
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
