#!/usr/bin/env bash
# Docker 20.10 (Debian's docker.io: dockerd, its own containerd, the runc v2
# shim, /usr/bin/docker) with rrun as an added runtime, from
# packaging/clients/docker-daemon.json, root and rootless:
#   root      dockerd with its data, exec root, socket, pid file and config
#             under $T (the containerd it starts lives in the exec root), no
#             iptables, no bridge; containers run with --network none
#   rootless  Debian's dockerd-rootless.sh as the test user (rootlesskit with
#             the host network: slirp4netns needs /dev/net/tun), data under
#             $T/home, sockets under $T/xdg, config in ~/.config/docker
# Operations (each asserted): run --rm with the exit code, run --rm -it
# through a pty, run -d + exec (--user 65534), run --user 65534:65534,
# stop (TERM handled; TERM ignored, then killed after -t), --read-only
# --tmpfs /tmp, and as root update --memory on a running container (seen
# inside and on the host).
# Then the latency of `docker run --rm IMAGE true` with rrun and with runc.
#
# dockerd insists on some host paths (/etc/docker/key.json, /run/docker,
# /run/containerd/s for the shims' sockets, /sys/fs/cgroup/*/docker):
# host-paths.sh removes the ones the client tests created.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=host-paths.sh
source "$CLIENTS_DIR/host-paths.sh"

DOCKER=/usr/bin/docker # Debian's 20.10 client (/usr/local/bin/docker is newer)
ROOTLESS_SH=/usr/share/docker.io/contrib/dockerd-rootless.sh
for b in dockerd "$DOCKER" containerd containerd-shim-runc-v2 rootlesskit newuidmap /usr/sbin/runc script; do
  command -v "$b" >/dev/null || skip "$b is not installed (packaging/install-deps.sh --clients)"
done
[[ -x "$ROOTLESS_SH" ]] || skip "$ROOTLESS_SH is missing (package docker.io)"

IMAGE=rrun-test/busybox:latest
ARCHIVE=$(client_image)/busybox.docker-archive
CONFIG=$SRC_DIR/packaging/clients/docker-daemon.json
DAEMON_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Host-protecting flags: no iptables rules, no bridge, no forwarding change.
NET_FLAGS=(--iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none)

R=$T/root # the root daemon's directory
ROOT_PID=
USER_BG= # the background job that becomes rootlesskit
USER_RK= # rootlesskit's pid

