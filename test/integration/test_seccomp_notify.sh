#!/usr/bin/env bash
# linux.seccomp with SCMP_ACT_NOTIFY and listenerPath: the listener fd and the
# container process state reach the agent, and the agent's answer is what the
# container's system call returns.
source "$(dirname "$0")/lib.sh"

[[ -n "${RRUN_SECCOMP_AGENT:-}" && -x "$RRUN_SECCOMP_AGENT" ]] || skip "RRUN_SECCOMP_AGENT is not built"

start_agent() {
  mkfifo "$WORK/agent.ready"
  "$RRUN_SECCOMP_AGENT" "$WORK/agent.sock" "$WORK/agent-state.json" >"$WORK/agent.ready" 2>"$WORK/agent.err" &
  agent_pid=$!
  local line
  read -r line <"$WORK/agent.ready"
  expect_eq "$line" listening "agent start"
}

notify_config() {
  local dir=$1 nnp=$2
  config_set "$dir" '.linux.seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      listenerPath: $sock, listenerMetadata: "meta-42",
      syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY"}]
    } | .process.noNewPrivileges = ($nnp == "true")' --arg sock "$WORK/agent.sock" --arg nnp "$nnp"
}

for nnp in true false; do
  step "notify (noNewPrivileges $nnp): mkdir answered by the agent"
  rm -f "$WORK/agent.ready" "$WORK/agent-state.json"
  start_agent
  make_bundle "$WORK/b-$nnp" sh -c 'mkdir /tmp/x 2>&1; echo "status $?"; touch /dev/shm/y && echo touched'
  notify_config "$WORK/b-$nnp" "$nnp"
  expect_ok rr run -b "$WORK/b-$nnp" "notify-$nnp"
  expect_contains "$out" "No space left on device" "mkdir result"
  expect_contains "$out" "status 1"
  expect_contains "$out" "touched" "other syscalls are allowed"
  wait "$agent_pid" || fail "agent failed: $(cat "$WORK/agent.err")"
  state=$(cat "$WORK/agent-state.json")
  expect_eq "$(jq -r '.fds[0]' <<<"$state")" seccompFd "fds"
  expect_eq "$(jq -r '.metadata' <<<"$state")" meta-42 "metadata"
  expect_eq "$(jq -r '.state.id' <<<"$state")" "notify-$nnp" "state.id"
  expect_eq "$(jq -r '.state.bundle' <<<"$state")" "$WORK/b-$nnp" "state.bundle"
  [[ "$(jq -r '.pid' <<<"$state")" -gt 0 ]] || fail "pid missing in $state"
  assert_no_leftovers
done

step "notify without listenerPath is refused"
make_bundle "$WORK/bad" true
config_set "$WORK/bad" '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir"], action: "SCMP_ACT_NOTIFY"}]}'
expect_fail_with "listenerPath" -- rr create -b "$WORK/bad" bad
assert_no_leftovers

step "an agent that is not listening fails create and leaves nothing"
make_bundle "$WORK/noagent" true
config_set "$WORK/noagent" '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", listenerPath: $s,
  syscalls: [{names: ["mkdir"], action: "SCMP_ACT_NOTIFY"}]}' --arg s "$WORK/nobody-listens.sock"
expect_fail_with "nobody-listens.sock" -- rr create -b "$WORK/noagent" noagent
assert_no_leftovers
