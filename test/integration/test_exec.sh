#!/usr/bin/env bash
# `exec`: a process in a running container's namespaces, with its seccomp
# profile and the process settings of the command line or of --process;
# exit status, signals, -d with --pid-file, -t with --console-socket, no fd
# of rrun, and the errors.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

scratch_bundle
set_cmd sleep 600
rr run -d -b "$B" c </dev/null >/dev/null 2>"$WORK/run.err" || fail "run -d failed: $(cat "$WORK/run.err")"
init_pid=$(rr state c | jq -r .pid)

step "the command runs in the container's namespaces, its status comes back"
expect_ok rr exec c sh -c 'for n in pid mnt net ipc uts user cgroup; do echo "$n=$(readlink /proc/self/ns/$n) $(readlink /proc/1/ns/$n)"; done; hostname'
while IFS= read -r line; do
  [[ "$line" == *=* ]] || continue
  a=${line#*=}
  expect_eq "${a% *}" "${a#* }" "namespace ${line%%=*} of the exec process vs the init"
done <<<"$out"
expect_contains "$out" "rrun" "hostname in the container"
for ns in pid mnt; do
  expect_not_contains "$out" "$ns=$(readlink /proc/self/ns/$ns) " "the host's $ns namespace"
done
run rr exec c sh -c 'exit 7'
expect_eq "$rc" 7 "exit status of exec"
run rr exec c sh -c 'kill -TERM $$'
expect_eq "$rc" 143 "exit status of a process killed by SIGTERM"

step "ps in the container sees the init and the exec process"
expect_ok rr exec c ps
expect_contains "$out" "sleep 600" "ps output"

step "the container's process settings, overridden by the flags"
expect_ok rr exec c probe env cwd ids nnp
expect_eq "$(val cwd)" "/" "cwd"
expect_contains "$out" "PATH=/usr/local/sbin" "env from config.json"
expect_ok rr exec --env FOO=bar --env A=b --cwd /tmp c probe env cwd
expect_contains "$out" "FOO=bar" "--env"
expect_contains "$out" "A=b" "--env"
expect_eq "$(val cwd)" "/tmp" "--cwd"
if ((MANY_IDS)); then
  expect_ok rr exec --user 1000:1000 --additional-gids 27 c probe ids
  expect_contains "$(val uid)" "1000" "--user uid"
  expect_contains "$(val gid)" "1000" "--user gid"
  expect_contains "$(val groups)" "27" "--additional-gids"
fi
expect_ok rr exec c probe nnp
expect_eq "$(val NoNewPrivs)" "1" "noNewPrivileges of config.json (rrun spec sets it)"

step "--cap adds to the bounding, effective and permitted sets"
expect_ok rr exec c probe caps
before=$(val CapEff)
expect_ok rr exec --cap CAP_NET_ADMIN c probe caps
after=$(val CapEff)
[[ "$before" != "$after" ]] || fail "--cap CAP_NET_ADMIN did not change CapEff ($before)"
(((0x$after & (1 << 12)) != 0)) || fail "CAP_NET_ADMIN (12) not in CapEff $after"

step "the container's seccomp profile applies to exec processes"
expect_ok rr exec c probe seccomp
expect_eq "$(val Seccomp)" "0" "seccomp mode without a profile"
rr delete -f c
fresh
set_cmd sleep 600
config_set "$B" '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdirat", "mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 1}]}'
rr run -d -b "$B" c </dev/null >/dev/null 2>"$WORK/run.err" || fail "run -d failed: $(cat "$WORK/run.err")"
expect_ok rr exec c probe seccomp
expect_eq "$(val Seccomp)" "2" "seccomp mode of the exec process"
run rr exec c mkdir /tmp/x
expect_eq "$rc" 1 "mkdir under a profile that denies it"
expect_contains "$err" "Operation not permitted" "mkdir's error"

step "no fd of rrun reaches the process; --preserve-fds passes 3.."
expect_ok rr exec c probe fds </dev/null
fds=$(grep -E '^[0-9]+=' <<<"$out" | cut -d= -f1 | sort -n | tr '\n' ' ')
expect_eq "$fds" "0 1 2 " "open fds of the exec process: $out"
echo three >"$WORK/f3"
expect_ok rr exec --preserve-fds 1 c sh -c 'cat <&3' 3<"$WORK/f3"
expect_eq "$out" "three" "fd 3 with --preserve-fds 1"

step "signals to rrun exec reach the process"
"$RRUN_BIN" --root "$STATE_ROOT" exec c probe wait-signal >"$WORK/sig.out" 2>&1 &
exec_pid=$!
wait_until 10 grep -q ready "$WORK/sig.out" || fail "probe wait-signal did not start: $(cat "$WORK/sig.out")"
kill -USR1 "$exec_pid"
wait "$exec_pid" || true
expect_contains "$(cat "$WORK/sig.out")" "signal=SIGUSR1" "the signal the process got"

step "-d --pid-file: returns at once; the pid is the process's, as seen from here"
expect_ok rr exec -d --pid-file "$WORK/exec.pid" c sleep 30
pid=$(cat "$WORK/exec.pid")
[[ -d /proc/$pid ]] || fail "pid $pid from --pid-file does not exist"
expect_contains "$(tr '\0' ' ' </proc/"$pid"/cmdline)" "sleep 30" "cmdline of the --pid-file pid"
kill -KILL "$pid"

step "--process process.json"
cat >"$WORK/process.json" <<'EOF'
{"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo from-process-json; pwd"],
 "env": ["PATH=/bin"], "cwd": "/tmp"}
