#include "parse.hpp"

#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>

#include "json_input.hpp"

namespace rrun::spec {

namespace {

// ordered_json keeps the members in document order, so the extensions we
// keep and the JSON we write read like their source.
using Json = nlohmann::ordered_json;

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw os::Error(path + ": " + msg);
}

std::string dump_compact(const Json& v) {
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A string as a JSON literal: "tmp".
std::string json_quote(const std::string& s) {
  return dump_compact(Json(s));
}

const char* kind(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

std::string member_path(const std::string& base, const char* key) {
  return base.empty() ? std::string(key) : base + "." + key;
}
std::string index_path(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}
std::string key_path(const std::string& base, const std::string& key) {
  return base + "[" + json_quote(key) + "]";
}

// What reaches execve or chdir is a C string: a NUL ("\u0000" in JSON)
// would cut it short without a word.
void refuse_nul(const std::string& path, const std::string& value) {
  if (value.find('\0') != std::string::npos) fail(path, "contains a NUL byte");
}
void refuse_nul(const std::string& path, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) refuse_nul(index_path(path, i), values[i]);
}

void require_absolute(const std::string& path, const std::string& value) {
  if (value.empty() || value[0] != '/') fail(path, "must be an absolute path, got " + json_quote(value));
}

// ---- readers ---------------------------------------------------------------
// read(json, path, out) for every model type; declared up front so the
// templates below find them all.

void read(const Json& v, const std::string& path, std::string& out);
void read(const Json& v, const std::string& path, bool& out);
template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) void read(const Json& v, const std::string& path, T& out);
template <class T>
void read(const Json& v, const std::string& path, std::vector<T>& out);
template <class T>
void read(const Json& v, const std::string& path, std::map<std::string, T>& out);
template <class T>
void read(const Json& v, const std::string& path, std::optional<T>& out);

void read(const Json& v, const std::string& path, IdMapping& out);
void read(const Json& v, const std::string& path, Root& out);
void read(const Json& v, const std::string& path, Mount& out);
void read(const Json& v, const std::string& path, ConsoleSize& out);
void read(const Json& v, const std::string& path, User& out);
void read(const Json& v, const std::string& path, Capabilities& out);
void read(const Json& v, const std::string& path, Rlimit& out);
void read(const Json& v, const std::string& path, Scheduler& out);
void read(const Json& v, const std::string& path, IoPriority& out);
void read(const Json& v, const std::string& path, ExecCpuAffinity& out);
void read(const Json& v, const std::string& path, Process& out);
void read(const Json& v, const std::string& path, Hook& out);
void read(const Json& v, const std::string& path, Hooks& out);
void read(const Json& v, const std::string& path, Namespace& out);
void read(const Json& v, const std::string& path, TimeOffset& out);
void read(const Json& v, const std::string& path, Device& out);
void read(const Json& v, const std::string& path, DeviceCgroupRule& out);
void read(const Json& v, const std::string& path, MemoryResources& out);
void read(const Json& v, const std::string& path, CpuResources& out);
void read(const Json& v, const std::string& path, PidsResources& out);
void read(const Json& v, const std::string& path, WeightDevice& out);
void read(const Json& v, const std::string& path, ThrottleDevice& out);
void read(const Json& v, const std::string& path, BlockIoResources& out);
void read(const Json& v, const std::string& path, HugepageLimit& out);
void read(const Json& v, const std::string& path, NetworkPriority& out);
void read(const Json& v, const std::string& path, NetworkResources& out);
void read(const Json& v, const std::string& path, RdmaLimit& out);
void read(const Json& v, const std::string& path, Resources& out);
void read(const Json& v, const std::string& path, SeccompArg& out);
void read(const Json& v, const std::string& path, SeccompSyscall& out);
void read(const Json& v, const std::string& path, Seccomp& out);
void read(const Json& v, const std::string& path, IntelRdt& out);
void read(const Json& v, const std::string& path, MemoryPolicy& out);
void read(const Json& v, const std::string& path, Personality& out);
void read(const Json& v, const std::string& path, NetDevice& out);
void read(const Json& v, const std::string& path, Linux& out);

// One JSON object being read: members by name, with their paths.
class Obj {
 public:
  Obj(const Json& v, std::string path) : v_(v), path_(std::move(path)) {
    if (!v.is_object()) fail(path_, std::string("expected an object, got ") + kind(v));
  }

  // An absent or null member leaves `out` untouched.
  template <class T>
  bool opt(const char* key, T& out) const {
    auto it = v_.find(key);
    if (it == v_.end() || it->is_null()) return false;
    read(*it, member_path(path_, key), out);
    return true;
  }

  template <class T>
  void req(const char* key, T& out) const {
    auto it = v_.find(key);
    if (it == v_.end()) fail(member_path(path_, key), "required field missing");
    read(*it, member_path(path_, key), out);
  }

  std::string path(const char* key) const { return member_path(path_, key); }

