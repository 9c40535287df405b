#!/usr/bin/env bash
# Per-task overrides of a sandbox file (README "Per-task overrides", issue 13
# point 3): the command after `--`, -e NAME=VALUE and -e NAME, --env-file,
# ${VAR} and ${VAR:-default} from the host's environment (an undefined one is
# one error line naming the key, nothing created), -v SRC:DST[:ro|rw],
# --tty/--no-tty, `tty: true` without a terminal refused at once, concurrent
# runs of one file without IDs (the tasks of a job) under distinct IDs,
# --name-suffix, and `share: [pid, ipc, uts]` joining the caller's
# namespaces.
# rrun-test: nosub
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

# The sandboxes' directory: a busybox rootfs and the files of this test.
S=$WORK/sb
sandbox_dir "$S"
mkdir -p "$WORK/data" "$WORK/sync"
mkdir "$S/rootfs/data" "$S/rootfs/sync"
cat >"$S/job.yaml" <<'EOF'
rootfs: rootfs
command: [/bin/echo, from-the-file]
env:
  TASK: "${SLURM_PROCID}"
  WHERE: "${RRUN_TEST_UNSET_VAR:-default-place}"
  LITERAL: "$${NOT_EXPANDED} $$"
  ORDER: yaml
EOF
printf 'rootfs: rootfs\ncommand: [/bin/echo, from-the-file]\n' >"$S/plain.yaml"
show_env='echo "$TASK|$WHERE|$LITERAL|$ORDER|${A-}|${FROM_HOST-}|${NOT_ON_HOST-unset}|${FILE_ONLY-}"'

step "the command after -- replaces command:"
expect_ok rr run -f "$S/plain.yaml" -- /bin/echo a "b c"
expect_eq "$out" "a b c" "output of the trailing command"
expect_ok rr run -f "$S/plain.yaml" with-id -- /bin/sh -c 'echo "$0 $1"' x y
expect_eq "$out" "x y" "an ID, then the command"
expect_ok rr run -f "$S/plain.yaml"
expect_eq "$out" "from-the-file" "without -- the file's command"
expect_fail_with "put the command after \`--\`" -- rr run -f "$S/plain.yaml" id /bin/echo hi
expect_fail_with "-e is for sandbox files" -- rr run -b "$S" -e A=1 some-id
assert_no_leftovers

step "\${VAR} and \${VAR:-default} from the host; \$\${ and \$\$ stay literal"
SLURM_PROCID=5 expect_ok rr run -f "$S/job.yaml" -- /bin/sh -c "$show_env"
expect_eq "$out" '5|default-place|${NOT_EXPANDED} $$|yaml|||unset|' "expanded env"
RRUN_TEST_UNSET_VAR=here SLURM_PROCID=0 expect_ok rr run -f "$S/job.yaml" -- /bin/sh -c 'echo "$WHERE"'
expect_eq "$out" "here" "the host's value over the default"

step "an undefined variable is one error line naming the key; nothing is created"
expect_fail_with "$S/job.yaml:4:9: env.TASK: \${SLURM_PROCID} is not set in the environment; set it or write \${SLURM_PROCID:-default}" -- \
  env -u SLURM_PROCID "$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/job.yaml"
expect_eq "$(state_ids)" "" "containers after the error"
assert_no_leftovers

step "-e NAME=VALUE and -e NAME (the host's; left out where the host has none), --env-file; command line wins"
cat >"$WORK/task.env" <<'EOF'
# settings of the task
ORDER=env-file

  FILE_ONLY=from "the" file
FROM_HOST
EOF
FROM_HOST=host-value SLURM_PROCID=1 expect_ok rr run -f "$S/job.yaml" -e A=1 -e FROM_HOST -e NOT_ON_HOST \
  -- /bin/sh -c "$show_env"
expect_eq "$out" '1|default-place|${NOT_EXPANDED} $$|yaml|1|host-value|unset|' "-e"
FROM_HOST=host-value SLURM_PROCID=1 expect_ok rr run -f "$S/job.yaml" --env-file "$WORK/task.env" \
  -- /bin/sh -c "$show_env"
expect_eq "$out" '1|default-place|${NOT_EXPANDED} $$|env-file||host-value|unset|from "the" file' "--env-file"
SLURM_PROCID=1 expect_ok rr run -f "$S/job.yaml" --env-file "$WORK/task.env" -e ORDER=e \
  -- /bin/sh -c 'echo "$ORDER"'
expect_eq "$out" "e" "-e after --env-file"
expect_fail_with "--env-file $WORK/none.env: no such file" -- \
  rr run -f "$S/plain.yaml" --env-file "$WORK/none.env"
