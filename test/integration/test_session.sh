#!/usr/bin/env bash
# The container's process leads a session of its own (setsid, as runc and
# crun do), for the init and for exec'd processes: it is not in the caller's
# session or process group. Slurm's create/start variant of oci.conf kills
# the whole process group of `create` when it returns; the container must
# live on to be started.
source "$(dirname "$0")/lib.sh"

scratch_bundle
set_cmd sleep 600

# session_of PID: the session id in /proc/PID/stat (field 6).
session_of() {
  local stat
  stat=$(cat "/proc/$1/stat")
  stat=${stat##*) }
  local _state _ppid _pgrp sid
  read -r _state _ppid _pgrp sid _ <<<"$stat"
  echo "$sid"
}
status_of() { rr state "$1" 2>/dev/null | jq -r .status; }

step "create from a process group that is killed as soon as create returns (Slurm's RunTimeCreate)"
# setsid: a new session and process group led by the shell; it runs create,
# then SIGKILLs its whole group, itself included.
run setsid -w bash -c '"$@" </dev/null >/dev/null 2>&1; kill -KILL -- -$$' sh \
  "$RRUN_BIN" --root "$STATE_ROOT" create -b "$B" --pid-file "$WORK/init.pid" c1
((rc == 137)) || { show_run; fail "the shell around create should have been killed (137)"; }
expect_eq "$(status_of c1)" created "status after the group of create was killed"
pid=$(cat "$WORK/init.pid")
expect_eq "$(session_of "$pid")" "$pid" "the session of the init (it leads its own)"
[[ "$(session_of "$pid")" != "$(session_of $$)" ]] || fail "the init is in the test's session"

step "start: it runs"
expect_ok rr start c1
expect_eq "$(status_of c1)" running "status after start"
expect_eq "$(cat "/proc/$pid/comm")" sleep "the container's process after start"
expect_eq "$(session_of "$pid")" "$pid" "the session of the container's process"

step "exec: the exec'd process leads a session of its own too"
expect_ok rr exec -d --pid-file "$WORK/exec.pid" c1 sleep 600
epid=$(cat "$WORK/exec.pid")
expect_eq "$(session_of "$epid")" "$epid" "the session of the exec'd process"
expect_ok rr delete -f c1
assert_no_leftovers

step "run in the foreground: the container is not in run's session"
set_cmd sh -c 'exec sleep 600'
rr run -b "$B" c2 </dev/null >/dev/null 2>"$WORK/run.err" &
runner=$!
running() { [[ "$(status_of c2)" == running ]]; }
wait_until 10 running || fail "run did not start the container: $(cat "$WORK/run.err")"
pid=$(rr state c2 | jq -r .pid)
expect_eq "$(session_of "$pid")" "$pid" "the session of the container run in the foreground"
[[ "$(session_of "$pid")" != "$(session_of "$runner")" ]] || fail "the container is in run's session"
expect_ok rr kill c2 KILL
wait "$runner" || true
assert_no_leftovers
