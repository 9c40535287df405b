#include "process_setup.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rrun/os/error.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rrun::core {
namespace {

std::string dq(const std::string& s) {
  return "\"" + s + "\"";
}
std::string idx(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

struct Named {
  const char* name;
  int value;
};

constexpr Named kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

// include/uapi/linux/sched.h; SCHED_ISO is reserved and refused by Linux.
constexpr Named kPolicies[] = {
    {"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},       {"SCHED_BATCH", 3},
    {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6},
};

constexpr Named kSchedFlags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},     {"SCHED_FLAG_DL_OVERRUN", 0x04},
    {"SCHED_FLAG_KEEP_POLICY", 0x08},    {"SCHED_FLAG_KEEP_PARAMS", 0x10}, {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

// include/uapi/linux/ioprio.h
constexpr Named kIoClasses[] = {{"IOPRIO_CLASS_RT", 1}, {"IOPRIO_CLASS_BE", 2}, {"IOPRIO_CLASS_IDLE", 3}};
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioWhoProcess = 1;

template <size_t N>
const Named* find(const Named (&table)[N], const std::string& name) {
  for (const auto& n : table)
    if (name == n.name) return &n;
  return nullptr;
}

// struct sched_attr of the kernel, SCHED_ATTR_SIZE_VER1.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};
static_assert(sizeof(SchedAttr) == 56);

SchedPlan plan_scheduler(const spec::Scheduler& s) {
  const std::string base = "process.scheduler";
  SchedPlan p;
  const Named* pol = find(kPolicies, s.policy);
  if (!pol) throw os::Error(base + ".policy: unknown policy " + dq(s.policy));
  p.policy = static_cast<uint32_t>(pol->value);
  bool fifo_rr = s.policy == "SCHED_FIFO" || s.policy == "SCHED_RR";
  bool deadline = s.policy == "SCHED_DEADLINE";
  if (s.nice) {
    if (*s.nice < -20 || *s.nice > 19)
      throw os::Error(base + ".nice: " + std::to_string(*s.nice) + " is out of range (-20 to 19)");
    p.nice = *s.nice;
  }
  if (s.priority) {
    if (*s.priority != 0 && !fifo_rr)
      throw os::Error(base + ".priority: only valid with SCHED_FIFO or SCHED_RR, not " + s.policy);
    if (*s.priority < 0) throw os::Error(base + ".priority: " + std::to_string(*s.priority) + " is negative");
    p.priority = static_cast<uint32_t>(*s.priority);
  }
  if (!deadline && (s.runtime.value_or(0) || s.deadline.value_or(0) || s.period.value_or(0)))
    throw os::Error(base + ": runtime, deadline and period are only valid with SCHED_DEADLINE, not " + s.policy);
  p.runtime = s.runtime.value_or(0);
  p.deadline = s.deadline.value_or(0);
  p.period = s.period.value_or(0);
  for (size_t i = 0; i < s.flags.size(); ++i) {
    const Named* fl = find(kSchedFlags, s.flags[i]);
    if (!fl) throw os::Error(idx(base + ".flags", i) + ": unknown flag " + dq(s.flags[i]));
    p.flags |= static_cast<uint64_t>(fl->value);
  }
  return p;
}

unsigned long plan_personality(const spec::Personality& pers) {
  const std::string base = "linux.personality";
  unsigned long v;
  if (pers.domain == "LINUX")
    v = PER_LINUX;
  else if (pers.domain == "LINUX32")
    v = PER_LINUX32;
  else
    throw os::Error(base + ".domain: unknown domain " + dq(pers.domain) + " (expected \"LINUX\" or \"LINUX32\")");
  // config-linux.md: "Currently no flag values are supported."
  if (!pers.flags.empty()) throw os::Error(idx(base + ".flags", 0) + ": unsupported flag " + dq(pers.flags[0]));
  return v;
}

}  // namespace

int rlimit_resource(const std::string& name) {
  const Named* n = find(kRlimits, name);
  return n ? n->value : -1;
}

cpu_set_t parse_cpu_list(const std::string& list, const std::string& path) {
  cpu_set_t set;
  CPU_ZERO(&set);
  auto bad = [&](const std::string& why) { return os::Error(path + ": invalid cpu list " + dq(list) + ": " + why); };
  auto number = [&](const std::string& s) -> unsigned long {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) throw bad(dq(s) + " is not a number");
    unsigned long v = std::stoul(s.size() > 6 ? "9999999" : s);
    if (v >= CPU_SETSIZE) throw bad("cpu " + s + " is beyond " + std::to_string(CPU_SETSIZE - 1));
    return v;
  };
  std::string s = list;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty()) throw bad("empty");
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t dash = item.find('-');
    unsigned long lo, hi;
    if (dash == std::string::npos) {
      lo = hi = number(item);
    } else {
      lo = number(item.substr(0, dash));
      hi = number(item.substr(dash + 1));
      if (hi < lo) throw bad("range " + dq(item) + " is reversed");
    }
    for (unsigned long c = lo; c <= hi; ++c) CPU_SET(c, &set);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return set;
}

