#include "resources.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include <rrun/os/error.hpp>

namespace rrun::cgroups {

namespace {

constexpr const char* kRes = "linux.resources.";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw os::Error(kRes + path + ": " + what);
}

FileWrite w(const std::string& controller, const std::string& file, const std::string& value) {
  FileWrite out;
  out.controller = controller;
  out.file = file;
  out.value = value;
  return out;
}

std::string num(int64_t v) {
  return std::to_string(v);
}
std::string unum(uint64_t v) {
  return std::to_string(v);
}

// v2 files with a "max" keyword: any negative value means no limit (crun
// `cg_itoa`, runc `numToStr`).
std::string num_or_max(int64_t v) {
  return v < 0 ? "max" : num(v);
}

std::string dev(int64_t major, int64_t minor) {
  return num(major) + ":" + num(minor);
}

// "2MB", "1GB", "64KB": digits then K, M or G then B (the hugetlb file names).
void check_page_size(const std::string& size, size_t index) {
  bool ok = size.size() >= 3 && size.compare(size.size() - 1, 1, "B") == 0;
  if (ok) {
    char unit = size[size.size() - 2];
    ok = unit == 'K' || unit == 'M' || unit == 'G';
    for (size_t i = 0; ok && i + 2 < size.size(); ++i) ok = size[i] >= '0' && size[i] <= '9';
  }
  if (!ok)
    fail("hugepageLimits[" + std::to_string(index) + "].pageSize",
         "expected a size such as `2MB` or `1GB`, got " + os::quote(size));
}

// Memory swap on v2: memory.swap.max holds swap alone, the spec's swap is
// memory+swap. -1 -> max, 0 -> 0 (no swap, as crun writes it), otherwise
// swap - limit, which needs a positive limit no larger than swap (runc
// ConvertMemorySwapToCgroupV2Value; crun write_memory_swap).
std::string v2_swap_value(const spec::MemoryResources& m) {
  int64_t swap = *m.swap;
  if (swap < 0) return "max";
  if (swap == 0) return "0";
  if (!m.limit || *m.limit <= 0)
    fail("memory.swap", "needs a positive memory.limit (swap is the memory+swap total), got " +
                            (m.limit ? "limit " + num(*m.limit) : std::string("no limit")));
  if (swap < *m.limit)
    fail("memory.swap", "must be at least memory.limit (swap " + num(swap) + " < limit " + num(*m.limit) +
                            "; swap is the memory+swap total)");
  return num(swap - *m.limit);
}

void check_blkio_weight(const std::string& path, uint64_t weight) {
  if (weight < 10 || weight > 1000) fail(path, "must be between 10 and 1000, got " + unum(weight));
}

// io.max takes one device per write: "MAJ:MIN rbps=N wbps=N riops=N wiops=N"
// with the keys the spec sets for that device, devices in first-seen order.
// runc and crun write each key on its own line; one line per device is the
// same to the kernel and fewer writes.
void add_io_max(std::vector<FileWrite>& out, const spec::BlockIoResources& b) {
  std::vector<std::pair<std::string, std::string>> lines;  // device, keys
  auto add = [&](const std::vector<spec::ThrottleDevice>& list, const char* key) {
    for (const auto& t : list) {
      std::string d = dev(t.major, t.minor);
      auto it = std::find_if(lines.begin(), lines.end(), [&](const auto& l) { return l.first == d; });
      if (it == lines.end()) {
        lines.emplace_back(d, "");
        it = lines.end() - 1;
      }
      // v1 reads rate 0 as "no limit"; the v2 kernel refuses 0 (ERANGE in
      // blk-throttle tg_set_limit), so 0 becomes "max", the v2 "no limit".
      it->second += std::string(" ") + key + "=" + (t.rate == 0 ? std::string("max") : unum(t.rate));
    }
  };
  add(b.throttle_read_bps_device, "rbps");
  add(b.throttle_write_bps_device, "wbps");
  add(b.throttle_read_iops_device, "riops");
  add(b.throttle_write_iops_device, "wiops");
  for (const auto& [d, keys] : lines) out.push_back(w("io", "io.max", d + keys));
}

void add_rdma(std::vector<FileWrite>& out, const std::map<std::string, spec::RdmaLimit>& rdma) {
  for (const auto& [device, limit] : rdma) {
    std::string line = device;
    if (limit.hca_handles) line += " hca_handle=" + unum(*limit.hca_handles);
    if (limit.hca_objects) line += " hca_object=" + unum(*limit.hca_objects);
    if (line == device) continue;  // nothing to limit
    out.push_back(w("rdma", "rdma.max", line));
  }
}

// Controllers whose files a unified key may name. "cgroup." files are not
// a controller's: only the two limits among them may be set; cgroup.procs,
// cgroup.threads, cgroup.subtree_control, cgroup.type, cgroup.freeze and
// cgroup.kill would move or stop processes or reshape the tree.
const char* const kUnifiedControllers[] = {"cpu", "cpuset", "hugetlb", "io", "memory", "misc", "pids", "rdma"};

void add_unified(std::vector<FileWrite>& out, const std::map<std::string, std::string>& unified) {
  for (const auto& [key, value] : unified) {
    std::string path = "unified[\"" + key + "\"]";
    if (key.find('/') != std::string::npos) fail(path, "the key must be a file name, without `/`");
    if (key.find('\n') != std::string::npos || key.find('\0') != std::string::npos)
      fail(path, "the key must be a file name");
    size_t dot = key.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == key.size())
      fail(path, "the key must have the form CONTROLLER.FILE, such as `memory.high`");
    std::string controller = key.substr(0, dot);
    if (controller == "cgroup") {
      if (key != "cgroup.max.depth" && key != "cgroup.max.descendants")
        fail(path, os::quote(key) +
                       " cannot be set: only `cgroup.max.depth` and `cgroup.max.descendants` among the "
                       "cgroup.* files are limits");
    } else if (std::find(std::begin(kUnifiedControllers), std::end(kUnifiedControllers), controller) ==
               std::end(kUnifiedControllers)) {
      fail(path, "unknown controller " + os::quote(controller) +
                     " (known: cpu, cpuset, hugetlb, io, memory, misc, pids, rdma)");
    }
    // One write per line (crun write_unified_resources); empty lines and an
    // empty value write nothing.
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find('\n', start);
      if (end == std::string::npos) end = value.size();
      if (end > start) out.push_back(w(controller, key, value.substr(start, end - start)));
      start = end + 1;
    }
  }
}

