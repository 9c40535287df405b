#!/usr/bin/env bash
# A foreground `rrun run` takes its container with it when it dies (issue 13
# point 2; bubblewrap's --die-with-parent): after `kill -KILL` of the runner
# no process of the container is left, and the next command that looks at
# the container (`list`, `state`, `delete`, or a `run` of the same ID) ends it
# as the run would have: removed, or with `run --keep` stopped. Killed at any
# point of its create, nothing is left once `list` looked. `run -d` and
# create + start containers outlive their rrun.
# rrun-test: nosub
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# Unique in the process table: the container's processes are `sleep $N`.
N=$((1000000 + $$))
B=$WORK/b
make_bundle "$B" sh -c "sleep $N & sleep $N"
config_set "$B" '.root.readonly = false'
cp "$B/config.json" "$WORK/config.orig"
fresh() { cp "$WORK/config.orig" "$B/config.json"; }

sleepers() { pgrep -fx "sleep $N" | wc -l; }
# no_container_process: nothing of the container's is left (its sh included).
no_container_process() { ! pgrep -f "sleep $N" >/dev/null && ! pgrep -f "hook-$N" >/dev/null; }
at_least_sleepers() { (($(sleepers) >= $1)); }
# started N: N sleep processes run, or the runner is gone.
started() { at_least_sleepers "$1" || ! kill -0 "$runner" 2>/dev/null; }

# start_run ID [RUN FLAGS...]: `rrun run` in the background; sets $runner.
start_run() {
  local id=$1
  shift
  "$RRUN_BIN" --root "$STATE_ROOT" run "$@" -b "$B" "$id" </dev/null >"$WORK/run.out" 2>&1 &
  runner=$!
}

# start_and_wait ID SLEEPERS [RUN FLAGS...]: start_run, then wait until the
# container's SLEEPERS sleep processes run and `state` says running.
start_and_wait() {
  local id=$1 want=$2
  shift 2
  start_run "$id" "$@"
  wait_until 60 started "$want" && at_least_sleepers "$want" ||
    fail "the container's processes did not start: $(cat "$WORK/run.out")"
  expect_ok rr state "$id"
  expect_eq "$(jq -r .status <<<"$out")" running "state of $id while its run lives"
}

# kill_runner: SIGKILL to the runner; the kernel alone (no rrun command yet)
# ends the container's processes within 10 s.
kill_runner() {
  kill -KILL "$runner"
  wait "$runner" 2>/dev/null || true
  wait_until 10 no_container_process ||
    fail "processes of the container outlived its killed run: $(pgrep -af "sleep $N|hook-$N" || true)"
}

# expect_gone ID: `list` shows nothing, `state` says it does not exist, no
# cgroup directory, state directory, mount or process is left.
expect_gone() {
  local id=$1
  expect_ok rr list -q
  expect_eq "$out" "" "list -q after the run of $id was killed"
  expect_fail_with "does not exist" -- rr state "$id"
  expect_eq "$(cgroup_dirs "$id")" "" "cgroup directories of $id"
  assert_no_leftovers
}

step "killed run: no process left, list removes the container"
id=dwp1-$$
start_and_wait "$id" 2
expect_ok rr list -q
expect_eq "$out" "$id" "list -q while the run lives"
jq -e '.foreground == true' "$STATE_ROOT/$id/state.json" >/dev/null || fail "state.json does not say foreground"
kill_runner
expect_gone "$id"

step "killed run: state is the first to look"
id=dwp2-$$
start_and_wait "$id" 2
kill_runner
expect_fail_with "does not exist" -- rr state "$id"
expect_gone "$id"

step "killed run: delete is the first to look, and succeeds"
id=dwp3-$$
start_and_wait "$id" 2
kill_runner
expect_ok rr delete "$id"
expect_gone "$id"

step "killed run: a run of the same ID takes its place"
id=dwp4-$$
start_and_wait "$id" 2
kill_runner
set_args "$B" true
expect_ok rr run -b "$B" "$id"
fresh
expect_gone "$id"

step "killed run --keep: the container is stopped, kept, and deletable"
id=dwp5-$$
start_and_wait "$id" 2 --keep
kill_runner
expect_ok rr state "$id"
expect_eq "$(jq -r '"\(.status) \(.pid)"' <<<"$out")" "stopped 0" "state of $id"
jq -e '.foreground == null' "$STATE_ROOT/$id/state.json" >/dev/null ||
  fail "state.json still says foreground once the killed run was settled: $(cat "$STATE_ROOT/$id/state.json")"
expect_ok rr list
grep -Eq "^$id +0 +stopped " <<<"$out" || fail "list: expected $id stopped, got [$out]"
expect_ok rr delete "$id"
expect_gone "$id"

step "killed run --init: rrun's init and the program go"
id=dwp13-$$
start_and_wait "$id" 2 --init
kill_runner
expect_gone "$id"

step "a run --keep that ended by itself stays an ordinary stopped container"
id=dwp6-$$
set_args "$B" true
expect_ok rr run --keep -b "$B" "$id"
fresh
expect_ok rr state "$id"
expect_eq "$(jq -r .status <<<"$out")" stopped "state of $id"
[[ -d "$STATE_ROOT/$id" ]] || fail "state of $id gone"
expect_ok rr delete "$id"
expect_gone "$id"

step "killed while a startContainer hook runs (created, start in progress)"
id=dwp7-$$
config_set "$B" --arg n "$N" '.hooks = {startContainer: [{path: "/bin/sh",
  args: ["sh", "-c", "touch /tmp/hook-started; while :; do sleep 1; done", ("hook-" + $n)]}]}'
