#!/usr/bin/env bash
# Load (issue 15, "In the project's own suite"): many rrun commands at once,
# checked by exit status and message, not only "no crash":
# - 50 parallel `run` of distinct IDs: all exit 0, each prints its own ID,
#   nothing left;
# - 20 parallel `create` of one ID, 10 rounds: exactly one exits 0, the 19
#   others exit 1 with one line "rrun: ... already exists";
# - parallel `kill`, `delete -f` and `state` of one running container: each
#   exits 0 or 1 with one "rrun: " line (never a signal, never a hang), and
#   the container is gone at the end;
# - `list` and `list --format json` while containers come and go: exit 0
#   and valid JSON every time (an array, or null when there is none).
# RRUN_LOAD_RUNS (50) and RRUN_LOAD_ROUNDS (10) scale it up.
# rrun-test: nosub
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

runs=${RRUN_LOAD_RUNS:-50}
rounds=${RRUN_LOAD_ROUNDS:-10}
# IDs unique on the host: cgroup_dirs looks in every hierarchy, and the root
# and rootless halves may run at once.
u=$$
B=$WORK/b
make_bundle "$B" sh -c 'echo "out:$(hostname)"'
config_set "$B" '.hostname = "x"'

# wait_all PID...: waits for each; fails if one is not done within 120 s
# (a hang), so that `wait` never blocks the test forever.
wait_all() {
  local p i
  for p in "$@"; do
    for ((i = 0; i < 2400; i++)); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.05
    done
    kill -0 "$p" 2>/dev/null && fail "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) still runs after 120 s"
  done
  return 0
}

# one_error_line FILE WHAT: FILE holds exactly one line, "rrun: ...".
one_error_line() {
  local file=$1 what=$2 text
  text=$(cat "$file")
  [[ -n "$text" && "$text" != *$'\n'* && "$text" == "rrun: "* ]] ||
    fail "$what: expected one line \"rrun: ...\" on stderr, got [$text]"
}

step "$runs parallel runs of distinct IDs: all succeed, each prints its own output"
pids=()
for ((i = 0; i < runs; i++)); do
  b=$WORK/r$i
  cp -a "$B" "$b"
  config_set "$b" '.hostname = $h' --arg h "h$i"
done
for ((i = 0; i < runs; i++)); do
  "$RRUN_BIN" --root "$STATE_ROOT" run -b "$WORK/r$i" "par$u-$i" </dev/null >"$WORK/r$i.out" 2>"$WORK/r$i.err" &
  pids+=($!)
done
wait_all "${pids[@]}"
for ((i = 0; i < runs; i++)); do
  status=0
  wait "${pids[$i]}" || status=$?
  ((status == 0)) || fail "run par$u-$i: exit status $status: $(cat "$WORK/r$i.err")"
  expect_eq "$(cat "$WORK/r$i.out")" "out:h$i" "output of run par$u-$i"
  expect_eq "$(cat "$WORK/r$i.err")" "" "stderr of run par$u-$i"
done
assert_no_leftovers
for ((i = 0; i < runs; i++)); do
  left=$(cgroup_dirs "par$u-$i")
  [[ -z "$left" ]] || fail "cgroup of par$u-$i left: $left"
done

step "20 parallel creates of one ID, $rounds rounds: exactly one wins, the others say it already exists"
set_args "$B" sleep 1000
for ((round = 0; round < rounds; round++)); do
  pids=()
  for ((i = 0; i < 20; i++)); do
    "$RRUN_BIN" --root "$STATE_ROOT" create -b "$B" "same$u" </dev/null >"$WORK/c$i.out" 2>"$WORK/c$i.err" &
    pids+=($!)
  done
  wait_all "${pids[@]}"
  won=0
  for ((i = 0; i < 20; i++)); do
    status=0
    wait "${pids[$i]}" || status=$?
    if ((status == 0)); then
      won=$((won + 1))
      expect_eq "$(cat "$WORK/c$i.err")" "" "stderr of the winning create"
    elif ((status == 1)); then
      one_error_line "$WORK/c$i.err" "round $round, create $i"
      expect_eq "$(cat "$WORK/c$i.err")" "rrun: container \"same$u\" already exists" "round $round, create $i"
    else
      fail "round $round, create $i: exit status $status: $(cat "$WORK/c$i.err")"
    fi
  done
  expect_eq "$won" 1 "creates that won in round $round"
  expect_ok rr state "same$u"
  expect_eq "$(jq -r .status <<<"$out")" created "status after round $round"
  expect_eq "$(state_ids)" "same$u" "containers after round $round"
  expect_ok rr delete -f "same$u"
  assert_no_leftovers
