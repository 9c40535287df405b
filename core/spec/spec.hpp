#pragma once
// The OCI runtime-spec model (config.md, config-linux.md; target 1.3.0,
// any 1.x accepted). Plain data: field names are the JSON names in
// snake_case; an optional JSON object or scalar is std::optional, an absent
// array is empty. Parsing and serialization live in parse.hpp.
//
// Fields rrun cannot honour yet are still modelled, so that later code can
// refuse them with a clear error instead of ignoring them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rrun::spec {

inline constexpr const char* kOciVersion = "1.3.0";

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

// Whether one of `maps` maps the host id `id` into the container.
inline bool maps_host_id(const std::vector<IdMapping>& maps, uint64_t id) {
  for (const auto& m : maps)
    if (id >= m.host_id && id - m.host_id < m.size) return true;
  return false;
}

struct Root {
  std::string path;
  bool readonly = false;
  bool operator==(const Root&) const = default;
};

struct Mount {
  std::string destination;
  std::string type;    // empty when absent
  std::string source;  // empty when absent
  std::vector<std::string> options;
  std::vector<IdMapping> uid_mappings;  // idmapped mounts
  std::vector<IdMapping> gid_mappings;
  bool operator==(const Mount&) const = default;
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
  bool operator==(const ConsoleSize&) const = default;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  std::string username;  // Windows only; kept for round trips
  bool operator==(const User&) const = default;
};

struct Capabilities {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> inheritable;
  std::vector<std::string> permitted;
  std::vector<std::string> ambient;
  bool operator==(const Capabilities&) const = default;
};

struct Rlimit {
  std::string type;  // RLIMIT_NOFILE, ...
  uint64_t hard = 0;
  uint64_t soft = 0;
  bool operator==(const Rlimit&) const = default;
};

struct Scheduler {
  std::string policy;  // SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE
  std::optional<int32_t> nice;
  std::optional<int32_t> priority;
  std::vector<std::string> flags;  // SCHED_FLAG_RESET_ON_FORK, ...
  std::optional<uint64_t> runtime;
  std::optional<uint64_t> deadline;
  std::optional<uint64_t> period;
  bool operator==(const Scheduler&) const = default;
};

struct IoPriority {
  std::string io_class;  // JSON "class": IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE
  int32_t priority = 0;
  bool operator==(const IoPriority&) const = default;
};

struct ExecCpuAffinity {
  std::string initial;  // cpu list such as "0-3,7"
  std::string final;
  bool operator==(const ExecCpuAffinity&) const = default;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  std::string cwd;
  std::vector<std::string> env;
  std::vector<std::string> args;
  std::string command_line;  // Windows only
  User user;
  std::optional<Capabilities> capabilities;  // absent or empty: no capabilities (exec --process: inherited)
  std::vector<Rlimit> rlimits;
  std::optional<bool> no_new_privileges;  // absent and false differ for `exec --process`
  std::string apparmor_profile;
  std::optional<int32_t> oom_score_adj;
  std::string selinux_label;
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
  std::optional<ExecCpuAffinity> exec_cpu_affinity;
  bool operator==(const Process&) const = default;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int32_t> timeout;  // seconds, > 0
  bool operator==(const Hook&) const = default;
};

struct Hooks {
  std::vector<Hook> prestart;  // deprecated, still run
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
  bool operator==(const Hooks&) const = default;
};

enum class NamespaceType { pid, network, mount, ipc, uts, user, cgroup, time };

struct Namespace {
  NamespaceType type = NamespaceType::mount;
  std::string path;  // empty: create a new one; else join it
  bool operator==(const Namespace&) const = default;
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
  bool operator==(const TimeOffset&) const = default;
};

struct Device {
  std::string type;  // c, b, u, p
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  bool operator==(const Device&) const = default;
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type;  // a, c, b; empty = all
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::string access;  // rwm subset
  bool operator==(const DeviceCgroupRule&) const = default;
};

