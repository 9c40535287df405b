#include "seccomp.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <rrun/os/cmsg.hpp>
#include <rrun/os/error.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

namespace rrun::core {
namespace {

std::string dq(const std::string& s) {
  return "\"" + s + "\"";
}

struct CtxDeleter {
  void operator()(void* ctx) const noexcept { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

constexpr uint32_t kMaxErrno = 0xffff;

// The tables below are what linux.seccomp accepts; `rrun features` lists
// them (seccomp_known_*), so they are the one place to add a name.
struct ActionName {
  const char* name;
  uint32_t action;  // for ERRNO and TRACE without the errnoRet, which is or-ed in
  bool takes_errno;
};

constexpr ActionName kActions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
};

struct OperatorName {
  const char* name;
  scmp_compare op;
};

constexpr OperatorName kOperators[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE},
};

struct FlagName {
  const char* name;
  unsigned flag;
};

constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

// Architecture names libseccomp may know (its SCMP_ARCH_* constants);
// parse_arch accepts those seccomp_arch_resolve_name() resolves.
constexpr const char* kArchCandidates[] = {
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",       "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",     "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",  "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",      "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64",  "SCMP_ARCH_PPC",         "SCMP_ARCH_PPC64",    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390",      "SCMP_ARCH_S390X",       "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",     "SCMP_ARCH_X86",       "SCMP_ARCH_X86_64",
};

// Maps an action name and its errnoRet to a libseccomp action. `path` is
// the JSON path of the object ("linux.seccomp.syscalls[3]" or
// "linux.seccomp"), `action_key`/`errno_key` the member names.
uint32_t parse_action(const std::string& name, const std::optional<uint32_t>& errno_ret, const std::string& path,
                      const char* action_key, const char* errno_key) {
  auto ret = [&]() -> uint32_t {
    uint32_t v = errno_ret.value_or(EPERM);
    if (v > kMaxErrno)
      throw os::Error(path + "." + errno_key + ": " + std::to_string(v) + " is out of range (0-65535)");
    return v;
  };
  if (name.empty()) throw os::Error(path + "." + action_key + ": required");
  const ActionName* known = nullptr;
  for (const auto& a : kActions)
    if (name == a.name) known = &a;
  if (!known) throw os::Error(path + "." + action_key + ": unknown action " + dq(name));
  uint32_t action = known->takes_errno ? (known->action | ret()) : known->action;
  if (errno_ret && !known->takes_errno)
    throw os::Error(path + "." + errno_key + ": only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not " + name);
  return action;
}

scmp_compare parse_op(const std::string& op, const std::string& path) {
  for (const auto& o : kOperators)
    if (op == o.name) return o.op;
  throw os::Error(path + ".op: unknown operator " + dq(op));
}

uint32_t parse_arch(const std::string& name, const std::string& path) {
  static const std::string prefix = "SCMP_ARCH_";
  uint32_t arch = 0;
  if (name.compare(0, prefix.size(), prefix) == 0 && name.size() > prefix.size()) {
    std::string lower = name.substr(prefix.size());
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    arch = seccomp_arch_resolve_name(lower.c_str());
  }
  if (arch == 0) throw os::Error(path + ": unknown architecture " + dq(name));
  return arch;
}

unsigned parse_flag(const std::string& name, const std::string& path) {
  for (const auto& f : kFlags)
    if (name == f.name) return f.flag;
  throw os::Error(path + ": unknown flag " + dq(name));
}

bool uses_notify(const spec::Seccomp& s) {
  for (const auto& sc : s.syscalls)
    if (sc.action == "SCMP_ACT_NOTIFY") return true;
  return false;
}

// Adds the rules of one syscalls[] entry for one syscall number. As runc:
// conditions on distinct arguments form one rule (AND); when an argument
// is compared more than once, each condition is its own rule (OR), since
// libseccomp refuses two comparisons of one argument in a rule.
void add_rules(scmp_filter_ctx ctx, uint32_t action, int nr, const std::vector<scmp_arg_cmp>& conds,
               const std::string& path, const std::string& name) {
  auto add = [&](const scmp_arg_cmp* c, unsigned n) {
    int rc = seccomp_rule_add_array(ctx, action, nr, n, c);
    if (rc < 0) throw os::SystemError(-rc, path + ": add the rule for syscall " + os::quote(name));
  };
  bool repeated = false;
  for (size_t a = 0; a < conds.size(); ++a)
    for (size_t b = a + 1; b < conds.size(); ++b)
      if (conds[a].arg == conds[b].arg) repeated = true;
  if (!repeated) {
    add(conds.data(), static_cast<unsigned>(conds.size()));
  } else {
    for (const auto& c : conds) add(&c, 1);
  }
}

}  // namespace

std::vector<std::string> seccomp_known_actions() {
  std::vector<std::string> out;
  for (const auto& a : kActions) out.emplace_back(a.name);
  return out;
}

std::vector<std::string> seccomp_known_operators() {
  std::vector<std::string> out;
  for (const auto& o : kOperators) out.emplace_back(o.name);
  return out;
}

std::vector<std::string> seccomp_known_archs() {
  std::vector<std::string> out;
  for (const char* name : kArchCandidates) {
    try {
      parse_arch(name, "");
      out.emplace_back(name);
    } catch (const os::Error&) {
      // not known to the libseccomp we run with
    }
  }
  return out;
}

std::vector<std::string> seccomp_known_flags() {
  std::vector<std::string> out;
  for (const auto& f : kFlags) out.emplace_back(f.name);
  return out;
}

std::vector<std::string> seccomp_supported_flags() {
  std::vector<std::string> out;
  for (const auto& f : kFlags) {
    // The kernel checks the flags before it reads the program: a known flag
    // with a null program is EFAULT, an unknown one EINVAL (runc's
    // FlagSupported). WAIT_KILLABLE_RECV is only valid with NEW_LISTENER.
    unsigned long flags = f.flag;
    if (flags == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, nullptr) < 0 && errno == EFAULT)
      out.emplace_back(f.name);
  }
  return out;
}

