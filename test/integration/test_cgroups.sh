#!/usr/bin/env bash
# cgroups on this host. As root on a v1 or hybrid host: the v1 driver puts
# the container (and exec processes) below rrun's own cgroup in every
# hierarchy, applies linux.resources, pauses/resumes with the freezer,
# updates, reports stats, kills --all, and delete leaves no cgroup behind.
# Rootless with nothing delegated (the none driver): the container runs in
# the caller's cgroup, one warning names the limits that were not applied,
# and the cgroup commands say why they cannot work. The cgroup v2 drivers
# are tested in the VM (test/vm, label cgroup2).
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

mode=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null || true)
scratch_bundle
set_cmd sleep 600
config_set "$B" '.linux.resources = {memory: {limit: 268435456}, pids: {limit: 100}, cpu: {shares: 512, quota: 50000, period: 100000}}'
cp "$B/config.json" "$WORK/config.res"

# The cgroup of PID in HIERARCHY (v1), from /proc/PID/cgroup.
cgroup_of() { awk -F: -v h="$2" '$2 == h || $2 ~ "(^|,)"h"(,|$)" { print $3; exit }' "/proc/$1/cgroup"; }
# run_expect_cgroupns_root ID: runs $B with a cgroup namespace added; every
# line of the init's /proc/self/cgroup must end in :/ (its own cgroup as root).
run_expect_cgroupns_root() {
  config_set "$B" 'if any(.linux.namespaces[]; .type == "cgroup") then . else .linux.namespaces += [{type: "cgroup"}] end'
  set_cmd cat /proc/self/cgroup
  expect_ok rr run -b "$B" "$1" </dev/null
  expect_contains "$out" ":memory:" "the init's /proc/self/cgroup"
  expect_eq "$(grep -v ':/$' <<<"$out" || true)" "" "lines of the init's /proc/self/cgroup not ending in :/"
}

