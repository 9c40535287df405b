#!/usr/bin/env bash
# systemd-suite.sh — rrun against a real systemd (issue 16), in the systemd
# test VM: run it on the host with
#   RRUN_VM_GUEST=systemd test/vm/run-in-vm.sh test/vm/systemd-suite.sh
# (CTest: vm.systemd), with RRUN_BIN set. In the guest it runs as root from a
# systemd unit once the system is up; the test user rrun-test (uid 1000)
# lingers, so user@1000.service and its session bus are up without a login.
#
# Parts (each check prints PASS or FAIL and a name):
#   root     `rrun --systemd-cgroup` on the system bus: the transient scope
#            with Delegate=yes and the resources (systemctl show and the
#            cgroup files), update, pause/resume, events --stats, kill --all,
#            the scope gone after delete; a named and the default path.
#   user     as rrun-test (no root: runuser with XDG_RUNTIME_DIR and the
#            session bus): the same through the user manager; rrun's choice
#            without a flag (a user bus, nothing delegated: the systemd
#            driver); an OOM kill seen by `rrun events`; a fork bomb held by
#            pids.max; the v2 driver inside `systemd-run --user --scope -p
#            Delegate=yes`; `rrun doctor` all ok, naming the controllers.
#   podman   rootless Podman with --runtime rrun and its default
#            cgroup_manager=systemd: run --memory, --pids-limit, stats,
#            pause/unpause, stop (an image imported from busybox-static).
#   podman_checkpoint  as root, Podman with --runtime rrun: `podman
#            container checkpoint` and `restore` (with and without
#            --leave-running) of a counting container, through CRIU: the
#            count goes on, its open file and pid 1 intact; `podman exec`
#            (in the restored systemd scope) and `rm` after. Debian's criu is in the guest; the kernel
#            modules it needs are loaded from RRUN_CRIU_MODULES
#            (build-image.sh's criu-modules); skipped without them.
# RRUN_SYSTEMD_PARTS: the parts to run (default: all, in the order above).
# Exit status: 1 when a check failed, else 0.
set -uo pipefail
# bash 5.2: `&` in a ${var//pattern/replacement} is the match, not itself.
shopt -u patsub_replacement 2>/dev/null

RRUN=${RRUN_BIN:?RRUN_BIN: the rrun binary}
TEST_USER=rrun-test
TEST_UID=1000
ROOTFS=/srv/rrun-vm/rootfs
CG=/sys/fs/cgroup
part=${1:-main}
failed=0