 private:
  const Json& v_;
  std::string path_;
};

void read(const Json& v, const std::string& path, std::string& out) {
  if (!v.is_string()) fail(path, std::string("expected a string, got ") + kind(v));
  out = v.get_ref<const std::string&>();
}

void read(const Json& v, const std::string& path, bool& out) {
  if (!v.is_boolean()) fail(path, std::string("expected a boolean, got ") + kind(v));
  out = v.get<bool>();
}

template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) void read(const Json& v, const std::string& path, T& out) {
  if (!v.is_number()) fail(path, std::string("expected an integer, got ") + kind(v));
  if (v.is_number_float()) fail(path, "expected an integer, got " + dump_compact(v));
  constexpr T lo = std::numeric_limits<T>::min();
  constexpr T hi = std::numeric_limits<T>::max();
  auto out_of_range = [&] {
    fail(path,
         "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + dump_compact(v));
  };
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) out_of_range();
    out = static_cast<T>(u);
    return;
  }
  const int64_t i = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (i < 0) fail(path, "expected a non-negative integer, got " + dump_compact(v));
    if (static_cast<uint64_t>(i) > static_cast<uint64_t>(hi)) out_of_range();
  } else {
    if (i < static_cast<int64_t>(lo) || i > static_cast<int64_t>(hi)) out_of_range();
  }
  out = static_cast<T>(i);
}

template <class T>
void read(const Json& v, const std::string& path, std::vector<T>& out) {
  if (!v.is_array()) fail(path, std::string("expected an array, got ") + kind(v));
  out.clear();
  out.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) read(v[i], index_path(path, i), out[i]);
}

template <class T>
void read(const Json& v, const std::string& path, std::map<std::string, T>& out) {
  if (!v.is_object()) fail(path, std::string("expected an object, got ") + kind(v));
  out.clear();
  for (const auto& [key, value] : v.items()) read(value, key_path(path, key), out[key]);
}

template <class T>
void read(const Json& v, const std::string& path, std::optional<T>& out) {
  out.emplace();
  read(v, path, *out);
}

void read(const Json& v, const std::string& path, IdMapping& out) {
  Obj o(v, path);
  o.req("containerID", out.container_id);
  o.req("hostID", out.host_id);
  o.req("size", out.size);
}

void read(const Json& v, const std::string& path, Root& out) {
  Obj o(v, path);
  o.req("path", out.path);
  o.opt("readonly", out.readonly);
}

void read(const Json& v, const std::string& path, Mount& out) {
  Obj o(v, path);
  o.req("destination", out.destination);
  require_absolute(o.path("destination"), out.destination);
  o.opt("type", out.type);
  o.opt("source", out.source);
  o.opt("options", out.options);
  o.opt("uidMappings", out.uid_mappings);
  o.opt("gidMappings", out.gid_mappings);
}

void read(const Json& v, const std::string& path, ConsoleSize& out) {
  Obj o(v, path);
  o.req("height", out.height);
  o.req("width", out.width);
}

void read(const Json& v, const std::string& path, User& out) {
  Obj o(v, path);
  o.req("uid", out.uid);
  o.req("gid", out.gid);
  o.opt("umask", out.umask);
  o.opt("additionalGids", out.additional_gids);
  o.opt("username", out.username);
}

void read(const Json& v, const std::string& path, Capabilities& out) {
  Obj o(v, path);
  o.opt("bounding", out.bounding);
  o.opt("effective", out.effective);
  o.opt("inheritable", out.inheritable);
  o.opt("permitted", out.permitted);
  o.opt("ambient", out.ambient);
}

void read(const Json& v, const std::string& path, Rlimit& out) {
  Obj o(v, path);
  o.req("type", out.type);
  o.req("hard", out.hard);
  o.req("soft", out.soft);
}

void read(const Json& v, const std::string& path, Scheduler& out) {
  Obj o(v, path);
  o.req("policy", out.policy);
  o.opt("nice", out.nice);
  o.opt("priority", out.priority);
  o.opt("flags", out.flags);
  o.opt("runtime", out.runtime);
  o.opt("deadline", out.deadline);
  o.opt("period", out.period);
}

void read(const Json& v, const std::string& path, IoPriority& out) {
  Obj o(v, path);
  o.req("class", out.io_class);
  o.req("priority", out.priority);
}

void read(const Json& v, const std::string& path, ExecCpuAffinity& out) {
  Obj o(v, path);
  o.opt("initial", out.initial);
  o.opt("final", out.final);
}

void read(const Json& v, const std::string& path, Process& out) {
  Obj o(v, path);
  o.opt("terminal", out.terminal);
  o.opt("consoleSize", out.console_size);
  o.req("user", out.user);
  o.req("args", out.args);
  if (out.args.empty()) fail(o.path("args"), "must not be empty");
  refuse_nul(o.path("args"), out.args);
  o.opt("commandLine", out.command_line);
  o.opt("env", out.env);
  refuse_nul(o.path("env"), out.env);
  o.req("cwd", out.cwd);
  require_absolute(o.path("cwd"), out.cwd);
  refuse_nul(o.path("cwd"), out.cwd);
  o.opt("capabilities", out.capabilities);
  o.opt("rlimits", out.rlimits);
  o.opt("noNewPrivileges", out.no_new_privileges);
  o.opt("apparmorProfile", out.apparmor_profile);
  o.opt("oomScoreAdj", out.oom_score_adj);
  o.opt("scheduler", out.scheduler);
  o.opt("selinuxLabel", out.selinux_label);
  o.opt("ioPriority", out.io_priority);
  o.opt("execCPUAffinity", out.exec_cpu_affinity);
}

