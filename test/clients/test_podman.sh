#!/usr/bin/env bash
# test_podman.sh — Podman 4.3 (with conmon) driving rrun, as root and as the
# test user (rootless: Podman runs rrun as uid 0 in its user namespace).
#
# Podman never passes --root to the runtime: conmon runs
#   rrun [--log-format=json --log F] create --bundle B --pid-file P [--console-socket S] ID
# so rrun keeps its state in its default place (/run/rrun as root,
# $XDG_RUNTIME_DIR/rrun rootless). Configuration: packaging/clients/podman/
# containers.conf (what users copy), with @RRUN@ replaced and this test's
# private paths added under [engine] and [network]; root also gets a private
# storage.conf (CONTAINERS_CONF / CONTAINERS_STORAGE_CONF), the test user's
# files are the usual ~/.config/containers/containers.conf and the default
# storage under $HOME ($T/home) and $XDG_RUNTIME_DIR ($T/xdg).
#
# Each check runs in a subshell so that one failure does not hide the next:
# the test fails at the end with the list of the checks that failed.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

if ! command -v podman >/dev/null || ! command -v conmon >/dev/null; then
  skip "podman or conmon not installed"
fi
RUNC=/usr/sbin/runc
[[ -x "$RUNC" ]] || skip "runc not installed at $RUNC (the latency reference)"

IMAGE=localhost/rrun-test/busybox:latest
CONF_TEMPLATE=$SRC_DIR/packaging/clients/podman/containers.conf
# conmon 2.1 writes its "oom" file into its working directory, which is
# Podman's: keep it in $T.
cd "$T" || fail "cd $T"

# ------------------------------------------------------------ the host before
# Paths outside $T that Podman, conmon or the runtimes create on demand. What
# existed before is left alone; what this test made is removed at the end,
# and anything else new is reported.
HOST_PATHS=(/run/containers /run/libpod /var/lib/containers /var/cache/containers /etc/containers/networks
  /etc/cni/net.d/cni.lock /dev/shm/libpod_lock "/dev/shm/libpod_rootless_lock_$TEST_UID" /run/rrun /run/runc)