void check_devices(const std::vector<spec::DeviceCgroupRule>& devices) {
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    std::string path = "devices[" + std::to_string(i) + "]";
    if (!d.type.empty() && d.type != "a" && d.type != "c" && d.type != "b")
      fail(path + ".type", "expected `a`, `c` or `b`, got " + os::quote(d.type));
    for (char c : d.access)
      if (c != 'r' && c != 'w' && c != 'm')
        fail(path + ".access", "expected letters of `rwm`, got " + os::quote(d.access));
  }
}

std::string v1_device_line(const std::string& type, const std::optional<int64_t>& major,
                           const std::optional<int64_t>& minor, const std::string& access) {
  if (type.empty() || type == "a") return "a";  // all devices, all access (crun)
  return type + " " + (major ? num(*major) : "*") + ":" + (minor ? num(*minor) : "*") + " " + access;
}

}  // namespace

namespace {

// ln and exp in long double without libm: std::log2 and std::pow were the
// only reason rrun needed libm.so at start. For every shares value the
// result equals ceil(pow(10, ...)) computed with libm (checked exhaustively
// by the unit test): the nearest non-integer is 2e-6 from an integer, far
// above the error of these series.
constexpr long double kLn2 = 0.693147180559945309417232121458176568L;
constexpr long double kLn10 = 2.302585092994045684017646174213668860L;

// ln(m) for m in [1, 2): 2 atanh((m-1)/(m+1)), |t| <= 1/3.
long double ln_mantissa(long double m) {
  long double t = (m - 1) / (m + 1), t2 = t * t, term = t, sum = 0;
  for (int k = 1; k < 60; k += 2) {
    sum += term / k;
    term *= t2;
  }
  return 2 * sum;
}

// e^y for y >= 0: 2^n e^r with 0 <= r < ln 2.
long double exp_nonnegative(long double y) {
  int n = static_cast<int>(y / kLn2);
  long double r = y - n * kLn2, term = 1, sum = 1;
  for (int k = 1; k < 30; ++k) {
    term *= r / k;
    sum += term;
  }
  for (int i = 0; i < n; ++i) sum *= 2;
  return sum;
}

}  // namespace

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  // crun: ceil(10^((l^2 + 125 l) / 612 - 7/34)) with l = log2(shares).
  int e = 63 - __builtin_clzll(shares);
  long double m = static_cast<long double>(shares) / static_cast<long double>(1ull << e);
  long double l = e + ln_mantissa(m) / kLn2;
  long double y = ((l * l + 125 * l) / 612.0L - 7.0L / 34.0L) * kLn10;
  long double v = y >= 0 ? exp_nonnegative(y) : 1 / exp_nonnegative(-y);
  auto t = static_cast<uint64_t>(v);
  return v > static_cast<long double>(t) ? t + 1 : t;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  if (weight == 0) return 0;
  return 1 + (weight - 10) * 9999 / 990;
}

