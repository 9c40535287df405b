#include "common.hpp"

#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <rrun/os/error.hpp>

#include "cgfs.hpp"

namespace rrun::cgroups {

std::string clean_cgroups_path(const std::string& cgroups_path, const std::string& base) {
  if (!cgroups_path.empty() && cgroups_path[0] == '/') return cgfs::clean(cgroups_path);
  std::string rel = cgfs::clean(cgroups_path);  // relative: ".." at the top is dropped
  if (rel.empty())
    throw os::Error("linux.cgroupsPath " + os::quote(cgroups_path) + ": names " + base +
                    " itself; give the container a cgroup of its own below it");
  return rel;
}

void sleep_ms(long ms) {
  struct timespec ts {
    ms / 1000, (ms % 1000) * 1000000
  };
  while (::nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

void check_memory_before_update(const std::string& dir, const std::string& usage_file, uint64_t limit) {
  auto usage = cgfs::read_u64(dir, usage_file);
  if (usage && *usage > limit)
    throw os::Error("linux.resources.memory.limit: " + std::to_string(limit) + " is below the current usage of " +
                    std::to_string(*usage) + " bytes (" + cgfs::join(dir, usage_file) +
                    ") and checkBeforeUpdate is set");
}

bool wait_until_empty(const std::string& dir) {
  for (int attempt = 0; attempt < 220; ++attempt) {
    if (cgfs::procs(dir, true).empty()) return true;
    sleep_ms(attempt < 20 ? 1 : 10);
  }
  return false;
}

void remove_rrun_parent(const std::string& dir) {
  std::string parent = cgfs::dirname(dir);
  size_t slash = parent.rfind('/');
  if (slash == std::string::npos || parent.substr(slash + 1) != "rrun") return;
  ::rmdir(parent.c_str());
}

}  // namespace rrun::cgroups
