#include "caps.hpp"

#include <linux/capability.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace rrun::core {
namespace {

bool has_cap_prefix(const std::string& name) {
  return name.size() > 4 && strncasecmp(name.c_str(), "CAP_", 4) == 0;
}

uint64_t read_set(const std::vector<std::string>& names, const char* set, unsigned last_cap,
                  std::vector<std::string>* warnings) {
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& name = names[i];
    if (!has_cap_prefix(name))
      throw os::Error(std::string("process.capabilities.") + set + "[" + std::to_string(i) + "]: " + "\"" + name +
                      "\" is not a capability name such as \"CAP_CHOWN\"");
    cap_value_t cap = 0;
    if (cap_from_name(name.c_str(), &cap) < 0 || cap < 0 || cap > 63) {
      if (warnings) warnings->push_back("unknown capability " + os::quote(name) + " ignored");
      continue;
    }
    if (static_cast<unsigned>(cap) > last_cap) {
      if (warnings)
        warnings->push_back("capability " + os::quote(name) + " is not supported by the running kernel, ignored");
      continue;
    }
    mask |= uint64_t{1} << cap;
  }
  return mask;
}

struct CapData {
  __user_cap_header_struct header{};
  __user_cap_data_struct data[2] = {};
};

int cap_get(CapData& d) noexcept {
  d.header.version = _LINUX_CAPABILITY_VERSION_3;
  d.header.pid = 0;
  return static_cast<int>(::syscall(SYS_capget, &d.header, d.data));
}

int cap_set(uint64_t eff, uint64_t perm, uint64_t inh) noexcept {
  CapData d;
  d.header.version = _LINUX_CAPABILITY_VERSION_3;
  d.header.pid = 0;
  d.data[0].effective = static_cast<uint32_t>(eff);
  d.data[1].effective = static_cast<uint32_t>(eff >> 32);
  d.data[0].permitted = static_cast<uint32_t>(perm);
  d.data[1].permitted = static_cast<uint32_t>(perm >> 32);
  d.data[0].inheritable = static_cast<uint32_t>(inh);
  d.data[1].inheritable = static_cast<uint32_t>(inh >> 32);
  return static_cast<int>(::syscall(SYS_capset, &d.header, d.data));
}

}  // namespace

unsigned read_last_cap() {
  // Not an ifstream: the first stream initializes libstdc++'s locales.
  std::optional<std::string> text;
  try {
    text = os::read_file_if_exists("/proc/sys/kernel/cap_last_cap");
  } catch (const os::SystemError&) {
  }
  unsigned v = 0;
  size_t at = 0;
  if (text && os::read_uint(*text, at, v) && v < 64) return v;
  return CAP_LAST_CAP;
}

CapsPlan plan_capabilities(const std::optional<spec::Capabilities>& caps, unsigned last_cap,
                           std::vector<std::string>* warnings) {
  CapsPlan p;
  p.last_cap = last_cap > 63 ? 63 : last_cap;
  if (!caps) return p;  // runc: absent means none (finalizeNamespace)
  p.bounding = read_set(caps->bounding, "bounding", p.last_cap, warnings);
  p.effective = read_set(caps->effective, "effective", p.last_cap, warnings);
  p.inheritable = read_set(caps->inheritable, "inheritable", p.last_cap, warnings);
  p.permitted = read_set(caps->permitted, "permitted", p.last_cap, warnings);
  uint64_t ambient = read_set(caps->ambient, "ambient", p.last_cap, warnings);
  uint64_t raisable = p.permitted & p.inheritable;
  if ((ambient & ~raisable) && warnings) {
    for (unsigned c = 0; c <= p.last_cap; ++c) {
      if (!((ambient & ~raisable) >> c & 1)) continue;
      char* n = cap_to_name(static_cast<cap_value_t>(c));
      std::string name = n ? n : std::to_string(c);
      if (n) cap_free(n);
      for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      warnings->push_back("ambient capability " + os::quote(name) +
                          " ignored: it is not in both the permitted and inheritable sets");
    }
  }
  p.ambient = ambient & raisable;
  return p;
}

int apply_capabilities(const CapsPlan& p, os::StepFailure& f) noexcept {
  // After setresuid away from 0 with PR_SET_KEEPCAPS the effective set is
  // empty; take it back from the permitted set so CAP_SETPCAP works.
  CapData cur;
  if (cap_get(cur) < 0) return os::fail_step(f, errno, "capget", "read the capabilities of the container init");
  uint64_t cur_perm = cur.data[0].permitted | (uint64_t{cur.data[1].permitted} << 32);
  uint64_t cur_inh = cur.data[0].inheritable | (uint64_t{cur.data[1].inheritable} << 32);
  if (cap_set(cur_perm, cur_perm, cur_inh) < 0)
    return os::fail_step(f, errno, "capset", "raise the effective capabilities from the permitted set");

  for (unsigned c = 0; c <= p.last_cap; ++c) {
    if (p.bounding >> c & 1) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return os::fail_step(f, errno, "capbset_drop",
                           "drop capability %u from the bounding set (needs CAP_SETPCAP in the permitted set)", c);
  }

  if (cap_set(p.effective, p.permitted, p.inheritable) < 0)
    return os::fail_step(f, errno, "capset",
                         "set the capabilities (effective 0x%llx, permitted 0x%llx, inheritable 0x%llx); "
                         "effective must be in permitted, and new permitted/inheritable in the bounding set",
                         static_cast<unsigned long long>(p.effective), static_cast<unsigned long long>(p.permitted),
                         static_cast<unsigned long long>(p.inheritable));

  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && !(errno == EINVAL && p.ambient == 0))
    return os::fail_step(f, errno, "cap_ambient", "clear the ambient capability set");
  for (unsigned c = 0; c <= p.last_cap; ++c) {
    if (!(p.ambient >> c & 1)) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      return os::fail_step(f, errno, "cap_ambient", "raise capability %u in the ambient set", c);
  }
  return 0;
}

}  // namespace rrun::core
