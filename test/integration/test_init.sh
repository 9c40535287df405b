#!/usr/bin/env bash
# rrun's init (core/pid1.c, issue 13 point 1): with `run --init` (or the
# annotation rrun.init, which the YAML front-end writes) the container's
# PID 1 is a small sealed init that runs the process as its child, forwards
# every signal to it and reaps orphans. A handler-less job then ends on the
# SIGTERM or SIGINT its `rrun run` gets (without the init, PID 1 drops them),
# exit codes and deaths by signal pass through, Ctrl-C on the container's
# terminal works, and /proc/1/exe is neither rrun nor writable.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

scratch_bundle
fresh

# running ID: the container's status is `running`.
running() { [[ "$(rr state "$1" 2>/dev/null | jq -r .status 2>/dev/null)" == running ]]; }
stopped() { [[ "$(rr state "$1" 2>/dev/null | jq -r .status 2>/dev/null)" == stopped ]]; }
# ended PID: gone, or a zombie our shell has not collected yet.
ended() { [[ ! -e /proc/$1 || "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" == Z ]]; }

# start_fg ID [RUN FLAGS...]: `rrun run` of $B in the background, as a job
# script runs it in the foreground; its pid in $fg, once the container runs.
# SIGINT and SIGQUIT as a foreground command has them: a shell without job
# control starts `&` commands with both ignored, and the container's
# process would inherit that (as with runc).
start_fg() {
  local id=$1
  shift
  env --default-signal=INT,QUIT "$RRUN_BIN" --root "$STATE_ROOT" run "$@" -b "$B" "$id" \
    </dev/null >"$WORK/$id.out" 2>"$WORK/$id.err" &
  fg=$!
  wait_until 60 running "$id" || {
    kill -KILL "$fg" 2>/dev/null || true
    fail "$id did not start: $(cat "$WORK/$id.err")"
  }
}

# signal_fg ID SIG: sends SIG to the `rrun run` in $fg; its exit status in
# $rc and the seconds it took in $took. Fails when it has not ended within
# 30 s (it should take well under a second).
signal_fg() {
  local id=$1 sig=$2 t0=$SECONDS
  kill "-$sig" "$fg"
  wait_until 30 ended "$fg" || fail "rrun run $id is still running 30 s after SIG$sig"
  rc=0
  wait "$fg" || rc=$?
  took=$((SECONDS - t0))
}

step "kill -TERM, -INT, -USR1 of a foreground run --init ends a handler-less sleep: 143, 130, 138"
set_cmd sleep 100
for sig in TERM INT USR1; do
  start_fg "sig-$sig" --init
  signal_fg "sig-$sig" "$sig"
  expect_eq "$rc" $((128 + $(kill -l "$sig"))) "exit status of run --init after SIG$sig ($(cat "$WORK/sig-$sig.err"))"
  ((took <= 10)) || fail "run --init took $took s to end after SIG$sig"
done
assert_no_leftovers

if ((MANY_IDS)); then
  step "the same as a process user other than root (the init runs as that user)"
  config_set "$B" '.process.user = {uid: 65534, gid: 65534}'
  start_fg nobody --init
  signal_fg nobody TERM
  expect_eq "$rc" 143 "exit status of run --init as uid 65534 after SIGTERM ($(cat "$WORK/nobody.err"))"
  fresh
  set_cmd sleep 100
  assert_no_leftovers
fi

step "without --init the sleep is PID 1 and ignores SIGTERM"
start_fg no-init
kill -TERM "$fg"
# Long enough for a delivered SIGTERM to have ended it (the case above takes
# a fraction of a second).
sleep 2
ended "$fg" && fail "run without --init ended on SIGTERM: the check above proves nothing"
expect_ok rr kill no-init KILL
wait_until 30 ended "$fg" || fail "run without --init did not end on kill KILL"
wait "$fg" || true
assert_no_leftovers

step "exit codes and deaths by signal pass through the init"
set_cmd sh -c 'exit 7'
run rr run --init -b "$B" code
expect_eq "$rc" 7 "exit status of exit 7 under the init ($err)"
# Without the init, PID 1 can't even kill itself with SIGKILL.
set_cmd sh -c 'kill -KILL $$'
run rr run --init -b "$B" killed
expect_eq "$rc" 137 "exit status of a program killed by SIGKILL under the init ($err)"
set_cmd /nonexistent
run rr run --init -b "$B" missing
expect_eq "$rc" 1 "exit status of a missing program ($err)"
expect_contains "$err" "/nonexistent" "the error for a missing program"
assert_no_leftovers