# Processes whose command line names a path under DIR (default $T): the
# root dockerd, the containerds, the shims, rrun and runc calls.
procs_in() {
  local dir=${1:-$T} p c
  for p in /proc/[0-9]*; do
    c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    [[ "$c" == *"$dir/"* ]] && echo "${p#/proc/}"
  done
  return 0
}
# Mount points under DIR in the host's mount namespace, deepest first.
mounts_in() {
  awk -v t="$1/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
iptables_state() {
  local cmd t
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for t in filter nat mangle raw; do "$cmd" -t "$t" -S 2>&1 || true; done
  done
}
# The container cgroups under Docker's cgroupfs parent /docker.
docker_cgroups() {
  find /sys/fs/cgroup/ -mindepth 2 -maxdepth 3 -path '*/docker/*' -type d 2>/dev/null | sort
}
wait_gone() { # PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}
# Stops PID (TERM, then KILL after 30 s), then whatever is still running
# that names a path under DIR (a shim, containerd), and unmounts what is
# left under DIR; what it had to kill or unmount goes to LEFT (a leak).
LEFT=()
stop_and_sweep() { # PID DIR
  local - pid=$1 dir=$2 p m
  set +e # what it stops may be gone already
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait_gone "$pid" 30 || {
      LEFT+=("pid $pid ignored TERM for 30 s")
      kill -KILL "$pid"
    }
  fi
  for p in $(procs_in "$dir"); do
    LEFT+=("process $(ps -o pid=,args= -p "$p")")
    kill -TERM "$p" 2>/dev/null
  done
  for p in $(procs_in "$dir"); do wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null; done
  for m in $(mounts_in "$dir"); do
    LEFT+=("mount $m")
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

# --- the clients
d_root() { env DOCKER_CONFIG="$R/client" "$DOCKER" -H "unix://$R/docker.sock" "$@"; }
d_user() { as_user "$DOCKER" -H "unix://$T/xdg/docker.sock" "$@"; }
dk() { "d_$MODE" "$@"; }
# The docker command line of MODE, as one shell string (for script -c).
dk_line() {
  local q
  if [[ "$MODE" == root ]]; then
    printf -v q '%q ' env DOCKER_CONFIG="$R/client" "$DOCKER" -H "unix://$R/docker.sock" "$@"
  else
    printf -v q '%q ' "$DOCKER" -H "unix://$T/xdg/docker.sock" "$@"
  fi
  echo "$q"
}
as_mode() { if [[ "$MODE" == root ]]; then "$@"; else as_user "$@"; fi; }

start_root() {
  install -d -m 700 "$R" "$R/client"
  sed "s|@RRUN@|$RRUN_BIN|g" "$CONFIG" >"$R/daemon.json"
  env PATH="$DAEMON_PATH" dockerd --debug --data-root "$R/data" --exec-root "$R/exec" \
    --pidfile "$R/dockerd.pid" -H "unix://$R/docker.sock" "${NET_FLAGS[@]}" \
    --storage-driver overlay2 --config-file "$R/daemon.json" \
    >"$R/dockerd.log" 2>&1 </dev/null {HOST_PATHS_FD}>&- &
  ROOT_PID=$!
  on_exit stop_root
  MODE=root wait_daemon 30 "$ROOT_PID" "$R/dockerd.log" "root dockerd" dk version
}
stop_root() {
  [[ -n "$ROOT_PID" ]] || return 0
  local -
  set +e
  MODE=root remove_containers
  stop_and_sweep "$ROOT_PID" "$R"
  wait "$ROOT_PID" 2>/dev/null || true
  ROOT_PID=
}

start_rootless() {
  local cfg=$T/home/.config/docker
  install -d -m 700 -o "$TEST_UID" -g "$TEST_GID" "$T/home/.config" "$cfg"
  sed "s|@RRUN@|$RRUN_BIN|g" "$CONFIG" >"$cfg/daemon.json"
  chown "$TEST_UID:$TEST_GID" "$cfg/daemon.json"
  as_user env DOCKERD_ROOTLESS_ROOTLESSKIT_NET=host DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=none \
    "$ROOTLESS_SH" --debug "${NET_FLAGS[@]}" --storage-driver overlay2 \
    >"$T/rootless.log" 2>&1 </dev/null {HOST_PATHS_FD}>&- &
  USER_BG=$!
  on_exit stop_rootless
  local i
  for ((i = 0; i < 50; i++)); do
    USER_RK=$(pgrep -P "$USER_BG" | head -n1) && break
    sleep 0.1
  done
  MODE=user wait_daemon 30 "$USER_BG" "$T/rootless.log" "user dockerd" dk version
}
stop_rootless() {
  [[ -n "$USER_BG" ]] || return 0
  local -
  set +e
  MODE=user remove_containers
  # rootlesskit passes TERM on to dockerd, which stops its containerd.
  # Its containerd and shims name $T/xdg (sockets) and $T/home (data).
  stop_and_sweep "$USER_RK" "$T/xdg"
  stop_and_sweep "" "$T/home"
  wait "$USER_BG" 2>/dev/null || true
  USER_BG=
}

remove_containers() {
  local ids
  mapfile -t ids < <(dk ps -aq 2>/dev/null)
  ((${#ids[@]} == 0)) || dk rm -f "${ids[@]}" >/dev/null 2>&1 ||
    echo "docker test: could not remove the $MODE containers ${ids[*]}" >&2
}

# --- the operations; each step runs in a subshell: a failing one is
# reported and the others still run.
failed=()
check() { # NAME FUNCTION
  step "$MODE: $1"
  ("$2") || {
    failed+=("$MODE: $1")
    daemon_errors
  }
}
# The last errors in the daemons' logs (dockerd's and its containerd's).
daemon_errors() {
  local log e
  for log in "$R/dockerd.log" "$T/rootless.log"; do
    [[ -f "$log" ]] || continue
    e=$(grep -E 'level=(error|fatal)' "$log" | tail -n 5 | cut -c1-600) || continue
    printf '  last errors in %s:\n%s\n' "$log" "    ${e//$'\n'/$'\n'    }" >&2
  done
}

op_exit_code() {
  run dk run --rm --runtime rrun --network none "$IMAGE" sh -c 'echo out; exit 3'
  expect_eq "$rc" 3 "exit code of run --rm (stderr: $err)"
  expect_eq "$out" out "output of run --rm"
}

op_tty() {
  # docker run -it wants a terminal: script gives it one.
  run as_mode script -qec "$(dk_line run --rm -it --runtime rrun --network none "$IMAGE" sh -c 'tty; exit 3')" /dev/null
  expect_eq "$rc" 3 "exit code of run --rm -it (stderr: $err, stdout: $out)"
  [[ "$out" =~ /dev/pts/[0-9]+ ]] || fail "tty in run -it: '$out', expected /dev/pts/N"
}

op_exec_user() {
  local id
  expect_ok dk run -d --runtime rrun --network none "$IMAGE" sleep 1000
  id=$out
  expect_ok dk exec "$id" id -u
  expect_eq "$out" 0 "exec id -u"
  expect_ok dk exec --user 65534 "$id" id -u
  expect_eq "$out" 65534 "exec --user 65534 id -u"
  expect_ok dk exec --user 65534:65534 "$id" id -g
  expect_eq "$out" 65534 "exec --user 65534:65534 id -g"
  expect_ok dk rm -f "$id"
}

op_run_user() {
  expect_ok dk run --rm --runtime rrun --network none --user 65534:65534 "$IMAGE" sh -c 'id -u; id -g'
  expect_eq "$out" $'65534\n65534' "id -u, id -g in run --user 65534:65534"
}

op_stop() {
  local id t0 t1
  # TERM handled: exits at once with its own code.
  expect_ok dk run -d --runtime rrun --network none "$IMAGE" sh -c 'trap "exit 7" TERM; sleep 1000 & wait'
  id=$out
  sleep 0.3
  t0=$(date +%s%N)
  expect_ok dk stop -t 20 "$id"
  t1=$(date +%s%N)
  (((t1 - t0) / 1000000 < 5000)) || fail "stop of a TERM-handling container took $(((t1 - t0) / 1000000)) ms"
  expect_ok dk inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$id"
  expect_eq "$out" "false 7" "state after stop (TERM handled)"
  expect_ok dk rm "$id"
  # TERM ignored: killed after -t 2.
  expect_ok dk run -d --runtime rrun --network none "$IMAGE" sh -c 'trap "" TERM; sleep 1000 & wait'
  id=$out
  sleep 0.3
  t0=$(date +%s%N)
  expect_ok dk stop -t 2 "$id"
  t1=$(date +%s%N)
  (((t1 - t0) / 1000000 >= 1900 && (t1 - t0) / 1000000 < 10000)) ||
    fail "stop -t 2 of a TERM-ignoring container took $(((t1 - t0) / 1000000)) ms (expected 2-10 s)"
  expect_ok dk inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$id"
  expect_eq "$out" "false 137" "state after stop (TERM ignored, then KILL)"
  expect_ok dk rm "$id"
}

op_read_only() {
  run dk run --rm --runtime rrun --network none --read-only --tmpfs /tmp "$IMAGE" \
    sh -c 'touch /x 2>&1; echo "root=$?"; touch /tmp/x && echo tmp=ok'
  expect_eq "$rc" 0 "exit code of run --read-only (stderr: $err)"
  expect_contains "$out" "Read-only file system" "touch / in --read-only"
  expect_contains "$out" "root=1" "touch / in --read-only"
  expect_contains "$out" "tmp=ok" "touch /tmp in --read-only --tmpfs /tmp"
}

# The limit on the host (the init's cgroup) and inside: v1's memory
# hierarchy (the container sees its own cgroup at /sys/fs/cgroup/memory) or
# v2's (memory.swap.max is the swap alone: 128m - 64m).
op_update_memory() {
  local id pid cg
  expect_ok dk run -d --runtime rrun --network none "$IMAGE" sleep 1000
  id=$out
  expect_ok dk update --memory 64m --memory-swap 128m "$id"
  expect_ok dk inspect -f '{{.State.Pid}}' "$id"
  pid=$out
  cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
  if [[ -n "$cg" ]]; then
    [[ "$cg" != / ]] || fail "the container's init $pid has no memory cgroup of its own"
    expect_eq "$(<"/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 67108864 "host's memory.limit_in_bytes of $cg"
    expect_eq "$(<"/sys/fs/cgroup/memory$cg/memory.memsw.limit_in_bytes")" 134217728 "host's memory.memsw.limit_in_bytes of $cg"
    expect_ok dk exec "$id" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    expect_eq "$out" 67108864 "memory.limit_in_bytes inside the container"
  else
    cg=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    expect_eq "$(<"/sys/fs/cgroup$cg/memory.max")" 67108864 "host's memory.max of $cg"
    expect_eq "$(<"/sys/fs/cgroup$cg/memory.swap.max")" 67108864 "host's memory.swap.max of $cg"
    expect_ok dk exec "$id" cat /sys/fs/cgroup/memory.max
    expect_eq "$out" 67108864 "memory.max inside the container"
  fi
  expect_ok dk rm -f "$id"
}

# One `docker run --rm IMAGE true` with the runtime given.
one_container() { dk run --rm --runtime "$1" --network none "$IMAGE" true; }
latency() { latency_side_by_side "docker ($MODE) run --rm" one_container; }

# RRUN_CLIENTS_LOGS=DIR keeps the daemons' logs (copied there at exit).
keep_logs() {
  install -d "$RRUN_CLIENTS_LOGS"
  cp -f "$R/dockerd.log" "$RRUN_CLIENTS_LOGS/docker-root.log" 2>/dev/null
  cp -f "$T/rootless.log" "$RRUN_CLIENTS_LOGS/docker-rootless.log" 2>/dev/null
  return 0
}
[[ -z "${RRUN_CLIENTS_LOGS:-}" ]] || on_exit keep_logs

# --- host state before
IPT_BEFORE=$(iptables_state)
CG_BEFORE=$(docker_cgroups)
# /opt/containerd: the "managed opt" directory of the containerd dockerd starts.
claim=(/etc/docker /etc/docker/key.json /run/docker /run/containerd /opt/containerd)
for h in /sys/fs/cgroup/*/; do [[ -L "${h%/}" ]] || claim+=("${h}docker"); done
[[ ! -f /sys/fs/cgroup/cgroup.controllers ]] || claim+=(/sys/fs/cgroup/docker)
host_paths_claim "${claim[@]}"
on_exit host_paths_release

# --- root
step "root: start dockerd (its containerd under $R/exec)"
start_root
expect_ok d_root info --format '{{json .Runtimes}}'
expect_contains "$out" "$RRUN_BIN" "docker info runtimes"
expect_ok d_root load -i "$ARCHIVE"
MODE=root
check "run --rm, exit code" op_exit_code
check "run --rm -it, tty and exit code" op_tty
check "run -d + exec --user 65534" op_exec_user
check "run --user 65534:65534" op_run_user
check "stop (TERM handled; TERM ignored, -t 2)" op_stop
check "update --memory 64m --memory-swap 128m" op_update_memory
check "--read-only --tmpfs /tmp" op_read_only
step "root: latency"
latency

# --- rootless
step "rootless: start dockerd-rootless.sh as $TEST_USER"
start_rootless
expect_ok d_user info --format '{{.SecurityOptions}} {{json .Runtimes}}'
expect_contains "$out" "rootless" "docker info security options"
expect_contains "$out" "$RRUN_BIN" "docker info runtimes"
expect_ok d_user load -i "$ARCHIVE"
MODE=user
check "run --rm, exit code" op_exit_code
check "run --rm -it, tty and exit code" op_tty
check "run -d + exec --user 65534" op_exec_user
check "run --user 65534:65534" op_run_user
check "stop (TERM handled; TERM ignored, -t 2)" op_stop
check "--read-only --tmpfs /tmp" op_read_only
step "rootless: latency"
latency

# --- stop and look at what is left
step "stop the daemons; nothing left behind"
stop_rootless
stop_root
((${#LEFT[@]} == 0)) || {
  daemon_errors
  fail "left behind after the daemons stopped: $(printf '%s; ' "${LEFT[@]}")"
}
left=$(comm -13 <(echo "$CG_BEFORE") <(docker_cgroups))
[[ -z "$left" ]] || fail "container cgroups left: $left"
[[ "$(iptables_state)" == "$IPT_BEFORE" ]] || fail "iptables rules changed"

if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "PASS"