void read(const Json& v, const std::string& path, Hook& out) {
  Obj o(v, path);
  o.req("path", out.path);
  require_absolute(o.path("path"), out.path);
  refuse_nul(o.path("path"), out.path);
  o.opt("args", out.args);
  refuse_nul(o.path("args"), out.args);
  o.opt("env", out.env);
  refuse_nul(o.path("env"), out.env);
  if (o.opt("timeout", out.timeout) && *out.timeout <= 0)
    fail(o.path("timeout"), "must be greater than zero, got " + std::to_string(*out.timeout));
}

void read(const Json& v, const std::string& path, Hooks& out) {
  Obj o(v, path);
  o.opt("prestart", out.prestart);
  o.opt("createRuntime", out.create_runtime);
  o.opt("createContainer", out.create_container);
  o.opt("startContainer", out.start_container);
  o.opt("poststart", out.poststart);
  o.opt("poststop", out.poststop);
}

void read(const Json& v, const std::string& path, Namespace& out) {
  Obj o(v, path);
  std::string type;
  o.req("type", type);
  try {
    out.type = parse_namespace_type(type);
  } catch (const os::Error& e) {
    fail(o.path("type"), e.what());
  }
  o.opt("path", out.path);
}

void read(const Json& v, const std::string& path, TimeOffset& out) {
  Obj o(v, path);
  o.opt("secs", out.secs);
  o.opt("nanosecs", out.nanosecs);
}

void read(const Json& v, const std::string& path, Device& out) {
  Obj o(v, path);
  o.req("type", out.type);
  if (out.type != "c" && out.type != "b" && out.type != "u" && out.type != "p")
    fail(o.path("type"), "unknown device type " + json_quote(out.type) + " (expected \"c\", \"b\", \"u\" or \"p\")");
  o.req("path", out.path);
  require_absolute(o.path("path"), out.path);
  if (out.type == "p") {
    o.opt("major", out.major);
    o.opt("minor", out.minor);
  } else {
    o.req("major", out.major);
    o.req("minor", out.minor);
  }
  o.opt("fileMode", out.file_mode);
  o.opt("uid", out.uid);
  o.opt("gid", out.gid);
}

void read(const Json& v, const std::string& path, DeviceCgroupRule& out) {
  Obj o(v, path);
  o.req("allow", out.allow);
  o.opt("type", out.type);
  o.opt("major", out.major);
  o.opt("minor", out.minor);
  o.opt("access", out.access);
}

void read(const Json& v, const std::string& path, MemoryResources& out) {
  Obj o(v, path);
  o.opt("limit", out.limit);
  o.opt("reservation", out.reservation);
  o.opt("swap", out.swap);
  o.opt("kernel", out.kernel);
  o.opt("kernelTCP", out.kernel_tcp);
  o.opt("swappiness", out.swappiness);
  o.opt("disableOOMKiller", out.disable_oom_killer);
  o.opt("useHierarchy", out.use_hierarchy);
  o.opt("checkBeforeUpdate", out.check_before_update);
}

void read(const Json& v, const std::string& path, CpuResources& out) {
  Obj o(v, path);
  o.opt("shares", out.shares);
  o.opt("quota", out.quota);
  o.opt("burst", out.burst);
  o.opt("period", out.period);
  o.opt("realtimeRuntime", out.realtime_runtime);
  o.opt("realtimePeriod", out.realtime_period);
  o.opt("cpus", out.cpus);
  o.opt("mems", out.mems);
  o.opt("idle", out.idle);
}

void read(const Json& v, const std::string& path, PidsResources& out) {
  Obj o(v, path);
  o.opt("limit", out.limit);
}

void read(const Json& v, const std::string& path, WeightDevice& out) {
  Obj o(v, path);
  o.req("major", out.major);
  o.req("minor", out.minor);
  o.opt("weight", out.weight);
  o.opt("leafWeight", out.leaf_weight);
}

void read(const Json& v, const std::string& path, ThrottleDevice& out) {
  Obj o(v, path);
  o.req("major", out.major);
  o.req("minor", out.minor);
  o.req("rate", out.rate);
}

void read(const Json& v, const std::string& path, BlockIoResources& out) {
  Obj o(v, path);
  o.opt("weight", out.weight);
  o.opt("leafWeight", out.leaf_weight);
  o.opt("weightDevice", out.weight_device);
  o.opt("throttleReadBpsDevice", out.throttle_read_bps_device);
  o.opt("throttleWriteBpsDevice", out.throttle_write_bps_device);
  o.opt("throttleReadIOPSDevice", out.throttle_read_iops_device);
  o.opt("throttleWriteIOPSDevice", out.throttle_write_iops_device);
}

void read(const Json& v, const std::string& path, HugepageLimit& out) {
  Obj o(v, path);
  o.req("pageSize", out.page_size);
  o.req("limit", out.limit);
}