step "the init is PID 1, the program PID 2; /proc/1/exe is the sealed init, not rrun, and can't be opened for writing"
set_cmd sh -c 'echo pid=$$; echo exe=$(readlink /proc/1/exe); echo size=$(stat -L -c %s /proc/1/exe); probe exe-write /proc/1/exe'
expect_ok rr run --init -b "$B" exe
expect_eq "$(val pid)" 2 "the program's pid"
expect_contains "$(val exe)" "/memfd:rrun-init" "/proc/1/exe"
size=$(val size)
[[ "$size" =~ ^[0-9]+$ ]] && ((size < 65536)) || fail "/proc/1/exe is not the small init: size [$size]"
w=$(val /proc/1/exe)
[[ -n "$w" && "$w" != ok ]] || fail "the container opened /proc/1/exe for writing: [$w]"
# With every capability (test_exe_guard.sh): a chmod may pass, the write
# can't (the memfd is sealed, and a running executable is busy).
config_set "$B" --argjson caps "$(bounding_caps_json)" \
  '.process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}'
set_cmd sh -c 'chmod 777 /proc/1/exe; s=$(stat -L -c %s /proc/1/exe)
if echo x >>/proc/1/exe; then echo write=ok; else echo write=failed; fi; echo grew=$(($(stat -L -c %s /proc/1/exe) - s))'
expect_ok rr run --init -b "$B" exe-caps
expect_eq "$(val write)" failed "appending to /proc/1/exe with every capability ($err)"
expect_eq "$(val grew)" 0 "growth of /proc/1/exe"
fresh
set_cmd sh -c 'echo pid=$$; echo exe=$(readlink /proc/1/exe)'
expect_ok rr run -b "$B" exe-plain
expect_eq "$(val pid)" 1 "the program's pid without --init"
expect_not_contains "$(val exe)" "rrun-init" "/proc/1/exe without --init"
assert_no_leftovers

step "the annotation rrun.init; --init=false wins over it, --init over \"false\""
set_cmd sh -c 'echo pid=$$'
config_set "$B" '.annotations["rrun.init"] = "true"'
expect_ok rr run -b "$B" ann
expect_eq "$(val pid)" 2 "the program's pid with rrun.init true"
expect_ok rr run --init=false -b "$B" ann-off
expect_eq "$(val pid)" 1 "the program's pid with rrun.init true and --init=false"
config_set "$B" '.annotations["rrun.init"] = "false"'
expect_ok rr run -b "$B" ann-false
expect_eq "$(val pid)" 1 "the program's pid with rrun.init false"
expect_ok rr run --init -b "$B" ann-flag
expect_eq "$(val pid)" 2 "the program's pid with rrun.init false and --init"
config_set "$B" '.annotations["rrun.init"] = "yes"'
expect_fail_with 'annotations."rrun.init": unknown value "yes"' -- rr run -b "$B" ann-bad
assert_no_leftovers
fresh

step "SIGTERM through the annotation, as a YAML job gets it"
set_cmd sleep 100
config_set "$B" '.annotations["rrun.init"] = "true"'
start_fg ann-term
signal_fg ann-term TERM
expect_eq "$rc" 143 "exit status of run with rrun.init after SIGTERM"
fresh
assert_no_leftovers

step "a YAML sandbox has the init unless init: false (a job's scancel ends it)"
printf 'name: job\nrootfs: rootfs\ncommand: [sleep, "100"]\n' >"$WORK/job.yaml"
printf 'name: job\nrootfs: rootfs\ninit: false\ncommand: [/bin/sh, -c, "echo pid=$$"]\n' >"$WORK/pid1.yaml"
ln -s "$B/rootfs" "$WORK/rootfs"
env --default-signal=INT,QUIT "$RRUN_BIN" --root "$STATE_ROOT" run -f "$WORK/job.yaml" \
  </dev/null >"$WORK/job.out" 2>"$WORK/job.err" &
fg=$!
wait_until 60 running job || fail "the sandbox did not start: $(cat "$WORK/job.err")"
signal_fg job TERM
expect_eq "$rc" 143 "exit status of run -f after SIGTERM ($(cat "$WORK/job.err"))"
expect_ok rr run -f "$WORK/pid1.yaml"
expect_eq "$(val pid)" 1 "the command's pid with init: false"
assert_no_leftovers