EOF
expect_ok rr exec --process "$WORK/process.json" c
expect_eq "$out" $'from-process-json\n/tmp' "output of --process"
echo '{"user": {"uid": 0, "gid": 0}, "cwd": "/", "args": "sh"}' >"$WORK/bad.json"
expect_fail_with "process.args: expected an array" -- rr exec --process "$WORK/bad.json" c

step "--process: what process.json leaves out comes from the container's config (issue 11, point 8)"
# CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE: CapEff 0x20000420.
small='["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]'
config_set "$B" ".process.capabilities = {bounding: $small, effective: $small, permitted: $small}
  | .process.noNewPrivileges = true | .process.rlimits = [{type: \"RLIMIT_NOFILE\", hard: 512, soft: 256}]
  | .process.args = [\"sleep\", \"600\"]"
rr run -d -b "$B" small </dev/null >/dev/null 2>"$WORK/run.err" || fail "run -d failed: $(cat "$WORK/run.err")"
fresh
echo '{"user": {"uid": 0, "gid": 0}, "args": ["probe", "caps", "nnp", "rlimits"], "cwd": "/"}' >"$WORK/bare.json"
expect_ok rr exec --process "$WORK/bare.json" small
for set in CapEff CapPrm CapBnd; do
  expect_eq "$(val $set)" "0000000020000420" "$set of a process.json without capabilities"
done
expect_eq "$(val NoNewPrivs)" "1" "NoNewPrivs of a process.json without noNewPrivileges"
expect_eq "$(val RLIMIT_NOFILE)" "256:512" "RLIMIT_NOFILE of a process.json without rlimits"
run rr exec small mount -t tmpfs none /mnt
((rc != 0)) || fail "a plain exec in a container without CAP_SYS_ADMIN mounted a tmpfs"
jq -c '.args = ["mount", "-t", "tmpfs", "none", "/tmp"]' "$WORK/bare.json" >"$WORK/mount.json"
run rr exec --process "$WORK/mount.json" small
((rc != 0)) || fail "exec --process without capabilities mounted a tmpfs"
# Present keys win, a present empty capabilities object means none.
jq -c '.capabilities = {bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"]}
  | .noNewPrivileges = false | .rlimits = [{type: "RLIMIT_NOFILE", hard: 300, soft: 200}]' \
  "$WORK/bare.json" >"$WORK/own.json"
expect_ok rr exec --process "$WORK/own.json" small
expect_eq "$(val CapEff)" "0000000000000020" "CapEff of the process.json's own capabilities"
expect_eq "$(val CapBnd)" "0000000000000020" "CapBnd of the process.json's own capabilities"
expect_eq "$(val NoNewPrivs)" "0" "NoNewPrivs of noNewPrivileges: false"
expect_eq "$(val RLIMIT_NOFILE)" "200:300" "RLIMIT_NOFILE of the process.json's own rlimits"
jq -c '.capabilities = {}' "$WORK/bare.json" >"$WORK/nocaps.json"
expect_ok rr exec --process "$WORK/nocaps.json" small
expect_eq "$(val CapEff)" "0000000000000000" "CapEff of an empty capabilities object"
expect_eq "$(val CapBnd)" "0000000000000000" "CapBnd of an empty capabilities object"
# The plain exec: the container's sets, --cap adds, --no-new-privs sets.
expect_ok rr exec small probe caps nnp rlimits
expect_eq "$(val CapEff)" "0000000020000420" "CapEff of a plain exec"
expect_eq "$(val NoNewPrivs)" "1" "NoNewPrivs of a plain exec"
expect_eq "$(val RLIMIT_NOFILE)" "256:512" "RLIMIT_NOFILE of a plain exec"
expect_ok rr exec --cap CAP_CHOWN small probe caps
expect_eq "$(val CapEff)" "0000000020000421" "CapEff of a plain exec with --cap CAP_CHOWN"
expect_eq "$(val CapBnd)" "0000000020000421" "CapBnd of a plain exec with --cap CAP_CHOWN"
expect_ok rr exec --no-new-privs --process "$WORK/own.json" small
expect_eq "$(val NoNewPrivs)" "1" "--no-new-privs over noNewPrivileges: false"
rr delete -f small

step "-t with --console-socket: the process gets a pty"
if [[ -x "${RRUN_RECVTTY:-}" ]]; then
  sock=$WORK/tty.sock
  "$RRUN_RECVTTY" "$sock" >"$WORK/tty.out" 2>&1 &
  recv=$!
  wait_until 10 test -S "$sock" || fail "recvtty did not listen"
  expect_ok rr exec -t -d --console-socket "$sock" c sh -c 'tty; sleep 0.2'
  wait "$recv" || true
  expect_contains "$(cat "$WORK/tty.out")" "/dev/pts/" "tty of the exec process"
fi
expect_fail_with "needs --console-socket" -- rr exec -t -d c true

step "errors: one line, exit 1"
expect_fail_with "not found in PATH" -- rr exec c no-such-program
expect_fail_with "does not exist" -- rr exec nosuch true
expect_fail_with "expected UID[:GID] with numeric ids" -- rr exec --user x c true
expect_fail_with "no command given" -- rr exec c
expect_fail_with "NOEQUALS\`: expected KEY=VALUE" -- rr exec --env NOEQUALS c true
expect_fail_with "sub-cgroups are not supported" -- rr exec --cgroup foo c true

step "a stopped container"
rr kill c KILL
wait_until 10 sh -c "[ \"\$($RRUN_BIN --root $STATE_ROOT state c | jq -r .status)\" = stopped ]" ||
  fail "container did not stop"
expect_fail_with "it is stopped" -- rr exec c true
rr delete c
[[ ! -d /proc/$init_pid ]] || [[ "$(cat /proc/"$init_pid"/comm 2>/dev/null)" != sleep ]] || true
assert_no_leftovers
