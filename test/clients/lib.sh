# shellcheck shell=bash
# Sourced by every test/clients/test_*.sh (CTest label `clients`): real
# container clients (Podman, containerd, Docker, Slurm) driving rrun, as root
# and as the unprivileged test user. Each test starts its daemons privately,
# with their state under $T, and stops them at exit.
#
# What a test gets:
#   $RRUN_BIN            the rrun under test (copied to $T/bin/rrun, world-readable)
#   $T                   a fresh temp dir (0755), removed at exit (one file system)
#   $CLIENT_CACHE        what is built once per machine (the busybox image), kept
#                        between runs: $RRUN_TEST_CACHE or /var/cache/rrun-test
#   $TEST_USER           the user with a subordinate range (test/integration/users.sh)
#   client_image         builds (once) and prints the directory holding the test
#                        image rrun-test/busybox:latest (build-image.sh)
#   on_exit CMD...       runs CMD at exit (last registered first), also on failure
#   as_user CMD...       runs CMD as $TEST_USER in a clean environment with
#                        HOME=$T/home and XDG_RUNTIME_DIR=$T/xdg (both 0700, owned)
#   run CMD... / expect_ok CMD... / expect_eq / expect_contains, step, fail, skip
#   wait_daemon SECONDS PID LOG WHAT CMD...
#                        waits until CMD succeeds while PID lives
#   time_ms CMD..., median NUMBER...
#   latency_side_by_side WHAT CMD...
#                        `CMD rrun` and `CMD runc` alternately; prints both medians;
#                        fails when rrun is slower than runc by more than the
#                        margin (15 % + 10 ms: figures belong in benchmarks)
set -euo pipefail

: "${RRUN_BIN:?RRUN_BIN must point at the rrun binary}"
((EUID == 0)) || {
  echo "SKIP: the client tests start daemons and users as root (running as uid $EUID)"
  exit 77
}

CLIENTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$CLIENTS_DIR/../.." && pwd)
CLIENT_CACHE=${RRUN_TEST_CACHE:-/var/cache/rrun-test}
TEST_NAME=$(basename "$0" .sh)

step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*"
  exit 77
}
run() {
  set +e
  out=$("$@" 2>"$T/.err")
  rc=$?
  set -e
  err=$(<"$T/.err")
}
expect_ok() {
  run "$@"
  ((rc == 0)) || fail "exit $rc from: $*${err:+ (stderr: $err)}${out:+ (stdout: $out)}"
}
expect_eq() {
  [[ "$1" == "$2" ]] || fail "${3:-value}: got '$1', expected '$2'"
}
expect_contains() {
  [[ "$1" == *"$2"* ]] || fail "${3:-output}: '$2' not in: $1"
}

_exit_cmds=()
on_exit() {
  local q
  printf -v q '%q ' "$@"
  _exit_cmds=("$q" "${_exit_cmds[@]}")
}
_clients_cleanup() {
  local status=$? c
  trap - EXIT
  set +e
  for c in "${_exit_cmds[@]}"; do eval "$c"; done
  if [[ -n "${T:-}" && -d "$T" ]]; then
    rm -rf --one-file-system -- "$T" || echo "lib: could not remove $T" >&2
  fi
  exit "$status"
}
trap _clients_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

T=$(mktemp -d "/tmp/rrun-clients.$TEST_NAME.XXXXXX")
chmod 755 "$T"
install -d -m 755 "$T/bin"
install -m 755 "$RRUN_BIN" "$T/bin/rrun"
RRUN_BIN=$T/bin/rrun

# shellcheck source=../integration/users.sh
source "$SRC_DIR/test/integration/users.sh"
setup_users
TEST_UID=$(id -u "$TEST_USER")
TEST_GID=$(id -g "$TEST_USER")
install -d -m 700 -o "$TEST_UID" -g "$TEST_GID" "$T/home" "$T/xdg"

as_user() {
  setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --init-groups -- \
    env -i HOME="$T/home" USER="$TEST_USER" LOGNAME="$TEST_USER" SHELL=/bin/bash LANG=C.UTF-8 \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin \
    XDG_RUNTIME_DIR="$T/xdg" TMPDIR=/tmp "$@"
}

# client_image: see build-image.sh; cached by the busybox package's version.
client_image() {
  local version dir
  version=$(dpkg-query -W -f='${Version}' busybox-static)
  dir=$CLIENT_CACHE/busybox-${version//[^A-Za-z0-9.]/_}-1
  install -d -m 755 "$CLIENT_CACHE"
  flock "$CLIENT_CACHE/.lock" bash -c '[[ -e "$1/done" ]] || bash "$2" "$1"' sh "$dir" "$CLIENTS_DIR/build-image.sh" >&2 ||
    fail "could not build the test image in $dir"
  echo "$dir"
}

# wait_daemon SECONDS PID LOG WHAT CMD...: until CMD succeeds (tried every
# 0.1 s); fails with the tail of LOG when PID exits or SECONDS pass first.
wait_daemon() {
  local secs=$1 pid=$2 log=$3 what=$4 i
  shift 4
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$log" >&2
  fail "$what did not come up (log above: $log)"
}

# time_ms CMD...: the wall time of one run of CMD in ms (its output dropped).
time_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || fail "timed command failed: $*"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

# median NUMBER...
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

compare_latency() {
  local what=$1 r=$2 c=$3
  echo "LATENCY $what: rrun ${r} ms, runc ${c} ms per container"
  ((r * 100 <= c * 115 + 1000)) || fail "$what: rrun ($r ms) is slower than runc ($c ms)"
}

# latency_side_by_side WHAT CMD...: `CMD... rrun` and `CMD... runc` (one
# container of the client with that runtime) alternately, one warm-up each,
# then 9 of each: the load of a shared machine drifts over the seconds a batch
# would take, which would favour either side. When rrun comes out slower, 9
# more of each and the medians of all 18 (a burst of load elsewhere weighs
# less); then compare_latency.
latency_side_by_side() {
  local what=$1 i pairs rr=() rc=()
  shift
  "$@" rrun >/dev/null 2>&1 || fail "$what: $* rrun failed"
  "$@" runc >/dev/null 2>&1 || fail "$what: $* runc failed"
  for pairs in 9 18; do
    for ((i = ${#rr[@]}; i < pairs; i++)); do
      rr+=("$(time_ms "$@" rrun)")
      rc+=("$(time_ms "$@" runc)")
    done
    (($(median "${rr[@]}") * 100 > $(median "${rc[@]}") * 115 + 1000)) || break
    echo "(rrun $(median "${rr[@]}") ms, runc $(median "${rc[@]}") ms after $pairs of each: 9 more)"
  done
  compare_latency "$what" "$(median "${rr[@]}")" "$(median "${rc[@]}")"
}