rm -f "$B/rootfs/tmp/hook-started"
start_run "$id"
wait_until 60 test -e "$B/rootfs/tmp/hook-started" || fail "the startContainer hook did not run: $(cat "$WORK/run.out")"
expect_eq "$(sleepers)" 0 "sleep processes before start"
kill_runner
expect_gone "$id"
fresh

step "killed while a createRuntime hook runs (creating)"
id=dwp8-$$
blocking_hook
config_set "$B" '.hooks = {createRuntime: [{path: $p}]}' --arg p "$WORK/hook.sh"
start_run "$id"
wait_until 60 test -s "$WORK/hook.pid" || fail "the createRuntime hook did not start: $(cat "$WORK/run.out")"
expect_ok rr state "$id"
expect_eq "$(jq -r .status <<<"$out")" creating "state of $id during its createRuntime hook"
kill_runner
expect_ok rr list -q
expect_eq "$out" "" "list -q after the run of $id was killed in create"
release_hook
expect_gone "$id"
fresh

step "run -d and create + start outlive their rrun"
expect_ok rr run -d -b "$B" dwp-d-$$
expect_ok rr create -b "$B" dwp-c-$$
expect_ok rr start dwp-c-$$
wait_until 30 at_least_sleepers 4 || fail "the detached containers' processes did not start"
sleep 0.5
expect_eq "$(sleepers)" 4 "sleep processes of the detached containers"
expect_ok rr list
listed=$out
for id in dwp-d-$$ dwp-c-$$; do
  grep -Eq "^$id +[1-9][0-9]* +running " <<<"$listed" || fail "list: expected $id running, got [$listed]"
  expect_ok rr delete -f "$id"
done
wait_until 10 no_container_process || fail "delete -f left processes"
assert_no_leftovers

step "the kernel forgot the death signal (exec gained capabilities): list still ends it"
# Without noNewPrivileges, container root's exec raises its permitted set
# to the bounding set, and the kernel then clears PR_SET_PDEATHSIG.
id=dwp9-$$
config_set "$B" '.process.noNewPrivileges = false | .process.capabilities.permitted = []
  | .process.capabilities.effective = [] | .process.capabilities.inheritable = []'
set_args "$B" sleep "$N"
start_and_wait "$id" 1
kill -KILL "$runner"
wait "$runner" 2>/dev/null || true
sleep 0.5
expect_eq "$(sleepers)" 1 "the process whose death signal the exec cleared"
expect_gone "$id"
no_container_process || fail "list left the container's process"
fresh

if [[ -e /proc/self/ns/time ]]; then
  step "killed run with a time namespace (the init is forked once more, then reparented to rrun)"
  id=dwp10-$$
  config_set "$B" '.linux.namespaces += [{type: "time"}]'
  start_and_wait "$id" 2
  kill_runner
  expect_gone "$id"
  fresh
fi

step "killed run that joins another container's pid namespace: its init goes, the other stays"
a=$WORK/a
M=$((N + 1))
make_bundle "$a" sleep "$M"
expect_ok rr run -d -b "$a" dwp-alpha-$$
expect_ok rr state dwp-alpha-$$
apid=$(jq -r .pid <<<"$out")
id=dwp11-$$
set_args "$B" sleep "$N"
config_set "$B" --arg p "/proc/$apid/ns" '.linux.namespaces |= map(if .type == "pid" then .path = ($p + "/pid") else . end)'
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  config_set "$B" --arg p "/proc/$apid/ns" '.linux.namespaces |= map(if .type == "user" then .path = ($p + "/user") else . end)
    | del(.linux.uidMappings, .linux.gidMappings)'
fi
start_and_wait "$id" 1
kill_runner
expect_ok rr list -q
expect_eq "$out" "dwp-alpha-$$" "list -q: only the container whose pid namespace was joined"
expect_fail_with "does not exist" -- rr state "$id"
pgrep -fx "sleep $M" >/dev/null || fail "the container whose pid namespace was joined died too: $(rr list; ps -ef | grep -v grep | grep sleep)"
expect_ok rr delete -f dwp-alpha-$$
assert_no_leftovers
fresh

if [[ "$RRUN_TEST_MODE" == root ]]; then
  step "killed run in rrun's pid namespace: the init's child is ended with the cgroup"
  # Without a pid namespace of its own, only the init gets the signal; its
  # children go when the next command destroys the container's cgroup.
  id=dwp12-$$
  config_set "$B" '.linux.namespaces |= map(select(.type != "pid"))'
  start_and_wait "$id" 2
  kill -KILL "$runner"
  wait "$runner" 2>/dev/null || true
  expect_gone "$id"
  wait_until 10 no_container_process || fail "processes left after the cgroup was destroyed"
  fresh
fi

step "run killed at random points of its first 150 ms: nothing is left once list looked"
ids=()
for i in $(seq 1 20); do
  id=dwpr$i-$$
  ids+=("$id")
  start_run "$id"
  sleep "0.$(printf '%03d' $((RANDOM % 150)))"
  kill -KILL "$runner" 2>/dev/null || true
  wait "$runner" 2>/dev/null || true
done
wait_until 10 no_container_process || fail "processes outlived their killed runs: $(pgrep -af "sleep $N" || true)"
left=$(state_ids)
expect_ok rr list -q
expect_eq "$out" "" "list -q after the killed runs (left before list: $(echo $left))"
for id in "${ids[@]}"; do
  expect_eq "$(cgroup_dirs "$id")" "" "cgroup directories of $id"
done
assert_no_leftovers
echo "PASS"
