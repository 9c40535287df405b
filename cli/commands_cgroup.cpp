// The cgroup verbs: pause, resume, ps, update, events. Output formats are
// runc's (ps --format json: a JSON array of pids; events: one JSON object
// per line).

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <rrun/core/container.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

#include "commands.hpp"

extern char** environ;

namespace rrun::cli {

namespace {

core::Context context(const Invocation& inv) {
  return command_context(inv, false);
}

// Runs `argv` and returns its stdout; throws when it cannot start or fails.
std::string capture(const std::vector<std::string>& argv) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) os::throw_errno("create a pipe");
  os::UniqueFd rd(p[0]), wr(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int err = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err) throw os::SystemError(err, "run " + os::quote(argv[0]));
  wr.reset();
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw os::Error(os::quote(argv[0]) + " failed");
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// A size for update: bytes, or with a k/m/g/t suffix (binary, runc's
// RAMInBytes), or -1 for unlimited.
int64_t parse_size(const std::string& flag, const std::string& v) {
  if (v == "-1") return -1;
  size_t i = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  std::string unit = v.substr(i);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int64_t mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    mult = int64_t(1) << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    mult = int64_t(1) << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    mult = int64_t(1) << 30;
  else if (unit == "t" || unit == "tb" || unit == "tib")
    mult = int64_t(1) << 40;
  else
    i = 0;
  if (i == 0)
    throw os::Error("update: invalid value " + os::quote(v) + " for --" + flag +
                    ": expected bytes, a size such as 512M or 2G, or -1");
  errno = 0;
  long long n = std::strtoll(v.substr(0, i).c_str(), nullptr, 10);
  if (errno == ERANGE || n > INT64_MAX / mult)
    throw os::Error("update: --" + flag + " " + os::quote(v) + ": too large");
  return n * mult;
}

int64_t parse_number(const Invocation& inv, const std::string& flag, bool allow_negative) {
  std::string v = inv.get(flag);
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno == ERANGE || (!allow_negative && n < 0))
    throw os::Error("update: invalid value " + os::quote(v) + " for --" + flag + ": expected a number");
  return n;
}

spec::Resources resources_from_flags(const Invocation& inv) {
  spec::Resources r;
  if (inv.has("resources")) {
    std::string file = inv.get("resources");
    std::string text;
    try {
      if (file == "-") {
        text = os::read_input_stream(STDIN_FILENO, "standard input");
      } else {
        std::optional<std::string> got = os::read_input_file_if_exists(file);
        if (!got) throw os::SystemError(ENOENT, "open " + os::quote(file));
        text = std::move(*got);
      }
    } catch (...) {
      os::rethrow_with_context("update --resources");
    }
    try {
      r = spec::parse_resources(text);
    } catch (const os::Error& e) {
      throw os::Error("update --resources " + os::quote(file) + ": " + e.what());
    }
  }
  auto mem = [&]() -> spec::MemoryResources& {
    if (!r.memory) r.memory.emplace();
    return *r.memory;
  };
  auto cpu = [&]() -> spec::CpuResources& {
    if (!r.cpu) r.cpu.emplace();
    return *r.cpu;
  };
  if (inv.has("memory")) mem().limit = parse_size("memory", inv.get("memory"));
  if (inv.has("memory-reservation"))
    mem().reservation = parse_size("memory-reservation", inv.get("memory-reservation"));
  if (inv.has("memory-swap")) mem().swap = parse_size("memory-swap", inv.get("memory-swap"));
  if (inv.has("kernel-memory") || inv.has("kernel-memory-tcp"))
    throw os::Error(
        "update: --kernel-memory and --kernel-memory-tcp are not supported (kernel memory limits are "
        "deprecated and gone from cgroup v2)");
  if (inv.has("l3-cache-schema") || inv.has("mem-bw-schema"))
    throw os::Error("update: Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported by rrun");
  for (const char* f : {"cpu-share", "cpu-shares"})
    if (inv.has(f)) cpu().shares = static_cast<uint64_t>(parse_number(inv, f, false));
  if (inv.has("cpu-quota")) cpu().quota = parse_number(inv, "cpu-quota", true);
  if (inv.has("cpu-period")) cpu().period = static_cast<uint64_t>(parse_number(inv, "cpu-period", false));
  if (inv.has("cpu-burst")) cpu().burst = static_cast<uint64_t>(parse_number(inv, "cpu-burst", false));
  if (inv.has("cpu-rt-runtime")) cpu().realtime_runtime = parse_number(inv, "cpu-rt-runtime", true);
  if (inv.has("cpu-rt-period"))
    cpu().realtime_period = static_cast<uint64_t>(parse_number(inv, "cpu-rt-period", false));
  if (inv.has("cpuset-cpus")) cpu().cpus = inv.get("cpuset-cpus");
  if (inv.has("cpuset-mems")) cpu().mems = inv.get("cpuset-mems");
  if (inv.has("cpu-idle")) cpu().idle = parse_number(inv, "cpu-idle", false);
  if (inv.has("pids-limit")) {
    r.pids.emplace();
    r.pids->limit = parse_number(inv, "pids-limit", true);
  }
  if (inv.has("blkio-weight")) {
    int64_t w = parse_number(inv, "blkio-weight", false);
    if (w < 10 || w > 1000) throw os::Error("update: --blkio-weight " + inv.get("blkio-weight") + ": must be 10..1000");
    if (!r.block_io) r.block_io.emplace();
    r.block_io->weight = static_cast<uint16_t>(w);
  }
  return r;
}