if [[ "$RRUN_TEST_MODE" == root ]]; then
  [[ "$mode" == tmpfs ]] || skip "the host's /sys/fs/cgroup is $mode, not v1/hybrid: the v2 driver is tested in the VM"

  step "run -d: the init is in its own cgroup below ours in every hierarchy, with the limits"
  expect_ok rr run -d -b "$B" c </dev/null
  pid=$(rr state c | jq -r .pid)
  for h in memory pids cpu freezer devices; do
    own=$(cgroup_of $$ "$h")
    theirs=$(cgroup_of "$pid" "$h")
    [[ "$theirs" == "${own%/}/"* ]] || fail "$h: container cgroup [$theirs] is not below ours [$own]"
    [[ "$theirs" == *"/c" ]] || fail "$h: container cgroup [$theirs] is not named after the container"
  done
  mem=/sys/fs/cgroup/memory$(cgroup_of "$pid" memory)
  pids_dir=/sys/fs/cgroup/pids$(cgroup_of "$pid" pids)
  cpu_dir=/sys/fs/cgroup/cpu$(cgroup_of "$pid" cpu)
  freezer=/sys/fs/cgroup/freezer$(cgroup_of "$pid" freezer)
  expect_eq "$(cat "$mem/memory.limit_in_bytes")" 268435456 "memory.limit_in_bytes"
  expect_eq "$(cat "$pids_dir/pids.max")" 100 "pids.max"
  expect_eq "$(cat "$cpu_dir/cpu.shares")" 512 "cpu.shares"
  expect_eq "$(cat "$cpu_dir/cpu.cfs_quota_us")" 50000 "cpu.cfs_quota_us"
  expect_eq "$(rr state c | jq -r .status)" running "status"

  step "exec: the process is in the container's cgroup"
  expect_ok rr exec -d --pid-file "$WORK/exec.pid" c sleep 300
  epid=$(cat "$WORK/exec.pid")
  expect_eq "$(cgroup_of "$epid" memory)" "$(cgroup_of "$pid" memory)" "memory cgroup of the exec process"

  step "ps: the container's pids (json), the table has them"
  expect_ok rr ps --format json c
  expect_eq "$(jq -c 'sort' <<<"$out")" "$(jq -cn --argjson a "$pid" --argjson b "$epid" '[$a, $b] | sort')" "ps --format json"
  expect_ok rr ps c
  expect_contains "$(head -1 <<<"$out")" "PID" "ps header"
  expect_contains "$out" "sleep 300" "ps table"

  step "pause / resume: the freezer, the status"
  expect_ok rr pause c
  expect_eq "$(cat "$freezer/freezer.state")" FROZEN "freezer.state after pause"
  expect_eq "$(rr state c | jq -r .status)" paused "status after pause"
  expect_eq "$(awk '/^State:/ {print $2}' "/proc/$pid/status")" D "the init's state while frozen"
  expect_fail_with "it is paused" -- rr exec c true
  expect_fail_with "cannot pause container" -- rr pause c
  expect_ok rr resume c
  expect_eq "$(cat "$freezer/freezer.state")" THAWED "freezer.state after resume"
  expect_eq "$(rr state c | jq -r .status)" running "status after resume"
  expect_fail_with "cannot resume container" -- rr resume c

  step "update: flags and --resources, recorded for the next update"
  expect_ok rr update --memory 128M --pids-limit 50 --cpu-quota 20000 c
  expect_eq "$(cat "$mem/memory.limit_in_bytes")" 134217728 "memory.limit_in_bytes after update"
  expect_eq "$(cat "$pids_dir/pids.max")" 50 "pids.max after update"
  expect_eq "$(cat "$cpu_dir/cpu.cfs_quota_us")" 20000 "cpu.cfs_quota_us after update"
  echo '{"pids": {"limit": 70}}' | rr update --resources - c
  expect_eq "$(cat "$pids_dir/pids.max")" 70 "pids.max after update --resources -"
  expect_eq "$(cat "$mem/memory.limit_in_bytes")" 134217728 "memory limit unchanged by an update of pids"
  expect_fail_with "expected bytes, a size such as 512M" -- rr update --memory 12Q c
  expect_fail_with "linux.resources.pids.limit: expected" -- sh -c "echo '{\"pids\": {\"limit\": \"x\"}}' | $RRUN_BIN --root $STATE_ROOT update --resources - c"

  step "events --stats: runc's JSON shape"
  expect_ok rr events --stats c
  expect_eq "$(jq -r .type <<<"$out")" stats "type"
  expect_eq "$(jq -r .id <<<"$out")" c "id"
  (($(jq -r .data.memory.usage.usage <<<"$out") > 0)) || fail "memory usage in $out"
  expect_eq "$(jq -r .data.memory.usage.limit <<<"$out")" 134217728 "memory limit in stats"
  (($(jq -r .data.pids.current <<<"$out") >= 2)) || fail "pids.current in $out"
  expect_eq "$(jq -r .data.pids.limit <<<"$out")" 70 "pids limit in stats"
  jq -e '.data.cpu.usage.total >= 0' <<<"$out" >/dev/null || fail "cpu usage in $out"

  step "events --interval: stats lines until the container stops"
  "$RRUN_BIN" --root "$STATE_ROOT" events --interval 200ms c >"$WORK/events.out" 2>&1 &
  ev=$!
  wait_until 10 sh -c "[ \$(grep -c '\"type\":\"stats\"' $WORK/events.out) -ge 2 ]" || fail "no stats events: $(cat "$WORK/events.out")"

  step "kill --all: every process of the cgroup"
  expect_ok rr kill --all c KILL
  wait_until 10 test ! -d "/proc/$epid" || fail "exec process $epid survived kill --all"
  wait_until 10 sh -c "[ \"\$($RRUN_BIN --root $STATE_ROOT state c | jq -r .status)\" = stopped ]" || fail "init survived"
  wait_until 10 sh -c "! kill -0 $ev 2>/dev/null" || fail "events did not exit when the container stopped"

  step "delete: no cgroup left in any hierarchy"
  expect_ok rr delete c
  for d in "$mem" "$pids_dir" "$cpu_dir" "$freezer"; do
    [[ ! -d "$d" ]] || fail "cgroup $d left behind"
  done
  assert_no_leftovers

  step "delete -f of a paused (frozen) container: SIGKILL, thawed, gone, no cgroup left"
  fresh
  set_cmd sleep 600
  expect_ok rr run -d -b "$B" frozen </dev/null
  pid=$(rr state frozen | jq -r .pid)
  freezer_dir=/sys/fs/cgroup/freezer$(cgroup_of "$pid" freezer)
  expect_ok rr pause frozen
  expect_eq "$(cat "$freezer_dir/freezer.state")" FROZEN "freezer.state after pause"
  expect_ok rr delete -f frozen
  wait_until 10 test ! -d "/proc/$pid" || fail "the paused init $pid survived delete -f"
  [[ ! -d "$freezer_dir" ]] || fail "cgroup $freezer_dir left behind"
  assert_no_leftovers

  step "the limits hold: a fork bomb stops at pids.max, a process over memory.limit is OOM-killed"
  fresh
  config_set "$B" '.linux.resources = {pids: {limit: 16}}'
  # An inner shell starts 40 sleeps and dies of the first failed fork; the
  # outer one (the init) then counts the processes with builtins only (no fork
  # is left): at most 16, itself among them.
  set_cmd sh -c 'sh -c "i=0; while [ \$i -lt 40 ]; do sleep 30 & i=\$((i+1)); done" 2>/dev/null; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n'
  expect_ok rr run -b "$B" bomb </dev/null
  procs=$(tail -n1 <<<"$out")
  ((procs <= 16)) || fail "pids.max 16: $procs processes ran"
  ((procs >= 8)) || fail "pids.max 16: only $procs processes ran (a limit lower than set?)"
  if [[ "$(awk '/^SwapTotal:/ { print $2 }' /proc/meminfo)" == 0 ]]; then
    fresh
    config_set "$B" '.linux.resources = {memory: {limit: 33554432}}'
    set_cmd dd if=/dev/zero of=/dev/null bs=64M count=1
    run rr run -b "$B" oom </dev/null
    expect_eq "$rc" 137 "exit status of dd with a 64 MiB buffer under a 32 MiB limit (SIGKILL by the OOM killer)"
  else
    echo "the host has swap: the memory limit would swap rather than OOM-kill; not checked here (the VM's test does)"
  fi
  assert_no_leftovers

  step "linux.cgroupsPath ../../../../x: cleaned as runc does, below our own cgroup in every hierarchy; delete removes it"
  fresh
  set_cmd sleep 600
  u=x-dotdot-$$-$RANDOM
  config_set "$B" '.linux.cgroupsPath = $p' --arg p "../../../../$u"
  expect_ok rr run -d -b "$B" dotdot </dev/null
  pid=$(rr state dotdot | jq -r .pid)
  dirs=()
  for h in memory pids cpu freezer devices; do
    own=$(cgroup_of $$ "$h")
    expect_eq "$(cgroup_of "$pid" "$h")" "${own%/}/$u" "$h cgroup of the container with cgroupsPath ../../../../$u"
    dirs+=("/sys/fs/cgroup/$h${own%/}/$u")
  done
  [[ "$(cgroup_of $$ memory)" == / || ! -e "/sys/fs/cgroup/memory/$u" ]] || fail "a cgroup at the hierarchy's root"
  expect_ok rr delete -f dotdot
  for d in "${dirs[@]}"; do [[ ! -e "$d" ]] || fail "cgroup $d left behind"; done
  assert_no_leftovers

  step "a cgroup namespace on v1: the init and exec see their cgroups as / (joined before the namespace was made)"
  fresh
  run_expect_cgroupns_root cgns1
  set_cmd sleep 600
  expect_ok rr run -d -b "$B" cgns2 </dev/null
  expect_ok rr exec cgns2 cat /proc/self/cgroup /proc/1/cgroup
  expect_contains "$out" ":memory:" "the exec process's /proc/self/cgroup"
  expect_eq "$(grep -v ':/$' <<<"$out" || true)" "" "lines of /proc/self/cgroup and /proc/1/cgroup in exec not ending in :/"
  expect_ok rr delete -f cgns2
  assert_no_leftovers

  # What the container sees at /sys/fs/cgroup: the entries, the memory
  # hierarchy's subdirectories (none: the container's cgroup has no
  # children, the host's root has many, among them a sibling container's),
  # its limit, the cgroups of the init, and writes.
  view='echo ls=$(ls /sys/fs/cgroup)
    set -- /sys/fs/cgroup/memory/*/; [ -d "$1" ] && echo "subdirs=$*" || echo subdirs=
    echo "limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
    grep -qx 1 /sys/fs/cgroup/memory/cgroup.procs && echo init_listed=yes || echo init_listed=no
    echo "systemd_procs=$(grep -c . /sys/fs/cgroup/systemd/cgroup.procs)"
    mkdir /sys/fs/cgroup/memory/x 2>/dev/null && echo mkdir=ok || echo mkdir=refused
    touch /sys/fs/cgroup/x 2>/dev/null && echo touch=ok || echo touch=refused
    sed "s/^/cgroup=/" /proc/1/cgroup'
  # expect_view WHO HOST_VIEW ID CGROUPNS: $out against the host's view of
  # the init's /proc/PID/cgroup.
  expect_view() {
    # The host's hierarchies the init joined: the controllers' and
    # name=systemd, not the unified one (its root would be the host's).
    expect_eq "$(val ls)" "$(echo $(ls /sys/fs/cgroup | grep -vx unified))" "$1: ls /sys/fs/cgroup"
    expect_eq "$(val subdirs)" "" "$1: directories below /sys/fs/cgroup/memory (the host's tree, the sibling container)"
    expect_eq "$(val limit)" 268435456 "$1: memory.limit_in_bytes at the root of /sys/fs/cgroup/memory"
    expect_eq "$(val init_listed)" yes "$1: the init (pid 1) in /sys/fs/cgroup/memory/cgroup.procs"
    [[ "$(val systemd_procs)" -ge 1 ]] || fail "$1: no process in /sys/fs/cgroup/systemd/cgroup.procs: $out"
    expect_eq "$(val mkdir)" refused "$1: mkdir in the read-only memory hierarchy"
    expect_eq "$(val touch)" refused "$1: a file in the read-only /sys/fs/cgroup"
    local inside host=$2
    inside=$(grep '^cgroup=' <<<"$out" | sed 's/^cgroup=//')
    expect_contains "$host" ":name=systemd:$(cgroup_of $$ name=systemd | sed 's|/$||')/rrun/$3" "$1: the init's name=systemd cgroup (host's view)"
    if [[ "$4" == cgroupns ]]; then
      expect_eq "$(grep -v ':/$' <<<"$inside" || true)" "" "$1: lines of /proc/1/cgroup not ending in :/ (cgroup namespace)"
    else
      expect_eq "$inside" "$host" "$1: /proc/1/cgroup without a cgroup namespace (full paths, as runc)"
    fi
    expect_contains "$inside" ":name=systemd:" "$1: /proc/1/cgroup"
  }
  # check_cgroup_mount ID cgroupns|host: the init and exec of a container that
  # runs beside a sibling one.
  check_cgroup_mount() {
    step "$([[ "$2" == cgroupns ]] && echo a || echo no) cgroup namespace on v1: the cgroup mount shows only the container's cgroups (name=systemd too, with its limit), read-only, beside a sibling container; init and exec"
    cp "$WORK/config.res" "$B/config.json"
    if [[ "$2" == cgroupns ]]; then
      config_set "$B" 'if any(.linux.namespaces[]; .type == "cgroup") then . else .linux.namespaces += [{type: "cgroup"}] end'
    else
      config_set "$B" '.linux.namespaces |= map(select(.type != "cgroup"))'
    fi
    expect_eq "$(jq -c '.mounts[] | select(.destination == "/sys/fs/cgroup") | [.type, (.options | index("ro") != null)]' "$B/config.json")" '["cgroup",true]' "the spec's cgroup mount"
    set_cmd sleep 600
    expect_ok rr run -d -b "$B" "$1-sib" </dev/null
    sib=$(rr state "$1-sib" | jq -r .pid)
    [[ -d "/sys/fs/cgroup/memory$(cgroup_of "$sib" memory)" ]] || fail "the sibling's memory cgroup"
    expect_ok rr run -d -b "$B" "$1" </dev/null
    pid=$(rr state "$1" | jq -r .pid)
    systemd_dir=/sys/fs/cgroup/systemd$(cgroup_of "$pid" name=systemd)
    [[ "$systemd_dir" == */rrun/"$1" && -d "$systemd_dir" ]] || fail "the container's name=systemd cgroup [$systemd_dir]"
    expect_ok rr exec "$1" sh -c "$view"
    expect_view exec "$(cat "/proc/$pid/cgroup")" "$1" "$2"
    expect_ok rr delete -f "$1"
    [[ ! -e "$systemd_dir" ]] || fail "delete left the container's name=systemd cgroup $systemd_dir"
    # The init itself: its output goes to the file create was given.
    set_cmd sh -c "$view"
    rr create -b "$B" "$1" </dev/null >"$WORK/init.out" 2>&1 || fail "create $1: $(cat "$WORK/init.out")"
    host_view=$(cat "/proc/$(rr state "$1" | jq -r .pid)/cgroup")
    expect_ok rr start "$1"
    wait_until 10 sh -c "[ \"\$($RRUN_BIN --root $STATE_ROOT state $1 | jq -r .status)\" = stopped ]" || fail "$1 did not stop"
    out=$(cat "$WORK/init.out")
    expect_view init "$host_view" "$1" "$2"
    expect_ok rr delete "$1"
    expect_ok rr delete -f "$1-sib"
    assert_no_leftovers
  }
  check_cgroup_mount cgview cgroupns
  check_cgroup_mount cgview-host host

  step "a limit the kernel refuses is an error as root, and nothing is left"
  fresh
  set_cmd true
  config_set "$B" '.linux.resources = {cpu: {cpus: "4096"}}'
  run rr run -b "$B" bad
  ((rc == 1)) || fail "cpus 4096 should fail: rc=$rc err=$err"
  expect_contains "$err" "cpuset" "error naming the file"
  assert_no_leftovers
  own_mem=/sys/fs/cgroup/memory$(cgroup_of $$ memory)
  [[ ! -e "$own_mem/rrun/bad" ]] || fail "cgroup of the failed create left behind"

  step "rrun killed in the middle of create: delete --force removes its cgroup"
  fresh
  set_cmd true
  config_set "$B" '.hooks = {createRuntime: [{path: "/bin/sh", args: ["sh", "-c", "echo $$ >\($w)/hook.pid; exec sleep 30"]}]}' --arg w "$WORK"
  "$RRUN_BIN" --root "$STATE_ROOT" create -b "$B" crash </dev/null >/dev/null 2>&1 &
  cpid=$!
  wait_until 10 test -e "$own_mem/rrun/crash" || fail "create did not make its cgroup"
  kill -KILL "$cpid"
  wait "$cpid" 2>/dev/null || true
  wait_until 10 test -s "$WORK/hook.pid" && kill -KILL "$(cat "$WORK/hook.pid")" 2>/dev/null || true
  # The init waits forever for a parent that is gone: it exits when its sync socket closes.
  expect_ok rr delete --force crash
  [[ ! -e "$own_mem/rrun/crash" ]] || fail "delete --force left the cgroup of a crashed create"
  assert_no_leftovers