void inherit_container_process(spec::Process& process, const spec::Process& container) {
  if (!process.capabilities) process.capabilities = container.capabilities;
  if (!process.no_new_privileges) process.no_new_privileges = container.no_new_privileges;
  if (process.rlimits.empty()) process.rlimits = container.rlimits;
  if (process.apparmor_profile.empty()) process.apparmor_profile = container.apparmor_profile;
  if (process.selinux_label.empty()) process.selinux_label = container.selinux_label;
  if (!process.oom_score_adj) process.oom_score_adj = container.oom_score_adj;
}

ProcessPlan plan_process(const spec::Process& proc, const std::optional<spec::Personality>& personality) {
  ProcessPlan p;
  for (size_t i = 0; i < proc.rlimits.size(); ++i) {
    const auto& r = proc.rlimits[i];
    std::string path = idx("process.rlimits", i);
    int res = rlimit_resource(r.type);
    if (res < 0) throw os::Error(path + ".type: unknown rlimit " + dq(r.type));
    for (const auto& prev : p.rlimits)
      if (prev.resource == res) throw os::Error(path + ".type: duplicate rlimit " + dq(r.type));
    if (r.soft > r.hard)
      throw os::Error(path + ": soft limit " + std::to_string(r.soft) + " is above the hard limit " +
                      std::to_string(r.hard));
    RlimitPlan rp;
    rp.resource = res;
    rp.limit.rlim_cur = static_cast<rlim_t>(r.soft);
    rp.limit.rlim_max = static_cast<rlim_t>(r.hard);
    p.rlimits.push_back(rp);
  }

  p.uid = proc.user.uid;
  p.gid = proc.user.gid;
  p.additional_gids.assign(proc.user.additional_gids.begin(), proc.user.additional_gids.end());
  if (proc.user.umask) {
    if (*proc.user.umask > 0777)
      throw os::Error("process.user.umask: " + std::to_string(*proc.user.umask) + " is not a mode (0 to 0777)");
    p.umask = static_cast<mode_t>(*proc.user.umask);
  }
  p.no_new_privs = proc.no_new_privileges.value_or(false);
  p.apparmor_profile = proc.apparmor_profile;
  if (proc.oom_score_adj) {
    if (*proc.oom_score_adj < -1000 || *proc.oom_score_adj > 1000)
      throw os::Error("process.oomScoreAdj: " + std::to_string(*proc.oom_score_adj) +
                      " is out of range (-1000 to 1000)");
    p.oom_score_adj = *proc.oom_score_adj;
  }
  if (personality) p.personality = plan_personality(*personality);
  if (proc.scheduler) p.scheduler = plan_scheduler(*proc.scheduler);
  if (proc.io_priority) {
    const auto& io = *proc.io_priority;
    const Named* cls = find(kIoClasses, io.io_class);
    if (!cls) throw os::Error("process.ioPriority.class: unknown class " + dq(io.io_class));
    if (io.priority < 0 || io.priority > 7)
      throw os::Error("process.ioPriority.priority: " + std::to_string(io.priority) + " is out of range (0 to 7)");
    p.ioprio = (cls->value << kIoprioClassShift) | io.priority;
  }
  if (proc.exec_cpu_affinity) {
    const auto& a = *proc.exec_cpu_affinity;
    if (!a.initial.empty()) p.cpu_affinity_initial = parse_cpu_list(a.initial, "process.execCPUAffinity.initial");
    if (!a.final.empty()) p.cpu_affinity_final = parse_cpu_list(a.final, "process.execCPUAffinity.final");
  }
  return p;
}

