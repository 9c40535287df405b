#include <boost/test/unit_test.hpp>

#include <string>

#include <rrun/cgroups/detect.hpp>
#include <rrun/cgroups/manager.hpp>
#include <rrun/cgroups/resources.hpp>
#include <rrun/os/error.hpp>

namespace cg = rrun::cgroups;
namespace spec = rrun::spec;

BOOST_AUTO_TEST_SUITE(cgroups_manager)

BOOST_AUTO_TEST_CASE(no_limits_no_message) {
  BOOST_TEST(cg::describe_missing_limits(spec::Resources{}, "R") == "");
  spec::Resources r;
  r.devices = {{false, "", std::nullopt, std::nullopt, "rwm"}};  // device rules are not limits here
  r.memory = spec::MemoryResources{};                            // empty objects ask for nothing
  r.cpu = spec::CpuResources{};
  BOOST_TEST(cg::describe_missing_limits(r, "R") == "");
}

BOOST_AUTO_TEST_CASE(message_lists_limits_and_remedy) {
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.pids = spec::PidsResources{100};
  r.cpu = spec::CpuResources{};
  r.cpu->quota = 50000;
  r.unified["memory.high"] = "1";
  BOOST_TEST(cg::describe_missing_limits(r, "THE REMEDY") ==
             "no cgroup is delegated to this user, so these limits were not applied: linux.resources.memory.limit, "
             "linux.resources.cpu.quota, linux.resources.pids.limit, linux.resources.unified; to get a delegated "
             "cgroup: THE REMEDY");
}

BOOST_AUTO_TEST_CASE(requested_limits_cover_every_field) {
  spec::Resources r;
  r.memory = spec::MemoryResources{1, 2, 3, 4, 5, 6, true, true, true};
  r.cpu = spec::CpuResources{1024, 1, 2, 3, 4, 5, "0", "0", 1};
  r.pids = spec::PidsResources{1};
  r.block_io = spec::BlockIoResources{100, 100, {{8, 0, 100, 100}}, {{8, 0, 1}}, {{8, 0, 1}}, {{8, 0, 1}}, {{8, 0, 1}}};
  r.hugepage_limits = {{"2MB", 1}};
  r.network = spec::NetworkResources{1, {{"lo", 1}}};
  r.rdma["mlx"] = {1, 1};
  r.unified["pids.max"] = "1";
  // kernel is deprecated and ignored; useHierarchy and checkBeforeUpdate are not limits.
  BOOST_TEST(cg::requested_limits(r).size() == 28u);
}

// One remedy per host, the same for `rrun doctor` and the run's warnings:
// systemd-run only where a user manager answers.
BOOST_AUTO_TEST_CASE(delegation_remedy_fits_the_host) {
  using cg::Mode;
  auto has = [](const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; };
  // v1 or hybrid: only cgroup v2 helps, in the words of the host's init.
  std::string r = cg::delegation_remedy({Mode::hybrid, false, true, true});
  BOOST_TEST(has(r, "systemd.unified_cgroup_hierarchy=1"));
  BOOST_TEST(!has(r, "systemd-run"));
  r = cg::delegation_remedy({Mode::v1, false, false, false});
  BOOST_TEST(has(r, "cgroup_no_v1=all"));
  BOOST_TEST(!has(r, "systemd"));
  // v2, nothing delegated.
  r = cg::delegation_remedy({Mode::v2, false, true, true});
  BOOST_TEST(has(r, "systemd-run --user --scope -p Delegate=yes"));
  r = cg::delegation_remedy({Mode::v2, false, false, true});
  BOOST_TEST(!has(r, "systemd-run"));
  BOOST_TEST(has(r, "loginctl enable-linger"));
  BOOST_TEST(has(r, "chown the directory"));
  r = cg::delegation_remedy({Mode::v2, false, false, false});
  BOOST_TEST(!has(r, "systemd"));
  BOOST_TEST(has(r, "delegate a cgroup v2 subtree to you"));
  // v2 delegated: the controllers.
  BOOST_TEST(has(cg::delegation_remedy({Mode::v2, true, false, true}), "Delegate=cpu cpuset io memory pids"));
  BOOST_TEST(has(cg::delegation_remedy({Mode::v2, true, false, false}), "cgroup.subtree_control"));
  BOOST_TEST(has(cg::delegation_remedy({Mode::none, false, false, false}), "mount cgroup2"));
}

BOOST_AUTO_TEST_CASE(none_manager_does_nothing) {
  cg::NoneManager m("THE REMEDY");
  cg::Manager& base = m;
  BOOST_TEST(cg::driver_name(base.driver()) == std::string("none"));
  BOOST_TEST(base.path() == "");
  base.apply(1);
  base.set(spec::Resources{});
  base.kill_all(9);
  BOOST_TEST(base.pids().empty());
  BOOST_TEST((base.stats() == cg::Stats{}));
  base.destroy();
  BOOST_CHECK_THROW(base.freeze(), rrun::os::Error);
  try {
    base.thaw();
  } catch (const rrun::os::Error& e) {
    BOOST_TEST(std::string(e.what()).find("cannot resume the container: it has no cgroup (none driver); ") == 0u);
    BOOST_TEST(std::string(e.what()).find("to get a delegated cgroup: THE REMEDY") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