std::vector<FileWrite> v2_resource_writes(const spec::Resources& r) {
  std::vector<FileWrite> out;

  if (r.memory) {
    const auto& m = *r.memory;
    if (m.limit) out.push_back(w("memory", "memory.max", num_or_max(*m.limit)));
    if (m.swap) {
      FileWrite s = w("memory", "memory.swap.max", v2_swap_value(m));
      s.skip_if_missing = true;  // swap accounting off: nothing to limit (crun)
      out.push_back(s);
    }
    if (m.reservation) out.push_back(w("memory", "memory.low", num_or_max(*m.reservation)));
    // kernel (kmem) is deprecated and gone from v2 and from kernels >= 6.1:
    // ignored everywhere, as runc does.
    if (m.kernel_tcp) fail("memory.kernelTCP", "not supported on cgroup v2");
    if (m.swappiness) fail("memory.swappiness", "not supported on cgroup v2");
    if (m.disable_oom_killer.value_or(false))
      fail("memory.disableOOMKiller", "not supported on cgroup v2 (use memory.oom.group or leave it unset)");
    // v2 is always hierarchical: true is what it does anyway.
    if (m.use_hierarchy && !*m.use_hierarchy)
      fail("memory.useHierarchy", "cannot be false on cgroup v2 (it is always hierarchical)");
    // checkBeforeUpdate is a check the driver makes (memory.current), not a write.
  }

  // runtime-spec 1.3 / runc >= 1.4: present 0 is a real limit, negative is max.
  if (r.pids && r.pids->limit) out.push_back(w("pids", "pids.max", num_or_max(*r.pids->limit)));

  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares && *c.shares != 0) out.push_back(w("cpu", "cpu.weight", unum(cpu_shares_to_weight(*c.shares))));
    // cpu.max "QUOTA PERIOD": quota -1 is max, period defaults to 100000
    // (crun); quota 0 and period 0 mean unset (runc, crun).
    bool quota = c.quota && *c.quota != 0;
    bool period = c.period && *c.period != 0;
    if (quota || period) {
      std::string q = quota && *c.quota > 0 ? num(*c.quota) : "max";
      out.push_back(w("cpu", "cpu.max", q + " " + unum(period ? *c.period : 100000)));
    }
    if (c.burst) out.push_back(w("cpu", "cpu.max.burst", unum(*c.burst)));
    if (c.idle) out.push_back(w("cpu", "cpu.idle", num(*c.idle)));
    if (c.realtime_runtime && *c.realtime_runtime != 0) fail("cpu.realtimeRuntime", "not supported on cgroup v2");
    if (c.realtime_period && *c.realtime_period != 0) fail("cpu.realtimePeriod", "not supported on cgroup v2");
    if (!c.cpus.empty()) out.push_back(w("cpuset", "cpuset.cpus", c.cpus));
    if (!c.mems.empty()) out.push_back(w("cpuset", "cpuset.mems", c.mems));
  }

  if (r.block_io) {
    const auto& b = *r.block_io;
    if (b.weight && *b.weight != 0) {
      check_blkio_weight("blockIO.weight", *b.weight);
      // BFQ's weight takes the v1 range as is; without BFQ, io.weight with the
      // linear conversion (runc fs2 setIo, crun write_blkio_resources).
      FileWrite bw = w("io", "io.bfq.weight", unum(*b.weight));
      bw.fallback_file = "io.weight";
      bw.fallback_value = unum(blkio_weight_to_io_weight(*b.weight));
      out.push_back(bw);
    }
    if (b.leaf_weight && *b.leaf_weight != 0) fail("blockIO.leafWeight", "not supported on cgroup v2");
    // Per-device weights go to io.bfq.weight "MAJ:MIN W" (runc, crun); the
    // per-device leafWeight has no v2 counterpart and is ignored (crun).
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
      const auto& d = b.weight_device[i];
      if (!d.weight) continue;
      check_blkio_weight("blockIO.weightDevice[" + std::to_string(i) + "].weight", *d.weight);
      out.push_back(w("io", "io.bfq.weight", dev(d.major, d.minor) + " " + unum(*d.weight)));
    }
    add_io_max(out, b);
  }

  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const auto& h = r.hugepage_limits[i];
    check_page_size(h.page_size, i);
    out.push_back(w("hugetlb", "hugetlb." + h.page_size + ".max", unum(h.limit)));
  }

  add_rdma(out, r.rdma);

  if (r.network && (r.network->class_id || !r.network->priorities.empty()))
    fail("network", "not supported on cgroup v2 (net_cls and net_prio are v1 controllers)");

  check_devices(r.devices);
  add_unified(out, r.unified);
  return out;
}