void set_rlimits_of(pid_t pid, const ProcessPlan& plan) {
  for (size_t i = 0; i < plan.rlimits.size(); ++i) {
    const auto& r = plan.rlimits[i];
    if (::prlimit(pid, static_cast<__rlimit_resource>(r.resource), &r.limit, nullptr) < 0)
      os::throw_errno("set " + idx("process.rlimits", i) + " of the container init (pid " + std::to_string(pid) + ")" +
                      (errno == EPERM ? "; raising a hard limit needs CAP_SYS_RESOURCE" : ""));
  }
}

int apply_rlimits(const ProcessPlan& plan, os::StepFailure& f) noexcept {
  for (size_t i = 0; i < plan.rlimits.size(); ++i) {
    const auto& r = plan.rlimits[i];
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &r.limit) < 0) {
      int err = errno;
      return os::fail_step(f, err, "setrlimit", "set process.rlimits[%zu] (soft %llu, hard %llu)%s", i,
                           static_cast<unsigned long long>(r.limit.rlim_cur),
                           static_cast<unsigned long long>(r.limit.rlim_max),
                           err == EPERM ? "; raising a hard limit above the caller's needs CAP_SYS_RESOURCE in the "
                                          "initial user namespace"
                                        : "");
    }
  }
  return 0;
}

int apply_user(const ProcessPlan& plan, bool setgroups_allowed, os::StepFailure& f) noexcept {
  if (!plan.additional_gids.empty()) {
    if (!setgroups_allowed)
      return os::fail_step(f, EPERM, "setgroups",
                           "set process.user.additionalGids: setgroups is denied in this user namespace (a single-id "
                           "mapping); give the user a subordinate gid range in /etc/subgid, or drop additionalGids");
    if (::setgroups(plan.additional_gids.size(), plan.additional_gids.data()) < 0)
      return os::fail_step(f, errno, "setgroups", "set process.user.additionalGids (%zu groups)%s",
                           plan.additional_gids.size(),
                           errno == EINVAL ? "; is every gid mapped in the user namespace?" : "");
  } else if (setgroups_allowed) {
    if (::setgroups(0, nullptr) < 0) return os::fail_step(f, errno, "setgroups", "clear the supplementary groups");
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return os::fail_step(f, errno, "keepcaps", "set PR_SET_KEEPCAPS");
  if (::setresgid(plan.gid, plan.gid, plan.gid) < 0)
    return os::fail_step(f, errno, "setresgid", "switch to process.user.gid %u%s", static_cast<unsigned>(plan.gid),
                         errno == EINVAL ? "; the gid is not mapped in the container's user namespace" : "");
  if (::setresuid(plan.uid, plan.uid, plan.uid) < 0)
    return os::fail_step(f, errno, "setresuid", "switch to process.user.uid %u%s", static_cast<unsigned>(plan.uid),
                         errno == EINVAL ? "; the uid is not mapped in the container's user namespace" : "");
  // KEEPCAPS only matters at the uid switch above.
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return os::fail_step(f, errno, "keepcaps", "clear PR_SET_KEEPCAPS");
  return 0;
}

int apply_umask(const ProcessPlan& plan, os::StepFailure&) noexcept {
  if (plan.umask) ::umask(*plan.umask);
  return 0;
}

int apply_personality(const ProcessPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.personality) return 0;
  if (::personality(*plan.personality) < 0)
    return os::fail_step(f, errno, "personality", "set linux.personality (0x%lx)", *plan.personality);
  return 0;
}

