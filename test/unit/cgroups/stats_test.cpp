#include <boost/test/unit_test.hpp>

#include <limits>
#include <string>

#include <rrun/cgroups/cgfs.hpp>
#include <rrun/cgroups/stats.hpp>
#include <rrun/os/file.hpp>

#include "../temp_dir.hpp"
#include "fake_cgroupfs.hpp"

namespace cg = rrun::cgroups;
namespace os = rrun::os;

namespace rrun::cgroups {
std::ostream& operator<<(std::ostream& o, const BlkioEntry& e) {
  return o << e.major << ":" << e.minor << " " << e.op << " " << e.value;
}
}  // namespace rrun::cgroups

namespace {

using rrun::test::put;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_stats)

BOOST_AUTO_TEST_CASE(v1_sample_files) {
  rrun::test::TempDir t;
  std::string R = t.path;
  put(R + "/cpuacct/cpuacct.usage", "123456789\n");
  put(R + "/cpuacct/cpuacct.usage_percpu", "100 200 \n");
  put(R + "/cpuacct/cpuacct.stat", "user 10\nsystem 5\n");
  put(R + "/cpu/cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 3000\n");
  put(R + "/memory/memory.usage_in_bytes", "8192\n");
  put(R + "/memory/memory.max_usage_in_bytes", "16384\n");
  put(R + "/memory/memory.failcnt", "1\n");
  put(R + "/memory/memory.limit_in_bytes", "9223372036854771712\n");
  put(R + "/memory/memory.memsw.usage_in_bytes", "9000\n");
  put(R + "/memory/memory.stat", "cache 4096\nrss 8192\n");
  put(R + "/memory/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  put(R + "/pids/pids.current", "5\n");
  put(R + "/pids/pids.max", "max\n");
  put(R + "/blkio/blkio.io_service_bytes_recursive", "8:0 Read 100\n8:0 Write 200\nTotal 300\n");
  put(R + "/blkio/blkio.io_serviced_recursive", "Total 0\n");  // no CFQ: the throttle file
  put(R + "/blkio/blkio.throttle.io_serviced_recursive", "8:16 Read 1\n");
  put(R + "/hugetlb/hugetlb.2MB.limit_in_bytes", "4194304\n");
  put(R + "/hugetlb/hugetlb.2MB.usage_in_bytes", "2097152\n");
  put(R + "/hugetlb/hugetlb.2MB.failcnt", "1\n");
  cg::Stats s = cg::read_v1_stats({{"cpuacct", R + "/cpuacct"},
                                   {"cpu", R + "/cpu"},
                                   {"memory", R + "/memory"},
                                   {"pids", R + "/pids"},
                                   {"blkio", R + "/blkio"},
                                   {"hugetlb", R + "/hugetlb"}},
                                  100);
  BOOST_TEST(s.cpu.usage.total == 123456789u);
  BOOST_TEST(s.cpu.usage.percpu == (std::vector<uint64_t>{100, 200}));
  BOOST_TEST(s.cpu.usage.user == 100000000u);  // 10 ticks at 100 Hz
  BOOST_TEST(s.cpu.usage.kernel == 50000000u);
  BOOST_TEST(s.cpu.throttling.periods == 10u);
  BOOST_TEST(s.cpu.throttling.throttled_periods == 2u);
  BOOST_TEST(s.cpu.throttling.throttled_time == 3000u);
  BOOST_TEST(s.memory.usage.usage == 8192u);
  BOOST_TEST(s.memory.usage.max == 16384u);
  BOOST_TEST(s.memory.usage.failcnt == 1u);
  BOOST_TEST(s.memory.usage.limit == 9223372036854771712u);
  BOOST_TEST(s.memory.swap.usage == 9000u);
  BOOST_TEST(s.memory.cache == 4096u);
  BOOST_TEST(s.memory.raw.at("rss") == 8192u);
  BOOST_TEST(*s.oom_kills == 3u);
  BOOST_TEST(s.pids.current == 5u);
  BOOST_TEST(s.pids.limit == 0u);  // max
  BOOST_REQUIRE_EQUAL(s.blkio.io_service_bytes_recursive.size(), 2u);
  BOOST_TEST((s.blkio.io_service_bytes_recursive[1] == cg::BlkioEntry{8, 0, "Write", 200}));
  BOOST_REQUIRE_EQUAL(s.blkio.io_serviced_recursive.size(), 1u);
  BOOST_TEST((s.blkio.io_serviced_recursive[0] == cg::BlkioEntry{8, 16, "Read", 1}));
  BOOST_TEST((s.hugetlb.at("2MB") == cg::HugetlbStats{2097152, 0, 1}));
  BOOST_TEST(*s.cpu_usage_ns == 123456789u);
  BOOST_TEST(*s.memory_usage == 8192u);
  BOOST_TEST(*s.pids_current == 5u);
  // No dirs, no numbers.
  BOOST_TEST((cg::read_v1_stats({}, 100) == cg::Stats{}));
}

BOOST_AUTO_TEST_CASE(v2_sample_files) {
  rrun::test::TempDir t;
  std::string d = t.path;
  put(d + "/cpu.stat",
      "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 7\nnr_throttled 1\nthrottled_usec 5\n");
  put(d + "/memory.current", "1000\n");
  put(d + "/memory.max", "max\n");
  put(d + "/memory.peak", "2000\n");
  put(d + "/memory.stat", "anon 10\nfile 20\n");
  put(d + "/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  put(d + "/memory.swap.current", "100\n");
  put(d + "/memory.swap.max", "500\n");
  put(d + "/pids.current", "3\n");
  put(d + "/pids.max", "10\n");
  put(d + "/io.stat", "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
  put(d + "/hugetlb.2MB.current", "4096\n");
  put(d + "/hugetlb.2MB.max", "max\n");
  put(d + "/hugetlb.2MB.events", "max 2\n");
  put(d + "/hugetlb.2MB.rsvd.current", "0\n");
  cg::Stats s = cg::read_v2_stats(d);
  BOOST_TEST(s.cpu.usage.total == 100000u);
  BOOST_TEST(s.cpu.usage.user == 60000u);
  BOOST_TEST(s.cpu.usage.kernel == 40000u);
  BOOST_TEST(s.cpu.usage.percpu.empty());
  BOOST_TEST(s.cpu.throttling.periods == 7u);
  BOOST_TEST(s.cpu.throttling.throttled_periods == 1u);
  BOOST_TEST(s.cpu.throttling.throttled_time == 5000u);
  BOOST_TEST(s.memory.usage.usage == 1000u);
  BOOST_TEST(s.memory.usage.limit == kMax);
  BOOST_TEST(s.memory.usage.max == 2000u);
  BOOST_TEST(s.memory.usage.failcnt == 4u);
  BOOST_TEST(s.memory.cache == 20u);
  BOOST_TEST(s.memory.swap.usage == 1100u);  // swap + memory, as runc
  BOOST_TEST(s.memory.swap.limit == kMax);   // memory unlimited
  BOOST_TEST(*s.oom_kills == 1u);
  BOOST_TEST(s.pids.current == 3u);
  BOOST_TEST(s.pids.limit == 10u);
  BOOST_TEST(s.blkio.io_service_bytes_recursive ==
                 (std::vector<cg::BlkioEntry>{{8, 0, "Read", 1}, {8, 0, "Write", 2}, {8, 0, "Discard", 0}}),
             boost::test_tools::per_element());
  BOOST_TEST(s.blkio.io_serviced_recursive ==
                 (std::vector<cg::BlkioEntry>{{8, 0, "Read", 3}, {8, 0, "Write", 4}, {8, 0, "Discard", 0}}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(s.hugetlb.size(), 1u);  // not "2MB.rsvd"
  BOOST_TEST((s.hugetlb.at("2MB") == cg::HugetlbStats{4096, 0, 2}));
  BOOST_TEST(*s.memory_limit == kMax);
  // A limited memory: swap limit = swap.max + memory.max.
  put(d + "/memory.max", "4000\n");
  BOOST_TEST(cg::read_v2_stats(d).memory.swap.limit == 4500u);
}

BOOST_AUTO_TEST_SUITE_END()