declare -A existed=()
for p in "${HOST_PATHS[@]}" /sys/fs/cgroup/*/libpod_parent; do
  [[ -e "$p" ]] && existed[$p]=1
done
vartmp_before=$(ls -A /var/tmp)

# ---------------------------------------------------------- configuration
# write_conf FILE ENGINE_LINES [NETWORK_LINES]: the packaging file for this rrun,
# with ENGINE_LINES under [engine] and a [network] table of NETWORK_LINES.
write_conf() {
  local file=$1 engine=$2 network=${3:-}
  sed "s|@RRUN@|$RRUN_BIN|" "$CONF_TEMPLATE" >"$file"
  awk -v extra="$engine" '{ print } /^\[engine\]$/ { print extra }' "$file" >"$file.new"
  mv "$file.new" "$file"
  [[ -z "$network" ]] || printf '\n[network]\n%s\n' "$network" >>"$file"
}

R=$T/root
install -d -m 700 "$R" "$R/tmp"
write_conf "$R/containers.conf" \
  "# test-private (test/clients/test_podman.sh)
tmp_dir = \"$R/tmp\"
static_dir = \"$R/storage/libpod\"
volume_path = \"$R/storage/volumes\"
image_copy_tmp_dir = \"$R/tmp\"
lock_type = \"file\"" \
  "network_config_dir = \"$R/networks\""
cat >"$R/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$R/storage"
runroot = "$R/run"
EOF

# The test user: ~/.config/containers/{containers,storage}.conf. Podman
# refuses a runroot longer than 50 characters in the exit command it gives
# conmon (then `run --rm` waits 20 s for a cleanup that failed), and
# $XDG_RUNTIME_DIR/containers is longer here: $T/r instead.
install -d -m 700 -o "$TEST_UID" -g "$TEST_GID" "$T/home/.config" "$T/home/.config/containers" "$T/home/tmp" "$T/r"
write_conf "$T/home/.config/containers/containers.conf" \
  "# test-private (test/clients/test_podman.sh)
lock_type = \"file\""
cat >"$T/home/.config/containers/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$T/home/.local/share/containers/storage"
runroot = "$T/r"
EOF
chown "$TEST_UID:$TEST_GID" "$T/home/.config/containers/"*.conf

# pm CMD...: podman as the current MODE (root or rootless).
MODE=root
pm() {
  if [[ $MODE == root ]]; then
    env CONTAINERS_CONF="$R/containers.conf" CONTAINERS_STORAGE_CONF="$R/storage.conf" TMPDIR="$R/tmp" \
      timeout -k 5 120 podman "$@"
  else
    as_user env TMPDIR="$T/home/tmp" timeout -k 5 120 podman "$@"
  fi
}
# pm_script CMD: CMD (a podman command line, in a string) through a pty.
# script's stdin stays open until CMD is done: at EOF script hangs up the
# pty, and Podman then loses the container's output about every third time
# (runc as rrun).
pm_script() {
  local fd sleeper rc=0
  exec {fd}< <(exec sleep 100)
  sleeper=$!
  if [[ $MODE == root ]]; then
    env CONTAINERS_CONF="$R/containers.conf" CONTAINERS_STORAGE_CONF="$R/storage.conf" TMPDIR="$R/tmp" \
      timeout -k 5 60 script -qec "timeout --foreground 50 podman $1" /dev/null <&"$fd" || rc=$?
  else
    as_user env TMPDIR="$T/home/tmp" timeout -k 5 60 script -qec "timeout --foreground 50 podman $1" /dev/null <&"$fd" || rc=$?
  fi
  exec {fd}<&-
  kill "$sleeper" 2>/dev/null
  return "$rc"
}
inspect() { pm inspect -f "$2" "$1"; }

# -------------------------------------------------------------- cleanup
# Removes every container and image of MODE's Podman and its storage; kills
# the rootless pause process. Idempotent (also run at exit after a failure).
cleanup_mode() {
  local mode=$1 MODE=$1 pid i
  if [[ $mode == root ]]; then
    [[ -d "$R/storage" ]] || return 0
    pm rm -a -f -t 0 >/dev/null 2>&1
    pm rmi -a -f >/dev/null 2>&1
    pm unmount -a -f >/dev/null 2>&1
    rm -rf --one-file-system -- "$R/storage" "$R/run"
  else
    [[ -d "$T/home/.local/share/containers" ]] || return 0
    pid=$(cat "$T/xdg/libpod/tmp/pause.pid" 2>/dev/null) || true
    # The storage has files owned by subordinate ids and, with overlay, a
    # mount in the pause process's namespace: `system reset` removes the
    # containers, the storage and that process.
    pm system reset -f >/dev/null 2>&1
    if [[ -n "$pid" && "$(stat -c %u "/proc/$pid" 2>/dev/null)" == "$TEST_UID" ]]; then
      kill "$pid" 2>/dev/null
      # Until it is gone or a zombie (this machine's pid 1 reaps late).
      for ((i = 0; i < 100; i++)); do
        [[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" =~ ^(Z|)$ ]] && break
        sleep 0.05
      done
    fi
  fi
  return 0
}
# restore_host: removes what Podman made outside $T that was not there
# before (the runtimes' default state directories, Podman's short-name alias
# cache lock, which tag/rmi/... create even for local images, the blob-info
# cache of root's `podman load`, and the
# cgroupfs manager's /libpod_parent), and prints one line for anything that
# stays. Also run at exit, after the containers are gone.
restore_host() {
  local p new
  for p in /run/rrun /run/runc; do
    [[ -n "${existed[$p]:-}" || ! -d "$p" ]] || rmdir "$p" 2>/dev/null || echo "host: $p not empty: $(ls -A "$p")"
  done
  # `podman load` as root keeps containers/image's blob-info cache there,
  # whatever storage.conf says.
  if [[ -z "${existed[/var/lib/containers]:-}" && -d /var/lib/containers ]]; then
    rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb
    rmdir /var/lib/containers/cache /var/lib/containers 2>/dev/null ||
      echo "host: /var/lib/containers not empty: $(find /var/lib/containers | head -5)"
  fi
  if [[ -z "${existed[/var/cache/containers]:-}" && -d /var/cache/containers ]]; then
    rm -f /var/cache/containers/short-name-aliases.conf.lock
    rmdir /var/cache/containers 2>/dev/null || echo "host: /var/cache/containers not empty: $(ls -A /var/cache/containers)"
  fi
  for p in /sys/fs/cgroup/*/libpod_parent; do
    [[ -z "${existed[$p]:-}" && -d "$p" ]] || continue
    find "$p" -depth -type d -exec rmdir {} + 2>/dev/null || echo "host: could not remove the cgroup $p"
  done
  for p in "${HOST_PATHS[@]}"; do
    [[ -n "${existed[$p]:-}" || ! -e "$p" ]] || echo "host: $p created"
  done
  # shellcheck disable=SC2012
  new=$(comm -13 <(echo "$vartmp_before" | sort) <(ls -A /var/tmp | sort) |
    grep -E '^(oci|docker-tar|container_images|storage|podman|buildah)' || true)
  [[ -z "$new" ]] || echo "host: left in /var/tmp: $new"
  return 0
}
on_exit restore_host
on_exit cleanup_mode rootless
on_exit cleanup_mode root

