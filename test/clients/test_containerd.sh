#!/usr/bin/env bash
# containerd 1.6 `ctr` driving rrun (issue 12), as root and rootless.
#
# Root: containerd started by hand with packaging/clients/containerd/config.toml
# (root, state and socket under $T, no CRI plugin). Rootless: the same file,
# containerd run as the test user under rootlesskit (--net=host, /etc and /run
# copied up); ctr runs in rootlesskit's user and mount namespaces (nsenter),
# with `--cgroup "" --cpu-shares 0` (cgroup v1 here, nothing delegated: runc
# fails without them; rrun warns in its --log and runs, a step checks that).
# rrun is chosen per container with `ctr run --runc-binary`; runc the same
# way, for the latency side by side. Each step is checked on its own and the
# failed ones are listed at the end.
source "$(dirname "$0")/lib.sh"

for tool in containerd ctr containerd-shim-runc-v2 rootlesskit nsenter script runc; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (packaging/install-deps.sh --clients)"
done
RUNC_BIN=$(command -v runc)
IMAGE=rrun-test/busybox:latest
ARCHIVE=$(client_image)/busybox.oci-archive
CONFIG_TEMPLATE=$SRC_DIR/packaging/clients/containerd/config.toml
# containerd namespace: also the parent of every container's cgroup (/NS/ID).
NS=ctrd-test-$$

failed=()
# check NAME FUNC [ARGS...]: runs FUNC in a subshell with set -e; a failure is
# recorded (and the daemon's complaints shown) and the next step goes on.
check() {
  local name=$1 rc
  shift
  step "$MODE: $name"
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  if ((rc != 0)); then
    failed+=("$MODE: $name")
    echo "  (containerd's log, warnings and errors:)" >&2
    grep -E 'level=(warning|error)' "$D/containerd.log" |
      grep -vE 'devmapper|cleaning up after shim disconnected|starting signal loop' |
      tail -n 5 | sed 's/^/  /' >&2 || true
  fi
  return 0
}

# The client: c ARGS... runs ctr against the daemon of the current MODE;
# c_pty ARGS... runs it on a pseudo-terminal (script), as `ctr run -t` needs.
c() { "${AS[@]}" timeout 120 "${PRE[@]}" ctr -a "$D/ctrd.sock" -n "$NS" "$@"; }
c_pty() {
  local cmd
  cmd=$(printf '%q ' timeout --foreground 120 "${PRE[@]}" ctr -a "$D/ctrd.sock" -n "$NS" "$@")
  "${AS[@]}" script -qec "$cmd" /dev/null </dev/null
}