std::vector<FileWrite> v1_resource_writes(const spec::Resources& r) {
  std::vector<FileWrite> out;

  if (!r.unified.empty()) fail("unified", "not supported on cgroup v1 (it names cgroup v2 files)");

  if (r.memory) {
    const auto& m = *r.memory;
    if (m.limit && m.swap && *m.limit > 0 && *m.swap > 0 && *m.swap < *m.limit)
      fail("memory.swap", "must be at least memory.limit (swap " + num(*m.swap) + " < limit " + num(*m.limit) +
                              "; swap is the memory+swap total)");
    if (m.limit) out.push_back(w("memory", "memory.limit_in_bytes", num(*m.limit)));
    if (m.swap) {
      FileWrite s = w("memory", "memory.memsw.limit_in_bytes", num(*m.swap));
      s.skip_if_missing = true;  // swapaccount=0 (crun)
      out.push_back(s);
    }
    if (m.reservation) out.push_back(w("memory", "memory.soft_limit_in_bytes", num(*m.reservation)));
    // kernel: ignored (see v2); memory.kmem.limit_in_bytes is gone from 6.1.
    if (m.kernel_tcp) out.push_back(w("memory", "memory.kmem.tcp.limit_in_bytes", num(*m.kernel_tcp)));
    if (m.use_hierarchy) out.push_back(w("memory", "memory.use_hierarchy", *m.use_hierarchy ? "1" : "0"));
    if (m.swappiness) {
      if (*m.swappiness > 100) fail("memory.swappiness", "must be between 0 and 100, got " + unum(*m.swappiness));
      out.push_back(w("memory", "memory.swappiness", unum(*m.swappiness)));
    }
    if (m.disable_oom_killer.value_or(false)) out.push_back(w("memory", "memory.oom_control", "1"));
  }

  if (r.pids && r.pids->limit) out.push_back(w("pids", "pids.max", num_or_max(*r.pids->limit)));

  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares && *c.shares != 0) out.push_back(w("cpu", "cpu.shares", unum(*c.shares)));
    if (c.period && *c.period != 0) out.push_back(w("cpu", "cpu.cfs_period_us", unum(*c.period)));
    if (c.quota && *c.quota != 0) out.push_back(w("cpu", "cpu.cfs_quota_us", num(*c.quota)));
    if (c.burst) out.push_back(w("cpu", "cpu.cfs_burst_us", unum(*c.burst)));
    // The period first: the runtime is checked against it (runc, crun).
    if (c.realtime_period && *c.realtime_period != 0)
      out.push_back(w("cpu", "cpu.rt_period_us", unum(*c.realtime_period)));
    if (c.realtime_runtime && *c.realtime_runtime != 0)
      out.push_back(w("cpu", "cpu.rt_runtime_us", num(*c.realtime_runtime)));
    if (c.idle) out.push_back(w("cpu", "cpu.idle", num(*c.idle)));
    if (!c.cpus.empty()) out.push_back(w("cpuset", "cpuset.cpus", c.cpus));
    if (!c.mems.empty()) out.push_back(w("cpuset", "cpuset.mems", c.mems));
  }

  if (r.block_io) {
    const auto& b = *r.block_io;
    if (b.weight && *b.weight != 0) {
      check_blkio_weight("blockIO.weight", *b.weight);
      FileWrite bw = w("blkio", "blkio.weight", unum(*b.weight));
      bw.fallback_file = "blkio.bfq.weight";  // kernels with BFQ and no CFQ (crun)
      bw.fallback_value = bw.value;
      out.push_back(bw);
    }
    if (b.leaf_weight && *b.leaf_weight != 0) {
      check_blkio_weight("blockIO.leafWeight", *b.leaf_weight);
      out.push_back(w("blkio", "blkio.leaf_weight", unum(*b.leaf_weight)));
    }
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
      const auto& d = b.weight_device[i];
      std::string base = "blockIO.weightDevice[" + std::to_string(i) + "]";
      if (d.weight) {
        check_blkio_weight(base + ".weight", *d.weight);
        FileWrite dw = w("blkio", "blkio.weight_device", dev(d.major, d.minor) + " " + unum(*d.weight));
        dw.fallback_file = "blkio.bfq.weight_device";
        dw.fallback_value = dw.value;
        out.push_back(dw);
      }
      if (d.leaf_weight) {
        check_blkio_weight(base + ".leafWeight", *d.leaf_weight);
        FileWrite lw = w("blkio", "blkio.leaf_weight_device", dev(d.major, d.minor) + " " + unum(*d.leaf_weight));
        lw.skip_if_missing = true;  // gone with CFQ (crun ignores it then)
        out.push_back(lw);
      }
    }
    auto throttle = [&](const std::vector<spec::ThrottleDevice>& list, const char* file) {
      for (const auto& t : list) out.push_back(w("blkio", file, dev(t.major, t.minor) + " " + unum(t.rate)));
    };
    throttle(b.throttle_read_bps_device, "blkio.throttle.read_bps_device");
    throttle(b.throttle_write_bps_device, "blkio.throttle.write_bps_device");
    throttle(b.throttle_read_iops_device, "blkio.throttle.read_iops_device");
    throttle(b.throttle_write_iops_device, "blkio.throttle.write_iops_device");
  }

  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const auto& h = r.hugepage_limits[i];
    check_page_size(h.page_size, i);
    out.push_back(w("hugetlb", "hugetlb." + h.page_size + ".limit_in_bytes", unum(h.limit)));
  }

  if (r.network) {
    if (r.network->class_id) out.push_back(w("net_cls", "net_cls.classid", unum(*r.network->class_id)));
    for (const auto& p : r.network->priorities)
      out.push_back(w("net_prio", "net_prio.ifpriomap", p.name + " " + unum(p.priority)));
  }

  add_rdma(out, r.rdma);

  // devices.allow / devices.deny, one rule per write, then the default
  // allow list crun (and runc's specconv) always add: /dev/null, zero, full,
  // random, urandom, tty, console, ptmx, pts, tun and mknod of anything.
  check_devices(r.devices);
  if (!r.devices.empty()) {
    for (const auto& d : r.devices)
      out.push_back(
          w("devices", d.allow ? "devices.allow" : "devices.deny", v1_device_line(d.type, d.major, d.minor, d.access)));
    for (const auto& d : default_device_rules())
      out.push_back(w("devices", "devices.allow", v1_device_line(d.type, d.major, d.minor, d.access)));
  }
  return out;
}

