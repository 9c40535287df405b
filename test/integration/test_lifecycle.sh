#!/usr/bin/env bash
# The container lifecycle (issue 3): create, start, state, kill, delete, run,
# --pid-file, signal forwarding, exit statuses, stdio, errors that leave
# nothing behind, and two creates of the same ID at once.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

# One bundle for the whole file (making one is slow); scenarios change its
# process.args with set_process_args.
B=$WORK/b
make_bundle "$B" true
config_set "$B" '.root.readonly = false'
B=$(cd "$B" && pwd -P)

# A process that waits for one signal and writes its name into the rootfs
# (readable from the host as $B/rootfs/tmp/sig), then exits 3.
WAITER=(sh -c 'rm -f /tmp/sig; exec probe wait-signal exit 3 >/tmp/sig')

status_of() { rr state "$1" 2>/dev/null | jq -r .status; }
status_is() { [[ "$(status_of "$1")" == "$2" ]]; }
sig_file_has() { grep -qx "$1" "$B/rootfs/tmp/sig" 2>/dev/null; }
# Re-reads the log on every poll of wait_until.
sig_lines_at_least() { (($(wc -l <"$B/rootfs/tmp/sig") >= $1)); }

# Runs rrun with the container's stdio away from run()'s capture files, so a
# long-lived container never holds them.
rr_quiet() { rr "$@" </dev/null; }

step "create: status created, pid > 0 and alive"
set_args "$B" "${WAITER[@]}"
expect_ok rr create -b "$B" c1 </dev/null
expect_eq "$out$err" "" "output of create"
expect_ok rr state c1
st=$out
# status id ociVersion bundle rootfs owner has-annotations pid created, one per line
mapfile -t f < <(jq -r '.status, .id, .ociVersion, .bundle, .rootfs, .owner, has("annotations"), .pid, .created' <<<"$st")
expect_eq "${f[*]:0:7}" "created c1 $(jq -r .ociVersion "$B/config.json") $B $B/rootfs $(id -un) false" \
  "status id ociVersion bundle rootfs owner has(annotations) after create"
