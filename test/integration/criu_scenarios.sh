#!/usr/bin/env bash
# criu_scenarios: `checkpoint` and `restore` through a working CRIU (issue 16),
# as root. test/vm/criu-suite.sh runs this inside the test VM, where Debian's
# criu 3.17 works (not a test_*.sh: on the hosts' kernels criu cannot start;
# test_checkpoint.sh covers the error paths there).
#
# The container counts in a shell variable (its memory), writes each value
# to /tmp/count and appends it to /tmp/log through fd 3 (an open file on
# the container's tmpfs): after a restore the count goes on from where it
# was, the log holds one "1", fd 3 is still /tmp/log and the shell is still
# pid 1. A container with a terminal (process.terminal) answers on its pty
# before a checkpoint and on the new pty restore hands to --console-socket
# after it, its count kept, twice over.
source "$(dirname "$0")/lib.sh"

[[ "$RRUN_TEST_MODE" == root ]] || skip "checkpoint and restore work as root only"
command -v criu >/dev/null || skip "criu is not installed"

B=$WORK/b
make_bundle "$B" sh -c 'exec </dev/null >/dev/null 2>&1 3>>/tmp/log; i=0
while :; do i=$((i + 1)); echo $i >/tmp/count; echo $i >&3; sleep 0.2; done'
config_set "$B" '.mounts += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
  "options": ["nosuid", "nodev", "mode=1777"]}]'

