#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rrun/cgroups/manager.hpp>
#include <rrun/cgroups/systemd.hpp>
#include <rrun/os/error.hpp>

namespace cg = rrun::cgroups;
namespace spec = rrun::spec;
namespace os = rrun::os;

namespace {

constexpr uint64_t kInf = std::numeric_limits<uint64_t>::max();

const cg::UnitProperty* find(const std::vector<cg::UnitProperty>& props, const std::string& name) {
  for (const auto& p : props)
    if (p.name == name) return &p;
  return nullptr;
}

uint64_t u64(const std::vector<cg::UnitProperty>& props, const std::string& name) {
  const auto* p = find(props, name);
  BOOST_REQUIRE_MESSAGE(p, name << " missing");
  return std::get<uint64_t>(p->value);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cgroups_systemd)

BOOST_AUTO_TEST_CASE(unit_names) {
  auto d = cg::systemd_unit("", "c1", false);
  BOOST_TEST(d.slice == "system.slice");
  BOOST_TEST(d.unit == "rrun-c1.scope");
  BOOST_TEST(cg::systemd_unit("", "c1", true).slice == "user.slice");
  auto docker = cg::systemd_unit("system.slice:docker:abc", "x", false);
  BOOST_TEST(docker.slice == "system.slice");
  BOOST_TEST(docker.unit == "docker-abc.scope");
  BOOST_TEST(cg::systemd_unit(":rrun:c1", "x", true).slice == "user.slice");
  BOOST_TEST(cg::systemd_unit("machine.slice::c1", "x", false).unit == "c1.scope");
  BOOST_TEST(cg::systemd_unit("machine.slice:p:pod-1.slice", "x", false).unit == "pod-1.slice");
  for (const char* bad : {"a/b.slice:p:n", "system.slice:p:", "system:p:n", "/system.slice/x", "system.slice:p:a b"})
    BOOST_CHECK_THROW(cg::systemd_unit(bad, "x", false), os::Error);
}

BOOST_AUTO_TEST_CASE(slice_paths) {
  BOOST_TEST(cg::expand_slice("system.slice") == "/system.slice");
  BOOST_TEST(cg::expand_slice("user-1000.slice") == "/user.slice/user-1000.slice");
  BOOST_TEST(cg::expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice");
  BOOST_TEST(cg::expand_slice("-.slice") == "/");
  for (const char* bad : {"foo", ".slice", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice"})
    BOOST_CHECK_THROW(cg::expand_slice(bad), os::Error);
}

// Issue 11 point 11: a "slice:prefix:name" cgroupsPath cannot smuggle a
// `/` or a `..` component into the scope's cgroup path (SLICE-PATH/UNIT).
BOOST_AUTO_TEST_CASE(systemd_paths_cannot_climb) {
  for (const char* bad : {"system.slice:p:../x", "system.slice:../..:x", "../system.slice:p:x", "system.slice:p:a/b",
                          "..:p:x", ".:p:x", "system.slice:p:..", "system.slice:p:."}) {
    std::string path;
    try {
      auto u = cg::systemd_unit(bad, "x", false);
      path = cg::expand_slice(u.slice) + "/" + u.unit;
    } catch (const os::Error&) {
      continue;
    }
    std::string p = path + "/";
    BOOST_TEST(p.find("/../") == std::string::npos, bad << " -> " << path);
    BOOST_TEST(p.find("/./") == std::string::npos, bad << " -> " << path);
  }
}

BOOST_AUTO_TEST_CASE(cpu_masks) {
  BOOST_TEST(cg::cpu_list_mask("0-2,5", "x") == (std::vector<uint8_t>{0x27}));
  BOOST_TEST(cg::cpu_list_mask("8", "x") == (std::vector<uint8_t>{0x00, 0x01}));
  BOOST_TEST(cg::cpu_list_mask("0,9-10\n", "x") == (std::vector<uint8_t>{0x01, 0x06}));
  for (const char* bad : {"", "3-1", "x", "1,,2", "1-", "99999"})
    BOOST_CHECK_THROW(cg::cpu_list_mask(bad, "linux.resources.cpu.cpus"), os::Error);
}

BOOST_AUTO_TEST_CASE(v2_properties) {
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 1 << 30;
  r.memory->swap = int64_t(2) << 30;
  r.memory->reservation = 1 << 20;
  r.pids = spec::PidsResources{-1};
  r.cpu = spec::CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0-2,5";
  r.cpu->mems = "0";
  r.block_io = spec::BlockIoResources{};
  r.block_io->weight = 500;
  auto p = cg::systemd_resource_properties(r, true);
  BOOST_TEST(u64(p, "MemoryMax") == uint64_t(1) << 30);
  BOOST_TEST(u64(p, "MemorySwapMax") == uint64_t(1) << 30);  // swap - limit
  BOOST_TEST(u64(p, "MemoryLow") == uint64_t(1) << 20);
  BOOST_TEST(u64(p, "TasksMax") == kInf);
  BOOST_TEST(u64(p, "CPUWeight") == 100u);  // 1024 shares
  BOOST_TEST(u64(p, "CPUQuotaPerSecUSec") == 500000u);
  BOOST_TEST(u64(p, "CPUQuotaPeriodUSec") == 100000u);
  BOOST_TEST(u64(p, "IOWeight") == 4950u);  // 1 + (500-10)*9999/990
  BOOST_TEST(std::get<std::vector<uint8_t>>(find(p, "AllowedCPUs")->value) == (std::vector<uint8_t>{0x27}));
  BOOST_TEST(std::get<std::vector<uint8_t>>(find(p, "AllowedMemoryNodes")->value) == (std::vector<uint8_t>{0x01}));
  // Rounded up to 10 ms per second (systemd's granularity, as runc).
  r.cpu->quota = 12345;
  BOOST_TEST(u64(cg::systemd_resource_properties(r, true), "CPUQuotaPerSecUSec") == 130000u);
  r.cpu->quota = -1;
  BOOST_TEST(u64(cg::systemd_resource_properties(r, true), "CPUQuotaPerSecUSec") == kInf);
  BOOST_TEST(cg::systemd_resource_properties(spec::Resources{}, true).empty());
}

BOOST_AUTO_TEST_CASE(v1_properties) {
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = -1;
  r.pids = spec::PidsResources{64};
  r.cpu = spec::CpuResources{};
  r.cpu->shares = 512;
  auto p = cg::systemd_resource_properties(r, false);
  BOOST_TEST(u64(p, "MemoryLimit") == kInf);
  BOOST_TEST(u64(p, "TasksMax") == 64u);
  BOOST_TEST(u64(p, "CPUShares") == 512u);
  BOOST_TEST(!find(p, "MemoryMax"));
}

BOOST_AUTO_TEST_CASE(path_round_trip_before_apply) {
  cg::SystemdManager m({"system.slice", "rrun-c1.scope"}, false, true, {});
  auto j = nlohmann::json::parse(m.path());
  BOOST_TEST(j["unit"].get<std::string>() == "rrun-c1.scope");
  BOOST_TEST(j["dir"].get<std::string>() == "");
  auto back = cg::open_manager("systemd", m.path());
  BOOST_TEST(back->path() == m.path());
  BOOST_TEST(back->clone_fd() == -1);
  BOOST_TEST(back->pids().empty());
  BOOST_CHECK_THROW(back->freeze(), os::Error);
  cg::SystemdManager v1({"system.slice", "x.scope"}, false, false, {});
  BOOST_TEST(cg::open_manager("systemd", v1.path())->path() == v1.path());
  BOOST_CHECK_THROW(cg::open_manager("systemd", "{}"), os::Error);
}

// This host and the test VM have no systemd and no D-Bus.
BOOST_AUTO_TEST_CASE(no_bus_here) {
  std::string why;
  if (cg::systemd_bus_reachable(::geteuid() != 0, &why)) {
    BOOST_TEST_MESSAGE("skip no_bus_here: systemd answers on this machine's bus");
    return;
  }
  BOOST_TEST(!why.empty());
  BOOST_TEST_MESSAGE("bus: " << why);
  cg::ManagerRequest req;
  req.id = "c1";
  req.systemd_flag = true;
  req.mode = cg::Mode::v2;
  try {
    cg::make_manager(req);
    BOOST_FAIL("expected an error");
  } catch (const os::Error& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("--systemd-cgroup: no systemd on the system bus (") == 0u, msg);
    BOOST_TEST(msg.find("); use the cgroupfs driver") != std::string::npos, msg);
    BOOST_TEST(msg.find('\n') == std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
