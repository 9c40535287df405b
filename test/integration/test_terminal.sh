#!/usr/bin/env bash
# process.terminal (issue 3): a pty created inside the container whose master
# goes to --console-socket over SCM_RIGHTS (received by rrun-recvtty, like
# runc's recvtty), `create` without a console socket refused, and `run` in
# the foreground proxying the terminal itself (under `script`, so rrun has a
# real terminal).
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

[[ -n "${RRUN_RECVTTY:-}" && -x "$RRUN_RECVTTY" ]] || skip "RRUN_RECVTTY (the rrun-recvtty helper) is not built"

scratch_bundle '.process.terminal = true'
for a in tty stty; do ln -sf busybox "$B/rootfs/bin/$a"; done
# What the container reports about its stdio.
TTY_SCRIPT='test -t 0 && echo stdin-is-tty; test -t 1 && echo stdout-is-tty; test -t 2 && echo stderr-is-tty
tty; stty size; probe fds; echo done'
set_cmd sh -c "$TTY_SCRIPT"

# start_receiver NAME: rrun-recvtty on $WORK/NAME.sock, output in $WORK/NAME.out.
start_receiver() {
  local name=$1 i
  rm -f "$WORK/$name.sock"
  "$RRUN_RECVTTY" "$WORK/$name.sock" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" &
  recv_pid=$!
  for ((i = 0; i < 200; i++)); do
    [[ -S "$WORK/$name.sock" ]] && return 0
    sleep 0.05
  done
  fail "rrun-recvtty did not listen on $WORK/$name.sock: $(cat "$WORK/$name.err")"
}
# wait_receiver: waits (up to 10 s) for rrun-recvtty to see the pty close.
wait_receiver() {
  local i
  for ((i = 0; i < 200; i++)); do
    if ! kill -0 "$recv_pid" 2>/dev/null; then
      wait "$recv_pid" || fail "rrun-recvtty failed: $(cat "$WORK/$1.err")"
      return 0
    fi
    sleep 0.05
  done
  kill "$recv_pid" 2>/dev/null || true
  fail "rrun-recvtty still running: the pty was not closed when the container exited"
}
# tty_output NAME: what the container wrote, without the terminal's \r.
tty_output() { tr -d '\r' <"$WORK/$1.out"; }
check_tty_output() {
  local text=$1 what=$2
  expect_contains "$text" "stdin-is-tty" "$what"
  expect_contains "$text" "stdout-is-tty" "$what"
  expect_contains "$text" "stderr-is-tty" "$what"
  expect_contains "$text" "done" "$what"
  grep -qxE '/dev/pts/[0-9]+' <<<"$text" || fail "$what: tty did not print /dev/pts/N: $text"
  grep -qxE '0=/dev/pts/[0-9]+' <<<"$text" || fail "$what: fd 0 is not the pty: $text"
  # No fd beyond stdio reaches the container (CVE-2024-21626), a pty master included.
  if grep -E '^[0-9]+=' <<<"$text" | grep -vqE '^[012]='; then fail "$what: extra fds: $text"; fi
}

step "create --console-socket: the pty master reaches the socket, stdio is the pty"
config_set "$B" '.process.consoleSize = {height: 30, width: 100}'
start_receiver c1
expect_ok rr create -b "$B" --console-socket "$WORK/c1.sock" t1 </dev/null
expect_eq "$out$err" "" "output of create"
expect_eq "$(rr state t1 | jq -r .status)" created "status after create"
expect_ok rr start t1
wait_receiver c1
text=$(tty_output c1)
check_tty_output "$text" "the pty output through the console socket"
grep -qx "30 100" <<<"$text" || fail "process.consoleSize: stty size: $text"
expect_ok rr delete t1
config_set "$B" 'del(.process.consoleSize)'

step "run -d --console-socket"
start_receiver c2
expect_ok rr run -d -b "$B" --console-socket "$WORK/c2.sock" t2 </dev/null
wait_receiver c2
check_tty_output "$(tty_output c2)" "run -d through the console socket"
expect_ok rr delete t2
assert_no_leftovers

step "create with terminal true and no console socket fails with one line"
expect_fail_with "console-socket" -- rr create -b "$B" t3
assert_no_leftovers

step "create with a console socket nobody listens on fails and leaves nothing"
expect_fail_with "console-socket" -- rr create -b "$B" --console-socket "$WORK/nobody.sock" t4 </dev/null
assert_no_leftovers

step "terminal false with --console-socket: stdio is not a terminal"
config_set "$B" '.process.terminal = false'
set_cmd sh -c 'test -t 0 || echo stdin-not-tty; test -t 1 || echo stdout-not-tty'
expect_ok rr run -b "$B" --console-socket "$WORK/unused.sock" t5 </dev/null
expect_contains "$out" "stdin-not-tty"
expect_contains "$out" "stdout-not-tty"
config_set "$B" '.process.terminal = true'

step "run in the foreground proxies the terminal (under script)"
command -v script >/dev/null || skip "script (util-linux) is missing"
set_cmd sh -c "$TTY_SCRIPT; exit 3"
# script's stdin stays open while the container runs: at EOF script types
# the EOF character into the terminal, which the container's pty would echo.
run script -qec "$(printf '%q ' "$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" t6)" /dev/null < <(sleep 5)
expect_eq "$rc" 3 "exit status of run (through script -e)"
text=$(tr -d '\r' <<<"$out")
check_tty_output "$text" "the proxied terminal"
assert_no_leftovers

step "run in the foreground: input reaches the container through the proxy"
set_cmd sh -c 'read -r line; echo "got:$line"'
run script -qec "$(printf '%q ' "$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" t7)" /dev/null < <(
  sleep 0.5
  echo hello-input
  sleep 2
)
expect_eq "$rc" 0 "exit status of run"
expect_contains "$(tr -d '\r' <<<"$out")" "got:hello-input" "the container's echo of its input"
assert_no_leftovers
