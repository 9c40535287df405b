#!/usr/bin/env bash
# order.sh — rewrites packaging/link-order.txt, the order in which the Release
# build links rrun's functions (issue 6, peak RSS). Run as root from the top
# of the tree after changing code on the paths the benchmark measures:
#
#   bash test/bench/order.sh
#
# The kernel maps a file's cached pages up to 64 KiB around every page fault,
# so what a short `rrun run` costs in memory is the number of 64 KiB windows
# of the binary it touches, not the bytes it executes: ~400 KB of functions
# spread over 2 MB of text mapped 2.3 MB. Linked first and together, they map
# ~0.9 MB.
#
# How: builds an unstripped Release rrun into build-order/, runs the
# benchmark's scenarios once each under test/bench/steptrace (single-steps
# every process rrun creates until it executes another program), and lists
# the functions executed, in order of first execution: `run`, `create` +
# `start` + `state` + `kill` + `delete` and `exec` as root, `run` and the
# lifecycle as rrun-nosub (one id mapped), `run` as rrun-test (a subordinate
# range, in the kept user namespace). Needs python3 (the symbol lookup) and the
# rootless test users (created as the integration tests do). Each trace takes
# one to two minutes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/packaging/link-order.txt

die() {
  echo "order: $*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || die "run as root (the root scenarios, and switching to the test users)"
command -v python3 >/dev/null || die "python3 is missing: apt-get install python3"

build=$top/build-order
echo "order: building an unstripped Release rrun in $build" >&2

# shellcheck source=../integration/users.sh
source "$top/test/integration/users.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
setup_users
bench_release "$build" -DRRUN_STRIP=OFF

bench_workdir rrun-order
install -d -m 755 "$work/bin" "$work/bundles" "$work/traces" "$work/log"
install -d -m 777 "$work/state"
install -m 755 "$build/rrun" "$work/bin/rrun"
cc -O2 -Wall -Wextra -o "$work/bin/steptrace" "$here/steptrace.c"

bench_small_set "$work"
chmod 777 "$work/traces" "$work/log"

# trace USER NAME RRUN-ARGS...: one traced rrun command as USER.
trace() {
  local user=$1 name=$2
  shift 2
  local as
  as_bench_user "$user"
  echo "order: tracing $name: rrun $*" >&2
  "${as[@]}" "$work/bin/steptrace" "$work/traces/$name" -- \
    "$work/bin/rrun" --root "$work/state/$user" "$@" </dev/null >/dev/null 2>"$work/log/$name" ||
    die "$name: rrun $* failed: $(tail -3 "$work/log/$name")"
}
untraced() {
  local user=$1
  shift
  local as
  as_bench_user "$user"
  "${as[@]}" "$work/bin/rrun" --root "$work/state/$user" "$@" </dev/null >/dev/null
}

status_of() {
  local user=$1 id=$2 as
  as_bench_user "$user"
  "${as[@]}" "$work/bin/rrun" --root "$work/state/$user" state "$id" 2>/dev/null | jq -r .status || true
}

# trace_life USER PREFIX BUNDLE: create, start, state, delete. steptrace
# follows the init that create leaves waiting until it executes the
# container's program, so create is traced in the background while start
# runs.
trace_life() {
  local user=$1 p=$2 bundle=$3 i
  trace "$user" "${p}2-create" create -b "$bundle" t-life &
  local create_job=$!
  for ((i = 0; i < 600; i++)); do
    status_of "$user" t-life | grep -qx created && break
    sleep 0.5
  done
  trace "$user" "${p}3-start" start t-life
  wait "$create_job"
  trace "$user" "${p}4-state" state t-life
  trace "$user" "${p}5-delete" delete -f t-life
}

# Two sequences at a time (two CPUs); the order of first execution is that
# of the trace names.
root_traces() {
  trace root 01-run run -b "$work/bundles/root" t-run
  trace_life root 0 "$work/bundles/root"
  untraced root run -d -b "$work/bundles/root-sleep" t-exec
  trace root 06-exec exec t-exec /bin/true
  trace root 07-kill kill t-exec KILL
  trace root 08-delete delete -f t-exec
}
rootless_traces() {
  trace "$NOSUB_USER" 11-run run -b "$work/bundles/map1" t-run
  trace_life "$NOSUB_USER" 1 "$work/bundles/map1"
  # A series of range runs joins the keeper the first one started (README
  # Performance 10): that is the path traced. The keeper is started
  # untraced, kept long enough for a single-stepped run to reach its join,
  # and ended with the work directory.
  RRUN_USERNS_KEEP=900 untraced "$TEST_USER" run -b "$work/bundles/range" t-run0
  trace "$TEST_USER" 16-run run -b "$work/bundles/range" t-run
}
root_traces &
root_job=$!
rootless_traces
wait "$root_job"

traces=("$work"/traces/*)
python3 "$here/order-symbols.py" "$build/rrun" "${traces[@]}" >"$out.new"
mv "$out.new" "$out"
echo "order: $(wc -l <"$out") functions in $out" >&2