// runc's `events` data object (types/events.go): fields runc marks
// omitempty are left out when 0 or empty.
nlohmann::ordered_json stats_json(const cgroups::Stats& st) {
  using json = nlohmann::ordered_json;
  auto put = [](json& j, const char* key, uint64_t v) {
    if (v) j[key] = v;
  };
  json usage = json::object();
  put(usage, "total", st.cpu.usage.total);
  if (!st.cpu.usage.percpu.empty()) usage["percpu"] = st.cpu.usage.percpu;
  usage["kernel"] = st.cpu.usage.kernel;
  usage["user"] = st.cpu.usage.user;
  json throttling = json::object();
  put(throttling, "periods", st.cpu.throttling.periods);
  put(throttling, "throttledPeriods", st.cpu.throttling.throttled_periods);
  put(throttling, "throttledTime", st.cpu.throttling.throttled_time);
  auto entry = [&](const cgroups::MemoryEntry& e) {
    json j = {{"limit", e.limit}};
    put(j, "usage", e.usage);
    put(j, "max", e.max);
    j["failcnt"] = e.failcnt;
    return j;
  };
  json memory = json::object();
  put(memory, "cache", st.memory.cache);
  memory["usage"] = entry(st.memory.usage);
  memory["swap"] = entry(st.memory.swap);
  memory["kernel"] = entry(st.memory.kernel);
  memory["kernelTCP"] = entry(st.memory.kernel_tcp);
  if (!st.memory.raw.empty()) memory["raw"] = st.memory.raw;
  json pids = json::object();
  put(pids, "current", st.pids.current);
  put(pids, "limit", st.pids.limit);
  auto blkio_entries = [&](const std::vector<cgroups::BlkioEntry>& v) {
    json a = json::array();
    for (const auto& e : v) {
      json j = json::object();
      put(j, "major", e.major);
      put(j, "minor", e.minor);
      if (!e.op.empty()) j["op"] = e.op;
      put(j, "value", e.value);
      a.push_back(j);
    }
    return a;
  };
  json blkio = json::object();
  if (!st.blkio.io_service_bytes_recursive.empty())
    blkio["ioServiceBytesRecursive"] = blkio_entries(st.blkio.io_service_bytes_recursive);
  if (!st.blkio.io_serviced_recursive.empty())
    blkio["ioServicedRecursive"] = blkio_entries(st.blkio.io_serviced_recursive);
  json hugetlb = json::object();
  for (const auto& [size, h] : st.hugetlb) {
    json j = json::object();
    put(j, "usage", h.usage);
    put(j, "max", h.max);
    j["failcnt"] = h.failcnt;
    hugetlb[size] = j;
  }
  return {{"cpu", {{"usage", usage}, {"throttling", throttling}}},
          {"cpuset", json::object()},
          {"memory", memory},
          {"pids", pids},
          {"blkio", blkio},
          {"hugetlb", hugetlb},
          {"intel_rdt", json::object()},
          {"network_interfaces", nullptr}};
}