assert_no_leftovers

step "-v SRC:DST binds (rw by default, :ro read-only; SRC relative to the current directory)"
expect_ok rr run -f "$S/plain.yaml" -v "$WORK/data:/data" -- /bin/sh -c 'echo written >/data/f && echo ok'
expect_eq "$out" "ok" "write through -v rw"
expect_eq "$(cat "$WORK/data/f")" "written" "the file on the host"
expect_ok rr run -f "$S/plain.yaml" -v "$WORK/data:/data:ro" -- /bin/sh -c 'cat /data/f; echo x >/data/g 2>/dev/null || echo read-only'
expect_eq "$out" $'written\nread-only' "a :ro bind"
[[ ! -e "$WORK/data/g" ]] || fail "a :ro bind was written"
cd "$WORK"
expect_ok rr run -f "$S/plain.yaml" -v data:/data:ro -- /bin/cat /data/f
expect_eq "$out" written "a relative SRC"
expect_fail_with "-v nowhere:/x: \`$WORK/nowhere\` does not exist" -- rr run -f "$S/plain.yaml" -v nowhere:/x
cd - >/dev/null
expect_fail_with "-v $WORK/data:/x:z: unknown option \"z\"; use ro or rw" -- \
  rr run -f "$S/plain.yaml" -v "$WORK/data:/x:z"
assert_no_leftovers

step "tty: true without a terminal fails at once, nothing created; --no-tty runs it"
printf 'rootfs: rootfs\ntty: true\ncommand: [/bin/sh]\n' >"$S/tty.yaml"
run timeout 10 "$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/tty.yaml" </dev/null
((rc == 1)) || {
  show_run
  fail "tty: true with stdin /dev/null: expected exit status 1 (124: it hung)"
}
expect_eq "$err" "rrun: run: \`tty: true\` in $S/tty.yaml, but the standard input is not a terminal; use --no-tty" \
  "the error line"
assert_no_leftovers
run timeout 10 "$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/plain.yaml" --tty -- /bin/true </dev/null
expect_eq "$rc" 1 "--tty with stdin /dev/null"
expect_contains "$err" "use --no-tty" "the error line"
expect_ok timeout 10 "$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/tty.yaml" --no-tty \
  -- /bin/sh -c 'test -t 0 && echo tty || echo no-tty' </dev/null
expect_eq "$out" "no-tty" "--no-tty"
expect_fail_with "run -d: \`tty: true\` in $S/tty.yaml: a detached sandbox can't keep a terminal without --console-socket; use --no-tty" -- \
  rr run -d -f "$S/tty.yaml"
expect_fail_with "--tty and --no-tty can't be used together" -- rr run -f "$S/tty.yaml" --tty --no-tty
assert_no_leftovers
if command -v script >/dev/null; then
  # script's stdin stays open while the container runs (see test_terminal.sh).
  run script -qec "$(printf '%q ' "$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/plain.yaml" --tty -- \
    /bin/sh -c 'test -t 0 && echo is-a-tty')" /dev/null < <(sleep 5)
  expect_eq "$rc" 0 "--tty under script"
  expect_contains "$out" "is-a-tty" "--tty gives a terminal"
  assert_no_leftovers
fi

step "concurrent runs of one file without IDs (the tasks of a job) get distinct IDs, shown by list"
cat >"$S/rank.yaml" <<'EOF'
name: rank
rootfs: rootfs
mounts: [{source: ../sync, target: /sync}]
EOF
# Each task says it started, then waits for the test's go.
task='touch /sync/started.$0; while [ ! -e /sync/go ]; do sleep 0.05; done; echo rank $0 done'
pids=()
for n in 0 1 2; do
  rr run -f "$S/rank.yaml" -- /bin/sh -c "$task" "$n" >"$WORK/rank$n.out" 2>"$WORK/rank$n.err" &
  pids+=($!)
done
wait_until 30 test -e "$WORK/sync/started.0" -a -e "$WORK/sync/started.1" -a -e "$WORK/sync/started.2" || {
  touch "$WORK/sync/go"
  fail "the three tasks did not all start: $(cat "$WORK"/rank*.err)"
}
expect_ok rr list -q
listed=$out
touch "$WORK/sync/go"
for n in 0 1 2; do
  wait "${pids[$n]}" || fail "task $n failed: $(cat "$WORK/rank$n.err")"
  expect_eq "$(cat "$WORK/rank$n.out")" "rank $n done" "output of task $n"
