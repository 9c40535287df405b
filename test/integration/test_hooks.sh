#!/usr/bin/env bash
# OCI hooks (issue 3, runtime-spec config.md "POSIX-platform Hooks" and
# runtime.md "Lifecycle"): every phase runs, in order, with the state JSON on
# stdin, its args and env; failures stop the lifecycle and leave nothing
# behind; poststop failures only warn; timeouts kill the hook.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

B=$WORK/b
make_bundle "$B" true
config_set "$B" '.root.readonly = false'
B=$(cd "$B" && pwd -P)
W=$(cd "$WORK" && pwd -P)
cp "$B/config.json" "$W/config.base"
LOG=$W/hooks.log     # written by the hooks that run with the host's file system
INLOG=/tmp/in.log    # startContainer runs inside the container: its log is $B/rootfs$INLOG

# The host-side hook: a static busybox script. It records one JSON line:
# the phase, its arguments, an env variable, how many lines the in-container
# log has (to see startContainer's place in the order), whether the user
# process already ran, and the state JSON it read on stdin.
# Usage (hook args): hook PHASE LOGFILE [EXIT_STATUS [SLEEP]]
cat >"$W/hook" <<EOF
#!$BUSYBOX sh
state=\$($BUSYBOX cat)
n=0
[ -f "$B/rootfs$INLOG" ] && n=\$($BUSYBOX wc -l <"$B/rootfs$INLOG")
ran=no
[ -f "$B/rootfs/tmp/proc.log" ] && ran=yes
echo "{\"phase\":\"\$1\",\"args\":\"\$*\",\"env\":\"\$HOOK_ENV\",\"in\":\$n,\"ran\":\"\$ran\",\"state\":\${state:-null}}" >>"\$2"
# (in the directory of the log, so that assert_no_leftovers sees a sleep left behind)
[ -n "\$4" ] && cd "\$($BUSYBOX dirname "\$2")" && exec $BUSYBOX sleep "\$4"
echo "hook \$1 says goodbye"
exit \${3:-0}
EOF
chmod 755 "$W/hook"
# The same inside the container, for startContainer (resolved in the container).
cat >"$B/rootfs/bin/hook-in" <<'EOF'
#!/bin/busybox sh
state=$(/bin/busybox cat)
ran=no
[ -f /tmp/proc.log ] && ran=yes
echo "{\"phase\":\"$1\",\"args\":\"$*\",\"env\":\"$HOOK_ENV\",\"ran\":\"$ran\",\"state\":${state:-null}}" >>"$2"
echo "hook $1 says goodbye"
exit ${3:-0}
EOF
chmod 755 "$B/rootfs/bin/hook-in"

# hook_json PHASE [EXIT_STATUS [TIMEOUT [SLEEP]]]: one hook entry.
hook_json() {
  local phase=$1 status=${2:-0} timeout=${3:-} sleep=${4:-} path=$W/hook log=$LOG
  if [[ "$phase" == startContainer ]]; then path=/bin/hook-in log=$INLOG; fi
  local args=("hook-$phase" "$phase" "$log" "$status")
  [[ -n "$sleep" ]] && args+=("$sleep")
  jq -nc --arg path "$path" --arg phase "$phase" --arg timeout "$timeout" '$ARGS.positional as $a |
    {path: $path, args: $a, env: ["HOOK_ENV=env of \($phase)", "OTHER=x"]} +
    (if $timeout == "" then {} else {timeout: ($timeout | tonumber)} end)' --args "${args[@]}"
}

# set_hooks JSON_OBJECT: replaces config.json's hooks (from the saved base).
set_hooks() {
  jq --argjson h "$1" '.hooks = $h' "$W/config.base" >"$B/config.json"
}

all_hooks() {
  jq -nc --arg w "$W/hook" --arg log "$LOG" --arg inlog "$INLOG" '
    def h($p): ($p == "startContainer") as $in |
      {path: (if $in then "/bin/hook-in" else $w end), args: ["hook-\($p)", $p, (if $in then $inlog else $log end), "0"],
       env: ["HOOK_ENV=env of \($p)", "OTHER=x"]};
    reduce ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop") as $p
      ({}; .[$p] = [h($p)])'
}

reset_logs() { rm -f "$LOG" "$B/rootfs$INLOG" "$B/rootfs/tmp/proc.log"; }
phases() { [[ -f "$LOG" ]] && jq -r .phase "$LOG" | paste -sd' ' || true; }
entry() { jq -c --arg p "$1" 'select(.phase == $p)' "$LOG"; }

status_is() { [[ "$(rr state "$1" 2>/dev/null | jq -r .status)" == "$2" ]]; }