done

step "parallel kill, delete -f and state of one running container: each ends, the container goes"
for ((round = 0; round < rounds; round++)); do
  expect_ok rr run -d -b "$B" "racy$u"
  pids=()
  for ((i = 0; i < 5; i++)); do
    "$RRUN_BIN" --root "$STATE_ROOT" kill "racy$u" KILL </dev/null >/dev/null 2>"$WORK/k$i.err" &
    pids+=($!)
    "$RRUN_BIN" --root "$STATE_ROOT" delete -f "racy$u" </dev/null >/dev/null 2>"$WORK/d$i.err" &
    pids+=($!)
    "$RRUN_BIN" --root "$STATE_ROOT" state "racy$u" </dev/null >"$WORK/s$i.out" 2>"$WORK/s$i.err" &
    pids+=($!)
  done
  wait_all "${pids[@]}"
  for ((i = 0; i < 15; i++)); do
    status=0
    wait "${pids[$i]}" || status=$?
    case $((i % 3)) in
      0) what=kill file=$WORK/k$((i / 3)).err ;;
      1) what="delete -f" file=$WORK/d$((i / 3)).err ;;
      2) what=state file=$WORK/s$((i / 3)).err ;;
    esac
    if ((status == 1)); then
      one_error_line "$file" "round $round, $what"
      # What a loser may say: the container is gone, or no longer running.
      grep -Eq 'does not exist|is not running|is stopped' "$file" ||
        fail "round $round, $what: unexpected error: $(cat "$file")"
    elif ((status == 0)); then
      [[ ! -s "$file" ]] || fail "round $round, $what: exit 0 but stderr [$(cat "$file")]"
      if [[ "$what" == state ]]; then
        jq -e --arg id "racy$u" '.id == $id and (.status | IN("running", "stopped"))' "$WORK/s$((i / 3)).out" >/dev/null ||
          fail "round $round, state: [$(cat "$WORK/s$((i / 3)).out")]"
      fi
    else
      fail "round $round, $what: exit status $status: $(cat "$file")"
    fi
  done
  # Every delete -f either removed it or found it gone.
  expect_fail_with "does not exist" -- rr state "racy$u"
  assert_no_leftovers
  left=$(cgroup_dirs "racy$u")
  [[ -z "$left" ]] || fail "cgroup of racy$u left: $left"
done

step "list and list --format json while containers come and go: exit 0, valid JSON"
set_args "$B" true
churn() {
  local j
  for ((j = 0; j < 20; j++)); do
    "$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" "churn$u-$1-$j" </dev/null >/dev/null 2>>"$WORK/churn$1.err" || echo "churn $1-$j failed" >>"$WORK/churn$1.err"
  done
}
: >"$WORK/churn1.err"
: >"$WORK/churn2.err"
churn 1 &
c1=$!
churn 2 &
c2=$!
lists=0
while kill -0 "$c1" 2>/dev/null || kill -0 "$c2" 2>/dev/null; do
  expect_ok rr list --format json
  # null: no container (as runc prints it).
  jq -e '. == null or (type == "array" and all(.[]; (.id | type) == "string" and (.status | type) == "string"))' \
    <<<"$out" >/dev/null || fail "list --format json: not an array of containers: [$out]"
  expect_eq "$err" "" "stderr of list --format json"
  expect_ok rr list
  expect_eq "$(head -n1 <<<"$out" | awk '{ print $1 }')" ID "header of list"
  expect_eq "$err" "" "stderr of list"
  lists=$((lists + 1))
done
wait_all "$c1" "$c2"
wait "$c1"
wait "$c2"
expect_eq "$(cat "$WORK/churn1.err" "$WORK/churn2.err")" "" "errors of the runs beside list"
((lists >= 3)) || fail "only $lists lists ran beside the runs"
echo "$lists list pairs beside 40 runs"
assert_no_leftovers

echo "PASS"