done
expect_eq "$(wc -l <<<"$listed")" 3 "containers listed while the tasks ran: [$listed]"
expect_eq "$(sort -u <<<"$listed" | wc -l)" 3 "distinct IDs: [$listed]"
grep -qx rank <<<"$listed" || fail "no task got the name itself: [$listed]"
[[ $(grep -cxE 'rank-[0-9]+' <<<"$listed") == 2 ]] || fail "expected two rank-PID IDs: [$listed]"
assert_no_leftovers

step "--name-suffix names the container NAME-SUFFIX; a taken name without an ID says how to name another"
expect_ok rr create -f "$S/plain.yaml" --name-suffix 7
expect_eq "$(state_ids)" "plain-7" "the ID with --name-suffix"
expect_ok rr create -f "$S/plain.yaml"
expect_fail_with "container \"plain\" already exists; give another ID (rrun create -f FILE.yaml ID) or --name-suffix SUFFIX" -- \
  rr create -f "$S/plain.yaml"
expect_fail_with "container \"plain-7\" already exists" -- rr run -f "$S/plain.yaml" --name-suffix 7
expect_ok rr delete plain-7
expect_ok rr delete plain
assert_no_leftovers

step "share: [pid] sees the host's processes"
printf 'rootfs: rootfs\nshare: [pid]\n' >"$S/share-pid.yaml"
expect_ok rr run -f "$S/share-pid.yaml" -- /bin/sh -c "test -d /proc/$$ && echo sees-$$"
expect_eq "$out" "sees-$$" "the test's shell in /proc of share: [pid]"
expect_ok rr run -f "$S/plain.yaml" -- /bin/sh -c "test -d /proc/$$ && echo sees-$$ || echo own-pids"
expect_eq "$out" "own-pids" "without share: its own pid namespace"
assert_no_leftovers

step "share: [ipc] is the host's ipc namespace and /dev/shm"
printf 'rootfs: rootfs\nshare: [ipc]\n' >"$S/share-ipc.yaml"
expect_ok rr run -f "$S/share-ipc.yaml" -- /bin/sh -c 'readlink /proc/self/ns/ipc; stat -c %d:%i /dev/shm'
expect_eq "$out" "$(readlink /proc/self/ns/ipc)"$'\n'"$(stat -c %d:%i /dev/shm)" "ipc namespace and /dev/shm"
expect_ok rr run -f "$S/plain.yaml" -- /bin/sh -c 'readlink /proc/self/ns/ipc'
[[ "$out" != "$(readlink /proc/self/ns/ipc)" ]] || fail "without share: the host's ipc namespace"
assert_no_leftovers

step "share: [uts] has the host's hostname; hostname: with it is an error"
printf 'rootfs: rootfs\nshare: [uts, net]\n' >"$S/share-uts.yaml"
expect_ok rr run -f "$S/share-uts.yaml" -- /bin/hostname
expect_eq "$out" "$(cat /proc/sys/kernel/hostname)" "hostname with share: [uts]"
# The generated /etc/hosts and /etc/hostname name the host too.
expect_ok rr run -f "$S/share-uts.yaml" -- /bin/sh -c 'cat /etc/hostname; grep "^127.0.1.1" /etc/hosts'
expect_eq "$out" "$(cat /proc/sys/kernel/hostname)"$'\n'"127.0.1.1	$(cat /proc/sys/kernel/hostname)" \
  "/etc/hostname and /etc/hosts with share: [uts]"
printf 'rootfs: rootfs\nhostname: mine\nshare: [uts]\n' >"$S/share-uts-bad.yaml"
expect_fail_with "$S/share-uts-bad.yaml:2:11: hostname: can't be set with \`share: [uts]\`" -- \
  rr run -f "$S/share-uts-bad.yaml"
printf 'rootfs: rootfs\nnetwork: none\nshare: [net]\n' >"$S/share-net-bad.yaml"
expect_fail_with "share: net: the host's network conflicts with \`network: none\`" -- rr run -f "$S/share-net-bad.yaml"
assert_no_leftovers

step "spec --from takes the same overrides"
mkdir "$WORK/spec"
SLURM_PROCID=2 expect_ok "$RRUN_BIN" spec --from "$S/job.yaml" -b "$WORK/spec" -e A=1 -v "$WORK/data:/data:ro" -- /bin/task 2
expect_eq "$(jq -c .process.args "$WORK/spec/config.json")" '["/bin/task","2"]' "args"
expect_eq "$(jq -r '.process.env[] | select(startswith("TASK=") or startswith("A="))' "$WORK/spec/config.json")" \
  $'TASK=2\nA=1' "env"
expect_eq "$(jq -r '.mounts[] | select(.destination == "/data") | .source' "$WORK/spec/config.json")" "$WORK/data" "-v"
assert_no_leftovers