# The user process records that it ran, then exits.
set_args "$B" sh -c 'echo ran >/tmp/proc.log'
cp "$B/config.json" "$W/config.base"

step "all six phases, in order, with the state on stdin, args and env"
set_hooks "$(all_hooks)"
reset_logs
expect_ok rr create -b "$B" h </dev/null
pid=$(rr state h | jq -r .pid)
expect_eq "$(phases)" "prestart createRuntime createContainer" "hooks run by create"
# One line per phase: status id bundle ociVersion pid | args | env | in-log lines | process ran.
# runtime.md "State": "For hooks executed in the runtime namespace, it is the
# pid as seen by the runtime. For hooks executed in the container namespace,
# it is the pid as seen by the container" (it has a pid namespace: pid 1).
summary() { jq -r '"\(.phase): \(.state | "\(.status) \(.id) \(.bundle) \(.ociVersion) \(.pid // 0)") | \(.args) | \(.env) | \(.in // "-") \(.ran)"' "$@"; }
v=$(jq -r .ociVersion "$B/config.json")
expect_eq "$(summary "$LOG")" "prestart: creating h $B $v $pid | prestart $LOG 0 | env of prestart | 0 no
createRuntime: creating h $B $v $pid | createRuntime $LOG 0 | env of createRuntime | 0 no
createContainer: creating h $B $v 1 | createContainer $LOG 0 | env of createContainer | 0 no" "the hooks of create"
[[ ! -e "$B/rootfs$INLOG" ]] || fail "startContainer ran during create: $(cat "$B/rootfs$INLOG")"

expect_ok rr start h
expect_eq "$(phases)" "prestart createRuntime createContainer poststart" "hooks run by create and start"
expect_eq "$(summary "$B/rootfs$INLOG")" \
  "startContainer: created h $B $v 1 | startContainer $INLOG 0 | env of startContainer | - no" "the startContainer hook"
# (whether the process already ran when poststart runs is a race)
expect_eq "$(entry poststart | jq -c '.ran = "-"' | summary)" \
  "poststart: running h $B $v $pid | poststart $LOG 0 | env of poststart | 1 -" "the poststart hook (after startContainer)"

wait_until 5 status_is h stopped || fail "the process did not exit: $(rr state h)"
expect_eq "$(cat "$B/rootfs/tmp/proc.log")" ran "the user process"
expect_ok rr delete h
expect_eq "$err" "" "stderr of delete"
expect_eq "$(phases)" "prestart createRuntime createContainer poststart poststop" "hooks after delete"
expect_eq "$(entry poststop | summary)" \
  "poststop: stopped h $B $v 0 | poststop $LOG 0 | env of poststop | 1 yes" "the poststop hook (pid absent or 0)"
assert_no_leftovers

step "run: all six phases, in order"
reset_logs
expect_ok rr run -b "$B" hr </dev/null
expect_eq "$(phases)" "prestart createRuntime createContainer poststart poststop" "hooks run by run"
expect_eq "$(jq -r .phase "$B/rootfs$INLOG")" startContainer "the in-container log after run"
assert_no_leftovers

step "several hooks of one phase run in order"
h1=$(hook_json createRuntime)
h2=$(jq -c '.args[0] = "second" | .env = ["HOOK_ENV=second"]' <<<"$h1")
set_hooks "{\"createRuntime\": [$h1, $h2]}"
reset_logs
expect_ok rr create -b "$B" two </dev/null
expect_eq "$(jq -r .env "$LOG" | paste -sd,)" "env of createRuntime,second" "order of two createRuntime hooks"
expect_ok rr delete two
assert_no_leftovers

for p in prestart createRuntime createContainer; do
  step "a failing $p hook fails create, names the hook, leaves nothing"
  set_hooks "{\"$p\": [$(hook_json "$p" 1)], \"poststop\": [$(hook_json poststop)]}"
  reset_logs
  expect_fail_with "$p" -- rr create -b "$B" f </dev/null
  expect_contains "$err" "$W/hook" "the error names the hook's path"
  expect_contains "$err" "status 1" "the error gives the exit status"
  expect_fail_with "does not exist" -- rr state f
  [[ ! -e "$B/rootfs/tmp/proc.log" ]] || fail "the user process ran after a failing $p hook"
  # runtime.md "Lifecycle": a failing hook stops the container and continues
  # at step 12 (destroy), then 13 (poststop hooks).
  expect_eq "$(phases)" "$p poststop" "hooks run when $p fails"
  expect_eq "$(entry poststop | jq -r '.state.status + " " + .state.id')" "stopped f" "the poststop state after $p failed"
  assert_no_leftovers
done

