#!/usr/bin/env bash
# A container that a killed `create` left behind is visible and goes with
# `delete` (issue 11 point 4): `list` and `state` show it `creating` while its
# creator lives and `stopped` once it is gone; `delete` of a live creator's
# container is refused, `delete -f` kills the creator; either removes the
# state directory and every cgroup directory the create made.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# expect_status ID STATUS: `state`, `list`, `list --format json` and
# `list -q` agree that ID is STATUS, with pid 0 (no init yet, or stopped).
expect_status() {
  local id=$1 want=$2
  expect_ok rr state "$id"
  expect_eq "$(jq -r '.status, .pid, .id' <<<"$out" | paste -sd' ')" "$want 0 $id" "state of $id"
  expect_ok rr list --format json
  expect_eq "$(jq -r --arg id "$id" '.[] | select(.id == $id) | "\(.status) \(.pid)"' <<<"$out")" "$want 0" \
    "list --format json entry of $id"
  expect_ok rr list
  grep -Eq "^$id +0 +$want " <<<"$out" || fail "list row of $id: expected pid 0 and $want, got [$out]"
  expect_ok rr list -q
  expect_contains $'\n'"$out"$'\n' $'\n'"$id"$'\n' "list -q"
}

B=$WORK/b
make_bundle "$B" sleep 1000
# A createRuntime hook that blocks until the test releases it.
config_set "$B" '.hooks = {createRuntime: [{path: $p}]}' --arg p "$WORK/hook.sh"

# start_blocked_create ID: `create` in the background, blocked in its hook;
# sets $creator.
start_blocked_create() {
  blocking_hook
  "$RRUN_BIN" --root "$STATE_ROOT" create -b "$B" "$1" </dev/null >"$WORK/create.out" 2>&1 &
  creator=$!
  wait_until 30 test -s "$WORK/hook.pid" || fail "the createRuntime hook did not start: $(cat "$WORK/create.out")"
}

step "a create in progress is listed as creating; delete without -f refuses it"
id=kc1-$$
start_blocked_create "$id"
expect_status "$id" creating
expect_fail_with "is creating" -- rr delete "$id"
expect_contains "$err" "--force" "the remedy"
[[ -d "$STATE_ROOT/$id" ]] || fail "delete of a creating container removed it"
kill -0 "$creator" || fail "delete without -f killed the creator"
cgroups=$(cgroup_dirs "$id")
if [[ "$RRUN_TEST_MODE" == root && "$(stat -f -c %T /sys/fs/cgroup)" == tmpfs ]]; then
  # The hybrid v1 host: the create made its cgroups before the hooks.
  [[ -n "$cgroups" ]] || fail "no cgroup directory named $id under /sys/fs/cgroup"
fi

step "its creator killed, it is stopped; delete removes the directory and the cgroups"
kill -9 "$creator"
wait "$creator" || true
expect_status "$id" stopped
expect_fail_with "stopped" -- rr kill "$id" KILL
expect_ok rr delete "$id"
[[ ! -e "$STATE_ROOT/$id" ]] || fail "delete left $STATE_ROOT/$id"
expect_eq "$(cgroup_dirs "$id")" "" "cgroup directories of $id after delete (before: $(echo $cgroups))"
expect_fail_with "does not exist" -- rr state "$id"
release_hook
assert_no_leftovers

step "delete -f of a creating container kills its creator and removes everything"
id=kc2-$$
start_blocked_create "$id"
expect_status "$id" creating
expect_ok rr delete -f "$id"
if kill -0 "$creator" 2>/dev/null; then fail "delete -f left the creator $creator alive"; fi
wait "$creator" || true
[[ ! -e "$STATE_ROOT/$id" ]] || fail "delete -f left $STATE_ROOT/$id"
expect_eq "$(cgroup_dirs "$id")" "" "cgroup directories of $id after delete -f"
release_hook
assert_no_leftovers

step "run -d killed at random points in its first 30 ms: every leftover is listed and deletable"
R=$WORK/r
make_bundle "$R" sleep 1000
ids=()
for i in $(seq 1 20); do
  id=kr$i-$$
  ids+=("$id")
  "$RRUN_BIN" --root "$STATE_ROOT" run -d -b "$R" "$id" </dev/null >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 30)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" || true
done
dirs=$(state_ids)
expect_ok rr list -q
listed=$out
echo "left: $(echo $dirs)"
expect_ok rr list
echo "$out"
for d in $dirs; do
  expect_contains $'\n'"$listed"$'\n' $'\n'"$d"$'\n' "list -q after killed run -d (left: $(echo $dirs))"
done
expect_ok rr list --format json
expect_eq "$(jq -r 'if . == null then empty else .[].id end' <<<"$out" | sort)" "$(sort <<<"$listed")" \
  "IDs of list --format json and list -q"
jq -e 'all(.[]?; (.status == "stopped" and .pid == 0) or (.status != "stopped" and .pid > 0))' <<<"$out" >/dev/null ||
  fail "list --format json: a stopped container with a pid, or a live one without: $out"
for id in $listed; do expect_ok rr delete -f "$id"; done
for id in "${ids[@]}"; do
  expect_eq "$(cgroup_dirs "$id")" "" "cgroup directories of $id after delete -f"
done
assert_no_leftovers
echo "PASS"
