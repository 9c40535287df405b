#pragma once
// linux.resources as data: the cgroup files to write and what to write, in
// order, for cgroup v2 and for cgroup v1. Pure: the drivers (v2.cpp, v1.cpp,
// later) open the files under their cgroup directories and write each value
// with one write(2).
//
// What runc and crun write was checked against crun
// src/libcrun/cgroup-resources.c and runc's libcontainer/cgroups/fs2 (and
// opencontainers/cgroups) — see the comments in resources.cpp for each
// field. Validation errors are os::Error naming the JSON path:
// "linux.resources.memory.swap: must be at least memory.limit (…)".

#include <cstdint>
#include <string>
#include <vector>

#include <rrun/spec/spec.hpp>

namespace rrun::cgroups {

struct FileWrite {
  // v1: the hierarchy the file lives in (memory, cpu, cpuset, pids, blkio,
  // hugetlb, net_cls, net_prio, rdma, devices). v2: the controller that owns
  // the file, i.e. what must be enabled in the parent's cgroup.subtree_control.
  std::string controller;
  std::string file;   // relative to the cgroup directory: "memory.max"
  std::string value;  // written as is, in one write(2)
  // When `file` does not exist (ENOENT), write `fallback_value` to
  // `fallback_file` instead (io.bfq.weight -> io.weight, blkio.weight ->
  // blkio.bfq.weight). Empty: no fallback.
  std::string fallback_file;
  std::string fallback_value;
  // ENOENT (of the file and its fallback) is not an error: swap accounting
  // off (memory.swap.max, memory.memsw.limit_in_bytes), no leaf weights.
  bool skip_if_missing = false;

  bool operator==(const FileWrite&) const = default;
};

// cgroup v2. Order: memory, pids, cpu, cpuset, io, hugetlb, rdma, unified
// (last, so that unified keys override what the typed fields wrote, as in
// runc). A throttle rate of 0 is written as "max" (v1's 0 means no limit;
// the v2 kernel refuses 0 with ERANGE). linux.resources.devices is not a file on v2 (an eBPF program the
// driver attaches) and is not translated here.
// Throws os::Error for what v2 cannot express (swappiness, kernelTCP,
// disableOOMKiller, realtime, leafWeight, network) and for invalid values.
std::vector<FileWrite> v2_resource_writes(const spec::Resources& r);

// cgroup v1, every hierarchy; the controller field says where each file goes.
// Throws os::Error for unified (v2 only) and invalid values.
//
// memory.limit_in_bytes comes before memory.memsw.limit_in_bytes; the kernel
// refuses a limit above the current memsw limit (EINVAL), so on EINVAL the
// driver writes the memsw value first and the limit again (crun).
// Likewise cpu.cfs_period_us before cpu.cfs_quota_us: on EINVAL for the
// period, write the quota and retry the period (crun).
std::vector<FileWrite> v1_resource_writes(const spec::Resources& r);
// The subset for one hierarchy ("memory", "cpu", ...).
std::vector<FileWrite> v1_resource_writes(const spec::Resources& r, const std::string& controller);

// The device rules crun and runc's specconv always allow after the spec's
// own (when the spec has device rules): mknod of any char and block device,
// /dev/null, zero, full, tty, random, urandom, console, ptmx, pts/*, tun.
// v1 writes them to devices.allow; v2 puts them in the eBPF program.
std::vector<spec::DeviceCgroupRule> default_device_rules();

// The distinct controllers of `writes`, in first-use order.
std::vector<std::string> controllers_of(const std::vector<FileWrite>& writes);

// shares (cgroup v1 cpu.shares, 2..262144) -> cgroup v2 cpu.weight (1..10000)
// with the quadratic of runc >= 1.3.2 / crun >= 1.23 (runc PR #4785), which
// maps 2 -> 1, 1024 -> 100 (both defaults) and 262144 -> 10000:
//   l = log2(shares); weight = ceil(10^((l*l + 125*l)/612 - 7/34)).
// 0 means unset and returns 0; <= 2 gives 1; >= 262144 gives 10000.
uint64_t cpu_shares_to_weight(uint64_t shares);

// blkio weight (10..1000) -> io.weight (1..10000), linearly as runc and crun:
// 1 + (weight - 10) * 9999 / 990. 0 returns 0 (unset).
uint64_t blkio_weight_to_io_weight(uint64_t weight);

// The runtime-spec JSON names of the limits `r` asks for
// ("linux.resources.memory.limit", ...), in spec order. Device rules are not
// listed: without a devices cgroup rootless containers still cannot create
// device nodes.
std::vector<std::string> requested_limits(const spec::Resources& r);

}  // namespace rrun::cgroups