task_status() { c task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
wait_status() {
  local i
  for ((i = 0; i < 100; i++)); do
    [[ "$(task_status "$1")" == "$2" ]] && return 0
    sleep 0.1
  done
  fail "task $1: status '$(task_status "$1")', expected $2"
}

write_config() {
  sed -e "s|@ROOT@|$D/root|g" -e "s|@STATE@|$D/state|g" -e "s|@ADDRESS@|$D/ctrd.sock|g" \
    "$CONFIG_TEMPLATE" >"$D/config.toml"
  chmod 644 "$D/config.toml"
}

# Deletes what the test left in the daemon: tasks (the shim unmounts the
# rootfs and exits), containers and their snapshots.
drain_daemon() {
  local id
  for id in $(c task ls -q 2>/dev/null); do c task kill -s KILL "$id" >/dev/null 2>&1 || true; done
  for id in $(c task ls -q 2>/dev/null); do c task rm -f "$id" >/dev/null 2>&1 || true; done
  for id in $(c containers ls -q 2>/dev/null); do c containers rm "$id" >/dev/null 2>&1 || true; done
}

# Kills the processes whose command line names PATTERN (a path under $T, so
# only this test's shims and daemons), by pid, and waits until they are gone.
kill_named() {
  local pattern=$1 pids i
  for ((i = 0; i < 50; i++)); do
    pids=$(pgrep -f -- "$pattern" || true)
    [[ -z "$pids" ]] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  echo "containerd test: processes left: $(pgrep -af -- "$pattern")" >&2
}

# The container IDs the operations use.
IDS=(rm1 tty1 nc1 d1 u1 k1 k2 lat ref1)

stop_daemon() { # PID
  local id sock
  drain_daemon
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  kill_named "$D/"
  # A shim killed above leaves its socket in /run/containerd/s (root's; the
  # rootless ones live in rootlesskit's /run): sha256 of ADDRESS/NS/ID.
  if [[ $MODE == root ]]; then
    for id in "${IDS[@]}"; do
      sock=$(printf '%s' "$D/ctrd.sock/$NS/$id" | sha256sum | cut -d' ' -f1)
      rm -f "/run/containerd/s/$sock"
    done
  fi
}

# The 1.6 shim's `delete` command (run when a shim goes away) reports
# "failed to remove runc container ... exit status 255" now and then, for
# rrun and runc alike: the runtime exited 0 (traced), the shim's reaper took
# its exit status first. Counted, not failed.
report_shim_cleanup_warnings() {
  local r u
  r=$(grep -c "failed to remove runc container.*$RRUN_BIN did not terminate successfully" "$D/containerd.log" || true)
  u=$(grep -c "failed to remove runc container.*$RUNC_BIN did not terminate successfully" "$D/containerd.log" || true)
  echo "containerd ($MODE): the shim's cleanup misreported the runtime's exit (status 255): rrun ${r}x, runc ${u}x"
}

# ---------------------------------------------------------------------------
# The operations, the same for both modes. RF_RRUN / RF_RUNC are the ctr run
# flags choosing the runtime (and, rootless, no cgroup).

op_run_rm_exit_code() {
  run c run --rm "${RF_RRUN[@]}" "$IMAGE" rm1 sh -c 'echo out; exit 3'
  expect_eq "$rc" 3 "exit status of ctr run --rm (sh -c 'exit 3')${err:+ (stderr: $err)}"
  expect_eq "$out" out "output of ctr run --rm"
}

op_run_tty() {
  run c_pty run --rm -t "${RF_RRUN[@]}" "$IMAGE" tty1 sh -c 'tty; exit 5'
  expect_eq "$rc" 5 "exit status of ctr run -t (output: $out)"
  expect_contains "$out" "/dev/pts/" "tty inside ctr run -t"
}

# Rootless without --cgroup "" --cpu-shares 0 (runc fails then: "cannot set
# cpu limit"): rrun runs the container without the limit and warns in its
# --log only; the container's output is its own.
op_run_without_cgroup_flags() {
  run c run --rm --runc-binary "$RRUN_BIN" --runc-root "$D/rrun-state" --fifo-dir "$D/fifo" "$IMAGE" nc1 \
    sh -c 'echo only-this'
  expect_eq "$rc" 0 "exit status of ctr run without --cgroup \"\" --cpu-shares 0${err:+ (stderr: $err)}"
  expect_eq "$out$err" only-this "the container's output"
}

op_start_detached() {
  # pid 1 ignores TERM unless it handles it: the trap makes TERM visible (42).
  expect_ok c run -d "${RF_RRUN[@]}" "$IMAGE" d1 sh -c 'trap "exit 42" TERM; sleep 1000 & wait'
  wait_status d1 RUNNING
}

op_exec() {
  run c task exec --fifo-dir "$D/fifo" --exec-id e1 d1 sh -c 'echo exec-ok; id -u'
  expect_eq "$rc" 0 "exit status of task exec${err:+ (stderr: $err)}"
  expect_eq "$out" $'exec-ok\n0' "output of task exec"
  run c task exec --fifo-dir "$D/fifo" --exec-id e2 d1 sh -c 'exit 7'
  expect_eq "$rc" 7 "exit status of task exec (sh -c 'exit 7')${err:+ (stderr: $err)}"
}

# uid:gid, not a bare uid: for a bare uid ctr 1.6 mounts the container's
# snapshot a second time to look the gid up in /etc/passwd, and that mount
# resets the running overlay's workdir: every later copy-up in the container
# fails with ENOENT (runc too; dmesg: "upperdir is in-use").
op_exec_user() {
  run c task exec --fifo-dir "$D/fifo" --exec-id e3 --user 65534:65534 d1 sh -c 'id -u; id -g'
  expect_eq "$rc" 0 "exit status of task exec --user 65534:65534${err:+ (stderr: $err)}"
  expect_eq "$out" $'65534\n65534' "id -u, id -g under task exec --user 65534:65534"
}

# The upper directory of container ID's rootfs overlay, as mounted by its shim.
upperdir_of() {
  local mi=/proc/self/mountinfo
  [[ $MODE == root ]] || mi=/proc/$(<"$D/rk/state/child_pid")/mountinfo
  awk -v m="/$NS/$1/rootfs" '$5 ~ m "$" { print }' "$mi" | grep -o 'upperdir=[^,]*' | cut -d= -f2
}

# A bare uid in a container of its own (see above: the lookup mount spoils
# the container's overlay for later writes).
op_exec_bare_uid() {
  expect_ok c run -d "${RF_RRUN[@]}" "$IMAGE" u1 sleep 1000
  wait_status u1 RUNNING
  run c task exec --fifo-dir "$D/fifo" --exec-id e1 --user 65534 u1 id -u
  local r=$rc o=$out e=$err
  c task kill -s KILL u1 >/dev/null 2>&1 || true
  wait_status u1 STOPPED
  c task rm u1 >/dev/null 2>&1 || true
  c containers rm u1 >/dev/null 2>&1 || true
  expect_eq "$r" 0 "exit status of task exec --user 65534${e:+ (stderr: $e)}"
  expect_eq "$o" 65534 "id -u under task exec --user 65534"
}

op_chown() {
  run c task exec --fifo-dir "$D/fifo" --exec-id e4 d1 \
    sh -c 'touch /tmp/f && chown 65534:65534 /tmp/f && stat -c %u:%g /tmp/f'
  if ((rc != 0)); then
    local up
    up=$(upperdir_of d1)
    echo "  d1's upperdir $up: $(if [[ -d "$up" ]]; then echo exists; else echo MISSING; fi)" >&2
  fi
  expect_eq "$rc" 0 "exit status of chown 65534:65534 inside${err:+ (stderr: $err)}"
  expect_eq "$out" 65534:65534 "owner after chown inside"
}

op_pause_resume() {
  expect_ok c task pause d1
  wait_status d1 PAUSED
  expect_ok c task resume d1
  wait_status d1 RUNNING
  run c task exec --fifo-dir "$D/fifo" --exec-id e5 d1 echo after-resume
  expect_eq "$out" after-resume "task exec after resume${err:+ (stderr: $err)}"
}

# Rootless here: no cgroup (v1, nothing delegated), so nothing to freeze;
# runc refuses too ("cgroups not configured for container").
op_pause_refused() {
  run c task pause d1
  ((rc != 0)) || fail "task pause without a cgroup succeeded"
  expect_contains "$err" "cgroup" "the refusal of task pause"
  expect_eq "$(task_status d1)" RUNNING "status after the refused pause"
}

op_ps() {
  local init
  init=$(c task ls | awk '$1 == "d1" { print $2 }')
  run c task ps d1
  expect_eq "$rc" 0 "exit status of task ps${err:+ (stderr: $err)}"
  expect_contains "$out" "$init" "task ps lists the init ($init)"
  # sh and its sleep
  (($(awk 'NR > 1 && $1 ~ /^[0-9]+$/' <<<"$out" | wc -l) >= 2)) || fail "task ps: expected 2 pids (sh, sleep), got: $out"
}

# Root: the container's cgroup (v1: memory.usage_in_bytes, v2:
# memory.usage). Rootless (no cgroup of its own) the shim reports the cgroup
# the container's processes are in, the caller's, with runc too.
op_metrics() {
  run c task metrics d1
  expect_eq "$rc" 0 "exit status of task metrics${err:+ (stderr: $err)}"
  expect_contains "$out" METRIC "task metrics"
  if [[ $MODE == root ]]; then
    expect_contains "$out" memory.usage "task metrics"
    expect_contains "$out" pids.current "task metrics"
  fi
}

op_kill_detached() {
  expect_ok c task kill -s KILL d1
  wait_status d1 STOPPED
  run c task rm d1
  expect_eq "$rc" 0 "exit status of task rm${err:+ (stderr: $err)}"
  expect_contains "$out$err" "exit code 137" "the exit status task rm reports"
  expect_ok c containers rm d1
}

# KILL_ARGS...: kills a foreground `ctr run` container; ctr run's exit status
# is the container's. TERM is sent again until it lands (the trap must be set).
kill_foreground() {
  local id=$1 want=$2 pid i
  shift 2
  c run --rm "${RF_RRUN[@]}" "$IMAGE" "$id" sh -c 'trap "exit 42" TERM; sleep 1000 & wait' >/dev/null 2>&1 &
  pid=$!
  wait_status "$id" RUNNING
  for ((i = 0; i < 50; i++)); do
    c task kill "$@" "$id" >/dev/null 2>&1 || true
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || break
  done
  set +e
  wait "$pid"
  rc=$?
  set -e
  expect_eq "$rc" "$want" "exit status of ctr run after task kill $*"
}
op_kill_term() { kill_foreground k1 42; }
op_kill_kill() { kill_foreground k2 137 -s KILL; }

# One `ctr run --rm IMAGE lat true` with the runtime given.
one_container() {
  if [[ $1 == rrun ]]; then c run --rm "${RF_RRUN[@]}" "$IMAGE" lat true; else c run --rm "${RF_RUNC[@]}" "$IMAGE" lat true; fi
}
op_latency() { latency_side_by_side "ctr run --rm $IMAGE true ($MODE)" one_container; }

# runc under the same daemon and flags, so that a failure is known to be rrun's.
op_runc_reference() {
  run c run --rm "${RF_RUNC[@]}" "$IMAGE" ref1 sh -c 'exit 3'
  expect_eq "$rc" 3 "runc: exit status of ctr run --rm${err:+ (stderr: $err)}"
}

run_ops() {
  check "import $IMAGE" expect_ok c images import "$ARCHIVE"
  check "runc reference run" op_runc_reference
  check "run --rm: exit code" op_run_rm_exit_code
  check "run -t: a terminal inside" op_run_tty
  [[ $MODE == root ]] || check "run without --cgroup/--cpu-shares" op_run_without_cgroup_flags
  check "run -d" op_start_detached
  if [[ "$(task_status d1)" == RUNNING ]]; then
    check "task exec" op_exec
    check "task exec --user 65534:65534" op_exec_user
    check "chown 65534:65534 inside" op_chown
    if [[ $MODE == root ]]; then
      check "task pause / resume" op_pause_resume
    else
      check "task pause refused (no cgroup)" op_pause_refused
    fi
    check "task ps" op_ps
    check "task metrics" op_metrics
    check "task kill -s KILL (detached)" op_kill_detached
  fi
  check "task exec --user 65534 (a container of its own)" op_exec_bare_uid
  check "task kill (TERM): ctr run reports the status" op_kill_term
  check "task kill -s KILL: ctr run reports the status" op_kill_kill
  check "latency" op_latency
}

# ---------------------------------------------------------------------------
# set_mode root|rootless: the daemon directory, how ctr is run, the flags.
set_mode() {
  MODE=$1
  D=$T/$MODE
  if [[ $MODE == root ]]; then
    AS=()
    # ctr mounts a snapshot for a moment (to read /etc/passwd) in
    # XDG_RUNTIME_DIR: under $T, so that a leftover is found.
    PRE=(env XDG_RUNTIME_DIR="$D/tmp")
    RF_RRUN=(--runc-binary "$RRUN_BIN" --runc-root "$D/rrun-state" --fifo-dir "$D/fifo")
    RF_RUNC=(--runc-binary "$RUNC_BIN" --runc-root "$D/runc-state" --fifo-dir "$D/fifo")
  else
    AS=(as_user)
    PRE=(nsenter -U --preserve-credentials -m -t "$(cat "$D/rk/state/child_pid" 2>/dev/null)")
    RF_RRUN=(--cgroup "" --cpu-shares 0 --runc-binary "$RRUN_BIN" --runc-root "$D/rrun-state" --fifo-dir "$D/fifo")
    RF_RUNC=(--cgroup "" --cpu-shares 0 --runc-binary "$RUNC_BIN" --runc-root "$D/runc-state" --fifo-dir "$D/fifo")
  fi
}

stop_mode() { # MODE PID
  set_mode "$1"
  stop_daemon "$2"
}

# Nothing left in the host by the root daemon once its containers are gone:
# no mount under $T (root's snapshots are mounted in the host's namespace),
# no container cgroup.
check_root_clean() {
  local left
  drain_daemon
  left=$(awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo)
  [[ -z "$left" ]] || fail "mounts left under $T after the containers were removed: $left"
  left=$(find /sys/fs/cgroup/*/"$NS" -mindepth 1 -type d 2>/dev/null || true)
  [[ -z "$left" ]] || fail "container cgroups left: $left"
}

# The 1.6 shims put their sockets in /run/containerd/s whatever the config
# says (so do those of the Docker test's containerd). With host-paths.sh the
# last client test using it removes it if a test made it; without, this test
# removes it if it made it and it is empty.
if [[ -f "$CLIENTS_DIR/host-paths.sh" ]]; then
  # shellcheck source=host-paths.sh
  source "$CLIENTS_DIR/host-paths.sh"
  host_paths_claim /run/containerd
  on_exit host_paths_release
else
  run_containerd_existed=0
  [[ -e /run/containerd ]] && run_containerd_existed=1
  cleanup_run_containerd() {
    ((run_containerd_existed)) && return 0
    (
      flock 9
      rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    ) 9>/run/lock/rrun-test-run-containerd.lock
  }
  on_exit cleanup_run_containerd
fi
# Starts a daemon in the background without the host-paths lock's fd (the
# daemon must not hold it); BG_PID is its pid.
start_daemon() {
  if [[ -n "${HOST_PATHS_FD:-}" ]]; then
    "$@" {HOST_PATHS_FD}>&- &
  else
    "$@" &
  fi
  BG_PID=$!
}

# Cgroups the runtimes made under /NS on every hierarchy (only those).
cleanup_cgroups() {
  local d pids
  # A container whose shim was killed: its processes are still in its cgroup.
  pids=$(cat /sys/fs/cgroup/*/"$NS"/*/cgroup.procs 2>/dev/null | sort -u)
  # shellcheck disable=SC2086
  [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
  for d in /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS"; do
    [[ -d "$d" ]] || continue
    find "$d" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$d" 2>/dev/null || echo "containerd test: could not remove cgroup $d" >&2
  done
}
on_exit cleanup_cgroups

cleanup_mounts() {
  local m
  for m in $(awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    echo "containerd test: unmounting leftover $m" >&2
    umount "$m" || umount -l "$m" || true
  done
}
on_exit cleanup_mounts

# ---------------------------------------------------------------------------
# Root: the daemon in the host's namespaces.
set_mode root
install -d -m 700 "$D" "$D/tmp" "$D/fifo"
write_config
start_daemon containerd --config "$D/config.toml" --log-level debug >"$D/containerd.log" 2>&1 </dev/null
ROOT_PID=$BG_PID
on_exit stop_mode root "$ROOT_PID"
wait_daemon 10 "$ROOT_PID" "$D/containerd.log" "$MODE containerd" c version
run_ops
check "nothing left behind" check_root_clean
report_shim_cleanup_warnings


# ---------------------------------------------------------------------------
# Rootless: containerd as the test user under rootlesskit.
D=$T/rootless
install -d -m 755 -o "$TEST_UID" -g "$TEST_GID" "$D"
as_user install -d -m 700 "$D/fifo" "$D/rk"
write_config
start_daemon as_user rootlesskit --net=host --copy-up=/etc --copy-up=/run --state-dir="$D/rk/state" \
  sh -c 'rm -f /run/containerd; exec containerd --config "$1" --log-level debug' sh "$D/config.toml" \
  >"$D/containerd.log" 2>&1 </dev/null
RK_PID=$BG_PID
on_exit stop_mode rootless "$RK_PID"
for ((i = 0; i < 100; i++)); do
  [[ -s "$D/rk/state/child_pid" ]] && break
  kill -0 "$RK_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -s "$D/rk/state/child_pid" ]] || {
  cat "$D/containerd.log" >&2
  fail "rootlesskit did not start (log: above)"
}
set_mode rootless
wait_daemon 10 "$RK_PID" "$D/containerd.log" "$MODE containerd" c version
run_ops
report_shim_cleanup_warnings

if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "PASS: containerd root and rootless"