std::vector<spec::DeviceCgroupRule> default_device_rules() {
  struct Default {
    const char* type;
    int64_t major, minor;  // -1: any
    const char* access;
  };
  static const Default defaults[] = {{"c", -1, -1, "m"},    {"b", -1, -1, "m"}, {"c", 1, 3, "rwm"},
                                     {"c", 1, 8, "rwm"},    {"c", 1, 7, "rwm"}, {"c", 5, 0, "rwm"},
                                     {"c", 1, 5, "rwm"},    {"c", 1, 9, "rwm"}, {"c", 5, 1, "rwm"},
                                     {"c", 136, -1, "rwm"}, {"c", 5, 2, "rwm"}, {"c", 10, 200, "rwm"}};
  std::vector<spec::DeviceCgroupRule> out;
  for (const auto& d : defaults) {
    spec::DeviceCgroupRule rule;
    rule.allow = true;
    rule.type = d.type;
    if (d.major >= 0) rule.major = d.major;
    if (d.minor >= 0) rule.minor = d.minor;
    rule.access = d.access;
    out.push_back(rule);
  }
  return out;
}

std::vector<FileWrite> v1_resource_writes(const spec::Resources& r, const std::string& controller) {
  std::vector<FileWrite> all = v1_resource_writes(r);
  std::vector<FileWrite> out;
  for (auto& f : all)
    if (f.controller == controller) out.push_back(std::move(f));
  return out;
}