void read(const Json& v, const std::string& path, NetworkPriority& out) {
  Obj o(v, path);
  o.req("name", out.name);
  o.req("priority", out.priority);
}

void read(const Json& v, const std::string& path, NetworkResources& out) {
  Obj o(v, path);
  o.opt("classID", out.class_id);
  o.opt("priorities", out.priorities);
}

void read(const Json& v, const std::string& path, RdmaLimit& out) {
  Obj o(v, path);
  o.opt("hcaHandles", out.hca_handles);
  o.opt("hcaObjects", out.hca_objects);
}

void read(const Json& v, const std::string& path, Resources& out) {
  Obj o(v, path);
  o.opt("devices", out.devices);
  o.opt("memory", out.memory);
  o.opt("cpu", out.cpu);
  o.opt("pids", out.pids);
  o.opt("blockIO", out.block_io);
  o.opt("hugepageLimits", out.hugepage_limits);
  o.opt("network", out.network);
  o.opt("rdma", out.rdma);
  o.opt("unified", out.unified);
}

void read(const Json& v, const std::string& path, SeccompArg& out) {
  Obj o(v, path);
  o.req("index", out.index);
  o.req("value", out.value);
  o.opt("valueTwo", out.value_two);
  o.req("op", out.op);
}

void read(const Json& v, const std::string& path, SeccompSyscall& out) {
  Obj o(v, path);
  o.req("names", out.names);
  if (out.names.empty()) fail(o.path("names"), "must not be empty");
  o.req("action", out.action);
  o.opt("errnoRet", out.errno_ret);
  o.opt("args", out.args);
}

void read(const Json& v, const std::string& path, Seccomp& out) {
  Obj o(v, path);
  o.req("defaultAction", out.default_action);
  o.opt("defaultErrnoRet", out.default_errno_ret);
  o.opt("architectures", out.architectures);
  o.opt("flags", out.flags);
  o.opt("listenerPath", out.listener_path);
  o.opt("listenerMetadata", out.listener_metadata);
  o.opt("syscalls", out.syscalls);
}

void read(const Json& v, const std::string& path, IntelRdt& out) {
  Obj o(v, path);
  o.opt("closID", out.clos_id);
  o.opt("l3CacheSchema", out.l3_cache_schema);
  o.opt("memBwSchema", out.mem_bw_schema);
  o.opt("schemata", out.schemata);
  o.opt("enableMonitoring", out.enable_monitoring);
  o.opt("enableCMT", out.enable_cmt);
  o.opt("enableMBM", out.enable_mbm);
}

void read(const Json& v, const std::string& path, MemoryPolicy& out) {
  Obj o(v, path);
  o.req("mode", out.mode);
  o.opt("nodes", out.nodes);
  o.opt("flags", out.flags);
}

void read(const Json& v, const std::string& path, Personality& out) {
  Obj o(v, path);
  o.req("domain", out.domain);
  o.opt("flags", out.flags);
}

void read(const Json& v, const std::string& path, NetDevice& out) {
  Obj o(v, path);
  o.opt("name", out.name);
}

