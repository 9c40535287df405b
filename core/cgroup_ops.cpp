// The commands that work on a container's cgroup: pause, resume, ps, update,
// events. Each loads the state under the container's lock, reopens the
// cgroup manager from what create recorded, and makes one Manager call.

#include <dirent.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include <rrun/cgroups/manager.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

#include "container.hpp"
#include "id.hpp"
#include "lifecycle.hpp"
#include "log.hpp"
#include "state.hpp"

namespace rrun::core {

namespace {

struct Loaded {
  State state;
  Status live;
  std::unique_ptr<cgroups::Manager> cgroup;
};

Loaded load(StateStore& store, const std::string& id) {
  validate_container_id(id);
  Loaded l;
  l.state = store.load_or_throw(id);
  l.live = store.status_of(l.state);
  l.cgroup = container_cgroup(l.state);
  return l;
}

// Without a cgroup: the processes of the init's pid namespace (when it is
// not ours), else the init alone.
std::vector<pid_t> pids_without_cgroup(const State& s) {
  std::vector<pid_t> out = processes_in_pid_namespace_of(s.pid);
  if (out.empty() && os::path_exists("/proc/" + std::to_string(s.pid) + "/ns/pid")) return {s.pid};
  std::sort(out.begin(), out.end());
  return out;
}

void require(const Loaded& l, const std::string& what, std::initializer_list<Status> allowed) {
  for (Status s : allowed)
    if (l.live == s) return;
  throw os::Error("cannot " + what + " container " + os::quote(l.state.id) + ": it is " + status_name(l.live));
}

// Sets the members `u` has over those of `base` (runc `update`: only what
// is given changes).
void merge_resources(spec::Resources& base, const spec::Resources& u) {
  auto take = [](auto& to, const auto& from) {
    if (from) to = from;
  };
  if (u.memory) {
    if (!base.memory) base.memory.emplace();
    auto& m = *base.memory;
    take(m.limit, u.memory->limit);
    take(m.reservation, u.memory->reservation);
    take(m.swap, u.memory->swap);
    take(m.kernel, u.memory->kernel);
    take(m.kernel_tcp, u.memory->kernel_tcp);
    take(m.swappiness, u.memory->swappiness);
    take(m.disable_oom_killer, u.memory->disable_oom_killer);
    take(m.use_hierarchy, u.memory->use_hierarchy);
    take(m.check_before_update, u.memory->check_before_update);
  }
  if (u.cpu) {
    if (!base.cpu) base.cpu.emplace();
    auto& c = *base.cpu;
    take(c.shares, u.cpu->shares);
    take(c.quota, u.cpu->quota);
    take(c.burst, u.cpu->burst);
    take(c.period, u.cpu->period);
    take(c.realtime_runtime, u.cpu->realtime_runtime);
    take(c.realtime_period, u.cpu->realtime_period);
    take(c.idle, u.cpu->idle);
    if (!u.cpu->cpus.empty()) c.cpus = u.cpu->cpus;
    if (!u.cpu->mems.empty()) c.mems = u.cpu->mems;
  }
  if (u.pids) base.pids = u.pids;
  if (u.block_io) {
    if (!base.block_io) base.block_io.emplace();
    auto& b = *base.block_io;
    take(b.weight, u.block_io->weight);
    take(b.leaf_weight, u.block_io->leaf_weight);
    if (!u.block_io->weight_device.empty()) b.weight_device = u.block_io->weight_device;
    if (!u.block_io->throttle_read_bps_device.empty())
      b.throttle_read_bps_device = u.block_io->throttle_read_bps_device;
    if (!u.block_io->throttle_write_bps_device.empty())
      b.throttle_write_bps_device = u.block_io->throttle_write_bps_device;
    if (!u.block_io->throttle_read_iops_device.empty())
      b.throttle_read_iops_device = u.block_io->throttle_read_iops_device;
    if (!u.block_io->throttle_write_iops_device.empty())
      b.throttle_write_iops_device = u.block_io->throttle_write_iops_device;
  }
  if (!u.hugepage_limits.empty()) base.hugepage_limits = u.hugepage_limits;
  if (u.network) base.network = u.network;
  for (const auto& [k, v] : u.rdma) base.rdma[k] = v;
  for (const auto& [k, v] : u.unified) base.unified[k] = v;
  // Device rules are not updated (runc neither).
}

}  // namespace

void pause_container(const Context& ctx, const std::string& id) {
  StateStore store(ctx.state_root);
  auto lock = store.lock(id);
  LockFileJanitor janitor(store, id);
  Loaded l = load(store, id);
  require(l, "pause", {Status::running, Status::created});
  l.cgroup->freeze();
  l.state.status = Status::paused;
  store.save(l.state);
}

void resume_container(const Context& ctx, const std::string& id) {
  StateStore store(ctx.state_root);
  auto lock = store.lock(id);
  LockFileJanitor janitor(store, id);
  Loaded l = load(store, id);
  require(l, "resume", {Status::paused});
  l.cgroup->thaw();
  l.state.status = Status::running;
  store.save(l.state);
}

std::vector<pid_t> container_pids(const Context& ctx, const std::string& id) {
  StateStore store(ctx.state_root);
  Loaded l = load(store, id);
  require(l, "list the processes of", {Status::created, Status::running, Status::paused});
  if (l.cgroup->driver() == cgroups::Driver::none) return pids_without_cgroup(l.state);
  std::vector<pid_t> pids = l.cgroup->pids();
  std::sort(pids.begin(), pids.end());
  return pids;
}

void update_container(const Context& ctx, const UpdateRequest& req) {
  StateStore store(ctx.state_root);
  auto lock = store.lock(req.id);
  LockFileJanitor janitor(store, req.id);
  Loaded l = load(store, req.id);
  require(l, "update", {Status::created, Status::running, Status::paused});
  if (l.cgroup->driver() == cgroups::Driver::none)
    throw os::Error("cannot update container " + os::quote(req.id) +
                    ": it has no cgroup (rootless without a delegated cgroup); to get a delegated cgroup: " +
                    cgroups::delegation_remedy_here());
  spec::Spec spec = load_container_spec(store, req.id);
  if (!spec.linux) spec.linux.emplace();
  spec::Resources merged = spec.linux->resources.value_or(spec::Resources{});
  merge_resources(merged, req.resources);
  for (const auto& w : l.cgroup->set(merged)) log_warn(w);
  // What `update` set is what later updates start from.
  spec.linux->resources = merged;
  os::write_file_atomic(store.config_path(req.id), spec::serialize_spec(spec, false), 0600);
}

cgroups::Stats container_stats(const Context& ctx, const std::string& id) {
  StateStore store(ctx.state_root);
  Loaded l = load(store, id);
  require(l, "read the stats of", {Status::created, Status::running, Status::paused});
  if (l.cgroup->driver() == cgroups::Driver::none)
    throw os::Error("cannot read the stats of container " + os::quote(id) +
                    ": it has no cgroup (rootless without a delegated cgroup)");
  return l.cgroup->stats();
}

bool container_alive(const Context& ctx, const std::string& id) {
  StateStore store(ctx.state_root);
  auto s = store.load(id);
  if (!s) return false;
  Status live = store.status_of(*s);
  return live == Status::created || live == Status::running || live == Status::paused;
}

}  // namespace rrun::core
