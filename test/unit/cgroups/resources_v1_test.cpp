#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <rrun/cgroups/resources.hpp>
#include <rrun/os/error.hpp>

namespace cg = rrun::cgroups;
namespace spec = rrun::spec;

namespace {

// "controller/file=value", with " (else fallback=value)" and " (optional)".
std::vector<std::string> show(const std::vector<cg::FileWrite>& writes) {
  std::vector<std::string> out;
  for (const auto& w : writes) {
    std::string s = w.controller + "/" + w.file + "=" + w.value;
    if (!w.fallback_file.empty()) s += " (else " + w.fallback_file + "=" + w.fallback_value + ")";
    if (w.skip_if_missing) s += " (optional)";
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> v1(const spec::Resources& r) {
  return show(cg::v1_resource_writes(r));
}

std::string v1_error(const spec::Resources& r) {
  try {
    cg::v1_resource_writes(r);
  } catch (const rrun::os::Error& e) {
    return e.what();
  }
  return "(no error)";
}

using V = std::vector<std::string>;

// crun's default allow list, appended after the spec's device rules.
const V kDefaultDevices{
    "devices/devices.allow=c *:* m",     "devices/devices.allow=b *:* m",   "devices/devices.allow=c 1:3 rwm",
    "devices/devices.allow=c 1:8 rwm",   "devices/devices.allow=c 1:7 rwm", "devices/devices.allow=c 5:0 rwm",
    "devices/devices.allow=c 1:5 rwm",   "devices/devices.allow=c 1:9 rwm", "devices/devices.allow=c 5:1 rwm",
    "devices/devices.allow=c 136:* rwm", "devices/devices.allow=c 5:2 rwm", "devices/devices.allow=c 10:200 rwm"};

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_resources_v1)

BOOST_AUTO_TEST_CASE(empty_resources_write_nothing) {
  BOOST_TEST(cg::v1_resource_writes(spec::Resources{}).empty());
}

BOOST_AUTO_TEST_CASE(memory_fields) {
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  auto& m = *r.memory;
  m.limit = 1 << 30;
  m.swap = 2LL << 30;  // memsw is memory+swap as in the spec: no conversion
  m.reservation = 1 << 29;
  m.kernel = 1 << 20;  // ignored
  m.kernel_tcp = 1 << 21;
  m.use_hierarchy = true;
  m.swappiness = 0;
  m.disable_oom_killer = true;
  V want{"memory/memory.limit_in_bytes=1073741824",
         "memory/memory.memsw.limit_in_bytes=2147483648 (optional)",
         "memory/memory.soft_limit_in_bytes=536870912",
         "memory/memory.kmem.tcp.limit_in_bytes=2097152",
         "memory/memory.use_hierarchy=1",
         "memory/memory.swappiness=0",
         "memory/memory.oom_control=1"};
  BOOST_TEST(v1(r) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(memory_unlimited_and_defaults) {
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = -1;
  r.memory->swap = -1;
  r.memory->use_hierarchy = false;
  r.memory->disable_oom_killer = false;  // false writes nothing (crun)
  V want{"memory/memory.limit_in_bytes=-1", "memory/memory.memsw.limit_in_bytes=-1 (optional)",
         "memory/memory.use_hierarchy=0"};
  BOOST_TEST(v1(r) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(memory_errors) {
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 4096;
  r.memory->swap = 1024;
  BOOST_TEST(v1_error(r) ==
             "linux.resources.memory.swap: must be at least memory.limit (swap 1024 < limit 4096; swap is the "
             "memory+swap total)");
  r.memory->swap.reset();
  r.memory->swappiness = 101;
  BOOST_TEST(v1_error(r) == "linux.resources.memory.swappiness: must be between 0 and 100, got 101");
}

BOOST_AUTO_TEST_CASE(pids) {
  spec::Resources r;
  r.pids = spec::PidsResources{-1};
  BOOST_TEST(v1(r) == (V{"pids/pids.max=max"}), boost::test_tools::per_element());
  r.pids->limit = 64;
  BOOST_TEST(v1(r) == (V{"pids/pids.max=64"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cpu_fields) {
  spec::Resources r;
  r.cpu = spec::CpuResources{};
  auto& c = *r.cpu;
  c.shares = 512;  // raw on v1
  c.quota = -1;
  c.period = 100000;
  c.burst = 5000;
  c.realtime_runtime = 950000;
  c.realtime_period = 1000000;
  c.idle = 0;
  c.cpus = "0-1";
  c.mems = "0";
  V want{"cpu/cpu.shares=512",
         "cpu/cpu.cfs_period_us=100000",
         "cpu/cpu.cfs_quota_us=-1",
         "cpu/cpu.cfs_burst_us=5000",
         "cpu/cpu.rt_period_us=1000000",
         "cpu/cpu.rt_runtime_us=950000",
         "cpu/cpu.idle=0",
         "cpuset/cpuset.cpus=0-1",
         "cpuset/cpuset.mems=0"};
  BOOST_TEST(v1(r) == want, boost::test_tools::per_element());
  BOOST_TEST(show(cg::v1_resource_writes(r, "cpuset")) == (V{"cpuset/cpuset.cpus=0-1", "cpuset/cpuset.mems=0"}),
             boost::test_tools::per_element());
  BOOST_TEST(cg::controllers_of(cg::v1_resource_writes(r)) == (V{"cpu", "cpuset"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(block_io) {
  spec::Resources r;
  r.block_io = spec::BlockIoResources{};
  auto& b = *r.block_io;
  b.weight = 300;
  b.leaf_weight = 200;
  b.weight_device = {{8, 0, 400, 100}, {8, 16, std::nullopt, 50}};
  b.throttle_read_bps_device = {{8, 0, 1048576}, {8, 16, 0}};
  b.throttle_write_bps_device = {{8, 0, 2}};
  b.throttle_read_iops_device = {{8, 0, 3}};
  b.throttle_write_iops_device = {{8, 0, 4}};
  V want{"blkio/blkio.weight=300 (else blkio.bfq.weight=300)",
         "blkio/blkio.leaf_weight=200",
         "blkio/blkio.weight_device=8:0 400 (else blkio.bfq.weight_device=8:0 400)",
         "blkio/blkio.leaf_weight_device=8:0 100 (optional)",
         "blkio/blkio.leaf_weight_device=8:16 50 (optional)",
         "blkio/blkio.throttle.read_bps_device=8:0 1048576",
         "blkio/blkio.throttle.read_bps_device=8:16 0",
         "blkio/blkio.throttle.write_bps_device=8:0 2",
         "blkio/blkio.throttle.read_iops_device=8:0 3",
         "blkio/blkio.throttle.write_iops_device=8:0 4"};
  BOOST_TEST(v1(r) == want, boost::test_tools::per_element());
  b = {};
  b.leaf_weight = 9;
  BOOST_TEST(v1_error(r) == "linux.resources.blockIO.leafWeight: must be between 10 and 1000, got 9");
  b = {};
  b.weight_device = {{8, 0, std::nullopt, 1001}};
  BOOST_TEST(v1_error(r) ==
             "linux.resources.blockIO.weightDevice[0].leafWeight: must be between 10 and 1000, got 1001");
}

BOOST_AUTO_TEST_CASE(hugetlb_network_rdma) {
  spec::Resources r;
  r.hugepage_limits = {{"2MB", 1024}};
  r.network.emplace();
  r.network->class_id = 1048577;
  r.network->priorities = {{"eth0", 5}, {"lo", 0}};
  r.rdma["mlx4_0"] = {2, std::nullopt};
  V want{"hugetlb/hugetlb.2MB.limit_in_bytes=1024", "net_cls/net_cls.classid=1048577",
         "net_prio/net_prio.ifpriomap=eth0 5", "net_prio/net_prio.ifpriomap=lo 0", "rdma/rdma.max=mlx4_0 hca_handle=2"};
  BOOST_TEST(v1(r) == want, boost::test_tools::per_element());
  r.hugepage_limits = {{"huge", 1}};
  BOOST_TEST(v1_error(r) ==
             "linux.resources.hugepageLimits[0].pageSize: expected a size such as `2MB` or `1GB`, got `huge`");
}

BOOST_AUTO_TEST_CASE(devices_rules_then_defaults) {
  spec::Resources r;
  r.devices = {{false, "", std::nullopt, std::nullopt, "rwm"},
               {true, "c", 1, 3, "rw"},
               {true, "b", 8, std::nullopt, "r"},
               {false, "a", std::nullopt, std::nullopt, "rwm"}};
  V want{"devices/devices.deny=a", "devices/devices.allow=c 1:3 rw", "devices/devices.allow=b 8:* r",
         "devices/devices.deny=a"};
  want.insert(want.end(), kDefaultDevices.begin(), kDefaultDevices.end());
  BOOST_TEST(v1(r) == want, boost::test_tools::per_element());
  r.devices[2].access = "x";
  BOOST_TEST(v1_error(r) == "linux.resources.devices[2].access: expected letters of `rwm`, got `x`");
}

BOOST_AUTO_TEST_CASE(unified_is_v2_only) {
  spec::Resources r;
  r.unified["memory.high"] = "1";
  BOOST_TEST(v1_error(r) == "linux.resources.unified: not supported on cgroup v1 (it names cgroup v2 files)");
}

BOOST_AUTO_TEST_SUITE_END()