step "a failing startContainer hook fails start; the container is stopped"
set_hooks "{\"startContainer\": [$(hook_json startContainer 1)]}"
reset_logs
expect_ok rr create -b "$B" fs </dev/null
expect_fail_with "startContainer" -- rr start fs
expect_contains "$err" "/bin/hook-in" "the error names the hook's path"
wait_until 5 status_is fs stopped || fail "after a failing startContainer hook: $(rr state fs)"
[[ ! -e "$B/rootfs/tmp/proc.log" ]] || fail "the user process ran after a failing startContainer hook"
expect_ok rr delete fs
assert_no_leftovers

step "a failing poststart hook fails start; the container is stopped"
set_hooks "{\"poststart\": [$(hook_json poststart 1)]}"
# A process that keeps running (without children, whose deaths a shell would report).
config_set "$B" '.process.args = ["sh", "-c", "echo ran >/tmp/proc.log; exec probe wait-signal"]'
reset_logs
expect_ok rr create -b "$B" fp </dev/null
expect_fail_with "poststart" -- rr start fp
expect_contains "$err" "$W/hook" "the error names the hook's path"
wait_until 5 status_is fp stopped || fail "after a failing poststart hook: $(rr state fp)"
expect_ok rr delete fp
assert_no_leftovers
step "run with a failing poststart hook fails and removes the container"
expect_fail_with "poststart" -- rr run -b "$B" fpr </dev/null
expect_fail_with "does not exist" -- rr state fpr
assert_no_leftovers

step "a failing poststop hook: delete succeeds with a warning; the next poststop hook still runs"
set_hooks "{\"poststop\": [$(hook_json poststop 1), $(jq -c '.env = ["HOOK_ENV=second"]' <<<"$(hook_json poststop)")]}"
reset_logs
expect_ok rr create -b "$B" fq </dev/null
expect_ok rr delete fq
expect_contains "$err" "poststop" "the warning of delete"
expect_eq "$(jq -r .env "$LOG" | paste -sd,)" "env of poststop,second" "poststop hooks that ran"
expect_fail_with "does not exist" -- rr state fq
assert_no_leftovers

step "with --log the warning goes to the log only (as runc's): a shim's rrun has the container's stderr"
reset_logs
wlog=$WORK/warn.json
expect_ok rr --log "$wlog" --log-format json create -b "$B" fw </dev/null
expect_ok rr --log "$wlog" --log-format json delete fw
expect_eq "$err" "" "stderr of delete with --log"
jq -e -s 'any(.level == "warning" and (.msg | contains("poststop")))' "$wlog" >/dev/null ||
  fail "no poststop warning in the --log file: $(cat "$wlog")"
assert_no_leftovers

step "a hook that runs past its timeout is killed; the error says it timed out"
set_hooks "{\"createRuntime\": [$(hook_json createRuntime 0 1 30)]}"
reset_logs
t0=$SECONDS
expect_fail_with "timed out" -- rr create -b "$B" to </dev/null
expect_contains "$err" "createRuntime" "the timeout error names the phase"
((SECONDS - t0 < 10)) || fail "create took $((SECONDS - t0)) s with a 1 s hook timeout"
expect_eq "$(phases)" createRuntime "hooks that ran"
assert_no_leftovers  # the hook's sleep (its cwd is $W) was killed

step "a hook that closes its stdin unread: no SIGPIPE kills rrun"
# 256 KiB of annotations: far more than a pipe holds, so rrun is still
# writing the state when the hook closes its stdin.
cp "$W/config.base" "$B/config.json"
config_set "$B" '.annotations = {"big": ("x" * 262144)} | .hooks = {createRuntime: [{path: $sh, args: ["sh", "-c", "exec 0<&-; sleep 0.3"]}]}' --arg sh "$BUSYBOX"
expect_ok rr create -b "$B" pipe </dev/null
expect_ok rr delete -f pipe
assert_no_leftovers

step "start and delete read the container's config copy only for poststart and poststop hooks"
# A config copy that no longer parses: unnoticed without those hooks (start
# and delete never read it); with a poststop hook, delete says it could not
# run it.
cp "$W/config.base" "$B/config.json"
expect_ok rr create -b "$B" nohooks </dev/null
echo '{' >"$STATE_ROOT/nohooks/config.json"
expect_ok rr start nohooks
expect_eq "$err" "" "stderr of start"
wait_until 10 status_is nohooks stopped || fail "nohooks did not stop"
expect_ok rr delete nohooks
expect_eq "$err" "" "stderr of delete"
set_hooks "{\"poststop\": [{\"path\": \"/bin/true\"}]}"
expect_ok rr create -b "$B" poststop </dev/null
echo '{' >"$STATE_ROOT/poststop/config.json"
expect_ok rr delete -f poststop
expect_contains "$err" "poststop hooks not run" "stderr of delete"
assert_no_leftovers

echo "PASS"