else
  step "rootless without a delegated cgroup: one warning, the container runs where we are"
  own_before=$(cat /proc/self/cgroup)
  expect_ok rr run -d -b "$B" c </dev/null
  expect_eq "$(grep -c 'these limits were not applied' <<<"$err")" 1 "warnings about limits"
  expect_contains "$err" "linux.resources.memory.limit" "the warning names the limits"
  # One remedy, right for this host, in the run's warning and in `rrun doctor`
  # (systemd-run only where a systemd user manager answers).
  run_err=$err
  expect_ok rr doctor --format json
  remedy=$(jq -r '.checks[] | select(.name == "cgroups") | .remedy' <<<"$out")
  [[ -n "$remedy" ]] || fail "doctor gives no cgroups remedy here: $out"
  expect_contains "$run_err" "to get a delegated cgroup: $remedy" "the run's warning has doctor's remedy"
  if [[ ! -d /run/systemd/system ]]; then
    expect_not_contains "$remedy" "systemd" "the remedy on a host without systemd"
  fi
  if [[ "$mode" == tmpfs ]]; then
    expect_contains "$remedy" "cgroup v1 controllers are never delegated to users" "the remedy on a v1/hybrid host"
  fi
  err=$run_err
  pid=$(rr state c | jq -r .pid)
  own=$(cgroup_of $$ memory)
  expect_eq "$(cgroup_of "$pid" memory)" "$own" "the container stays in our cgroup (Slurm's limits keep applying)"
  expect_eq "$(cat /proc/self/cgroup)" "$own_before" "rrun did not move us"

  step "ps works from the pid namespace; pause, update and events --stats say why not"
  expect_ok rr ps --format json c
  expect_contains "$out" "$pid" "ps --format json"
  expect_fail_with "it has no cgroup (none driver); to get a delegated cgroup: $remedy" -- rr pause c
  expect_fail_with "to get a delegated cgroup: $remedy" -- rr update --memory 100M c
  expect_fail_with "it has no cgroup" -- rr events --stats c
  expect_ok rr kill --all c KILL
  wait_until 10 sh -c "[ \"\$($RRUN_BIN --root $STATE_ROOT state c | jq -r .status)\" = stopped ]" || fail "init survived"
  expect_ok rr delete c

  step "a cgroup namespace without cgroups (none driver): the view is / too"
  fresh
  config_set "$B" 'del(.linux.resources)'
  run_expect_cgroupns_root cgns
  assert_no_leftovers

  step "no resources: no warning"
  fresh
  set_cmd true
  expect_ok rr run -b "$B" quiet </dev/null
  expect_not_contains "$err" "warning" "stderr without resources"
  assert_no_leftovers
fi