void read(const Json& v, const std::string& path, Linux& out) {
  Obj o(v, path);
  o.opt("namespaces", out.namespaces);
  for (size_t i = 0; i < out.namespaces.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (out.namespaces[j].type == out.namespaces[i].type)
        fail(index_path(o.path("namespaces"), i),
             std::string("duplicate namespace type \"") + namespace_type_name(out.namespaces[i].type) + "\"");
  o.opt("uidMappings", out.uid_mappings);
  o.opt("gidMappings", out.gid_mappings);
  const bool userns = out.has_namespace(NamespaceType::user);
  if (!out.uid_mappings.empty() && !userns)
    fail(o.path("uidMappings"), "mappings need a user namespace, but linux.namespaces has no \"user\" entry");
  if (!out.gid_mappings.empty() && !userns)
    fail(o.path("gidMappings"), "mappings need a user namespace, but linux.namespaces has no \"user\" entry");
  o.opt("timeOffsets", out.time_offsets);
  o.opt("devices", out.devices);
  o.opt("cgroupsPath", out.cgroups_path);
  o.opt("resources", out.resources);
  o.opt("intelRdt", out.intel_rdt);
  o.opt("memoryPolicy", out.memory_policy);
  o.opt("netDevices", out.net_devices);
  o.opt("sysctl", out.sysctl);
  o.opt("seccomp", out.seccomp);
  o.opt("rootfsPropagation", out.rootfs_propagation);
  o.opt("maskedPaths", out.masked_paths);
  o.opt("readonlyPaths", out.readonly_paths);
  o.opt("mountLabel", out.mount_label);
  o.opt("personality", out.personality);
}

// "1.MINOR.PATCH", optionally followed by "-prerelease" and/or "+build".
// Returns false if `v` is not of that shape; sets `major`.
bool parse_version(const std::string& v, std::string& major) {
  size_t i = 0;
  auto number = [&](std::string* into) {
    const size_t start = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    if (into) *into = v.substr(start, i - start);
    return i > start;
  };
  if (!number(&major)) return false;
  for (int part = 0; part < 2; ++part) {
    if (i >= v.size() || v[i] != '.') return false;
    ++i;
    if (!number(nullptr)) return false;
  }
  if (i == v.size()) return true;
  if (v[i] != '-' && v[i] != '+') return false;
  if (i + 1 == v.size()) return false;
  for (++i; i < v.size(); ++i) {
    const char c = v[i];
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '+';
    if (!ok) return false;
  }
  return true;
}

void check_version(const std::string& v) {
  std::string major;
  if (!parse_version(v, major))
    fail("ociVersion",
         "invalid version " + json_quote(v) + ", expected a semantic version such as \"" + kOciVersion + "\"");
  if (major != "1") fail("ociVersion", "unsupported version " + json_quote(v) + " (rrun supports 1.x)");
}

const std::set<std::string>& known_top_level() {
  static const std::set<std::string> keys = {"ociVersion", "root",  "mounts",      "process", "hostname",
                                             "domainname", "hooks", "annotations", "linux"};
  return keys;
}

Spec read_spec(const Json& doc) {
  if (!doc.is_object()) throw os::Error(std::string("expected a JSON object at the top level, got ") + kind(doc));
  Spec s;
  Obj o(doc, "");
  o.req("ociVersion", s.oci_version);
  check_version(s.oci_version);
  o.opt("root", s.root);
  o.opt("mounts", s.mounts);
  o.opt("process", s.process);
  o.opt("hostname", s.hostname);
  o.opt("domainname", s.domainname);
  o.opt("hooks", s.hooks);
  o.opt("annotations", s.annotations);
  o.opt("linux", s.linux);
  for (const auto& [key, value] : doc.items())
    if (!known_top_level().count(key)) s.extensions[key] = dump_compact(value);
  return s;
}

// ---- writers ---------------------------------------------------------------

Json to_json(const std::string& v) {
  return Json(v);
}
template <class T>
requires std::is_arithmetic_v<T> Json to_json(T v) {
  return Json(v);
}
Json to_json(const IdMapping& v);
Json to_json(const Mount& v);
Json to_json(const Rlimit& v);
Json to_json(const Hook& v);
Json to_json(const Namespace& v);
Json to_json(const TimeOffset& v);
Json to_json(const Device& v);
Json to_json(const DeviceCgroupRule& v);
Json to_json(const WeightDevice& v);
Json to_json(const ThrottleDevice& v);
Json to_json(const HugepageLimit& v);
Json to_json(const NetworkPriority& v);
Json to_json(const RdmaLimit& v);
Json to_json(const SeccompArg& v);
Json to_json(const SeccompSyscall& v);
Json to_json(const NetDevice& v);

void put_str(Json& o, const char* key, const std::string& v) {
  if (!v.empty()) o[key] = v;
}
void put_flag(Json& o, const char* key, bool v) {
  if (v) o[key] = true;
}
template <class T>
void put_opt(Json& o, const char* key, const std::optional<T>& v) {
  if (v) o[key] = to_json(*v);
}
template <class T>
void put_vec(Json& o, const char* key, const std::vector<T>& v) {
  if (v.empty()) return;
  Json a = Json::array();
  for (const auto& x : v) a.push_back(to_json(x));
  o[key] = std::move(a);
}
template <class T>
void put_map(Json& o, const char* key, const std::map<std::string, T>& m) {
  if (m.empty()) return;
  Json j = Json::object();
  for (const auto& [k, x] : m) j[k] = to_json(x);
  o[key] = std::move(j);
}

Json to_json(const IdMapping& v) {
  Json o = Json::object();
  o["containerID"] = v.container_id;
  o["hostID"] = v.host_id;
  o["size"] = v.size;
  return o;
}

Json to_json(const Mount& v) {
  Json o = Json::object();
  o["destination"] = v.destination;
  put_str(o, "type", v.type);
  put_str(o, "source", v.source);
  put_vec(o, "options", v.options);
  put_vec(o, "uidMappings", v.uid_mappings);
  put_vec(o, "gidMappings", v.gid_mappings);
  return o;
}

Json to_json(const Rlimit& v) {
  Json o = Json::object();
  o["type"] = v.type;
  o["hard"] = v.hard;
  o["soft"] = v.soft;
  return o;
}

Json to_json(const Hook& v) {
  Json o = Json::object();
  o["path"] = v.path;
  put_vec(o, "args", v.args);
  put_vec(o, "env", v.env);
  put_opt(o, "timeout", v.timeout);
  return o;
}

Json to_json(const Namespace& v) {
  Json o = Json::object();
  o["type"] = namespace_type_name(v.type);
  put_str(o, "path", v.path);
  return o;
}

Json to_json(const TimeOffset& v) {
  Json o = Json::object();
  o["secs"] = v.secs;
  o["nanosecs"] = v.nanosecs;
  return o;
}

Json to_json(const Device& v) {
  Json o = Json::object();
  o["path"] = v.path;
  o["type"] = v.type;
  if (v.type != "p" || v.major != 0 || v.minor != 0) {
    o["major"] = v.major;
    o["minor"] = v.minor;
  }
  put_opt(o, "fileMode", v.file_mode);
  put_opt(o, "uid", v.uid);
  put_opt(o, "gid", v.gid);
  return o;
}

Json to_json(const DeviceCgroupRule& v) {
  Json o = Json::object();
  o["allow"] = v.allow;
  put_str(o, "type", v.type);
  put_opt(o, "major", v.major);
  put_opt(o, "minor", v.minor);
  put_str(o, "access", v.access);
  return o;
}

Json to_json(const WeightDevice& v) {
  Json o = Json::object();
  o["major"] = v.major;
  o["minor"] = v.minor;
  put_opt(o, "weight", v.weight);
  put_opt(o, "leafWeight", v.leaf_weight);
  return o;
}

Json to_json(const ThrottleDevice& v) {
  Json o = Json::object();
  o["major"] = v.major;
  o["minor"] = v.minor;
  o["rate"] = v.rate;
  return o;
}

Json to_json(const HugepageLimit& v) {
  Json o = Json::object();
  o["pageSize"] = v.page_size;
  o["limit"] = v.limit;
  return o;
}

Json to_json(const NetworkPriority& v) {
  Json o = Json::object();
  o["name"] = v.name;
  o["priority"] = v.priority;
  return o;
}

Json to_json(const RdmaLimit& v) {
  Json o = Json::object();
  put_opt(o, "hcaHandles", v.hca_handles);
  put_opt(o, "hcaObjects", v.hca_objects);
  return o;
}

Json to_json(const SeccompArg& v) {
  Json o = Json::object();
  o["index"] = v.index;
  o["value"] = v.value;
  if (v.value_two != 0) o["valueTwo"] = v.value_two;
  o["op"] = v.op;
  return o;
}

Json to_json(const SeccompSyscall& v) {
  Json o = Json::object();
  Json names = Json::array();
  for (const auto& n : v.names) names.push_back(n);
  o["names"] = std::move(names);
  o["action"] = v.action;
  put_opt(o, "errnoRet", v.errno_ret);
  put_vec(o, "args", v.args);
  return o;
}

Json to_json(const NetDevice& v) {
  Json o = Json::object();
  put_str(o, "name", v.name);
  return o;
}

Json process_json(const Process& p) {
  Json o = Json::object();
  put_flag(o, "terminal", p.terminal);
  if (p.console_size) o["consoleSize"] = Json{{"height", p.console_size->height}, {"width", p.console_size->width}};
  Json user = Json::object();
  user["uid"] = p.user.uid;
  user["gid"] = p.user.gid;
  put_opt(user, "umask", p.user.umask);
  put_vec(user, "additionalGids", p.user.additional_gids);
  put_str(user, "username", p.user.username);
  o["user"] = std::move(user);
  o["args"] = Json::array();
  for (const auto& a : p.args) o["args"].push_back(a);
  put_str(o, "commandLine", p.command_line);
  put_vec(o, "env", p.env);
  o["cwd"] = p.cwd;
  if (p.capabilities) {
    Json caps = Json::object();
    put_vec(caps, "bounding", p.capabilities->bounding);
    put_vec(caps, "effective", p.capabilities->effective);
    put_vec(caps, "inheritable", p.capabilities->inheritable);
    put_vec(caps, "permitted", p.capabilities->permitted);
    put_vec(caps, "ambient", p.capabilities->ambient);
    o["capabilities"] = std::move(caps);
  }
  put_vec(o, "rlimits", p.rlimits);
  put_opt(o, "noNewPrivileges", p.no_new_privileges);
  put_str(o, "apparmorProfile", p.apparmor_profile);
  put_opt(o, "oomScoreAdj", p.oom_score_adj);
  if (p.scheduler) {
    const Scheduler& s = *p.scheduler;
    Json j = Json::object();
    j["policy"] = s.policy;
    put_opt(j, "nice", s.nice);
    put_opt(j, "priority", s.priority);
    put_vec(j, "flags", s.flags);
    put_opt(j, "runtime", s.runtime);
    put_opt(j, "deadline", s.deadline);
    put_opt(j, "period", s.period);
    o["scheduler"] = std::move(j);
  }
  put_str(o, "selinuxLabel", p.selinux_label);
  if (p.io_priority) o["ioPriority"] = Json{{"class", p.io_priority->io_class}, {"priority", p.io_priority->priority}};
  if (p.exec_cpu_affinity) {
    Json j = Json::object();
    put_str(j, "initial", p.exec_cpu_affinity->initial);
    put_str(j, "final", p.exec_cpu_affinity->final);
    o["execCPUAffinity"] = std::move(j);
  }
  return o;
}

Json hooks_json(const Hooks& h) {
  Json o = Json::object();
  put_vec(o, "prestart", h.prestart);
  put_vec(o, "createRuntime", h.create_runtime);
  put_vec(o, "createContainer", h.create_container);
  put_vec(o, "startContainer", h.start_container);
  put_vec(o, "poststart", h.poststart);
  put_vec(o, "poststop", h.poststop);
  return o;
}

Json resources_json(const Resources& r) {
  Json o = Json::object();
  put_vec(o, "devices", r.devices);
  if (r.memory) {
    const MemoryResources& m = *r.memory;
    Json j = Json::object();
    put_opt(j, "limit", m.limit);
    put_opt(j, "reservation", m.reservation);
    put_opt(j, "swap", m.swap);
    put_opt(j, "kernel", m.kernel);
    put_opt(j, "kernelTCP", m.kernel_tcp);
    put_opt(j, "swappiness", m.swappiness);
    put_opt(j, "disableOOMKiller", m.disable_oom_killer);
    put_opt(j, "useHierarchy", m.use_hierarchy);
    put_opt(j, "checkBeforeUpdate", m.check_before_update);
    o["memory"] = std::move(j);
  }
  if (r.cpu) {
    const CpuResources& c = *r.cpu;
    Json j = Json::object();
    put_opt(j, "shares", c.shares);
    put_opt(j, "quota", c.quota);
    put_opt(j, "burst", c.burst);
    put_opt(j, "period", c.period);
    put_opt(j, "realtimeRuntime", c.realtime_runtime);
    put_opt(j, "realtimePeriod", c.realtime_period);
    put_str(j, "cpus", c.cpus);
    put_str(j, "mems", c.mems);
    put_opt(j, "idle", c.idle);
    o["cpu"] = std::move(j);
  }
  if (r.pids) {
    Json j = Json::object();
    put_opt(j, "limit", r.pids->limit);
    o["pids"] = std::move(j);
  }
  if (r.block_io) {
    const BlockIoResources& b = *r.block_io;
    Json j = Json::object();
    put_opt(j, "weight", b.weight);
    put_opt(j, "leafWeight", b.leaf_weight);
    put_vec(j, "weightDevice", b.weight_device);
    put_vec(j, "throttleReadBpsDevice", b.throttle_read_bps_device);
    put_vec(j, "throttleWriteBpsDevice", b.throttle_write_bps_device);
    put_vec(j, "throttleReadIOPSDevice", b.throttle_read_iops_device);
    put_vec(j, "throttleWriteIOPSDevice", b.throttle_write_iops_device);
    o["blockIO"] = std::move(j);
  }
  put_vec(o, "hugepageLimits", r.hugepage_limits);
  if (r.network) {
    Json j = Json::object();
    put_opt(j, "classID", r.network->class_id);
    put_vec(j, "priorities", r.network->priorities);
    o["network"] = std::move(j);
  }
  put_map(o, "rdma", r.rdma);
  put_map(o, "unified", r.unified);
  return o;
}

Json seccomp_json(const Seccomp& s) {
  Json o = Json::object();
  o["defaultAction"] = s.default_action;
  put_opt(o, "defaultErrnoRet", s.default_errno_ret);
  put_vec(o, "architectures", s.architectures);
  put_vec(o, "flags", s.flags);
  put_str(o, "listenerPath", s.listener_path);
  put_str(o, "listenerMetadata", s.listener_metadata);
  put_vec(o, "syscalls", s.syscalls);
  return o;
}

Json linux_json(const Linux& l) {
  Json o = Json::object();
  put_vec(o, "uidMappings", l.uid_mappings);
  put_vec(o, "gidMappings", l.gid_mappings);
  put_map(o, "sysctl", l.sysctl);
  if (l.resources) o["resources"] = resources_json(*l.resources);
  put_str(o, "cgroupsPath", l.cgroups_path);
  put_vec(o, "namespaces", l.namespaces);
  put_vec(o, "devices", l.devices);
  put_map(o, "netDevices", l.net_devices);
  if (l.seccomp) o["seccomp"] = seccomp_json(*l.seccomp);
  put_str(o, "rootfsPropagation", l.rootfs_propagation);
  put_vec(o, "maskedPaths", l.masked_paths);
  put_vec(o, "readonlyPaths", l.readonly_paths);
  put_str(o, "mountLabel", l.mount_label);
  if (l.intel_rdt) {
    const IntelRdt& r = *l.intel_rdt;
    Json j = Json::object();
    put_str(j, "closID", r.clos_id);
    put_str(j, "l3CacheSchema", r.l3_cache_schema);
    put_str(j, "memBwSchema", r.mem_bw_schema);
    put_vec(j, "schemata", r.schemata);
    put_opt(j, "enableMonitoring", r.enable_monitoring);
    put_opt(j, "enableCMT", r.enable_cmt);
    put_opt(j, "enableMBM", r.enable_mbm);
    o["intelRdt"] = std::move(j);
  }
  if (l.personality) {
    Json j = Json::object();
    j["domain"] = l.personality->domain;
    put_vec(j, "flags", l.personality->flags);
    o["personality"] = std::move(j);
  }
  put_map(o, "timeOffsets", l.time_offsets);
  if (l.memory_policy) {
    Json j = Json::object();
    j["mode"] = l.memory_policy->mode;
    put_str(j, "nodes", l.memory_policy->nodes);
    put_vec(j, "flags", l.memory_policy->flags);
    o["memoryPolicy"] = std::move(j);
  }
  return o;
}

Json spec_json(const Spec& s) {
  Json o = Json::object();
  o["ociVersion"] = s.oci_version;
  if (s.process) o["process"] = process_json(*s.process);
  if (s.root) {
    Json j = Json::object();
    j["path"] = s.root->path;
    put_flag(j, "readonly", s.root->readonly);
    o["root"] = std::move(j);
  }
  put_str(o, "hostname", s.hostname);
  put_str(o, "domainname", s.domainname);
  put_vec(o, "mounts", s.mounts);
  if (s.hooks) o["hooks"] = hooks_json(*s.hooks);
  put_map(o, "annotations", s.annotations);
  if (s.linux) o["linux"] = linux_json(*s.linux);
  for (const auto& [key, text] : s.extensions) {
    if (o.contains(key)) continue;  // a modelled member wins
    try {
      o[key] = parse_json_input<Json>(text, "extensions[" + json_quote(key) + "]");
    } catch (const Json::parse_error& e) {
      throw os::Error("extensions[" + json_quote(key) + "]: not valid JSON: " + e.what());
    }
  }
  return o;
}

// nlohmann's parse_error::what() reads "[json.exception.parse_error.101]
// parse error at line 1, column 5: syntax error while ...": keep the
// location and the reason.
std::string describe_parse_error(const Json::parse_error& e) {
  std::string msg = e.what();
  if (msg.rfind("[json.exception.", 0) == 0) {
    const size_t close = msg.find("] ");
    if (close != std::string::npos) msg.erase(0, close + 2);
  }
  std::string where;
  static const std::string kAt = "parse error at ";
  if (msg.rfind(kAt, 0) == 0) {
    const size_t colon = msg.find(": ", kAt.size());
    if (colon != std::string::npos) {
      where = msg.substr(kAt.size(), colon - kAt.size());
      msg.erase(0, colon + 2);
    }
  }
  std::string out = "config.json is not valid JSON: at byte " + std::to_string(e.byte);
  if (!where.empty()) out += " (" + where + ")";
  return out + ": " + msg;
}

}  // namespace

