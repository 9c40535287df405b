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
#include <iostream>
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
  core::Context ctx;
  ctx.rootless = is_rootless(inv);
  ctx.state_root = open_store(inv, false).root();
  ctx.systemd_cgroup = inv.global.systemd_cgroup;
  return ctx;
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
    if (file == "-") {
      std::ostringstream s;
      s << std::cin.rdbuf();
      text = s.str();
    } else {
      text = os::read_file(file);
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

}  // namespace

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