# criu_ok CMD...: CMD must succeed; else CRIU's log around its errors.
criu_ok() {
  run "$@"
  if ((rc != 0)); then
    show_run
    local log
    for log in "$WORK"/img*/*.log; do
      echo "--- $log (the lines before its first error):" >&2
      grep -n -B 30 -m 1 'Error (' "$log" >&2 || tail -n 30 "$log" >&2
    done
    fail "expected success: $*"
  fi
}

init_pid() {
  run rr state "$1"
  [[ "$out" =~ \"pid\":\ ([0-9]+) ]] || fail "no pid in the state of $1: $out"
  echo "${BASH_REMATCH[1]}"
}
count_of() { # ID: the counter, read through the init's root
  cat "/proc/$(init_pid "$1")/root/tmp/count" 2>/dev/null || echo 0
}
count_above() { (($(count_of "$1") > $2)); }

step "a counting container runs"
expect_ok rr run -d c1 -b "$B"
wait_until 60 count_above c1 2 || fail "the counter did not start: $(count_of c1)"

step "checkpoint --leave-running: the container goes on"
criu_ok rr checkpoint --leave-running --image-path "$WORK/img1" c1
[[ -f "$WORK/img1/inventory.img" && -f "$WORK/img1/rrun-checkpoint.json" ]] || fail "no images in $WORK/img1"
at_dump=$(grep -a -c . "/proc/$(init_pid c1)/root/tmp/log")
run rr state c1
expect_contains "$out" '"status": "running"' "state after checkpoint --leave-running"
c=$(count_of c1)
wait_until 30 count_above c1 "$c" || fail "c1 stopped counting after checkpoint --leave-running"
expect_ok rr delete -f c1

step "restore -d from it: memory, open files, pid 1 are back"
criu_ok rr restore -d --image-path "$WORK/img1" -b "$B" c1
run rr state c1
expect_contains "$out" '"status": "running"' "state after restore"
wait_until 30 count_above c1 "$at_dump" || fail "the restored counter does not go on from $at_dump: $(count_of c1)"
expect_ok rr exec c1 sh -c 'grep -c "^1$" /tmp/log; readlink /proc/1/fd/3; cat /proc/1/cmdline | tr "\0" " "'
lines=($out)
expect_eq "${lines[0]}" 1 "count of \"1\" in /tmp/log (1: the counter went on, 2: it started again)"
expect_eq "${lines[1]}" /tmp/log "fd 3 of the restored init"
expect_eq "${lines[2]}" sh "pid 1 of the restored container"
pid=$(init_pid c1)
expect_contains "$(cat "/proc/$pid/cgroup")" "c1" "the restored init's cgroup"

step "checkpoint (no --leave-running) destroys the container"
criu_ok rr checkpoint --image-path "$WORK/img2" c1
run rr state c1
((rc != 0)) || fail "c1 still exists after checkpoint: $out"
[[ ! -e /proc/$pid ]] || [[ "$(cat /proc/$pid/stat 2>/dev/null | cut -d' ' -f3)" == Z ]] || fail "the init $pid still runs"
[[ -z "$(cgroup_dirs c1)" ]] || fail "cgroup left after checkpoint: $(cgroup_dirs c1)"

step "restore again; then state, exec, kill, delete"
criu_ok rr restore -d --image-path "$WORK/img2" -b "$B" --pid-file "$WORK/pid" c1
expect_eq "$(cat "$WORK/pid")" "$(init_pid c1)" "--pid-file"
c=$(count_of c1)
wait_until 30 count_above c1 "$c" || fail "the counter does not go on after the second restore"
expect_ok rr exec c1 cat /tmp/count

step "pre-dump, then a dump on top of it (--parent-path, --work-path)"
criu_ok rr checkpoint --pre-dump --image-path "$WORK/pre" c1
run rr state c1
expect_contains "$out" '"status": "running"' "state after --pre-dump"
criu_ok rr checkpoint --parent-path ../pre --image-path "$WORK/img3" --work-path "$WORK/work3" c1
[[ -s "$WORK/work3/dump.log" ]] || fail "no dump.log in --work-path $WORK/work3"
run rr state c1
((rc != 0)) || fail "c1 still exists after checkpoint: $out"

step "restore in the foreground: waits, returns the exit status, removes the container"
"$RRUN_BIN" --root "$STATE_ROOT" restore --image-path "$WORK/img3" -b "$B" c1 >"$WORK/fg.out" 2>&1 &
fg=$!
wait_until 60 sh -c "$(printf %q "$RRUN_BIN") --root $(printf %q "$STATE_ROOT") state c1 2>/dev/null | grep -q running" ||
  fail "the foreground restore did not bring c1 back: $(cat "$WORK/fg.out")"
c=$(count_of c1)
wait_until 30 count_above c1 "$c" || fail "the counter does not go on after the foreground restore"
expect_ok rr kill c1 KILL
fg_status=0
wait "$fg" || fg_status=$?
expect_eq "$fg_status" 137 "exit status of the foreground restore after kill -KILL ($(cat "$WORK/fg.out"))"
run rr state c1
((rc != 0)) || fail "c1 still exists after its foreground restore ended: $out"
[[ -z "$(cgroup_dirs c1)" ]] || fail "cgroup left after the foreground restore: $(cgroup_dirs c1)"

step "restore -d once more; kill and delete"
criu_ok rr restore -d --image-path "$WORK/img3" -b "$B" c1
expect_ok rr kill c1 KILL
wait_until 30 sh -c "! $(printf %q "$RRUN_BIN") --root $(printf %q "$STATE_ROOT") state c1 | grep -q running" ||
  fail "c1 still running after kill"
expect_ok rr delete c1
[[ -z "$(cgroup_dirs c1)" ]] || fail "cgroup left after delete: $(cgroup_dirs c1)"

step "stdio that are pipes: restore gives the restored process the new pipes (--inherit-fd)"
B2=$WORK/b2
make_bundle "$B2" sh -c 'i=0; while :; do i=$((i + 1)); echo $i; sleep 0.2; done'
lines_of() { wc -l <"$1" 2>/dev/null || echo 0; }
lines_above() { (($(lines_of "$1") > $2)); }
: | "$RRUN_BIN" --root "$STATE_ROOT" run -d p1 -b "$B2" 2>&1 | cat >"$WORK/p1.out" &
wait_until 60 lines_above "$WORK/p1.out" 2 || fail "p1 wrote nothing to its stdout pipe"
criu_ok rr checkpoint --image-path "$WORK/imgp" p1
wait
last=$(tail -n 1 "$WORK/p1.out")
# Bounded: CRIU waits for ever for a pipe's other end that nothing supplies.
: | timeout -k 5 120 "$RRUN_BIN" --root "$STATE_ROOT" restore -d --image-path "$WORK/imgp" -b "$B2" p1 2>&1 |
  cat >"$WORK/p1.out2" &
wait_until 60 lines_above "$WORK/p1.out2" 1 || fail "the restored p1 writes nothing to the new pipe: $(cat "$WORK/p1.out2")"
first=$(head -n 1 "$WORK/p1.out2")
((first > last)) || fail "the restored p1 printed $first first, after $last before the checkpoint"
expect_ok rr delete -f p1
wait

step "a terminal: checkpoint marks the pty external, restore hands a new one to --console-socket"
[[ -n "${RRUN_RECVTTY:-}" && -x "$RRUN_RECVTTY" ]] || fail "RRUN_RECVTTY (the rrun-recvtty helper) is not set"
BT=$WORK/bt
# Counts the lines typed into its terminal in a shell variable (its memory)
# and answers each one there.
make_bundle "$BT" sh -c 'n=0; while read -r line; do n=$((n + 1)); echo "got $n:$line"; done'
config_set "$BT" '.process.terminal = true'
# start_tty NAME: rrun-recvtty on $WORK/NAME.sock, the pty's output in
# $WORK/NAME.out; what type_line writes goes to the pty through the fifo
# $WORK/NAME.in (fd $tty_in).
start_tty() {
  mkfifo "$WORK/$1.in"
  "$RRUN_RECVTTY" "$WORK/$1.sock" <"$WORK/$1.in" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  recv_pid=$!
  exec {tty_in}>"$WORK/$1.in"
  wait_until 10 test -S "$WORK/$1.sock" || fail "rrun-recvtty did not listen on $WORK/$1.sock: $(cat "$WORK/$1.err")"
}
type_line() { echo "$1" >&"$tty_in"; }
tty_has() { tr -d '\r' <"$WORK/$1.out" | grep -qx "$2"; }
tty_text() { tr -d '\r' <"$WORK/$1.out" | tr '\n' '|'; }
receiver_done() { [[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# stop_tty NAME: its input closed, rrun-recvtty ends once the pty's last
# slave is closed (the container's processes are gone).
stop_tty() {
  exec {tty_in}>&-
  wait_until 30 receiver_done "$recv_pid" || fail "rrun-recvtty of $1 still runs: the old pty is still open"
  wait "$recv_pid" || fail "rrun-recvtty of $1 failed: $(cat "$WORK/$1.err")"
}
# answer NAME LINE N: LINE typed, "got N:LINE" comes back on NAME's pty.
answer() {
  type_line "$2"
  wait_until 30 tty_has "$1" "got $3:$2" || fail "no \"got $3:$2\" on the pty of $1: $(tty_text "$1")"
}
start_tty t1
expect_ok rr run -d -b "$BT" --console-socket "$WORK/t1.sock" tt </dev/null
answer t1 one 1
answer t1 two 2
criu_ok rr checkpoint --image-path "$WORK/imgt1" tt
key1=$(jq -r .terminal "$WORK/imgt1/rrun-checkpoint.json")
[[ "$key1" =~ ^tty\[[0-9a-f]+:[0-9a-f]+\]$ ]] || fail "no terminal key in rrun-checkpoint.json: $key1"
stop_tty t1
expect_fail_with 'has a terminal (process.terminal): give --console-socket' -- \
  rr restore -d --image-path "$WORK/imgt1" -b "$BT" tt
run rr state tt
((rc != 0)) || fail "restore without --console-socket left tt: $out"
[[ -z "$(cgroup_dirs tt)" ]] || fail "restore without --console-socket left a cgroup: $(cgroup_dirs tt)"
start_tty t2
criu_ok rr restore -d --image-path "$WORK/imgt1" -b "$BT" --console-socket "$WORK/t2.sock" tt
answer t2 three 3
echo "the restored process answers on the new pty: $(tty_text t2)"

step "the restored terminal container: state, exec, its controlling terminal"
run rr state tt
expect_contains "$out" '"status": "running"' "state after the terminal restore"
# /proc/1/stat: the session (6th field) is pid 1's own, the controlling
# terminal (7th) is set: CRIU made the new slave pid 1's terminal again.
expect_ok rr exec tt sh -c 'cut -d " " -f 2,6,7 /proc/1/stat; test -c /proc/1/fd/0 && echo fd0-is-a-tty'
read -r comm sid tty_nr rest <<<"$out"
expect_eq "$comm $sid" "(sh) 1" "pid 1 and its session after the terminal restore"
((tty_nr != 0)) || fail "pid 1 has no controlling terminal after the restore: $out"
expect_contains "$out" "fd0-is-a-tty"

step "a second checkpoint and restore of the restored terminal container"
criu_ok rr checkpoint --image-path "$WORK/imgt2" tt
key2=$(jq -r .terminal "$WORK/imgt2/rrun-checkpoint.json")
[[ "$key2" =~ ^tty\[[0-9a-f]+:[0-9a-f]+\]$ ]] || fail "no terminal key in the second rrun-checkpoint.json: $key2"
echo "terminal keys: $key1 (the container's devpts), then $key2 (the pty restore made)"
stop_tty t2
start_tty t3
criu_ok rr restore -d --image-path "$WORK/imgt2" -b "$BT" --console-socket "$WORK/t3.sock" tt
answer t3 four 4
echo "after the second restore: $(tty_text t3)"
expect_ok rr delete -f tt
stop_tty t3
[[ -z "$(cgroup_dirs tt)" ]] || fail "cgroup left after delete of tt: $(cgroup_dirs tt)"

step "errors"
expect_fail_with 'criu not found at `/nonexistent`' -- "$RRUN_BIN" --root "$STATE_ROOT" --criu /nonexistent \
  restore -d --image-path "$WORK/img2" -b "$B" c1
expect_ok rr run -d c2 -b "$B"
expect_fail_with 'already exists' -- rr restore -d --image-path "$WORK/img2" -b "$B" c2
expect_ok rr delete -f c2
expect_fail_with 'container `nope` does not exist' -- rr checkpoint --image-path "$WORK/img3" nope
mkdir -p "$WORK/empty"
expect_fail_with 'no checkpoint in' -- rr restore -d --image-path "$WORK/empty" -b "$B" c3
assert_no_leftovers
echo "PASS: criu_scenarios"