// A Go duration as runc's --interval takes it: "5s", "200ms", "1m30s".
std::chrono::milliseconds parse_interval(const std::string& text) {
  double total_ms = 0;
  size_t i = 0;
  if (text.empty()) i = std::string::npos;
  while (i != std::string::npos && i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) {
      i = std::string::npos;
      break;
    }
    double v = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(u, i - u);
    if (unit == "ms")
      total_ms += v;
    else if (unit == "s")
      total_ms += v * 1000;
    else if (unit == "m")
      total_ms += v * 60000;
    else if (unit == "h")
      total_ms += v * 3600000;
    else if (unit == "us" || unit == "µs")
      total_ms += v / 1000;
    else
      i = std::string::npos;
  }
  if (i == std::string::npos || total_ms <= 0)
    throw os::Error("events: invalid --interval " + os::quote(text) + ": expected a duration such as 5s or 200ms");
  return std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(total_ms)));
}

}  // namespace

int cmd_events(const Invocation& inv) {
  core::Context ctx = context(inv);
  const std::string id = inv.args.at(0);
  auto event = [&](const char* type, const cgroups::Stats* st) {
    nlohmann::ordered_json j = {{"type", type}, {"id", id}};
    if (st) j["data"] = stats_json(*st);
    print(j.dump() + "\n");
  };
  if (inv.get_bool("stats")) {
    cgroups::Stats st = core::container_stats(ctx, id);
    event("stats", &st);
    return 0;
  }
  auto interval = parse_interval(inv.get("interval", "5s"));
  cgroups::Stats st = core::container_stats(ctx, id);  // fails now if there is no cgroup
  uint64_t ooms = st.oom_kills.value_or(0);
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    event("stats", &st);
    next += interval;
    // OOM kills are looked for every 250 ms between the stats.
    while (std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(250), next - std::chrono::steady_clock::now()));
      if (!core::container_alive(ctx, id)) return 0;
      cgroups::Stats now;
      try {
        now = core::container_stats(ctx, id);
      } catch (const os::Error&) {
        if (!core::container_alive(ctx, id)) return 0;
        throw;
      }
      if (now.oom_kills.value_or(0) > ooms) {
        ooms = *now.oom_kills;
        event("oom", nullptr);
      }
    }
    if (!core::container_alive(ctx, id)) return 0;
    try {
      st = core::container_stats(ctx, id);
    } catch (const os::Error&) {
      if (!core::container_alive(ctx, id)) return 0;  // it stopped in between
      throw;
    }
    if (st.oom_kills.value_or(0) > ooms) {
      ooms = *st.oom_kills;
      event("oom", nullptr);
    }
  }
}

int cmd_pause(const Invocation& inv) {
  core::pause_container(context(inv), inv.args.at(0));
  return 0;
}

int cmd_resume(const Invocation& inv) {
  core::resume_container(context(inv), inv.args.at(0));
  return 0;
}

int cmd_ps(const Invocation& inv) {
  std::string format = inv.get("format", "table");
  if (format != "table" && format != "json")
    throw os::Error("ps: invalid --format " + os::quote(format) + ": expected table or json");
  std::vector<pid_t> pids = core::container_pids(context(inv), inv.args.at(0));
  if (format == "json") {
    print(nlohmann::json(pids).dump() + "\n");
    return 0;
  }
  // runc: run ps (default -ef), keep its header and the lines whose PID
  // column is one of the container's.
  std::vector<std::string> argv = {"ps"};
  if (inv.args.size() > 1)
    argv.insert(argv.end(), inv.args.begin() + 1, inv.args.end());
  else
    argv.push_back("-ef");
  std::string out = capture(argv);
  std::istringstream lines(out);
  std::string header;
  std::getline(lines, header);
  auto cols = words(header);
  auto at = std::find(cols.begin(), cols.end(), "PID");
  if (at == cols.end()) throw os::Error("ps: the output of `ps` has no PID column");
  size_t pid_col = static_cast<size_t>(at - cols.begin());
  std::set<pid_t> want(pids.begin(), pids.end());
  std::string result = header + "\n";
  for (std::string line; std::getline(lines, line);) {
    auto w = words(line);
    if (w.size() <= pid_col) continue;
    char* end = nullptr;
    long p = std::strtol(w[pid_col].c_str(), &end, 10);
    if (*end == 0 && want.count(static_cast<pid_t>(p))) result += line + "\n";
  }
  print(result);
  return 0;
}

int cmd_update(const Invocation& inv) {
  core::UpdateRequest req;
  req.id = inv.args.at(0);
  req.resources = resources_from_flags(inv);
  core::update_container(context(inv), req);
  return 0;
}

}  // namespace rrun::cli