# ---------------------------------------------------------------- checks
failed=()
check() {
  local name=$1
  shift
  step "$MODE: $name"
  if ("$@"); then return 0; fi
  echo "FAILED: $MODE: $name" >&2
  failed+=("$MODE: $name")
}

load_image() {
  # The OCI layout, not the archives: Podman 4.3 unpacks an archive into
  # /var/tmp whatever TMPDIR says.
  expect_ok pm load -i "$(client_image)/busybox.oci"
  local loaded=${out##*Loaded image: }
  loaded=${loaded%%$'\n'*}
  expect_ok pm tag "$loaded" "$IMAGE"
  expect_ok pm untag "$loaded" "$loaded"
  expect_ok pm image exists "$IMAGE"
}

run_exit_code() {
  expect_ok pm run --rm "$IMAGE" echo hello
  expect_eq "$out" hello "run --rm output"
  run pm run --rm "$IMAGE" sh -c 'echo out; echo err >&2; exit 3'
  expect_eq "$rc" 3 "exit code of run --rm (stderr: $err)"
  expect_eq "$out" out "stdout of run --rm"
  expect_contains "$err" err "stderr of run --rm"
  # The runtime by path instead of by name.
  run pm run --rm --runtime "$RRUN_BIN" "$IMAGE" sh -c 'exit 42'
  expect_eq "$rc" 42 "exit code of run --rm --runtime PATH (stderr: $err)"
  # rrun's own error reaches the user through --log-format=json, with
  # Podman's exit code for a command not found.
  run pm run --rm "$IMAGE" /no/such
  expect_eq "$rc" 127 "exit code of run --rm IMAGE /no/such (stderr: $err)"
  expect_contains "$err" "rrun: exec: process.args[0] \`/no/such\`: No such file or directory" "Podman's error"
}

run_tty() {
  expect_ok pm_script "run --rm -it $IMAGE sh -c 'tty; echo in-pty'"
  out=${out//$'\r'/}
  [[ "$out" =~ /dev/pts/[0-9]+ ]] || fail "tty inside run -it: got '$out', expected /dev/pts/N"
  expect_contains "$out" in-pty "run -it output"
  # The exit code through a pty too.
  run pm_script "run --rm -it $IMAGE sh -c 'exit 4'"
  expect_eq "$rc" 4 "exit code of run -it (stdout: $out)"
}

detached_exec_stop() {
  local name=$MODE-d
  pm rm -f -t 0 "$name" >/dev/null 2>&1 || true
  expect_ok pm run -d --name "$name" "$IMAGE" sh -c 'trap "exit 0" TERM; sleep 1000 & wait'
  expect_eq "$(inspect "$name" '{{.State.Status}}')" running "state after run -d"
  expect_ok pm exec "$name" sh -c 'echo exec-ok; id -u'
  expect_eq "$out" $'exec-ok\n0' "exec output"
  run pm exec "$name" sh -c 'exit 6'
  expect_eq "$rc" 6 "exit code of exec"
  expect_ok pm exec --user 65534 "$name" id -u
  expect_eq "$out" 65534 "id -u in exec --user 65534"
  expect_ok pm exec --user 65534:65534 "$name" id -g
  expect_eq "$out" 65534 "id -g in exec --user 65534:65534"
  # restart: stop, delete and a new create on the same bundle.
  expect_ok pm restart "$name"
  expect_eq "$(inspect "$name" '{{.State.Status}}')" running "state after restart"
  expect_ok pm exec "$name" echo restarted
  expect_eq "$out" restarted "exec after restart"
  expect_ok pm_script "exec -it $name tty"
  [[ "${out//$'\r'/}" =~ /dev/pts/[0-9]+ ]] || fail "tty inside exec -it: got '$out'"
  # TERM handled: stops at once (the timeout, 10 s, is not reached).
  local t0 t1
  t0=$(date +%s%N)
  expect_ok pm stop "$name"
  t1=$(date +%s%N)
  (((t1 - t0) / 1000000 < 5000)) || fail "stop of a container that handles TERM took $(((t1 - t0) / 1000000)) ms"
  expect_eq "$(inspect "$name" '{{.State.Status}} {{.State.ExitCode}}')" "exited 0" "state after stop"
  expect_ok pm rm "$name"
}

stop_term_ignored() {
  local name=$MODE-k t0 t1 ms
  pm rm -f -t 0 "$name" >/dev/null 2>&1 || true
  expect_ok pm run -d --name "$name" "$IMAGE" sh -c 'trap "" TERM; sleep 1000'
  t0=$(date +%s%N)
  expect_ok pm stop -t 2 "$name"
  t1=$(date +%s%N)
  ms=$(((t1 - t0) / 1000000))
  echo "stop -t 2 of a container that ignores TERM: $ms ms"
  ((ms >= 1900 && ms < 6000)) || fail "stop -t 2 took $ms ms (Podman sends KILL after 2 s)"
  expect_eq "$(inspect "$name" '{{.State.Status}} {{.State.ExitCode}}')" "exited 137" "state after KILL"
  expect_ok pm rm "$name"
}

run_user() {
  expect_ok pm run --rm --user 65534:65534 "$IMAGE" id
  expect_contains "$out" "uid=65534(nobody) gid=65534(nogroup)" "id in run --user 65534:65534"
  expect_ok pm run --rm --user 65534 "$IMAGE" sh -c 'id -u; touch /tmp/x && stat -c %u:%g /tmp/x'
  expect_eq "$out" $'65534\n65534:65534' "run --user 65534: id -u, owner of a new file"
}

chown_inside() {
  expect_ok pm run --rm "$IMAGE" sh -c 'touch /tmp/f && chown 65534:65534 /tmp/f && stat -c %u:%g /tmp/f'
  expect_eq "$out" 65534:65534 "owner after chown inside"
}

read_only() {
  expect_ok pm run --rm --read-only "$IMAGE" sh -c '
    cat /run/marker
    if touch /x 2>/dev/null; then echo root-writable; else echo root-read-only; fi
    touch /tmp/y /var/tmp/y /run/y && echo tmpfs-writable'
  expect_eq "$out" $'kept by tmpcopyup\nroot-read-only\ntmpfs-writable' "run --read-only"
}

pause_unpause() {
  local name=$MODE-p
  pm rm -f -t 0 "$name" >/dev/null 2>&1 || true
  expect_ok pm run -d --name "$name" "$IMAGE" sleep 1000
  expect_ok pm pause "$name"
  expect_eq "$(inspect "$name" '{{.State.Status}}')" paused "state after pause"
  local cg
  cg=$(inspect "$name" '{{.State.CgroupPath}}')
  expect_eq "$(cat "/sys/fs/cgroup/freezer$cg/freezer.state")" FROZEN "freezer.state of $cg"
  expect_ok pm unpause "$name"
  expect_eq "$(inspect "$name" '{{.State.Status}}')" running "state after unpause"
  expect_ok pm exec "$name" echo alive
  expect_eq "$out" alive "exec after unpause"
  expect_ok pm rm -f -t 0 "$name"
}

memory_limit() {
  local name=$MODE-m cg
  pm rm -f -t 0 "$name" >/dev/null 2>&1 || true
  expect_ok pm run -d --name "$name" --memory 64m "$IMAGE" sleep 1000
  cg=$(inspect "$name" '{{.State.CgroupPath}}')
  expect_eq "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 67108864 "memory.limit_in_bytes of $cg on the host"
  expect_ok pm exec "$name" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
  expect_eq "$out" 67108864 "memory.limit_in_bytes seen inside the container"
  expect_ok pm rm -f -t 0 "$name"
}

oom_kill() {
  local name=$MODE-oom bundle
  pm rm -f -t 0 "$name" >/dev/null 2>&1 || true
  expect_ok pm create --name "$name" --memory 32m "$IMAGE" sh -c 'head -c 200m /dev/zero | tail'
  # Podman 4.3 looks for conmon's "oom" file in the bundle directory, but
  # conmon 2.1 writes it into its working directory (containers/conmon#504,
  # fixed in conmon 2.1.13 / Podman 5): start it from the bundle directory.
  bundle=$(inspect "$name" '{{.StaticDir}}')
  cd "$bundle" || fail "cd $bundle"
  run pm start -a "$name"
  cd "$T" || fail "cd $T"
  expect_eq "$rc" 137 "exit code of a container killed by the OOM killer"
  expect_eq "$(inspect "$name" '{{.State.OOMKilled}} {{.State.ExitCode}}')" "true 137" "OOMKilled, ExitCode"
  expect_ok pm rm "$name"
}

# One `podman run --rm IMAGE true` with the runtime given.
one_container() { pm run --rm --runtime "$1" "$IMAGE" true; }
latency() { latency_side_by_side "podman run --rm ($MODE)" one_container; }

# The ids of every container this MODE's Podman made, from its event log.
container_ids() {
  local log=$R/tmp/events/events.log
  [[ $MODE == root ]] || log=$T/xdg/libpod/tmp/events/events.log
  grep -o '"ID":"[0-9a-f]\{64\}"' "$log" 2>/dev/null | cut -d'"' -f4 | sort -u
}

no_leftovers() {
  local ids id p i pause
  ids=$(container_ids)
  pause=$(cat "$T/xdg/libpod/tmp/pause.pid" 2>/dev/null) || true
  [[ -n "$ids" ]] || fail "no container ids in Podman's event log"
  cleanup_mode "$MODE"
  for id in $ids; do
    for p in "$([[ $MODE == root ]] && echo /run || echo "$T/xdg")"/{rrun,runc}/"$id"; do
      [[ ! -e "$p" ]] || fail "container state left behind: $p"
    done
  done
  # conmon and everything else Podman started for this MODE has gone.
  local left
  for ((i = 0; i < 50; i++)); do
    left=$(pgrep -a -f -- "$T/" || true)
    [[ -n "$left" ]] || break
    sleep 0.1
  done
  [[ -z "$left" ]] || fail "processes left: $left"
  ! grep -qF " $T/" /proc/self/mountinfo || fail "mounts left under $T: $(grep -F " $T/" /proc/self/mountinfo)"
  if [[ $MODE == rootless ]]; then
    [[ ! -e "$T/home/.local/share/containers/storage" ]] || fail "rootless storage left in $T/home"
    [[ -z "$pause" || "$(awk '{ print $3 }' "/proc/$pause/stat" 2>/dev/null)" =~ ^(Z|)$ ]] ||
      fail "Podman's pause process $pause left"
  fi
}

# ------------------------------------------------------------------ run
# PODMAN_TEST_MODES="root" or "rootless" runs one half (when debugging).
for MODE in ${PODMAN_TEST_MODES:-root rootless}; do
  check "load the image" load_image
  check "run --rm, exit code" run_exit_code
  check "run -it through a pty" run_tty
  check "run -d, exec, exec --user 65534, restart, stop" detached_exec_stop
  check "stop -t 2 of a container ignoring TERM" stop_term_ignored
  check "run --user 65534:65534" run_user
  check "chown inside" chown_inside
  check "run --read-only" read_only
  if [[ $MODE == root ]]; then
    # Rootless on cgroup v1: no cgroups (Podman refuses pause and limits).
    check "pause, unpause" pause_unpause
    check "run --memory 64m" memory_limit
    check "OOM kill reported" oom_kill
  fi
  check "latency" latency
  check "cleanup, no leftovers" no_leftovers
done

# ------------------------------------------------------------- the host after
step "host: nothing left outside $T"
mapfile -t host_problems < <(restore_host)
failed+=("${host_problems[@]}")

if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  fail "${#failed[@]} check(s) failed"
fi
echo "PASS: podman, root and rootless"