std::vector<std::string> controllers_of(const std::vector<FileWrite>& writes) {
  std::vector<std::string> out;
  for (const auto& f : writes)
    if (std::find(out.begin(), out.end(), f.controller) == out.end()) out.push_back(f.controller);
  return out;
}

std::vector<std::string> requested_limits(const spec::Resources& r) {
  std::vector<std::string> out;
  auto add = [&](bool set, const std::string& name) {
    if (set) out.push_back(kRes + name);
  };
  if (r.memory) {
    const auto& m = *r.memory;
    add(m.limit.has_value(), "memory.limit");
    add(m.reservation.has_value(), "memory.reservation");
    add(m.swap.has_value(), "memory.swap");
    add(m.kernel_tcp.has_value(), "memory.kernelTCP");
    add(m.swappiness.has_value(), "memory.swappiness");
    add(m.disable_oom_killer.value_or(false), "memory.disableOOMKiller");
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    add(c.shares && *c.shares != 0, "cpu.shares");
    add(c.quota && *c.quota != 0, "cpu.quota");
    add(c.period && *c.period != 0, "cpu.period");
    add(c.burst.has_value(), "cpu.burst");
    add(c.realtime_runtime && *c.realtime_runtime != 0, "cpu.realtimeRuntime");
    add(c.realtime_period && *c.realtime_period != 0, "cpu.realtimePeriod");
    add(!c.cpus.empty(), "cpu.cpus");
    add(!c.mems.empty(), "cpu.mems");
    add(c.idle.has_value(), "cpu.idle");
  }
  add(r.pids && r.pids->limit, "pids.limit");
  if (r.block_io) {
    const auto& b = *r.block_io;
    add(b.weight && *b.weight != 0, "blockIO.weight");
    add(b.leaf_weight && *b.leaf_weight != 0, "blockIO.leafWeight");
    add(!b.weight_device.empty(), "blockIO.weightDevice");
    add(!b.throttle_read_bps_device.empty(), "blockIO.throttleReadBpsDevice");
    add(!b.throttle_write_bps_device.empty(), "blockIO.throttleWriteBpsDevice");
    add(!b.throttle_read_iops_device.empty(), "blockIO.throttleReadIOPSDevice");
    add(!b.throttle_write_iops_device.empty(), "blockIO.throttleWriteIOPSDevice");
  }
  add(!r.hugepage_limits.empty(), "hugepageLimits");
  if (r.network) {
    add(r.network->class_id.has_value(), "network.classID");
    add(!r.network->priorities.empty(), "network.priorities");
  }
  add(!r.rdma.empty(), "rdma");
  add(!r.unified.empty(), "unified");
  return out;
}

}  // namespace rrun::cgroups