pass() { echo "PASS  [$part] $*"; }
fail_check() {
  echo "FAIL  [$part] $*"
  failed=1
}
# check NAME EXPECTED ACTUAL
check() {
  if [[ "$3" == "$2" ]]; then pass "$1"; else fail_check "$1: expected \`$2\`, got \`$3\`"; fi
}
# check_has NAME NEEDLE HAYSTACK
check_has() {
  if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail_check "$1: no \`$2\` in: $3"; fi
}
# ok NAME CMD...: the command succeeds within 120 s (its status returned, its output kept in
# $out). A detached container inherits rrun's stdio: CMD's output goes
# through a file, never a pipe $(...) would wait on.
ok() {
  local name=$1 f
  shift
  f=$(mktemp)
  local st=0
  timeout -k 5 120 "$@" </dev/null >"$f" 2>&1 || st=$?
  out=$(<"$f")
  rm -f "$f"
  if ((st == 0)); then
    pass "$name"
  else
    fail_check "$name: \`$*\` failed: $out"
  fi
  return "$st"
}
wait_for() { # SECONDS CMD...: until CMD succeeds (a start costs ~0.5 s here)
  local end=$((SECONDS + $1))
  shift
  while ((SECONDS < end)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

WORK=""
# bundle NAME CGROUPS_PATH RESOURCES_JSON ARG...: $WORK/NAME, on the shared
# read-only busybox rootfs, from the base config (one jq call per part).
bundle() {
  local name=$1 cgp=$2 res=$3 a args=""
  shift 3
  for a in "$@"; do
    a=${a//\\/\\\\}
    args+="${args:+, }\"${a//\"/\\\"}\""
  done
  mkdir -p "$WORK/$name"
  local c=$BASE
  c=${c//\"@CGP@\"/\"$cgp\"}
  c=${c//\"@RES@\"/$res}
  c=${c//\[\"@ARGS@\"\]/[$args]}
  printf '%s\n' "$c" >"$WORK/$name/config.json"
}
make_base() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/systemd-suite.XXXXXX")
  local spec=(spec -b "$WORK")
  ((EUID == 0)) || spec+=(--rootless)
  "$RRUN" "${spec[@]}" || return 1
  BASE=$(jq -c --arg r "$ROOTFS" '.process.terminal = false | .root.path = $r | .process.args = ["@ARGS@"]
    | .linux.cgroupsPath = "@CGP@" | .linux.resources = "@RES@"' "$WORK/config.json") || return 1
  rm -f "$WORK/config.json"
}
state_of() { "$RRUN" state "$1" 2>/dev/null | sed -n 's/^ *"status": "\(.*\)",*$/\1/p'; }
pid_of() { "$RRUN" state "$1" 2>/dev/null | sed -n 's/^ *"pid": \([0-9]*\),*$/\1/p'; }
cgroup_of_pid() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
is_stopped() { [[ "$(state_of "$1")" == stopped ]]; }

# systemctl for this part's manager: the system's as root, the user's else.
sctl() {
  if ((EUID == 0)); then systemctl "$@"; else systemctl --user "$@"; fi
}
prop() { sctl show -P "$2" "$1" 2>/dev/null; }

RES_FULL='{"memory": {"limit": 67108864}, "pids": {"limit": 32},
  "cpu": {"quota": 50000, "period": 100000, "shares": 512}, "blockIO": {"weight": 300}}'

# The scope of container ID (unit UNIT in SLICE) while it runs, through
# update, pause/resume, events --stats and kill --all; gone after delete.
scope_lifecycle() {
  local id=$1 unit=$2 slice=$3
  shift 3
  ok "$id: run -d $*" "$RRUN" "$@" run -d -b "$WORK/$id" "$id"
  check "$id: $unit is active while the container runs" active "$(sctl is-active "$unit")"
  check "$id: Delegate" yes "$(prop "$unit" Delegate)"
  check "$id: Slice" "$slice" "$(prop "$unit" Slice)"
  check "$id: MemoryMax" 67108864 "$(prop "$unit" MemoryMax)"
  check "$id: TasksMax" 32 "$(prop "$unit" TasksMax)"
  check "$id: CPUQuotaPerSecUSec" 500ms "$(prop "$unit" CPUQuotaPerSecUSec)"
  local cg pid dir
  cg=$(prop "$unit" ControlGroup)
  dir=$CG$cg
  pid=$(pid_of "$id")
  check "$id: the container's init is in the scope's cgroup" "$cg" "$(cgroup_of_pid "$pid")"
  check "$id: memory.max" 67108864 "$(cat "$dir/memory.max" 2>&1)"
  check "$id: pids.max" 32 "$(cat "$dir/pids.max" 2>&1)"
  local controllers
  controllers=$(cat "$dir/cgroup.controllers" 2>&1)
  if [[ " $controllers " == *" cpu "* ]]; then
    check "$id: cpu.max" "50000 100000" "$(cat "$dir/cpu.max" 2>&1)"
    # shares 512 -> 59 (crun's conversion), the same number through systemd
    check "$id: cpu.weight (shares 512) = CPUWeight" "$(prop "$unit" CPUWeight)" "$(cat "$dir/cpu.weight" 2>&1)"
    check "$id: cpu.weight (shares 512)" 59 "$(cat "$dir/cpu.weight" 2>&1)"
  else
    fail_check "$id: the cpu controller is not delegated to $cg (controllers: $controllers)"
  fi
  if [[ " $controllers " == *" io "* ]]; then
    # blkio weight 300 -> 2930 (1..10000 from 10..1000), also systemd's IOWeight
    check "$id: IOWeight" 2930 "$(prop "$unit" IOWeight)"
    check_has "$id: io.weight (blkio weight 300)" "default 2930" "$(cat "$dir/io.weight" 2>&1)"
  elif ((EUID == 0)); then
    fail_check "$id: no io controller in $cg (controllers: $controllers)"
  fi

  ok "$id: update --memory --pids-limit" "$RRUN" update --memory 134217728 --pids-limit 64 "$id"
  check "$id: MemoryMax after update" 134217728 "$(prop "$unit" MemoryMax)"
  check "$id: TasksMax after update" 64 "$(prop "$unit" TasksMax)"
  check "$id: memory.max after update" 134217728 "$(cat "$dir/memory.max" 2>&1)"
  check "$id: pids.max after update" 64 "$(cat "$dir/pids.max" 2>&1)"

  ok "$id: pause" "$RRUN" pause "$id"
  check "$id: paused" paused "$(state_of "$id")"
  check "$id: cgroup.freeze" 1 "$(cat "$dir/cgroup.freeze" 2>&1)"
  ok "$id: resume" "$RRUN" resume "$id"
  check "$id: running after resume" running "$(state_of "$id")"

  ok "$id: events --stats" "$RRUN" events --stats "$id"
  check_has "$id: events --stats has the pids" '"pids"' "$out"
  check_has "$id: events --stats has the memory limit" '134217728' "$out"

  ok "$id: kill --all KILL" "$RRUN" kill --all "$id" KILL
  if wait_for 20 is_stopped "$id"; then pass "$id: stopped after kill --all"; else fail_check "$id: still $(state_of "$id") after kill --all"; fi
  ok "$id: delete" "$RRUN" delete "$id"
  local after
  after=$(sctl is-active "$unit")
  if [[ "$after" == inactive || "$after" == unknown || "$after" == failed ]] &&
    ! sctl list-units --all --no-legend "$unit" | grep -q .; then
    pass "$id: $unit gone after delete"
  else
    fail_check "$id: $unit still there after delete: $after, $(sctl list-units --all --no-legend "$unit")"
  fi
  [[ ! -d "$dir" ]] && pass "$id: its cgroup gone" || fail_check "$id: $dir left behind"
}

part_root() {
  make_base || return 1
  bundle r1 system.slice:rrun:r1 "$RES_FULL" sleep 1000
  scope_lifecycle r1 rrun-r1.scope system.slice --systemd-cgroup
  bundle r2 "" "$RES_FULL" sleep 1000
  scope_lifecycle r2 rrun-r2.scope system.slice --systemd-cgroup
  rm -rf --one-file-system "$WORK"
}

part_user() {
  make_base || return 1
  echo "user: $(id -un), in $(cgroup_of_pid $$), bus $DBUS_SESSION_BUS_ADDRESS"
  bundle u1 user.slice:rrun:u1 "$RES_FULL" sleep 1000
  scope_lifecycle u1 rrun-u1.scope user.slice --systemd-cgroup

  # No flag, no cgroupsPath: our cgroup (root's job unit) is not ours to
  # write, a user bus is there: rrun asks the user manager for a scope.
  bundle u2 "" "$RES_FULL" sleep 1000
  scope_lifecycle u2 rrun-u2.scope user.slice

  # The limits hold: an OOM kill (a 48 MiB tmpfs file in 16 MiB) seen by
  # `rrun events`, and a fork bomb stopped at pids.max.
  bundle u3 "" '{"memory": {"limit": 16777216, "swap": 16777216}}' \
    sh -c 'sleep 3; dd if=/dev/zero of=/dev/shm/fill bs=1M count=48; sleep 1000'
  ok "u3: run -d (memory 16 MiB)" "$RRUN" run -d -b "$WORK/u3" u3
  "$RRUN" events --interval 1s u3 >"$WORK/u3.events" 2>&1 &
  local ev=$!
  if wait_for 60 grep -q '"oom"' "$WORK/u3.events"; then
    pass "u3: events reports the OOM kill"
  else
    fail_check "u3: no oom event within 60 s: $(cat "$WORK/u3.events"), memory.events: $(cat "$CG$(prop rrun-u3.scope ControlGroup)/memory.events" 2>&1)"
  fi
  kill "$ev" 2>/dev/null
  wait "$ev" 2>/dev/null
  ok "u3: delete -f" "$RRUN" delete -f u3

  # (busybox sh exits on a failed fork: the bomb is a child shell, and the
  # init then execs, which needs no new pid.)
  bundle u4 "" '{"pids": {"limit": 16}}' \
    sh -c 'sh -c "i=0; while [ \$i -lt 40 ]; do sleep 1000 & i=\$((i + 1)); done"; exec sleep 1000'
  ok "u4: run -d (pids 16, 40 forks)" "$RRUN" run -d -b "$WORK/u4" u4
  local d4
  d4=$CG$(prop rrun-u4.scope ControlGroup)
  wait_for 30 grep -q '^max [1-9]' "$d4/pids.events"
  check_has "u4: pids.events counts refused forks" "max " "$(grep '^max [1-9]' "$d4/pids.events")"
  local cur
  cur=$(cat "$d4/pids.current" 2>&1)
  if [[ "$cur" =~ ^[0-9]+$ ]] && ((cur <= 16)); then pass "u4: pids.current $cur <= 16"; else fail_check "u4: pids.current $cur"; fi
  ok "u4: delete -f" "$RRUN" delete -f u4

  # The fs v2 driver in a delegated scope of the user manager.
  bundle u5 "" '{"memory": {"limit": 33554432}, "pids": {"limit": 20}}' sleep 1000
  ok "u5: run -d in systemd-run --user --scope -p Delegate=yes" \
    systemd-run --user --quiet --scope -p Delegate=yes "$RRUN" run -d -b "$WORK/u5" u5
  local pid5 cg5
  pid5=$(pid_of u5)
  cg5=$(cgroup_of_pid "$pid5")
  check_has "u5: in a run-*.scope of the user manager" "/user@$TEST_UID.service/app.slice/run-" "$cg5"
  if [[ "$cg5" != *rrun-u5.scope* ]]; then pass "u5: no systemd scope of its own (the v2 driver)"; else fail_check "u5: $cg5"; fi
  check "u5: memory.max" 33554432 "$(cat "$CG$cg5/memory.max" 2>&1)"
  check "u5: pids.max" 20 "$(cat "$CG$cg5/pids.max" 2>&1)"
  ok "u5: delete -f" "$RRUN" delete -f u5

  ok "doctor" "$RRUN" doctor
  echo "$out" | sed 's/^/    doctor: /'
  # kernel_overlay: the guest's /home is on its root, a tmpfs overlay, which
  # has no user xattrs (a VM artifact: a real host's /home is a disk).
  local not_ok
  not_ok=$(grep -v '^ok \|^warn  kernel_overlay: .*lacks user xattrs\|^rootless containers can run here\|^$' <<<"$out")
  if [[ -n "$not_ok" ]]; then
    fail_check "doctor: a check is not ok: $not_ok"
  else
    pass "doctor: every check ok"
  fi
  check_has "doctor: the cgroup line names the delegated controllers" "controllers: cpu memory pids" "$(grep '^ok *cgroups' <<<"$out")"
  rm -rf --one-file-system "$WORK"
}

part_podman() {
  local p=(podman --runtime "$RRUN")
  local img=localhost/rrun-busybox
  ok "podman import busybox" sh -c "tar -C '$ROOTFS' -c . | podman import - $img"
  ok "podman run --memory 64m" "${p[@]}" run --rm --memory 64m "$img" cat /sys/fs/cgroup/memory.max
  check "podman run --memory 64m: the limit inside" 67108864 "$(tail -n1 <<<"$out")"
  ok "podman run --pids-limit 33" "${p[@]}" run --rm --pids-limit 33 "$img" cat /sys/fs/cgroup/pids.max
  check "podman run --pids-limit: the limit inside" 33 "$(tail -n1 <<<"$out")"
  ok "podman run -d" "${p[@]}" run -d --name p1 "$img" sleep 1000
  ok "podman stats --no-stream" "${p[@]}" stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.PIDs}}' p1
  check_has "podman stats names p1" p1 "$out"
  ok "podman pause" "${p[@]}" pause p1
  check "podman: paused" paused "$("${p[@]}" inspect -f '{{.State.Status}}' p1 2>&1)"
  ok "podman unpause" "${p[@]}" unpause p1
  check "podman: running" running "$("${p[@]}" inspect -f '{{.State.Status}}' p1 2>&1)"
  ok "podman stop" "${p[@]}" stop -t 2 p1
  check "podman: exited" exited "$("${p[@]}" inspect -f '{{.State.Status}}' p1 2>&1)"
  ok "podman rm" "${p[@]}" rm p1
}

# CRIU in the guest: the modules `criu check` needs, by load-criu-modules.sh.
setup_criu() {
  command -v criu >/dev/null || return 1
  bash "$(dirname "$0")/load-criu-modules.sh" "${RRUN_CRIU_MODULES:-}" || return 1
  criu check 2>&1 | grep -q 'Looks good'
}

# last_count NAME: the last number the counter of container NAME printed.
last_count() { podman logs "$1" 2>/dev/null | grep -E '^[0-9]+$' | tail -n1; }
# count_above NAME N: the counter of NAME has printed a number above N.
count_above() {
  local n
  n=$(last_count "$1")
  [[ -n "$n" ]] && ((n > $2))
}

part_podman_checkpoint() {
  if [[ -z "${RRUN_CRIU_MODULES:-}" ]]; then
    echo "SKIP  [$part] RRUN_CRIU_MODULES is not set (build-image.sh's criu-modules)"
    return 0
  fi
  if ! setup_criu; then
    fail_check "no working criu in the guest (modules from $RRUN_CRIU_MODULES): $(criu check 2>&1 | tail -n1)"
    return 1
  fi
  # Root's storage on a tmpfs: overlay cannot have the guest's overlay root as its upper layer.
  mkdir -p /var/lib/containers /run/containers
  mount -t tmpfs -o size=512m tmpfs /var/lib/containers
  local p=(podman --runtime "$RRUN" --cgroup-manager systemd)
  local img=localhost/rrun-busybox n1 n2 n3 pid_before
  ok "podman (root) import busybox" sh -c "tar -C '$ROOTFS' -c . | podman import - $img"
  # A counter that also writes each number to a file it keeps open (fd 3).
  ok "podman run -d the counter" "${p[@]}" run -d --name ck --network none "$img" \
    sh -c 'exec 3>/tmp/count; i=0; while :; do echo $i; echo $i >&3; i=$((i+1)); sleep 0.2; done'
  wait_for 30 count_above ck 3 || fail_check "the counter printed nothing: $(podman logs ck 2>&1 | tail -n3)"
  pid_before=$("${p[@]}" exec ck cat /proc/1/stat 2>&1 | cut -d' ' -f1-2)
  ok "podman container checkpoint" "${p[@]}" container checkpoint ck || {
    "${p[@]}" rm -f -t 0 ck >/dev/null 2>&1
    umount /var/lib/containers
    return
  }
  check "podman: checkpointed container exited" exited "$("${p[@]}" inspect -f '{{.State.Status}}' ck 2>&1)"
  check "rrun: no container ck after checkpoint" "" "$("$RRUN" list -q 2>/dev/null | grep -x "$("${p[@]}" inspect -f '{{.Id}}' ck)")"
  n1=$(last_count ck)
  sleep 1
  check "no count while checkpointed" "$n1" "$(last_count ck)"
  ok "podman container restore" "${p[@]}" container restore ck
  check "podman: restored container running" running "$("${p[@]}" inspect -f '{{.State.Status}}' ck 2>&1)"
  wait_for 30 count_above ck $((n1 + 3)) || true
  n2=$(last_count ck)
  if ((n2 > n1 + 3)); then pass "the count goes on after restore ($n1 -> $n2)"; else fail_check "the count did not go on: $n1 -> $n2"; fi
  check "the count did not start again from 0" 1 "$(podman logs ck | grep -cx 0)"
  check "pid 1 is the counter, as before" "$pid_before" "$("${p[@]}" exec ck cat /proc/1/stat 2>&1 | cut -d' ' -f1-2)"
  ok "podman exec: the open file goes on" "${p[@]}" exec ck cat /tmp/count
  local last
  last=$(tail -n1 <<<"$out")
  if [[ "$last" =~ ^[0-9]+$ ]] && ((last > n1)); then pass "the open file has counts after the checkpoint"; else fail_check "the open file stopped at $out (checkpoint at $n1)"; fi
  ok "podman container checkpoint --leave-running" "${p[@]}" container checkpoint --leave-running ck
  check "podman: still running" running "$("${p[@]}" inspect -f '{{.State.Status}}' ck 2>&1)"
  n3=$(last_count ck)
  wait_for 30 count_above ck $((n3 + 3)) &&
    pass "the count goes on with --leave-running" || fail_check "the count stopped at $n3 with --leave-running"
  ok "podman exec after the --leave-running checkpoint" "${p[@]}" exec ck cat /proc/1/stat
  ok "podman rm -f" "${p[@]}" rm -f -t 0 ck
  check "rrun: nothing left" "" "$("$RRUN" list -q 2>&1)"
  podman rmi -f "$img" >/dev/null 2>&1
  umount /var/lib/containers
}

as_user() { # ARGS...: this script as the test user, in the user's session
  runuser -u "$TEST_USER" -- env -i PATH="$PATH" HOME="/home/$TEST_USER" USER="$TEST_USER" LANG=C.UTF-8 \
    XDG_RUNTIME_DIR="/run/user/$TEST_UID" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$TEST_UID/bus" \
    RRUN_BIN="$RRUN" TMPDIR="/home/$TEST_USER" bash "$0" "$@"
}

main() {
  ((EUID == 0)) || {
    echo "systemd-suite: run it as root in the systemd VM (RRUN_VM_GUEST=systemd test/vm/run-in-vm.sh)" >&2
    exit 1
  }
  [[ "$(cat /proc/1/comm)" == systemd ]] || {
    echo "SKIP: systemd-suite: PID 1 is $(cat /proc/1/comm), not systemd: run it in the systemd VM"
    exit 77
  }
  echo "guest: Linux $(uname -r), $(systemctl --version | head -n1), $(podman --version)," \
    "cgroup2 root controllers: $(cat $CG/cgroup.subtree_control)"
  local t0=$SECONDS
  # (The system is "starting" until this job, a unit of multi-user.target, ends.)
  echo "system: up after $(cut -d' ' -f1 /proc/uptime) s of uptime"
  systemctl --failed --no-legend | sed 's/^/    failed unit: /'
  if wait_for 60 test -S "/run/user/$TEST_UID/bus"; then
    pass "user@$TEST_UID.service (lingering) and its session bus are up"
  else
    fail_check "no /run/user/$TEST_UID/bus: $(systemctl status "user@$TEST_UID.service" 2>&1 | tail -n 5)"
    exit 1
  fi
  echo "user@$TEST_UID delegates: $(systemctl show -P DelegateControllers "user@$TEST_UID.service")," \
    "its cgroup has: $(cat "$CG/user.slice/user-$TEST_UID.slice/user@$TEST_UID.service/cgroup.subtree_control")"

  mkdir -p "$ROOTFS/bin"
  cp /bin/busybox "$ROOTFS/bin/busybox"
  for a in sh sleep cat dd echo; do ln -sf busybox "$ROOTFS/bin/$a"; done
  mkdir -p "$ROOTFS"/{proc,dev,sys,tmp,etc}
  chmod -R a+rX /srv/rrun-vm

  local status=0 t
  for t in ${RRUN_SYSTEMD_PARTS:-root user podman podman_checkpoint}; do
    local t1=$SECONDS
    if [[ $t == root || $t == podman_checkpoint ]]; then
      bash "$0" "$t" || status=1
    else
      as_user "$t" || status=1
    fi
    echo "----- part $t: $((SECONDS - t1)) s"
  done
  local left
  left=$(find "$CG" -name 'rrun-*.scope' 2>/dev/null)
  if [[ -n "$left" ]]; then
    echo "FAIL  [main] scopes left behind: $left"
    status=1
  fi
  echo "===== systemd suite: $((SECONDS - t0)) s (guest uptime $(cut -d' ' -f1 /proc/uptime) s)"
  exit $status
}

case $part in
  main) main ;;
  root) part_root ;;
  user) part_user ;;
  podman) part_podman ;;
  podman_checkpoint) part_podman_checkpoint ;;
  *)
    echo "systemd-suite: unknown part $part" >&2
    exit 2
    ;;
esac
exit $failed