pid=${f[7]}
[[ "$pid" =~ ^[0-9]+$ ]] && ((pid > 0)) || fail "pid after create: [$pid]"
[[ -d /proc/$pid ]] || fail "the init pid $pid is not alive after create"
[[ "${f[8]}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$ ]] ||
  fail "created is not RFC 3339: [${f[8]}]"
[[ ! -e "$B/rootfs/tmp/sig" ]] || fail "the process ran before start"

step "create with an ID in use fails and changes nothing"
before=$(cd "$STATE_ROOT" && find . | sort)
expect_fail_with "already exists" -- rr create -b "$B" c1
expect_eq "$(cd "$STATE_ROOT" && find . | sort)" "$before" "state root after a second create of c1"
expect_eq "$(rr state c1 | jq -r '.status + " " + (.pid|tostring)')" "created $pid" "c1 after a second create"

step "start: running, the process runs"
expect_ok rr start c1
expect_eq "$out$err" "" "output of start"
expect_ok rr state c1
expect_eq "$(jq -r .status <<<"$out")" running "status after start"
expect_eq "$(jq -r .pid <<<"$out")" "$pid" "pid after start"
wait_until 5 grep -qx ready "$B/rootfs/tmp/sig" || fail "the process did not start: $(cat "$B/rootfs/tmp/sig" 2>&1)"

step "start of a running container fails and changes nothing"
expect_fail_with "running" -- rr start c1
expect_eq "$(status_of c1)" running "status after a second start"
[[ -d /proc/$pid ]] || fail "a second start killed the init"

step "kill with the default signal (SIGTERM): stopped, pid 0"
expect_ok rr kill c1
wait_until 5 status_is c1 stopped || fail "c1 did not stop after kill: $(rr state c1)"
expect_eq "$(tail -n1 "$B/rootfs/tmp/sig")" "signal=SIGTERM" "signal the process got"
expect_ok rr state c1
expect_eq "$(jq -r .pid <<<"$out")" 0 "pid of a stopped container"
expect_eq "$(jq -r .bundle <<<"$out")" "$B" "bundle of a stopped container"

step "start of a stopped container fails; kill of a stopped container fails"
expect_fail_with "stopped" -- rr start c1
expect_eq "$(status_of c1)" stopped "status after start of a stopped container"
expect_fail_with "" -- rr kill c1 KILL
expect_contains "$err" "c1" "the error of kill of a stopped container"

step "delete: gone, state fails"
expect_ok rr delete c1
expect_eq "$out$err" "" "output of delete"
expect_fail_with "does not exist" -- rr state c1
expect_fail_with "does not exist" -- rr delete c1
assert_no_leftovers

step "kill signal names: sigusr1, USR2, SIGHUP, 10, SIGUsr2, 1, SIGKILL, 9 (KILL: see run); invalid names"
# A shell that logs the signals it gets into the rootfs and keeps running.
set_args "$B" sh -c 'for s in USR1 USR2 HUP; do trap "echo $s >>/tmp/sig" $s; done
  echo ready >/tmp/sig; while :; do sleep 0.05; done'
rm -f "$B/rootfs/tmp/sig"
expect_ok rr_quiet run -d -b "$B" k
wait_until 5 sig_file_has ready || fail "the signal logger did not start"
n=1
for sig in sigusr1:USR1 USR2:USR2 SIGHUP:HUP 10:USR1 SIGUsr2:USR2 1:HUP; do
  expect_ok rr kill k "${sig%%:*}"
  n=$((n + 1))
  wait_until 5 sig_lines_at_least "$n" || fail "kill k ${sig%%:*}: the process did not log it"
  expect_eq "$(tail -n1 "$B/rootfs/tmp/sig")" "${sig#*:}" "signal the process got for [${sig%%:*}]"
done
for bad in SIGNOSUCH 0 999; do
  expect_fail_with "signal" -- rr kill k "$bad"
done
expect_eq "$(status_of k)" running "status after kills with invalid signals"
expect_ok rr kill k SIGKILL
wait_until 5 status_is k stopped || fail "kill k SIGKILL: not stopped: $(rr state k)"
expect_ok rr delete k
for sig in 9; do
  step "kill $sig of a created container"
  rm -f "$B/rootfs/tmp/sig"
  expect_ok rr_quiet create -b "$B" k
  expect_ok rr kill k "$sig"
  wait_until 5 status_is k stopped || fail "kill $sig of a created container: $(rr state k)"
  [[ ! -e "$B/rootfs/tmp/sig" ]] || fail "the process ran although it was never started"
  expect_ok rr delete k
done
assert_no_leftovers

set_args "$B" "${WAITER[@]}"
step "delete of a running container needs -f"
expect_ok rr_quiet run -d -b "$B" d
expect_eq "$(status_of d)" running "status after run -d"
dpid=$(rr state d | jq -r .pid)
expect_fail_with "running" -- rr delete d
expect_eq "$(status_of d)" running "status after a refused delete"
[[ -d /proc/$dpid ]] || fail "a refused delete killed the init"
expect_ok rr delete -f d
expect_fail_with "does not exist" -- rr state d
[[ ! -d /proc/$dpid ]] || wait_until 2 test ! -d "/proc/$dpid" || fail "delete -f left the init $dpid"
assert_no_leftovers
step "delete -f of an absent container succeeds"
expect_ok rr delete -f nosuch
expect_ok rr delete --force nosuch
assert_no_leftovers

step "delete of a created container kills and removes it"
expect_ok rr_quiet create -b "$B" cr
crpid=$(rr state cr | jq -r .pid)
expect_ok rr delete cr
expect_fail_with "does not exist" -- rr state cr
wait_until 2 test ! -d "/proc/$crpid" || fail "delete of a created container left its init $crpid"
assert_no_leftovers

step "--pid-file, relative and absolute"
(cd "$WORK" && rr_quiet create -b "$B" --pid-file rel.pid p1) || fail "create --pid-file rel.pid"
expect_eq "$(cat "$WORK/rel.pid")" "$(rr state p1 | jq -r .pid)" "content of the relative pid file"
expect_ok rr_quiet create -b "$B" --pid-file "$WORK/abs.pid" p2
expect_eq "$(cat "$WORK/abs.pid")" "$(rr state p2 | jq -r .pid)" "content of the absolute pid file"
expect_ok rr_quiet create -b "$B" --pid-file="$WORK/eq.pid" p3
expect_eq "$(cat "$WORK/eq.pid")" "$(rr state p3 | jq -r .pid)" "content of --pid-file=F"
for id in p1 p2 p3; do expect_ok rr delete "$id"; done
rm -f "$WORK"/*.pid
assert_no_leftovers

step "annotations appear in the state"
cp "$B/config.json" "$WORK/config.saved"
config_set "$B" '.annotations = {"org.example.a": "1", "b": "two"}'
expect_ok rr_quiet create -b "$B" an
expect_eq "$(rr state an | jq -c -S .annotations)" '{"b":"two","org.example.a":"1"}' "annotations"
step "the container's copy of config.json is the bundle's file, byte for byte"
cmp -s "$B/config.json" "$STATE_ROOT/an/config.json" || fail "the config copy differs from $B/config.json"
step "later edits of config.json don't affect a created container"
config_set "$B" '.annotations = {"changed": "yes"}'
expect_eq "$(rr state an | jq -c -S .annotations)" '{"b":"two","org.example.a":"1"}' "annotations after an edit"
expect_ok rr delete an
cp "$WORK/config.saved" "$B/config.json"
assert_no_leftovers

step "run: the exit status of the process, the container is removed"
set_args "$B" sh -c 'exit 7'
run rr run -b "$B" r7 </dev/null
expect_eq "$rc" 7 "exit status of run (exit 7)"
expect_eq "$err" "" "stderr of run"
expect_fail_with "does not exist" -- rr state r7
assert_no_leftovers
set_args "$B" true
expect_ok rr run -b "$B" r0 </dev/null
assert_no_leftovers

step "run: stdin and stdout pass through"
set_args "$B" cat
run sh -c 'echo hi there | "$@"' sh "$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" rc
expect_eq "$rc" 0 "exit status of run cat"
expect_eq "$out" "hi there" "stdout of cat in the container"
set_args "$B" sh -c 'echo to-stderr >&2; echo to-stdout'
expect_ok rr run -b "$B" re </dev/null
expect_eq "$out" to-stdout "stdout"
expect_eq "$err" to-stderr "stderr"
assert_no_leftovers

step "run --keep leaves the container stopped; delete removes it"
set_args "$B" sh -c 'exit 4'
run rr run --keep -b "$B" kp </dev/null
expect_eq "$rc" 4 "exit status of run --keep"
expect_ok rr state kp
expect_eq "$(jq -r .status <<<"$out")" stopped "status after run --keep"
expect_eq "$(jq -r .pid <<<"$out")" 0 "pid after run --keep"
expect_ok rr delete kp
assert_no_leftovers

step "run -d returns with the container running"
set_args "$B" "${WAITER[@]}"
rm -f "$B/rootfs/tmp/sig"
expect_ok rr_quiet run -d -b "$B" dt
expect_eq "$(status_of dt)" running "status after run -d"
wait_until 5 grep -qx ready "$B/rootfs/tmp/sig" || fail "run -d: the process did not start"
expect_ok rr kill dt TERM
wait_until 5 status_is dt stopped || fail "run -d container did not stop"
expect_ok rr delete dt
assert_no_leftovers

step "run killed by SIGKILL from outside exits 137"
set_args "$B" sh -c 'while :; do sleep 0.1; done'
"$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" rk </dev/null >"$WORK/rk.out" 2>"$WORK/rk.err" &
runpid=$!
wait_until 5 status_is rk running || fail "run rk did not come up: $(cat "$WORK/rk.err")"
expect_ok rr kill rk KILL
set +e
wait "$runpid"
rc=$?
set -e
expect_eq "$rc" 137 "exit status of run after SIGKILL"
expect_fail_with "does not exist" -- rr state rk
assert_no_leftovers

step "run forwards signals to the container"
set_args "$B" probe wait-signal exit 5
"$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" fw </dev/null >"$WORK/fw.out" 2>"$WORK/fw.err" &
runpid=$!
wait_until 5 grep -qx ready "$WORK/fw.out" || fail "run fw did not come up: $(cat "$WORK/fw.err")"
kill -USR1 "$runpid"
set +e
wait "$runpid"
rc=$?
set -e
expect_eq "$rc" 5 "exit status of run after the forwarded signal"
expect_eq "$(cat "$WORK/fw.out")" $'ready\nsignal=SIGUSR1' "what the container saw"
expect_eq "$(cat "$WORK/fw.err")" "" "stderr of run fw"
step "run forwards SIGTERM (a shell trap)"
set_args "$B" sh -c 'trap "echo got-term; exit 6" TERM; echo up; while :; do sleep 0.1; done'
"$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" ft </dev/null >"$WORK/ft.out" 2>"$WORK/ft.err" &
runpid=$!
wait_until 5 grep -qx up "$WORK/ft.out" || fail "run ft did not come up: $(cat "$WORK/ft.err")"
kill -TERM "$runpid"
set +e
wait "$runpid"
rc=$?
set -e
expect_eq "$rc" 6 "exit status of run after a forwarded SIGTERM"
expect_eq "$(cat "$WORK/ft.out")" $'up\ngot-term' "what the shell printed"
assert_no_leftovers

step "a missing process.args[0] fails create, naming it, and leaves nothing"
set_args "$B" /nosuch/prog arg
expect_fail_with "/nosuch/prog" -- rr create -b "$B" bad
expect_fail_with "does not exist" -- rr state bad
assert_no_leftovers
set_args "$B" nosuchprog
expect_fail_with "nosuchprog" -- rr create -b "$B" bad
assert_no_leftovers
expect_fail_with "nosuchprog" -- rr run -b "$B" bad
assert_no_leftovers

step "operations on an absent container, or without a bundle, leave nothing (not even a lock file)"
expect_fail_with "$WORK/nosuch" -- rr create -b "$WORK/nosuch" nb
expect_fail_with "does not exist" -- rr start nb
expect_fail_with "does not exist" -- rr kill nb KILL
expect_fail_with "does not exist" -- rr delete nb
expect_ok rr delete -f nb
assert_no_leftovers

step "two creates of the same ID at once: exactly one succeeds"
set_args "$B" "${WAITER[@]}"
for i in 1 2; do
  "$RRUN_BIN" --root "$STATE_ROOT" create -b "$B" same </dev/null >"$WORK/cc1.out" 2>"$WORK/cc1.err" &
  p1=$!
  "$RRUN_BIN" --root "$STATE_ROOT" create -b "$B" same </dev/null >"$WORK/cc2.out" 2>"$WORK/cc2.err" &
  p2=$!
  set +e
  wait "$p1"
  r1=$?
  wait "$p2"
  r2=$?
  set -e
  if ! { ((r1 == 0 && r2 == 1)) || ((r1 == 1 && r2 == 0)); }; then
    fail "concurrent creates: exit statuses $r1 and $r2: $(cat "$WORK"/cc*.err)"
  fi
  expect_contains "$(cat "$WORK"/cc*.err)" "already exists" "the error of the losing create"
  expect_eq "$(status_of same)" created "status after the concurrent creates"
  expect_eq "$(state_ids)" same "containers after the concurrent creates"
  expect_ok rr delete same
  assert_no_leftovers
done

echo "PASS"
