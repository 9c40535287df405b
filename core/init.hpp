#pragma once
// The container init: what the child of clone() does between the clone and
// the exec of the user process. Everything it needs is computed by the
// parent before the clone (InitPlan) and read from the child's copy of the
// parent's memory; the child never throws, never returns, and reports a
// failure as an os::StepFailure on the sync socket (sync.hpp).

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rrun/rootfs/plan.hpp>
#include <rrun/spec/spec.hpp>

#include "caps.hpp"
#include "process_setup.hpp"
#include "seccomp.hpp"

namespace rrun::core {

struct NamespaceJoin {
  int fd = -1;  // open on linux.namespaces[].path
  int nstype = 0;
};

struct InitPlan {
  int sync_fd = -1;  // the child's end of the sync socketpair
  int fifo_fd = -1;  // O_PATH of the exec FIFO in the container's state directory
  std::vector<int> cgroup_tasks_fds;  // joined by the child first (init_steps.hpp join_cgroups)

  // Namespaces. Created by clone3 when nothing is joined (the fast path);
  // otherwise joined with setns (user first) and created with unshare.
  unsigned long unshare_flags = 0;
  std::vector<NamespaceJoin> joins;
  bool new_user_ns = false;
  bool become_root = false;  // container uid/gid 0 are mapped: setresuid(0) after the maps
  // Fork once more (joined pid namespace, or a time namespace with offsets):
  // the grandchild is the init and its pid goes to the parent.
  bool fork_again = false;
  std::string timens_offsets;  // text for /proc/self/timens_offsets, "" for none

  bool loopback_up = false;  // new network namespace + annotation rrun.network.loopback=up (netlo.hpp)

  std::string hostname;  // set when not empty
  std::string domainname;
  rootfs::RootfsPlan rootfs;
  std::vector<std::pair<std::string, std::string>> sysctl;  // /proc/sys relative path, value

  ProcessPlan process;
  bool rlimits_in_child = true;  // false: the parent set them with prlimit
  CapsPlan caps;
  std::optional<SeccompPlan> seccomp;
  bool setgroups_allowed = true;
  bool no_new_keyring = false;
  std::string keyring_name;  // "_ses.ID"

  std::vector<spec::Hook> create_container_hooks;
  std::vector<spec::Hook> start_container_hooks;
  std::string hook_state;  // the state JSON given to those hooks

  bool terminal = false;
  unsigned short console_rows = 0, console_cols = 0;

  std::string cwd;
  std::vector<std::string> args;
  std::vector<std::string> env;
  unsigned preserve_fds = 0;  // fds 3 .. 3+N-1 stay open in the process
  int trampoline_fd = -1;     // exec through the sealed trampoline (exe_guard.hpp), -1: exec directly
  int rrun_init_fd = -1;      // exec rrun's init (pid1.hpp), which runs the process; -1: none
  int proc_fd = -1;           // rrun's /proc for process.apparmorProfile (lsm.hpp), -1: no profile
  // A foreground `run`: the init gets SIGKILL when rrun dies (bubblewrap's
  // --die-with-parent), so that a killed `rrun run` takes its job with it.
  bool die_with_parent = false;
};

// The child's entry point after clone.
[[noreturn]] void container_init(const InitPlan& plan) noexcept;

}  // namespace rrun::core
