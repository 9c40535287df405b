#include "stats.hpp"

#include <dirent.h>

#include <limits>
#include <sstream>

#include "cgfs.hpp"

namespace rrun::cgroups {

namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t get(const std::string& dir, const std::string& file) {
  return cgfs::read_u64(dir, file).value_or(0);
}

uint64_t key(const std::map<std::string, uint64_t>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}

const std::string* find_dir(const std::map<std::string, std::string>& dirs, const std::string& controller) {
  auto it = dirs.find(controller);
  return it == dirs.end() || it->second.empty() ? nullptr : &it->second;
}

// v1 blkio files: "MAJ:MIN Op value" lines and a final "Total N" line,
// which runc skips.
std::vector<BlkioEntry> parse_v1_blkio(const std::string& text) {
  std::vector<BlkioEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string device, op, value;
    if (!(ls >> device >> op >> value)) continue;
    size_t colon = device.find(':');
    if (colon == std::string::npos) continue;
    try {
      BlkioEntry e;
      e.major = std::stoull(device.substr(0, colon));
      e.minor = std::stoull(device.substr(colon + 1));
      e.op = op;
      e.value = std::stoull(value);
      out.push_back(e);
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::vector<BlkioEntry> read_v1_blkio(const std::string& dir, const std::vector<const char*>& files) {
  // The CFQ files are empty or gone without CFQ: then the throttle ones
  // (runc fs/blkio.go does the same).
  for (const char* f : files) {
    auto text = cgfs::read(dir, f);
    if (!text) continue;
    auto entries = parse_v1_blkio(*text);
    if (!entries.empty()) return entries;
  }
  return {};
}

// "hugetlb.2MB.limit_in_bytes" -> "2MB" for every file of the form
// PREFIX SIZE SUFFIX in `dir`.
std::vector<std::string> page_sizes(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  const std::string prefix = "hugetlb.";
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string size = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (size.find('.') == std::string::npos) out.push_back(size);
  }
  ::closedir(d);
  return out;
}

void fill_summary(Stats& s, bool cpu, bool memory, bool pids) {
  if (cpu) s.cpu_usage_ns = s.cpu.usage.total;
  if (memory) {
    s.memory_usage = s.memory.usage.usage;
    s.memory_limit = s.memory.usage.limit;
  }
  if (pids) {
    s.pids_current = s.pids.current;
    s.pids_limit = s.pids.limit;
  }
}

}  // namespace

Stats read_v1_stats(const std::map<std::string, std::string>& dirs, long clock_ticks) {
  Stats s;
  bool has_cpu = false, has_memory = false, has_pids = false;
  if (const std::string* d = find_dir(dirs, "cpuacct")) {
    if (auto total = cgfs::read_u64(*d, "cpuacct.usage")) {
      has_cpu = true;
      s.cpu.usage.total = *total;
    }
    if (auto text = cgfs::read(*d, "cpuacct.usage_percpu")) s.cpu.usage.percpu = cgfs::parse_numbers(*text);
    auto stat = cgfs::read_keyed(*d, "cpuacct.stat");
    if (clock_ticks > 0) {
      // USER_HZ ticks -> ns (runc getCpuUsageBreakdown).
      uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(clock_ticks);
      s.cpu.usage.user = key(stat, "user") * ns_per_tick;
      s.cpu.usage.kernel = key(stat, "system") * ns_per_tick;
    }
  }
  if (const std::string* d = find_dir(dirs, "cpu")) {
    auto stat = cgfs::read_keyed(*d, "cpu.stat");
    s.cpu.throttling.periods = key(stat, "nr_periods");
    s.cpu.throttling.throttled_periods = key(stat, "nr_throttled");
    s.cpu.throttling.throttled_time = key(stat, "throttled_time");
  }
  if (const std::string* d = find_dir(dirs, "memory")) {
    auto entry = [&](const std::string& prefix) {
      MemoryEntry e;
      e.usage = get(*d, prefix + "usage_in_bytes");
      e.max = get(*d, prefix + "max_usage_in_bytes");
      e.failcnt = get(*d, prefix + "failcnt");
      e.limit = get(*d, prefix + "limit_in_bytes");
      return e;
    };
    if (cgfs::read_u64(*d, "memory.usage_in_bytes")) has_memory = true;
    s.memory.usage = entry("memory.");
    s.memory.swap = entry("memory.memsw.");
    s.memory.kernel = entry("memory.kmem.");
    s.memory.kernel_tcp = entry("memory.kmem.tcp.");
    s.memory.raw = cgfs::read_keyed(*d, "memory.stat");
    s.memory.cache = key(s.memory.raw, "cache");
    auto oom = cgfs::read_keyed(*d, "memory.oom_control");
    if (oom.count("oom_kill")) s.oom_kills = oom["oom_kill"];
  }
  if (const std::string* d = find_dir(dirs, "pids")) {
    if (auto cur = cgfs::read_u64(*d, "pids.current")) {
      has_pids = true;
      s.pids.current = *cur;
      uint64_t max = get(*d, "pids.max");
      s.pids.limit = max == kMax ? 0 : max;
    }
  }
  if (const std::string* d = find_dir(dirs, "blkio")) {
    s.blkio.io_service_bytes_recursive =
        read_v1_blkio(*d, {"blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive",
                           "blkio.throttle.io_service_bytes"});
    s.blkio.io_serviced_recursive = read_v1_blkio(
        *d, {"blkio.io_serviced_recursive", "blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced"});
  }
  if (const std::string* d = find_dir(dirs, "hugetlb")) {
    for (const auto& size : page_sizes(*d, ".limit_in_bytes")) {
      HugetlbStats h;
      std::string base = "hugetlb." + size + ".";
      h.usage = get(*d, base + "usage_in_bytes");
      h.max = get(*d, base + "max_usage_in_bytes");
      h.failcnt = get(*d, base + "failcnt");
      s.hugetlb[size] = h;
    }
  }
  fill_summary(s, has_cpu, has_memory, has_pids);
  return s;
}

Stats read_v2_stats(const std::string& dir) {
  Stats s;
  bool has_cpu = false, has_memory = false, has_pids = false;
  // cpu.stat exists without the cpu controller (usage only).
  if (auto text = cgfs::read(dir, "cpu.stat")) {
    has_cpu = true;
    auto stat = cgfs::parse_keyed(*text);
    s.cpu.usage.total = key(stat, "usage_usec") * 1000;
    s.cpu.usage.user = key(stat, "user_usec") * 1000;
    s.cpu.usage.kernel = key(stat, "system_usec") * 1000;
    s.cpu.throttling.periods = key(stat, "nr_periods");
    s.cpu.throttling.throttled_periods = key(stat, "nr_throttled");
    s.cpu.throttling.throttled_time = key(stat, "throttled_usec") * 1000;
  }
  if (auto current = cgfs::read_u64(dir, "memory.current")) {
    has_memory = true;
    s.memory.raw = cgfs::read_keyed(dir, "memory.stat");
    s.memory.cache = key(s.memory.raw, "file");
    s.memory.usage.usage = *current;
    s.memory.usage.limit = cgfs::read_u64(dir, "memory.max").value_or(kMax);
    s.memory.usage.max = get(dir, "memory.peak");
    auto events = cgfs::read_keyed(dir, "memory.events");
    s.memory.usage.failcnt = key(events, "max");
    if (events.count("oom_kill")) s.oom_kills = events["oom_kill"];
    if (auto swap = cgfs::read_u64(dir, "memory.swap.current")) {
      // As runc: v1 reported memory+swap, so v2 adds memory to swap.
      s.memory.swap.usage = *swap + *current;
      uint64_t swap_max = cgfs::read_u64(dir, "memory.swap.max").value_or(kMax);
      s.memory.swap.limit = swap_max == kMax || s.memory.usage.limit == kMax ? kMax : swap_max + s.memory.usage.limit;
      s.memory.swap.max = get(dir, "memory.swap.peak");
      s.memory.swap.failcnt = key(cgfs::read_keyed(dir, "memory.swap.events"), "max");
    }
  }
  if (auto cur = cgfs::read_u64(dir, "pids.current")) {
    has_pids = true;
    s.pids.current = *cur;
    uint64_t max = get(dir, "pids.max");
    s.pids.limit = max == kMax ? 0 : max;
  }
  // io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N".
  if (auto text = cgfs::read(dir, "io.stat")) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string device, kv;
      if (!(ls >> device)) continue;
      size_t colon = device.find(':');
      if (colon == std::string::npos) continue;
      uint64_t major = 0, minor = 0;
      try {
        major = std::stoull(device.substr(0, colon));
        minor = std::stoull(device.substr(colon + 1));
      } catch (const std::exception&) {
        continue;
      }
      while (ls >> kv) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos) continue;
        std::string k = kv.substr(0, eq);
        uint64_t v = 0;
        try {
          v = std::stoull(kv.substr(eq + 1));
        } catch (const std::exception&) {
          continue;
        }
        std::vector<BlkioEntry>* list = nullptr;
        std::string op;
        if (k == "rbytes") list = &s.blkio.io_service_bytes_recursive, op = "Read";
        if (k == "wbytes") list = &s.blkio.io_service_bytes_recursive, op = "Write";
        if (k == "dbytes") list = &s.blkio.io_service_bytes_recursive, op = "Discard";
        if (k == "rios") list = &s.blkio.io_serviced_recursive, op = "Read";
        if (k == "wios") list = &s.blkio.io_serviced_recursive, op = "Write";
        if (k == "dios") list = &s.blkio.io_serviced_recursive, op = "Discard";
        if (list) list->push_back({major, minor, op, v});
      }
    }
  }
  for (const auto& size : page_sizes(dir, ".current")) {
    if (size.find("rsvd") != std::string::npos) continue;
    HugetlbStats h;
    h.usage = get(dir, "hugetlb." + size + ".current");
    h.failcnt = key(cgfs::read_keyed(dir, "hugetlb." + size + ".events"), "max");
    s.hugetlb[size] = h;
  }
  fill_summary(s, has_cpu, has_memory, has_pids);
  return s;
}

}  // namespace rrun::cgroups
