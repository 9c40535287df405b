// Cgroup files as rrun reads them: /proc/PID/cgroup (the v2 path, the v1
// hierarchies), cgroup.controllers, and the v1 and v2 statistics files
// (`rrun events --stats`). The input is sections (fuzz.hpp): "== cgroup" is
// the /proc/self/cgroup text, "== cgroupsPath" a container's cgroupsPath,
// any other "== NAME" a file of that name in one cgroup directory (a
// scratch directory on tmpfs, emptied for every input) that both the v2
// reader and every v1 controller read.

#include <exception>
#include <map>
#include <string>

#include <rrun/cgroups/cgfs.hpp>
#include <rrun/cgroups/detect.hpp>
#include <rrun/cgroups/stats.hpp>
#include <rrun/cgroups/v1.hpp>

#include "fuzz.hpp"

namespace cgroups = rrun::cgroups;

namespace {

const rrun::fuzz::Scratch& scratch() {
  static const rrun::fuzz::Scratch s;
  return s;
}

template <class F>
void try_read(F&& f) {
  try {
    f();
  } catch (const std::exception&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const rrun::fuzz::Scratch& dir = scratch();
  dir.clear();
  std::string proc_cgroup, cgroups_path = "/rrun/fuzz";
  for (const auto& section : rrun::fuzz::sections(rrun::fuzz::as_text(data, size))) {
    const std::string& name = section.first;
    const std::string& text = section.second;
    if (name.empty() || name == "cgroup") {
      proc_cgroup += text;
    } else if (name == "cgroupsPath") {
      cgroups_path = text;
    } else if (rrun::fuzz::plain_name(name)) {
      dir.write(name, text);
      try_read([&] { (void)cgroups::cgfs::parse_keyed(text); });
      try_read([&] { (void)cgroups::cgfs::parse_numbers(text); });
    }
  }
  const std::string& d = dir.path();
  try_read([&] { (void)cgroups::own_cgroup_v2(proc_cgroup); });
  try_read([&] {
    auto hierarchies = cgroups::v1_hierarchies(d, proc_cgroup);
    (void)cgroups::v1_systemd_hierarchy(d, proc_cgroup);
    (void)cgroups::v1_cgroup_dirs(hierarchies, cgroups_path, "fuzz");
  });
  try_read([&] { (void)cgroups::available_controllers(d); });
  try_read([&] { (void)cgroups::read_v2_stats(d); });
  try_read([&] {
    std::map<std::string, std::string> dirs;
    for (const char* c : {"cpu", "cpuacct", "memory", "pids", "blkio", "hugetlb"}) dirs[c] = d;
    (void)cgroups::read_v1_stats(dirs, 100);
  });
  return 0;
}
