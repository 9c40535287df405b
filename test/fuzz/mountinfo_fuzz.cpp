// /proc/self/mountinfo text, as rootfs/plan reads it: the v1 cgroup
// hierarchies under /sys/fs/cgroup (the container's cgroup mounts) and the
// mount point holding a path (the rootfs' parent mount).

#include <exception>
#include <string>

#include <rrun/rootfs/plan.hpp>

#include "fuzz.hpp"

namespace rootfs = rrun::rootfs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(rrun::fuzz::as_text(data, size));
  try {
    (void)rootfs::parse_cgroup_hierarchies(text);
    (void)rootfs::parse_cgroup_hierarchies(text, "/");
    (void)rootfs::mount_point_in(text, "/run/rrun/bundle/rootfs");
    (void)rootfs::mount_point_in(text, "/");
  } catch (const std::exception&) {
  }
  return 0;
}