step "orphans are reaped: no zombie under the init, one without it"
# The orphan, a subshell that ends as the probe (a program of its own:
# busybox runs applets in the shell's process), is reparented to PID 1. It
# exits a second later, once the program's shell has become sleep, which
# never waits for it (the shell would have).
set_cmd sh -c 'sh -c "(sleep 1; exec probe exit 0) &"; exec sleep 100'
# The /proc/PID/stat lines of the container's processes, in $out (the
# exec'd shell becomes cat).
procs() { run rr exec "$1" sh -c 'cat /proc/[0-9]*/stat'; }
# sleep runs, so the orphan was forked; it is gone, not even a zombie.
reaped() { procs "$1" && [[ "$out" == *"(sleep) "* && "$out" != *"(sh) "* && "$out" != *"(probe) "* ]]; }
zombie() { procs "$1" && [[ "$out" == *"(probe) Z "* ]]; }
expect_ok rr run -d --init -b "$B" reap
wait_until 30 reaped reap || fail "the orphan is still there under the init: $out"
expect_ok rr run -d -b "$B" noreap
wait_until 30 zombie noreap || fail "no zombie without the init, the check above proves nothing: $out"
expect_ok rr delete -f reap
expect_ok rr delete -f noreap
assert_no_leftovers

step "run -d --init: rrun kill reaches the program (a shell trap; a handler-less sleep), exec works"
set_cmd sh -c 'trap "echo usr1 >/tmp/got; exit 3" USR1; sleep 100 & wait'
rm -f "$B/rootfs/tmp/got"
expect_ok rr run -d --init -b "$B" trap
expect_ok rr exec trap sh -c 'echo exec-pid-ok'
expect_contains "$out" "exec-pid-ok" "exec into a container with the init"
# The trap is set once the shell waits; until then USR1 would end it unhandled.
wait_until 30 rr exec trap sh -c 'ps | grep -q "[s]leep 100"' || fail "the program did not start its sleep"
expect_ok rr kill trap USR1
wait_until 30 stopped trap || fail "the container did not stop after kill USR1"
expect_eq "$(cat "$B/rootfs/tmp/got" 2>/dev/null)" usr1 "what the trap wrote"
expect_ok rr delete trap
set_cmd sleep 100
expect_ok rr run -d --init -b "$B" term
expect_ok rr kill term TERM
wait_until 30 stopped term || fail "a handler-less sleep under the init did not stop on kill TERM"
expect_ok rr delete term
assert_no_leftovers

step "LISTEN_PID names the program, which has the fds of socket activation"
set_cmd sh -c 'echo listen_pid=$LISTEN_PID; echo self=$$'
run env LISTEN_FDS=1 "$RRUN_BIN" --root "$STATE_ROOT" run --init -b "$B" listen 3</dev/null
expect_eq "$rc" 0 "exit status ($err)"
expect_eq "$(val listen_pid)" "$(val self)" "LISTEN_PID under the init"
assert_no_leftovers

step "Ctrl-C on the container's terminal ends sleep under --init (under script); the program has the terminal"
command -v script >/dev/null || skip "script (util-linux) is missing"
config_set "$B" '.process.terminal = true'
# Fields 5 and 8 of /proc/PID/stat: the process group and the terminal's
# foreground group.
set_cmd sh -c 'set -- $(cat /proc/$$/stat); echo "pgrp=$5"; echo "tpgid=$8"; exec sleep 100'
gone() { ! rr state "$1" >/dev/null 2>&1; }
# The terminal's input: ^C once the program has reported (run() collects
# script's output in $WORK/.out), then open until the container is gone (at
# EOF script would type the EOF character into the terminal).
feed() {
  wait_until 60 grep -q tpgid= "$WORK/.out" || return 0
  printf '\003'
  wait_until 60 gone tty || true
}
: >"$WORK/.out"
t0=$SECONDS
run script -qec "$(printf '%q ' "$RRUN_BIN" --root "$STATE_ROOT" run --init -b "$B" tty)" /dev/null < <(feed)
feeder=$!
wait "$feeder" 2>/dev/null || true # feed's last poll, before the leftover check below
expect_eq "$rc" 130 "exit status of run --init after Ctrl-C on its terminal ($out)"
((SECONDS - t0 < 50)) || fail "Ctrl-C took $((SECONDS - t0)) s to end the container"
out=$(tr -d '\r' <<<"$out")
expect_eq "$(val pgrp)" 2 "the program's process group"
expect_eq "$(val tpgid)" 2 "the terminal's foreground group"
fresh
assert_no_leftovers
