#!/usr/bin/env bash
# cgroup2-suite.sh [SCRIPT...] — runs rrun's cgroup v2 integration scripts
# (default: test/integration/cgroup2_scenarios.sh) inside the test VM, each as
# root and as the unprivileged test user at the same time (the guest has two
# vCPUs and is slow), through test/integration/run.sh. Run it on the host with
#   test/vm/run-in-vm.sh test/vm/cgroup2-suite.sh
# (CTest: vm.cgroup2, label cgroup2), with RRUN_BIN and RRUN_PROBE set.
#
# Users: the guest sees the host's /etc through a tmpfs overlay, so run.sh
# creates its test users (rrun-test with subordinate ids) in the guest when
# the host has none; nothing is written back to the host.
#
# Rootless delegation: as an administrator would, this script makes the v2
# subtree /sys/fs/cgroup/rrun-it-deleg, enables cpuset cpu io memory pids
# for its children, chowns it, its cgroup.procs, cgroup.subtree_control and
# cgroup.threads to the test user, and starts run.sh's rootless half in the
# leaf rrun-it-deleg/init (chowned too): the test user's shell and rrun start
# in a leaf of a delegated subtree. The leaf is named "init" because that is
# the leaf rrun itself moves the processes of its own cgroup into when that
# cgroup must enable controllers for its children; rrun then uses the leaf's
# parent as the delegated root and puts containers in rrun-it-deleg/rrun/ID.
# (run.sh, a root process, shares the leaf: rrun could not move it.)
#
# RRUN_CG2_STRICT=1: pending scenarios fail (cgroup2_scenarios.sh).
# RRUN_CG2_MODES="root" runs one half only; RRUN_CG2_ONLY="pids" only the
# named scenarios (root passes its environment on; the rootless half's is
# cleared by run.sh, so RRUN_CG2_ONLY applies to root only).
# Exit status: 1 when a run failed; else 77 when one was skipped (pending
# scenarios exit 77); else 0. Prints how long each run took.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
it=$(cd "$here/../integration" && pwd)
CG=/sys/fs/cgroup
TEST_USER=rrun-test
DELEG=$CG/rrun-it-deleg

fstype=$(stat -f -c %T "$CG" 2>/dev/null)
if [[ "$fstype" != cgroup2fs ]]; then
  echo "SKIP: cgroup2-suite: $CG is ${fstype:-missing}, not cgroup2: run this through test/vm/run-in-vm.sh"
  exit 77
fi
((EUID == 0)) || {
  echo "cgroup2-suite: must run as root (inside the VM)" >&2
  exit 1
}

if (($# == 0)); then
  set -- "$it/cgroup2_scenarios.sh"
fi

echo "guest: Linux $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)," \
  "cgroup2 root controllers: $(cat "$CG/cgroup.subtree_control")"

# The test user must exist before its subtree can be chowned; run.sh's
# setup_users then finds it and adds its /etc/subuid and /etc/subgid lines.
if ! getent passwd "$TEST_USER" >/dev/null; then
  useradd -m -s /bin/bash -c "rrun integration tests" "$TEST_USER" || exit 1
fi
uid=$(id -u "$TEST_USER")
gid=$(id -g "$TEST_USER")

delegate() {
  local dir=$1
  mkdir -p "$dir" || return 1
  chown "$uid:$gid" "$dir" "$dir/cgroup.procs" "$dir/cgroup.subtree_control" "$dir/cgroup.threads" || return 1
}
setup_delegation() {
  delegate "$DELEG" || return 1
  local c
  for c in cpuset cpu io memory pids; do
    echo "+$c" >"$DELEG/cgroup.subtree_control" || return 1
  done
  delegate "$DELEG/init"
}
if ! setup_delegation; then
  echo "cgroup2-suite: cannot set up the delegated subtree $DELEG" >&2
  exit 1
fi

# Strict mode (pending scenarios fail) for the rootless half too, whose
# environment run.sh clears. /run is the guest's own tmpfs.
if [[ "${RRUN_CG2_STRICT:-0}" == 1 ]]; then touch /run/rrun-it-cg2-strict; fi

logs=$(mktemp -d /tmp/cgroup2-suite.XXXXXX)
# run_mode MODE SCRIPT: run.sh MODE SCRIPT, output to $logs, status and time
# in $logs/NAME.MODE.{log,status,seconds}.
run_mode() {
  local mode=$1 script=$2 name t0 status=0
  name=$(basename "$script" .sh)
  t0=$(date +%s.%N)
  if [[ "$mode" == root ]]; then
    RRUN_CG2_PRUNE=$DELEG bash "$it/run.sh" root "$script" || status=$?
  else
    # Into the delegated leaf first: run.sh and the test user's shell inherit it.
    echo "$BASHPID" >"$DELEG/init/cgroup.procs" || exit 1
    bash "$it/run.sh" rootless "$script" || status=$?
  fi
  echo "$status" >"$logs/$name.$mode.status"
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' >"$logs/$name.$mode.seconds"
}

final=0
declare -a summary=()
modes=${RRUN_CG2_MODES:-root rootless}
for script in "$@"; do
  name=$(basename "$script" .sh)
  # Both halves at once, their lines prefixed and printed as they come (the
  # output survives a VM that is killed on timeout).
  for mode in $modes; do
    (run_mode "$mode" "$script") 2>&1 </dev/null | sed -u "s/^/[$mode] /" &
  done
  wait
  for mode in $modes; do
    status=$(cat "$logs/$name.$mode.status" 2>/dev/null || echo 1)
    case $status in
      0) verdict=PASS ;;
      77) verdict=SKIP ;;
      *) verdict="FAIL ($status)" ;;
    esac
    summary+=("$(printf '%-9s %-24s %-9s %6s s' "$verdict" "$name" "$mode" "$(cat "$logs/$name.$mode.seconds" 2>/dev/null)")")
    if ((status != 0 && status != 77)); then
      final=1
    elif ((status == 77 && final == 0)); then
      final=77
    fi
  done
done
rm -rf "$logs"

# Nothing of ours may be left: only the delegated subtree and its shell leaf.
left=$(find "$CG" -mindepth 1 -type d ! -path "$DELEG" ! -path "$DELEG/init" | sort)
if [[ -n "$left" ]]; then
  summary+=("FAIL      cgroups left behind: ${left//$'\n'/ }")
  final=1
fi
rmdir "$DELEG/init" "$DELEG" 2>/dev/null

echo
echo "===== cgroup2 suite summary (guest uptime $(cut -d' ' -f1 /proc/uptime) s)"
printf '  %s\n' "${summary[@]}"
exit "$final"