int apply_oom_score_adj(const ProcessPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.oom_score_adj) return 0;
  // Already set (the init writes it while still dumpable: afterwards the
  // file belongs to the initial namespace's root, which a rootless init is
  // not; reading it stays allowed).
  char cur[16] = {};
  int rfd = ::open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
  if (rfd >= 0) {
    ssize_t r = ::read(rfd, cur, sizeof cur - 1);
    ::close(rfd);
    if (r > 0 && std::atoi(cur) == *plan.oom_score_adj) return 0;
  }
  int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return os::fail_step(f, errno, "oom_score_adj", "open `/proc/self/oom_score_adj`");
  char buf[16];
  int n = std::snprintf(buf, sizeof buf, "%d", *plan.oom_score_adj);
  ssize_t w = ::write(fd, buf, static_cast<size_t>(n));
  int err = errno;
  ::close(fd);
  if (w != n)
    return os::fail_step(
        f, w < 0 ? err : EIO, "oom_score_adj", "set process.oomScoreAdj to %d%s", *plan.oom_score_adj,
        w < 0 && (err == EACCES || err == EPERM) ? "; a value below the current one needs CAP_SYS_RESOURCE" : "");
  return 0;
}

int apply_scheduler(const ProcessPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.scheduler) return 0;
  const SchedPlan& s = *plan.scheduler;
  SchedAttr attr{};
  attr.size = sizeof attr;
  attr.sched_policy = s.policy;
  attr.sched_flags = s.flags;
  attr.sched_nice = s.nice;
  attr.sched_priority = s.priority;
  attr.sched_runtime = s.runtime;
  attr.sched_deadline = s.deadline;
  attr.sched_period = s.period;
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
    return os::fail_step(f, errno, "sched_setattr", "set process.scheduler (policy %u)%s", s.policy,
                         errno == EPERM ? "; real-time and deadline policies need CAP_SYS_NICE in the initial user "
                                          "namespace"
                                        : "");
  return 0;
}

int apply_io_priority(const ProcessPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.ioprio) return 0;
  if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, *plan.ioprio) < 0)
    return os::fail_step(f, errno, "ioprio_set", "set process.ioPriority (class %d, level %d)%s",
                         *plan.ioprio >> kIoprioClassShift, *plan.ioprio & 7,
                         errno == EPERM ? "; the real-time class needs CAP_SYS_ADMIN" : "");
  return 0;
}

int apply_misc(const ProcessPlan& plan, os::StepFailure& f) noexcept {
  if (apply_umask(plan, f) < 0) return -1;
  if (apply_personality(plan, f) < 0) return -1;
  if (apply_oom_score_adj(plan, f) < 0) return -1;
  if (apply_scheduler(plan, f) < 0) return -1;
  if (apply_io_priority(plan, f) < 0) return -1;
  return 0;
}

int apply_no_new_privs(const ProcessPlan& plan, os::StepFailure& f) noexcept {
  if (!plan.no_new_privs) return 0;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return os::fail_step(f, errno, "no_new_privs", "set process.noNewPrivileges");
  return 0;
}

int apply_exec_cpu_affinity(const ProcessPlan& plan, bool final, os::StepFailure& f) noexcept {
  const auto& set = final ? plan.cpu_affinity_final : plan.cpu_affinity_initial;
  if (!set) return 0;
  if (::sched_setaffinity(0, sizeof(cpu_set_t), &*set) < 0)
    return os::fail_step(f, errno, "sched_setaffinity", "set process.execCPUAffinity.%s%s", final ? "final" : "initial",
                         errno == EINVAL ? "; none of the cpus is available (check cpuset.cpus)" : "");
  return 0;
}

}  // namespace rrun::core
