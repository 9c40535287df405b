#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <rrun/cgroups/resources.hpp>
#include <rrun/os/error.hpp>

namespace cg = rrun::cgroups;
namespace spec = rrun::spec;

namespace {

// "file=value", with " (else fallback=value)" and " (optional)" when set.
std::vector<std::string> show(const std::vector<cg::FileWrite>& writes) {
  std::vector<std::string> out;
  for (const auto& w : writes) {
    std::string s = w.file + "=" + w.value;
    if (!w.fallback_file.empty()) s += " (else " + w.fallback_file + "=" + w.fallback_value + ")";
    if (w.skip_if_missing) s += " (optional)";
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> v2(const spec::Resources& r) {
  return show(cg::v2_resource_writes(r));
}

std::string v2_error(const spec::Resources& r) {
  try {
    cg::v2_resource_writes(r);
  } catch (const rrun::os::Error& e) {
    return e.what();
  }
  return "(no error)";
}

spec::Resources memory(spec::MemoryResources m) {
  spec::Resources r;
  r.memory = m;
  return r;
}

spec::Resources cpu(spec::CpuResources c) {
  spec::Resources r;
  r.cpu = c;
  return r;
}

using V = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_resources_v2)

BOOST_AUTO_TEST_CASE(empty_resources_write_nothing) {
  BOOST_TEST(cg::v2_resource_writes(spec::Resources{}).empty());
}

BOOST_AUTO_TEST_CASE(memory_limit_reservation_swap) {
  spec::MemoryResources m;
  m.limit = 1 << 30;
  m.reservation = 1 << 29;
  m.swap = 2LL << 30;
  V want{"memory.max=1073741824", "memory.swap.max=1073741824 (optional)", "memory.low=536870912"};
  BOOST_TEST(v2(memory(m)) == want, boost::test_tools::per_element());
  BOOST_TEST(cg::v2_resource_writes(memory(m))[0].controller == "memory");
}

BOOST_AUTO_TEST_CASE(memory_minus_one_is_max) {
  spec::MemoryResources m;
  m.limit = -1;
  m.reservation = -1;
  m.swap = -1;
  V want{"memory.max=max", "memory.swap.max=max (optional)", "memory.low=max"};
  BOOST_TEST(v2(memory(m)) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(memory_swap_edge_cases) {
  spec::MemoryResources m;
  m.limit = 1000;
  m.swap = 1000;  // equal: no swap beyond memory
  BOOST_TEST(v2(memory(m)) == (V{"memory.max=1000", "memory.swap.max=0 (optional)"}), boost::test_tools::per_element());
  m.swap = 0;  // 0: no swap at all (crun)
  BOOST_TEST(v2(memory(m)) == (V{"memory.max=1000", "memory.swap.max=0 (optional)"}), boost::test_tools::per_element());
  spec::MemoryResources only_swap;
  only_swap.swap = -1;  // unlimited swap needs no limit
  BOOST_TEST(v2(memory(only_swap)) == (V{"memory.swap.max=max (optional)"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(memory_swap_errors) {
  spec::MemoryResources m;
  m.limit = 2000;
  m.swap = 1000;
  BOOST_TEST(v2_error(memory(m)) ==
             "linux.resources.memory.swap: must be at least memory.limit (swap 1000 < limit 2000; swap is the "
             "memory+swap total)");
  m.limit.reset();
  BOOST_TEST(v2_error(memory(m)) ==
             "linux.resources.memory.swap: needs a positive memory.limit (swap is the memory+swap total), got no "
             "limit");
  m.limit = -1;
  BOOST_TEST(v2_error(memory(m)) ==
             "linux.resources.memory.swap: needs a positive memory.limit (swap is the memory+swap total), got limit "
             "-1");
}

BOOST_AUTO_TEST_CASE(memory_fields_v2_cannot_express) {
  spec::MemoryResources m;
  m.swappiness = 60;
  BOOST_TEST(v2_error(memory(m)) == "linux.resources.memory.swappiness: not supported on cgroup v2");
  m = {};
  m.kernel_tcp = 1 << 20;
  BOOST_TEST(v2_error(memory(m)) == "linux.resources.memory.kernelTCP: not supported on cgroup v2");
  m = {};
  m.disable_oom_killer = true;
  BOOST_TEST(v2_error(memory(m)) ==
             "linux.resources.memory.disableOOMKiller: not supported on cgroup v2 (use memory.oom.group or leave it "
             "unset)");
  m = {};
  m.use_hierarchy = false;
  BOOST_TEST(v2_error(memory(m)) ==
             "linux.resources.memory.useHierarchy: cannot be false on cgroup v2 (it is always hierarchical)");
}

BOOST_AUTO_TEST_CASE(memory_fields_ignored_on_v2) {
  spec::MemoryResources m;
  m.kernel = 1 << 20;  // deprecated kmem limit: ignored (runc)
  m.disable_oom_killer = false;
  m.use_hierarchy = true;
  m.check_before_update = true;  // a check of the driver, not a write
  BOOST_TEST(cg::v2_resource_writes(memory(m)).empty());
}

BOOST_AUTO_TEST_CASE(pids_limit) {
  spec::Resources r;
  r.pids = spec::PidsResources{};
  BOOST_TEST(cg::v2_resource_writes(r).empty());  // absent limit: nothing
  r.pids->limit = 100;
  BOOST_TEST(v2(r) == (V{"pids.max=100"}), boost::test_tools::per_element());
  r.pids->limit = -1;
  BOOST_TEST(v2(r) == (V{"pids.max=max"}), boost::test_tools::per_element());
  r.pids->limit = 0;  // runtime-spec 1.3, runc >= 1.4: a real limit
  BOOST_TEST(v2(r) == (V{"pids.max=0"}), boost::test_tools::per_element());
  BOOST_TEST(cg::v2_resource_writes(r)[0].controller == "pids");
}

BOOST_AUTO_TEST_CASE(shares_to_weight_conversion) {
  struct Row {
    uint64_t shares, weight;
  };
  const Row rows[] = {{0, 0},          {1, 1},          {2, 1},          {3, 2},      {100, 17},
                      {512, 59},       {1024, 100},     {2048, 174},     {4096, 303}, {100000, 4340},
                      {262143, 10000}, {262144, 10000}, {1000000, 10000}};
  for (const auto& r : rows) {
    BOOST_TEST_INFO("shares " << r.shares);
    BOOST_TEST(cg::cpu_shares_to_weight(r.shares) == r.weight);
  }
}

// rrun computes the conversion without libm; every value must equal crun's
// formula evaluated with libm.
BOOST_AUTO_TEST_CASE(cpu_shares_conversion_matches_libm_everywhere) {
  int mismatches = 0;
  for (uint64_t shares = 3; shares < 262144; ++shares) {
    double l = std::log2(static_cast<double>(shares));
    auto want = static_cast<uint64_t>(std::ceil(std::pow(10.0, (l * l + 125 * l) / 612.0 - 7.0 / 34.0)));
    if (cg::cpu_shares_to_weight(shares) != want && mismatches++ < 5)
      BOOST_TEST(cg::cpu_shares_to_weight(shares) == want, "shares " << shares);
  }
  BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_CASE(blkio_weight_conversion) {
  BOOST_TEST(cg::blkio_weight_to_io_weight(0) == 0u);
  BOOST_TEST(cg::blkio_weight_to_io_weight(10) == 1u);
  BOOST_TEST(cg::blkio_weight_to_io_weight(100) == 910u);
  BOOST_TEST(cg::blkio_weight_to_io_weight(500) == 4950u);
  BOOST_TEST(cg::blkio_weight_to_io_weight(1000) == 10000u);
}

BOOST_AUTO_TEST_CASE(cpu_fields) {
  spec::CpuResources c;
  c.shares = 1024;
  c.quota = 50000;
  c.period = 200000;
  c.burst = 10000;
  c.idle = 1;
  c.cpus = "0-3,7";
  c.mems = "0";
  V want{"cpu.weight=100", "cpu.max=50000 200000", "cpu.max.burst=10000",
         "cpu.idle=1",     "cpuset.cpus=0-3,7",    "cpuset.mems=0"};
  BOOST_TEST(v2(cpu(c)) == want, boost::test_tools::per_element());
  auto writes = cg::v2_resource_writes(cpu(c));
  BOOST_TEST(writes[0].controller == "cpu");
  BOOST_TEST(writes[4].controller == "cpuset");
  BOOST_TEST(cg::controllers_of(writes) == (V{"cpu", "cpuset"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cpu_max_forms) {
  spec::CpuResources c;
  c.quota = 25000;  // period defaults to 100000 (crun)
  BOOST_TEST(v2(cpu(c)) == (V{"cpu.max=25000 100000"}), boost::test_tools::per_element());
  c.quota = -1;  // unlimited
  BOOST_TEST(v2(cpu(c)) == (V{"cpu.max=max 100000"}), boost::test_tools::per_element());
  c.quota.reset();
  c.period = 50000;  // period alone keeps quota unlimited
  BOOST_TEST(v2(cpu(c)) == (V{"cpu.max=max 50000"}), boost::test_tools::per_element());
  c = {};
  c.quota = 0;  // 0 means unset (runc, crun)
  c.period = 0;
  c.shares = 0;
  BOOST_TEST(cg::v2_resource_writes(cpu(c)).empty());
}

BOOST_AUTO_TEST_CASE(cpu_realtime_is_v1_only) {
  spec::CpuResources c;
  c.realtime_runtime = 950000;
  BOOST_TEST(v2_error(cpu(c)) == "linux.resources.cpu.realtimeRuntime: not supported on cgroup v2");
  c = {};
  c.realtime_period = 1000000;
  BOOST_TEST(v2_error(cpu(c)) == "linux.resources.cpu.realtimePeriod: not supported on cgroup v2");
}

BOOST_AUTO_TEST_CASE(throttle_rate_zero_is_max) {
  // v1 reads 0 as "no limit"; the v2 kernel refuses 0 (ERANGE): "max".
  spec::Resources r;
  r.block_io = spec::BlockIoResources{};
  r.block_io->throttle_read_bps_device = {{8, 0, 0}};
  r.block_io->throttle_write_iops_device = {{8, 0, 7}};
  BOOST_TEST(v2(r) == (V{"io.max=8:0 rbps=max wiops=7"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(block_io) {
  spec::Resources r;
  r.block_io = spec::BlockIoResources{};
  auto& b = *r.block_io;
  b.weight = 500;
  b.weight_device = {{8, 0, 300, std::nullopt}, {8, 16, std::nullopt, 200}};
  b.throttle_read_bps_device = {{8, 0, 1048576}};
  b.throttle_write_bps_device = {{8, 0, 2097152}, {8, 16, 4096}};
  b.throttle_read_iops_device = {{8, 0, 100}};
  b.throttle_write_iops_device = {{8, 0, 200}};
  V want{"io.bfq.weight=500 (else io.weight=4950)", "io.bfq.weight=8:0 300",
         "io.max=8:0 rbps=1048576 wbps=2097152 riops=100 wiops=200", "io.max=8:16 wbps=4096"};
  BOOST_TEST(v2(r) == want, boost::test_tools::per_element());
  BOOST_TEST(cg::controllers_of(cg::v2_resource_writes(r)) == (V{"io"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(block_io_errors) {
  spec::Resources r;
  r.block_io = spec::BlockIoResources{};
  r.block_io->weight = 5;
  BOOST_TEST(v2_error(r) == "linux.resources.blockIO.weight: must be between 10 and 1000, got 5");
  r.block_io->weight = 1001;
  BOOST_TEST(v2_error(r) == "linux.resources.blockIO.weight: must be between 10 and 1000, got 1001");
  r.block_io->weight.reset();
  r.block_io->leaf_weight = 100;
  BOOST_TEST(v2_error(r) == "linux.resources.blockIO.leafWeight: not supported on cgroup v2");
  r.block_io->leaf_weight.reset();
  r.block_io->weight_device = {{8, 0, 2000, std::nullopt}};
  BOOST_TEST(v2_error(r) == "linux.resources.blockIO.weightDevice[0].weight: must be between 10 and 1000, got 2000");
}

BOOST_AUTO_TEST_CASE(hugetlb_and_rdma) {
  spec::Resources r;
  r.hugepage_limits = {{"2MB", 209715200}, {"1GB", 1073741824}};
  r.rdma["mlx5_0"] = {3, 1000};
  r.rdma["mlx5_1"] = {std::nullopt, 10};
  r.rdma["mlx5_2"] = {};  // nothing to limit
  V want{"hugetlb.2MB.max=209715200", "hugetlb.1GB.max=1073741824", "rdma.max=mlx5_0 hca_handle=3 hca_object=1000",
         "rdma.max=mlx5_1 hca_object=10"};
  BOOST_TEST(v2(r) == want, boost::test_tools::per_element());
  r.hugepage_limits = {{"2M", 1}};
  BOOST_TEST(v2_error(r) ==
             "linux.resources.hugepageLimits[0].pageSize: expected a size such as `2MB` or `1GB`, got `2M`");
  r.hugepage_limits = {{"2MB", 1}, {"../x/1GB", 1}};
  BOOST_TEST(v2_error(r) ==
             "linux.resources.hugepageLimits[1].pageSize: expected a size such as `2MB` or `1GB`, got `../x/1GB`");
}

BOOST_AUTO_TEST_CASE(network_is_v1_only) {
  spec::Resources r;
  r.network.emplace();
  BOOST_TEST(cg::v2_resource_writes(r).empty());  // an empty object asks for nothing
  r.network->class_id = 0x100001;
  BOOST_TEST(v2_error(r) ==
             "linux.resources.network: not supported on cgroup v2 (net_cls and net_prio are v1 controllers)");
}

BOOST_AUTO_TEST_CASE(devices_are_not_files_on_v2) {
  spec::Resources r;
  r.devices = {{false, "", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rw"}};
  BOOST_TEST(cg::v2_resource_writes(r).empty());
  r.devices[1].access = "rwx";
  BOOST_TEST(v2_error(r) == "linux.resources.devices[1].access: expected letters of `rwm`, got `rwx`");
  r.devices[1].access = "r";
  r.devices[1].type = "p";
  BOOST_TEST(v2_error(r) == "linux.resources.devices[1].type: expected `a`, `c` or `b`, got `p`");
}

BOOST_AUTO_TEST_CASE(unified_passthrough_last) {
  spec::Resources r;
  r.pids = spec::PidsResources{10};
  r.unified["memory.high"] = "1073741824";
  r.unified["io.max"] = "8:0 rbps=1\n\n8:16 wbps=2\n";  // one write per line
  r.unified["memory.oom.group"] = "";                   // empty: nothing
  r.unified["cgroup.max.depth"] = "3";
  V want{"pids.max=10", "cgroup.max.depth=3", "io.max=8:0 rbps=1", "io.max=8:16 wbps=2", "memory.high=1073741824"};
  BOOST_TEST(v2(r) == want, boost::test_tools::per_element());
  auto writes = cg::v2_resource_writes(r);
  BOOST_TEST(writes[1].controller == "cgroup");
  BOOST_TEST(writes[4].controller == "memory");
}

BOOST_AUTO_TEST_CASE(unified_key_validation) {
  auto err = [](const std::string& key) {
    spec::Resources r;
    r.unified[key] = "1";
    return v2_error(r);
  };
  BOOST_TEST(err("cgroup.procs") ==
             "linux.resources.unified[\"cgroup.procs\"]: `cgroup.procs` cannot be set: only `cgroup.max.depth` and "
             "`cgroup.max.descendants` among the cgroup.* files are limits");
  BOOST_TEST(err("cgroup.kill").find("`cgroup.kill` cannot be set") != std::string::npos);
  BOOST_TEST(err("cgroup.subtree_control").find("cannot be set") != std::string::npos);
  BOOST_TEST(err("../memory.max") ==
             "linux.resources.unified[\"../memory.max\"]: the key must be a file name, without `/`");
  BOOST_TEST(err("memory") ==
             "linux.resources.unified[\"memory\"]: the key must have the form CONTROLLER.FILE, such as `memory.high`");
  BOOST_TEST(err(".max").find("CONTROLLER.FILE") != std::string::npos);
  BOOST_TEST(err("memory.").find("CONTROLLER.FILE") != std::string::npos);
  BOOST_TEST(err("foo.bar") ==
             "linux.resources.unified[\"foo.bar\"]: unknown controller `foo` (known: cpu, cpuset, hugetlb, io, "
             "memory, misc, pids, rdma)");
  BOOST_TEST(err("memory.max\nx") == "linux.resources.unified[\"memory.max\nx\"]: the key must be a file name");
  BOOST_TEST(err("cgroup.max.descendants") == "(no error)");
  BOOST_TEST(err("misc.max") == "(no error)");
}

BOOST_AUTO_TEST_SUITE_END()
