#!/usr/bin/env bash
# The process settings of config.json (issue 3): args, env, cwd, user (uid,
# gid, additionalGids, umask), rlimits, noNewPrivileges, the five capability
# sets, oomScoreAdj, personality, scheduler, ioPriority, hostname and
# domainname — each checked from inside the container with the probe.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

scratch_bundle

n=0
# in_container ARG...: runs ARGs as process.args with `rrun run`, expects success.
in_container() {
  set_cmd "$@"
  n=$((n + 1))
  expect_ok rr run -b "$B" "p$n" </dev/null
}
# fails_with MSG ARG...: `rrun run` of ARGs fails with one error line containing MSG.
fails_with() {
  local msg=$1
  shift
  set_cmd "$@"
  n=$((n + 1))
  expect_fail_with "$msg" -- rr run -b "$B" "p$n" </dev/null
  local left=("$STATE_ROOT"/*/)
  [[ ! -d "${left[0]}" ]] || fail "a failed run left state behind: ${left[*]}"
}
# has_line LINE: $out has exactly this line.
has_line() {
  [[ $'\n'"$out"$'\n' == *$'\n'"$1"$'\n'* ]] || fail "expected the line [$1] in the output: $out"
}

step "args: passed one by one, spaces and empty strings kept"
fresh
in_container sh -c 'printf "<%s>" "$@"' zero "a b" "" 'c"d' '$HOME'
expect_eq "$out" '<a b><><c"d><$HOME>' "the arguments the process saw"
in_container probe exit 0
expect_eq "$out" "" "probe found through PATH"

step "env: exactly process.env (no variable of rrun), values with = and spaces"
fresh
config_set "$B" '.process.env = ["PATH=/bin", "FOO=bar", "EQ=a=b=c", "SP=x y", "EMPTY="]'
in_container probe env
expect_eq "$(sort <<<"$out")" "$(printf '%s\n' EMPTY= EQ=a=b=c FOO=bar HOME=/root PATH=/bin 'SP=x y' | sort)" \
  "environment (HOME from /etc/passwd, as runc)"

step "HOME: from the container's /etc/passwd when process.env has none (as runc), also for exec"
fresh
config_set "$B" '.process.env = ["PATH=/bin", "HOME=/set"]'
in_container sh -c 'echo "$HOME"'
expect_eq "$out" "/set" "HOME given in process.env"
# Ids other than root need more than a single mapping rootless.
many_ids=""
[[ "$RRUN_TEST_MODE" == root || -n "$(subid_range /etc/subuid)" ]] && many_ids=1
if [[ -n "$many_ids" ]]; then
  fresh
  config_set "$B" '.process.env = ["PATH=/bin"] | .process.user = {uid: 65534, gid: 65534}'
  in_container sh -c 'echo "$HOME"'
  expect_eq "$out" "/nonexistent" "HOME of uid 65534 (nobody in the rootfs's /etc/passwd)"
  config_set "$B" '.process.user = {uid: 4242, gid: 4242}'
  in_container sh -c 'echo "$HOME"'
  expect_eq "$out" "/" "HOME of a uid /etc/passwd does not know"
fi
fresh
set_cmd sleep 600
config_set "$B" '.process.env = ["PATH=/bin"]'
rr run -d -b "$B" home </dev/null >/dev/null 2>"$WORK/run.err" || fail "run -d failed: $(cat "$WORK/run.err")"
expect_ok rr exec home sh -c 'echo "$HOME"'
expect_eq "$out" "/root" "HOME of an exec as root"
if [[ -n "$many_ids" ]]; then
  expect_ok rr exec --user 65534:65534 home sh -c 'echo "$HOME"'
  expect_eq "$out" "/nonexistent" "HOME of an exec --user 65534"
fi
expect_ok rr exec --env HOME=/e home sh -c 'echo "$HOME"'
expect_eq "$out" "/e" "HOME given with exec --env"
rr delete -f home

step "cwd: the process starts in process.cwd"
fresh
config_set "$B" '.process.cwd = "/tmp"'
in_container sh -c 'probe cwd; readlink /proc/self/cwd'
expect_eq "$out" $'cwd=/tmp\n/tmp' "probe cwd, readlink /proc/self/cwd"

step "cwd that does not exist is created inside the rootfs (as runc does)"
fresh
config_set "$B" '.process.cwd = "/new/deep/dir"'
in_container probe cwd
has_line "cwd=/new/deep/dir"
[[ -d "$B/rootfs/new/deep/dir" ]] || fail "cwd not created in the rootfs"
expect_eq "$(stat -c %a "$B/rootfs/new/deep/dir")" "755" "mode of the created cwd"

step "cwd through a symlink to / stays inside the rootfs"
fresh
ln -s / "$B/rootfs/up"
config_set "$B" '.process.cwd = "/up/tmp"'
in_container probe cwd
has_line "cwd=/tmp"
rm "$B/rootfs/up"

step "cwd that is a file fails create with one line"
fresh
touch "$B/rootfs/afile"
config_set "$B" '.process.cwd = "/afile"'
fails_with "cwd" probe cwd
rm "$B/rootfs/afile"

step "user: uid 0; no supplementary groups where setgroups is allowed"
fresh
in_container probe ids
has_line "uid=0"
has_line "gid=0"
if ((MANY_IDS)); then
  has_line "groups="
else
  # setgroups denied: the caller's groups stay, as container root or nobody.
  grep -qxE 'groups=((0|65534)(,(0|65534))*)?' <<<"$out" || fail "groups with a single mapping: $out"
fi

if ((MANY_IDS)); then
  step "user: uid, gid and additionalGids"
  fresh
  config_set "$B" '.process.user = {uid: 1000, gid: 1001, additionalGids: [10, 20, 1001]}'
  in_container probe ids
  has_line "uid=1000"
  has_line "euid=1000"
  has_line "gid=1001"
  has_line "egid=1001"
  has_line "groups=10,20,1001"

  step "user: a non-root user without additionalGids has no supplementary groups"
  fresh
  config_set "$B" '.process.user = {uid: 1000, gid: 1000}'
  in_container probe ids
  has_line "uid=1000"
  has_line "groups="
fi

if [[ "$RRUN_TEST_MODE" == rootless ]] && ((!MANY_IDS)); then
  step "user (single mapping): additionalGids is an error that says why"
  fresh
  config_set "$B" '.process.user.additionalGids = [0]'
  fails_with "additionalGids" probe ids
  expect_contains "$err" "setgroups" "the additionalGids error"
  expect_contains "$err" "/etc/subgid" "the additionalGids error names the remedy"

  step "user (single mapping): an unmapped uid is an error"
  fresh
  config_set "$B" '.process.user = {uid: 1000, gid: 0}'
  fails_with "not mapped" probe ids
fi

if [[ "$RRUN_TEST_MODE" == rootless ]] && ((MANY_IDS)); then
  step "user (subordinate range): a gid beyond the mapping is an error"
  fresh
  config_set "$B" '.process.user = {uid: 0, gid: 0, additionalGids: [70000]}'
  fails_with "additionalGids" probe ids
fi

step "umask"
fresh
config_set "$B" '.process.user.umask = 63' # 0077
in_container sh -c 'probe umask; touch /tmp/um; stat -c %a /tmp/um'
has_line "umask=0077"
has_line "600"

step "rlimits: NOFILE lowered (soft and hard)"
fresh
config_set "$B" '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 100, hard: 200}, {type: "RLIMIT_CORE", soft: 0, hard: 0}]'
in_container probe rlimits
has_line "RLIMIT_NOFILE=100:200"
has_line "RLIMIT_CORE=0:0"

step "rlimits: above the caller's hard limit: root may, rootless fails with the reason"
# (root without CAP_SYS_RESOURCE, as in some CI containers, fails like rootless)
cap_eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
has_sys_resource=$(((0x$cap_eff >> 24) & 1))
hard=$(ulimit -Hn)
above=$((hard + 1000))
fresh
config_set "$B" '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: $s, hard: $h}]' \
  --argjson s "$above" --argjson h "$above"
if [[ "$RRUN_TEST_MODE" == root ]] && ((has_sys_resource)); then
  in_container probe rlimits
  has_line "RLIMIT_NOFILE=$above:$above"
else
  fails_with "rlimits" probe rlimits
  expect_contains "$err" "CAP_SYS_RESOURCE" "the rlimit error says what is missing"
fi

step "rlimits: an unknown type is an error"
fresh
config_set "$B" '.process.rlimits = [{type: "RLIMIT_BOGUS", soft: 1, hard: 1}]'
fails_with "RLIMIT_BOGUS" probe rlimits

step "noNewPrivileges true and false"
fresh
config_set "$B" '.process.noNewPrivileges = true'
in_container probe nnp
has_line "NoNewPrivs=1"
config_set "$B" '.process.noNewPrivileges = false'
in_container probe nnp
has_line "NoNewPrivs=0"

# CAP_CHOWN = 0, CAP_KILL = 5
step "capabilities: the five sets, uid 0"
fresh
config_set "$B" '.process.capabilities = {
  bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_CHOWN", "CAP_KILL"],
  permitted: ["CAP_CHOWN", "CAP_KILL"], inheritable: ["CAP_KILL"], ambient: ["CAP_KILL"]}'
in_container probe caps
has_line "CapBnd=0000000000000021"
has_line "CapPrm=0000000000000021"
has_line "CapEff=0000000000000021"
has_line "CapInh=0000000000000020"
has_line "CapAmb=0000000000000020"

step "capabilities: no capabilities at all"
fresh
config_set "$B" '.process.capabilities = {bounding: [], effective: [], permitted: [], inheritable: [], ambient: []}'
# without CAP_CHOWN, even container root can't chown
in_container sh -c 'probe caps; touch /tmp/c && chown 1 /tmp/c 2>/dev/null; echo status=$?'
has_line "CapBnd=0000000000000000"
has_line "CapPrm=0000000000000000"
has_line "CapEff=0000000000000000"
has_line "CapInh=0000000000000000"
has_line "CapAmb=0000000000000000"
has_line "status=1"

step "capabilities: none when process.capabilities is absent, in the init and in exec (as runc)"
fresh
config_set "$B" 'del(.process.capabilities)'
no_caps() {
  local set
  for set in CapBnd CapPrm CapEff CapInh CapAmb; do
    expect_eq "$(val $set)" 0000000000000000 "$set $1 without process.capabilities"
  done
}
in_container probe caps
no_caps "of the init"
set_cmd sleep 600
expect_ok rr run -d -b "$B" nocaps </dev/null
expect_ok rr exec nocaps probe caps
no_caps "of an exec"
expect_ok rr delete -f nocaps

if ((MANY_IDS)); then
  step "capabilities: a non-root user keeps exactly the ambient set across exec"
  fresh
  config_set "$B" '.process.user = {uid: 1000, gid: 1000}'
  config_set "$B" '.process.capabilities = {
    bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_CHOWN", "CAP_KILL"],
    permitted: ["CAP_CHOWN", "CAP_KILL"], inheritable: ["CAP_KILL"], ambient: ["CAP_KILL"]}'
  in_container probe ids caps
  has_line "uid=1000"
  has_line "CapBnd=0000000000000021"
  has_line "CapInh=0000000000000020"
  has_line "CapAmb=0000000000000020"
  has_line "CapPrm=0000000000000020"
  has_line "CapEff=0000000000000020"

  step "capabilities: a non-root user without ambient caps has none after exec"
  config_set "$B" '.process.capabilities.ambient = []'
  in_container probe caps
  has_line "CapPrm=0000000000000000"
  has_line "CapEff=0000000000000000"
  has_line "CapBnd=0000000000000021"
fi

step "capabilities: an unknown name only warns (as runc), a malformed one fails"
fresh
config_set "$B" '.process.capabilities.bounding += ["CAP_NO_SUCH_CAP"]'
in_container probe caps
fresh
config_set "$B" '.process.capabilities.bounding += ["chown"]'
fails_with "process.capabilities.bounding" probe caps

step "oomScoreAdj: raising works in both modes"
fresh
config_set "$B" '.process.oomScoreAdj = 500'
in_container probe oom
has_line "oom_score_adj=500"
if [[ "$RRUN_TEST_MODE" == root ]] && ((has_sys_resource)); then
  step "oomScoreAdj: root may lower it"
  config_set "$B" '.process.oomScoreAdj = -500'
  in_container probe oom
  has_line "oom_score_adj=-500"
else
  step "oomScoreAdj: lowering it without CAP_SYS_RESOURCE is an error"
  cur=$(cat /proc/self/oom_score_adj)
  config_set "$B" '.process.oomScoreAdj = $v' --argjson v $((cur - 100 < -1000 ? -1000 : cur - 100))
  fails_with "oomScoreAdj" probe oom
fi
fresh
config_set "$B" '.process.oomScoreAdj = 1001'
fails_with "oomScoreAdj" probe oom

step "personality LINUX32"
fresh
config_set "$B" '.linux.personality = {domain: "LINUX32"}'
in_container sh -c 'probe personality; uname -m'
has_line "personality=0x8"
[[ "$(uname -m)" != x86_64 ]] || has_line "i686"
config_set "$B" '.linux.personality = {domain: "BSD"}'
fails_with "linux.personality" probe personality

step "scheduler: SCHED_BATCH with nice 5"
fresh
config_set "$B" '.process.scheduler = {policy: "SCHED_BATCH", nice: 5}'
in_container probe sched
has_line "policy=SCHED_BATCH"
has_line "nice=5"
config_set "$B" '.process.scheduler = {policy: "SCHED_NOPE"}'
fails_with "process.scheduler" probe sched

step "ioPriority: best effort, level 6"
fresh
config_set "$B" '.process.ioPriority = {class: "IOPRIO_CLASS_BE", priority: 6}'
in_container probe sched
has_line "ioprio_class=IOPRIO_CLASS_BE"
has_line "ioprio_level=6"
config_set "$B" '.process.ioPriority = {class: "IOPRIO_CLASS_BE", priority: 8}'
fails_with "process.ioPriority" probe sched

step "hostname and domainname in a uts namespace"
fresh
config_set "$B" '.hostname = "box" | .domainname = "example.org"'
in_container probe hostname
has_line "hostname=box"
has_line "domainname=example.org"
[[ "$(uname -n)" != box ]] || fail "the host's hostname changed"

# Without a uts namespace: test_caller_ns.sh (in a throw-away uts namespace).

assert_no_leftovers