const char* namespace_type_name(NamespaceType t) {
  switch (t) {
    case NamespaceType::pid:
      return "pid";
    case NamespaceType::network:
      return "network";
    case NamespaceType::mount:
      return "mount";
    case NamespaceType::ipc:
      return "ipc";
    case NamespaceType::uts:
      return "uts";
    case NamespaceType::user:
      return "user";
    case NamespaceType::cgroup:
      return "cgroup";
    case NamespaceType::time:
      return "time";
  }
  return "unknown";
}

NamespaceType parse_namespace_type(const std::string& name) {
  static const NamespaceType all[] = {NamespaceType::pid,    NamespaceType::network, NamespaceType::mount,
                                      NamespaceType::ipc,    NamespaceType::uts,     NamespaceType::user,
                                      NamespaceType::cgroup, NamespaceType::time};
  for (NamespaceType t : all)
    if (name == namespace_type_name(t)) return t;
  throw os::Error("unknown namespace type " + json_quote(name));
}

namespace {

// `name` calls the input in a depth error.
Json parse_json_text(std::string_view json_text, const std::string& name) {
  try {
    return parse_json_input<Json>(json_text, name);
  } catch (const Json::parse_error& e) {
    throw os::Error(describe_parse_error(e));
  }
}

}  // namespace