os::UniqueFd compile_seccomp(const spec::Seccomp& s, std::vector<std::string>* skipped_names) {
  const std::string base = "linux.seccomp";
  uint32_t default_action =
      parse_action(s.default_action, s.default_errno_ret, base, "defaultAction", "defaultErrnoRet");
  if (default_action == SCMP_ACT_NOTIFY)
    throw os::Error(base + ".defaultAction: SCMP_ACT_NOTIFY cannot be the default action");

  Ctx ctx(seccomp_init(default_action));
  if (!ctx) throw os::Error(base + ": libseccomp could not create a filter with default action " + s.default_action);

  for (size_t i = 0; i < s.architectures.size(); ++i) {
    std::string path = base + ".architectures[" + std::to_string(i) + "]";
    uint32_t arch = parse_arch(s.architectures[i], path);
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc < 0 && rc != -EEXIST)
      throw os::SystemError(-rc, path + ": add architecture " + os::quote(s.architectures[i]));
  }

  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const auto& sc = s.syscalls[i];
    std::string path = base + ".syscalls[" + std::to_string(i) + "]";
    uint32_t action = parse_action(sc.action, sc.errno_ret, path, "action", "errnoRet");

    std::vector<scmp_arg_cmp> conds;
    for (size_t j = 0; j < sc.args.size(); ++j) {
      const auto& a = sc.args[j];
      std::string apath = path + ".args[" + std::to_string(j) + "]";
      if (a.index > 5) throw os::Error(apath + ".index: " + std::to_string(a.index) + " is out of range (0-5)");
      scmp_arg_cmp c{};
      c.arg = a.index;
      c.op = parse_op(a.op, apath);
      c.datum_a = a.value;
      c.datum_b = a.value_two;
      conds.push_back(c);
    }

    for (size_t j = 0; j < sc.names.size(); ++j) {
      const auto& name = sc.names[j];
      if (action == SCMP_ACT_NOTIFY && (name == "write" || name == "sendmsg"))
        throw os::Error(path + ".names[" + std::to_string(j) + "]: SCMP_ACT_NOTIFY cannot be used for " +
                        os::quote(name) + ": the container init needs it to hand over the listener");
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        if (skipped_names) skipped_names->push_back(name);
        continue;
      }
      if (action == default_action) continue;  // libseccomp refuses it; it changes nothing
      add_rules(ctx.get(), action, nr, conds, path, name);
    }
  }

  os::UniqueFd fd(::memfd_create("rrun-seccomp-bpf", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) os::throw_errno("create a memfd for the seccomp filter");
  int rc = seccomp_export_bpf(ctx.get(), fd.get());
  if (rc < 0) throw os::SystemError(-rc, base + ": export the seccomp filter as BPF");
  if (::lseek(fd.get(), 0, SEEK_SET) < 0) os::throw_errno("seek in the seccomp filter memfd");
  // The child only reads it: seal it so nothing can change the program.
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

SeccompPlan plan_seccomp(const spec::Seccomp& s, std::vector<std::string>* skipped_names) {
  SeccompPlan p;
  for (size_t i = 0; i < s.flags.size(); ++i)
    p.flags |= parse_flag(s.flags[i], "linux.seccomp.flags[" + std::to_string(i) + "]");
  p.notify = uses_notify(s);
  if (p.notify && s.listener_path.empty())
    throw os::Error("linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY");
  if (!p.notify && (p.flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV))
    throw os::Error("linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY");
  p.listener_path = s.listener_path;
  p.listener_metadata = s.listener_metadata;
  p.bpf = compile_seccomp(s, skipped_names);
  return p;
}

int apply_seccomp(const SeccompPlan& p, int* notify_fd_out, os::StepFailure& f) noexcept {
  if (notify_fd_out) *notify_fd_out = -1;
  struct stat st;
  if (::fstat(p.bpf.get(), &st) < 0) return os::fail_step(f, errno, "seccomp", "stat the seccomp filter memfd");
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(struct sock_filter) != 0)
    return os::fail_step(f, EINVAL, "seccomp", "the seccomp filter memfd holds %zu bytes, not a BPF program", size);
  if (size / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return os::fail_step(f, E2BIG, "seccomp", "the seccomp filter has %zu instructions, more than the kernel's %d",
                         size / sizeof(struct sock_filter), BPF_MAXINSNS);
  void* mem = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, p.bpf.get(), 0);
  if (mem == MAP_FAILED) return os::fail_step(f, errno, "seccomp", "map the seccomp filter memfd");

  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(size / sizeof(struct sock_filter));
  prog.filter = static_cast<struct sock_filter*>(mem);
  unsigned long flags = p.flags;
  if (p.notify) {
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // TSYNC and NEW_LISTENER together need TSYNC_ESRCH (seccomp(2)).
    if (flags & SECCOMP_FILTER_FLAG_TSYNC) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  }
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  int err = errno;
  ::munmap(mem, size);  // may itself be filtered now; harmless
  if (rc < 0) {
    if (err == EACCES)
      return os::fail_step(f, err, "seccomp",
                           "load the seccomp filter: needs no_new_privs or CAP_SYS_ADMIN; set "
                           "process.noNewPrivileges or load it before dropping capabilities");
    if (err == EINVAL)
      return os::fail_step(f, err, "seccomp",
                           "load the seccomp filter with flags 0x%lx: the kernel may not support one of "
                           "linux.seccomp.flags",
                           flags);
    return os::fail_step(f, err, "seccomp", "load the seccomp filter (%u instructions)", prog.len);
  }
  if (p.notify && notify_fd_out) *notify_fd_out = static_cast<int>(rc);
  return 0;
}

void send_seccomp_listener(const std::string& listener_path, int notify_fd, const std::string& state_json) {
  const std::string what = "send the seccomp listener fd to " + os::quote(listener_path);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (listener_path.empty() || listener_path.size() >= sizeof addr.sun_path)
    throw os::Error(what + ": the path is empty or longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes");
  std::memcpy(addr.sun_path, listener_path.c_str(), listener_path.size() + 1);

  os::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) os::throw_errno(what + ": socket");
  if (::connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0)
    os::throw_errno(what + ": connect; is the seccomp agent listening?");

  ssize_t n = os::send_with_fd(sock.get(), state_json.data(), state_json.size(), notify_fd);
  if (n < 0) os::throw_errno(what + ": sendmsg");
  // Anything the first sendmsg left (a stream may take a part) follows as
  // plain data; the fd went with the first byte.
  size_t off = static_cast<size_t>(n);
  while (off < state_json.size()) {
    ssize_t m = ::send(sock.get(), state_json.data() + off, state_json.size() - off, MSG_NOSIGNAL);
    if (m < 0 && errno == EINTR) continue;
    if (m < 0) os::throw_errno(what + ": send");
    off += static_cast<size_t>(m);
  }
}

}  // namespace rrun::core
