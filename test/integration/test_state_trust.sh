#!/usr/bin/env bash
# rrun trusts no state another user could have written (issue 11 point 10):
# an explicit --root, a container directory or a state file that is not the
# caller's (or root's), or that group or others may write, is refused with
# one line naming it, before anything is signalled, run or removed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# A process of the test's own that planted state points at.
sleep 1000 &
victim=$!
trap 'status=$?; kill "$victim" 2>/dev/null || true; (exit "$status"); _rrun_test_cleanup' EXIT
victim_start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$victim/stat")

# plant_state DIR ID: DIR/ID/state.json of a running container whose init is
# the victim (as whoever runs this function).
plant_state() {
  mkdir -p "$1/$2"
  printf '{"ociVersion":"1.2.0","id":"%s","status":"running","pid":%s,"pidStartTime":%s,"bundle":"/","rootfs":"/","created":"2026-01-01T00:00:00Z","owner":"x"}\n' \
    "$2" "$victim" "$victim_start" >"$1/$2/state.json"
}

# expect_refused ROOT ID PATH: every command that reads ID's state refuses,
# naming PATH, and the victim lives.
expect_refused() {
  local root=$1 id=$2 path=$3 cmd
  for cmd in "kill $id KILL" "kill --all $id KILL" "state $id" "delete $id" "delete -f $id" "pause $id" \
    "exec $id true" "ps $id"; do
    # shellcheck disable=SC2086 # word splitting of $cmd is wanted
    expect_fail_with "\"$path\"" -- "$RRUN_BIN" --root "$root" $cmd
    kill -0 "$victim" 2>/dev/null || fail "\`$cmd\` with --root $root killed the process planted state named"
  done
  [[ -e "$root/$id/state.json" ]] || fail "a refused command removed $root/$id"
}

if [[ "$RRUN_TEST_MODE" == root ]]; then
  other=rrun-nosub
  id -u "$other" >/dev/null 2>&1 || other=nobody
  step "a world-writable --root with a state.json planted by $other is refused"
  shared=$WORK/shared
  mkdir -m 1777 "$shared"
  # $WORK's parents may be closed to that user: it gets the directory as fd 3.
  export -f plant_state
  setpriv --reuid "$other" --regid "$(id -g "$other")" --clear-groups \
    env victim="$victim" victim_start="$victim_start" bash -c 'plant_state /proc/self/fd/3 evil' 3<"$shared"
  expect_eq "$(stat -c %U "$shared/evil/state.json")" "$other" "owner of the planted state.json"
  expect_refused "$shared" evil "$shared"
  expect_contains "$err" "writable by other users" "the reason"
  expect_fail_with "\"$shared\"" -- "$RRUN_BIN" --root "$shared" list
  expect_fail_with "\"$shared\"" -- "$RRUN_BIN" --root "$shared" create -b "$WORK" new
  chmod 0777 "$shared"
  expect_refused "$shared" evil "$shared"

  step "in a root-only --root, a container directory or state.json of $other is refused"
  own=$WORK/own
  mkdir -m 700 "$own"
  plant_state "$own" evil
  chown -R "$other" "$own/evil"
  expect_refused "$own" evil "$own/evil"
  expect_contains "$err" "is owned by uid $(id -u "$other")" "the reason"
  chown root "$own/evil"
  expect_refused "$own" evil "$own/evil/state.json"
  # list leaves it out with a warning (as it does a corrupt one) and goes on.
  plant_state "$own" fine
  expect_ok "$RRUN_BIN" --root "$own" list -q
  expect_eq "$out" "fine" "list -q of a root with one untrusted container"
  expect_contains "$err" "$own/evil/state.json" "list's warning"
  kill -0 "$victim" || fail "the victim died"
  rm -rf "${own:?}/fine"

  # slurmstepd runs oci.conf's RunTimeQuery and RunTimeDelete as root on the
  # user's --root: rrun acts there as the directory's owner.
  step "root on a --root that $other owns acts as $other: on $other's containers, not on root's processes"
  # Outside $WORK, whose parents may be closed to $other.
  theirs=$(mktemp -d /tmp/rrun-it-theirs.XXXXXX)
  setpriv --reuid "$other" --regid "$(id -g "$other")" --clear-groups sleep 1000 </dev/null >/dev/null 2>&1 &
  their_sleep=$!
  trap 'status=$?; kill "$victim" "$their_sleep" 2>/dev/null || true; rm -rf --one-file-system -- "$theirs"; (exit "$status"); _rrun_test_cleanup' EXIT
  their_start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$their_sleep/stat")
  (victim=$their_sleep victim_start=$their_start plant_state "$theirs" mine)
  plant_state "$theirs" evil
  chown -R "$other" "$theirs"
  chmod 700 "$theirs"
  expect_ok "$RRUN_BIN" --root "$theirs" state mine
  expect_contains "$out" '"status": "running"' "state of $other's container, asked by root"
  expect_ok "$RRUN_BIN" --root "$theirs" list -q
  expect_eq "${out//$'\n'/ }" "evil mine" "list of $other's --root, asked by root"
  run "$RRUN_BIN" --root "$theirs" kill evil KILL
  ((rc != 0)) || fail "root's kill in $other's --root signalled a process of root's (as $other it may not)"
  run "$RRUN_BIN" --root "$theirs" delete -f evil
  kill -0 "$victim" || fail "root's delete -f in $other's --root killed a process of root's"
  expect_ok "$RRUN_BIN" --root "$theirs" kill mine KILL
  wait "$their_sleep" 2>/dev/null || true
  expect_ok "$RRUN_BIN" --root "$theirs" delete mine
  [[ ! -e "$theirs/mine" ]] || fail "delete as $other left $theirs/mine"
  rm -rf --one-file-system -- "$theirs"
else
  step "the caller's own world-writable --root is refused"
  open=$WORK/open
  mkdir -m 777 "$open"
  plant_state "$open" c
  expect_refused "$open" c "$open"
  expect_fail_with "\"$open\"" -- "$RRUN_BIN" --root "$open" list

  step "a group-writable state.json or container directory is refused"
  own=$WORK/own
  mkdir -m 700 "$own"
  plant_state "$own" c
  chmod 700 "$own/c"
  chmod 660 "$own/c/state.json"
  expect_refused "$own" c "$own/c/state.json"
  expect_contains "$err" "mode 0660" "the reason"
  chmod 600 "$own/c/state.json"
  chmod 770 "$own/c"
  expect_refused "$own" c "$own/c"
fi
kill "$victim"
wait "$victim" 2>/dev/null || true
echo "PASS"