Spec parse_spec(std::string_view json_text) {
  return read_spec(parse_json_text(json_text, "config.json"));
}

Process parse_process(std::string_view json_text) {
  Process p;
  read(parse_json_text(json_text, "process"), "process", p);
  return p;
}

Resources parse_resources(std::string_view json_text) {
  Resources r;
  read(parse_json_text(json_text, "linux.resources"), "linux.resources", r);
  return r;
}

Seccomp parse_seccomp(std::string_view json_text, const std::string& path) {
  Seccomp out;
  read(parse_json_text(json_text, path), path, out);
  return out;
}

Spec load_spec(const std::string& bundle_dir, std::string* text_out) {
  const std::string path = (bundle_dir.empty() ? std::string(".") : bundle_dir) + "/config.json";
  std::optional<std::string> text;
  try {
    text = os::read_input_file_if_exists(path);
  } catch (const os::SystemError& e) {
    throw os::SystemError(e.err(), "cannot read " + os::quote(path));
  }
  if (!text)
    throw os::Error("cannot read " + os::quote(path) + ": " + std::strerror(ENOENT) + "; is " +
                    os::quote(bundle_dir.empty() ? "." : bundle_dir) +
                    " an OCI bundle? (`rrun spec` writes a config.json)");
  try {
    Spec s = parse_spec(*text);
    if (text_out) *text_out = std::move(*text);
    return s;
  } catch (const os::Error& e) {
    const std::string msg = e.what();
    if (msg.rfind("config.json", 0) == 0) throw;
    throw os::Error("config.json: " + msg);
  }
}

std::string serialize_spec(const Spec& s, bool pretty) {
  const Json doc = spec_json(s);
  return pretty ? doc.dump(1, '\t', false, Json::error_handler_t::replace) : dump_compact(doc);
}

}  // namespace rrun::spec