struct MemoryResources {
  std::optional<int64_t> limit;
  std::optional<int64_t> reservation;
  std::optional<int64_t> swap;
  std::optional<int64_t> kernel;
  std::optional<int64_t> kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;
  bool operator==(const MemoryResources&) const = default;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;
  std::string mems;
  std::optional<int64_t> idle;
  bool operator==(const CpuResources&) const = default;
};

struct PidsResources {
  std::optional<int64_t> limit;
  bool operator==(const PidsResources&) const = default;
};

struct WeightDevice {
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  bool operator==(const WeightDevice&) const = default;
};

struct ThrottleDevice {
  int64_t major = 0;
  int64_t minor = 0;
  uint64_t rate = 0;
  bool operator==(const ThrottleDevice&) const = default;
};

struct BlockIoResources {
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps_device;
  std::vector<ThrottleDevice> throttle_write_bps_device;
  std::vector<ThrottleDevice> throttle_read_iops_device;
  std::vector<ThrottleDevice> throttle_write_iops_device;
  bool operator==(const BlockIoResources&) const = default;
};

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB"
  uint64_t limit = 0;
  bool operator==(const HugepageLimit&) const = default;
};

struct NetworkPriority {
  std::string name;
  uint32_t priority = 0;
  bool operator==(const NetworkPriority&) const = default;
};

struct NetworkResources {
  std::optional<uint32_t> class_id;
  std::vector<NetworkPriority> priorities;
  bool operator==(const NetworkResources&) const = default;
};

struct RdmaLimit {
  std::optional<uint32_t> hca_handles;
  std::optional<uint32_t> hca_objects;
  bool operator==(const RdmaLimit&) const = default;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<BlockIoResources> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<NetworkResources> network;
  std::map<std::string, RdmaLimit> rdma;
  std::map<std::string, std::string> unified;
  bool operator==(const Resources&) const = default;
};

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_NE, SCMP_CMP_LT, ..., SCMP_CMP_MASKED_EQ
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  bool operator==(const SeccompSyscall&) const = default;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
  bool operator==(const Seccomp&) const = default;
};

struct IntelRdt {
  std::string clos_id;
  std::string l3_cache_schema;
  std::string mem_bw_schema;
  std::vector<std::string> schemata;
  std::optional<bool> enable_monitoring;
  std::optional<bool> enable_cmt;  // before 1.3
  std::optional<bool> enable_mbm;  // before 1.3
  bool operator==(const IntelRdt&) const = default;
};

struct MemoryPolicy {
  std::string mode;  // MPOL_DEFAULT, MPOL_BIND, ...
  std::string nodes;
  std::vector<std::string> flags;
  bool operator==(const MemoryPolicy&) const = default;
};

struct Personality {
  std::string domain;  // LINUX, LINUX32
  std::vector<std::string> flags;
  bool operator==(const Personality&) const = default;
};

struct NetDevice {
  std::string name;
  bool operator==(const NetDevice&) const = default;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::optional<IntelRdt> intel_rdt;
  std::optional<MemoryPolicy> memory_policy;
  std::map<std::string, NetDevice> net_devices;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // private, shared, slave, unbindable; empty = default
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
  std::optional<Personality> personality;

  bool has_namespace(NamespaceType t) const {
    for (const auto& ns : namespaces)
      if (ns.type == t) return true;
    return false;
  }
  const Namespace* find_namespace(NamespaceType t) const {
    for (const auto& ns : namespaces)
      if (ns.type == t) return &ns;
    return nullptr;
  }
  bool operator==(const Linux&) const = default;
};

struct Spec {
  std::string oci_version;
  std::optional<Root> root;
  std::vector<Mount> mounts;
  std::optional<Process> process;
  std::string hostname;
  std::string domainname;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
  // Top-level members rrun does not model (windows, vm, solaris, zos, and
  // anything newer), kept as JSON text so a round trip preserves them.
  std::map<std::string, std::string> extensions;
  bool operator==(const Spec&) const = default;
};

// "pid", "network", ... as in config-linux.md.
const char* namespace_type_name(NamespaceType t);
// Throws os::Error for an unknown name.
NamespaceType parse_namespace_type(const std::string& name);

}  // namespace rrun::spec
