#!/usr/bin/env bash
# YAML sandboxes (README "YAML sandboxes"): the examples/sandboxes files run
# with `run -f`, next to a busybox rootfs. `user: keep` shows the caller's
# ids inside; `network: none` has only lo, up; the generated bundle lives in
# the state directory and goes with the container; a bad file is one error
# line naming FILE:LINE:COLUMN and the key, and creates nothing; `overlay:
# ephemeral` leaves the rootfs as it was, `persistent:DIR` keeps changes
# across runs (in DIR, not in the rootfs).
# rrun-test: nosub
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

EXAMPLES=""
for d in "$here/../../examples/sandboxes" "$here/../examples/sandboxes"; do
  if [[ -d "$d" ]]; then
    EXAMPLES=$(cd "$d" && pwd)
    break
  fi
done
[[ -n "$EXAMPLES" ]] || fail "examples/sandboxes not found next to the tests"

# The sandboxes' directory: a busybox rootfs and a copy of every example.
S=$WORK/sb
sandbox_dir "$S"
mkdir "$S/rootfs/work" "$S/rootfs/small" # mount targets are made in the rootfs when missing
# As a distribution's rootfs has them: the generated /etc files are bound on them.
touch "$S/rootfs/etc/hosts" "$S/rootfs/etc/hostname" "$S/rootfs/etc/resolv.conf"
cp "$EXAMPLES"/*.yaml "$S/"
snapshot() { (cd "$S/rootfs" && find . -printf '%p %s %m\n' | sort); }
before=$(snapshot)

step "every example translates (spec --from)"
for y in "$S"/*.yaml; do
  name=$(basename "$y" .yaml)
  mkdir -p "$WORK/spec-$name"
  expect_ok "$RRUN_BIN" spec --from "$y" -b "$WORK/spec-$name"
  expect_eq "$(jq -r .root.path "$WORK/spec-$name/config.json")" "$S/rootfs" "$name: root.path"
done
expect_eq "$(jq -r '.mounts[] | select(.destination == "/work") | .source' "$WORK/spec-dev/config.json")" "$S" \
  "dev: the bind of . is the file's directory"
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  expect_eq "$(jq -r '[.linux.namespaces[].type] | index("user") != null' "$WORK/spec-dev/config.json")" true \
    "rootless: a user namespace"
fi
step "spec --from never overwrites a config.json"
expect_fail_with "config.json already exists" -- "$RRUN_BIN" spec --from "$S/offline.yaml" -b "$WORK/spec-offline"

step "user: keep shows the caller's uid and gid inside"
expect_ok rr run -f "$S/keep-id.yaml"
expect_eq "$out" "$(id -u)"$'\n'"$(id -g)" "id -u; id -g in the keep-id sandbox"
expect_eq "$(state_ids)" "" "run -f removed the container"
# The file it writes in the bound directory is the caller's on the host.
sed -e "s|command: .*|command: [/bin/sh, -c, 'touch /work/made-inside']|" "$S/keep-id.yaml" >"$S/keep-touch.yaml"
expect_ok rr run -f "$S/keep-touch.yaml"
expect_eq "$(stat -c %u:%g "$S/made-inside")" "$(id -u):$(id -g)" "owner of a file made inside"

step "network: none has lo, up, and nothing else"
expect_ok rr run -f "$S/offline.yaml"
ifaces=$(sed -n '3,$p' <<<"$out" | grep ':' | grep -v 'link/' | awk -F: '{ gsub(/ /, "", $1); print $1 }' | grep -v '^[0-9]' || true)
expect_eq "$ifaces" "lo" "interfaces in /proc/net/dev"
expect_contains "$(grep 'link/loopback' <<<"$out")" ",UP" "lo flags"

step "mounts, devices, capabilities, seccomp, env, hostname, workdir"
cat >"$S/knobs.yaml" <<'EOF'
rootfs: rootfs
hostname: knobs-host
workdir: /work
env: {GREETING: hello world}
mounts:
  - {source: ., target: /work, readonly: true}
  - {type: tmpfs, target: /small, size: 1M}
capabilities: {drop: [ALL], add: [kill]}
command:
  - /bin/sh
  - -c
  - |
    hostname; pwd; echo "$GREETING"; touch /work/x 2>/dev/null || echo read-only
    busybox df -k /small | tail -1 | while read -r _ size _; do echo "$size"; done
    grep -E '^(CapEff|Seccomp):' /proc/self/status
    if test -c /dev/fuse; then echo fuse; fi
EOF
want=$'knobs-host\n/work\nhello world\nread-only\n1024\nCapEff:\t0000000000000020\nSeccomp:\t2'
if [[ -c /dev/fuse ]]; then
  echo "devices: [/dev/fuse]" >>"$S/knobs.yaml"
  want+=$'\nfuse'
fi
expect_ok rr run -f "$S/knobs.yaml"
expect_eq "$out" "$want" "the knobs sandbox"
[[ ! -e "$S/x" ]] || fail "a read-only bind was written"

step "seccomp: a profile file, relative to the sandbox file"
cat >"$S/no-mkdir.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
EOF
printf '%s\n' "rootfs: rootfs" "seccomp: no-mkdir.json" \
  "command: [/bin/sh, -c, 'mkdir /tmp/d 2>&1 || echo refused']" >"$S/seccomp-file.yaml"
expect_ok rr run -f "$S/seccomp-file.yaml"
expect_contains "$out" "Permission denied" "mkdir under the profile"
expect_contains "$out" "refused" "mkdir under the profile"

step "a uid the user namespace can't map is an error naming the fix"
printf 'rootfs: rootfs\nuser: "1000:1000"\ncommand: [/bin/sh, -c, "id -u"]\n' >"$S/uid.yaml"
if [[ "$RRUN_TEST_MODE" == rootless && "$MANY_IDS" == 0 ]]; then
  expect_fail_with "$S/uid.yaml:2:7: user: uid 1000 is not mapped in the sandbox's user namespace, which maps only 0 (you): you ($(id -un)) have uid $(id -u) and no subordinate uids in /etc/subuid; use \`user: root\`" -- \
    rr run -f "$S/uid.yaml"
  # The range to add is free in /etc/subuid: nobody else's.
  re="add \`$(id -un):([0-9]+):([0-9]+)\` to /etc/subuid \(\`usermod --add-subuids [0-9]+-[0-9]+ $(id -un)\`\)"
  [[ "$err" =~ $re ]] || fail "no range proposed: [$err]"
  range_is_free "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" /etc/subuid ||
    fail "the proposed range ${BASH_REMATCH[1]}:${BASH_REMATCH[2]} is taken in /etc/subuid: $(cat /etc/subuid)"
  assert_no_leftovers
else
  expect_ok rr run -f "$S/uid.yaml"
  expect_eq "$out" "1000" "id -u with user: 1000:1000"
fi
if [[ "$RRUN_TEST_MODE" == rootless && "$MANY_IDS" == 1 ]]; then
  # Past the range: the ids the sandbox has, and the largest uid that fits.
  read -r _ count <<<"$(subid_range /etc/subuid)"
  printf 'rootfs: rootfs\nuser: "%s:0"\ncommand: [id]\n' $((count + 1)) >"$S/uid.yaml"
  expect_fail_with "user: uid $((count + 1)) is not mapped in the sandbox's user namespace, which maps 0 (you) and 1-$count: you ($(id -un)) have uid $(id -u) and the subordinate uids" -- \
    rr run -f "$S/uid.yaml"
  expect_contains "$err" "use a uid up to $count, \`user: root\`" "the largest uid that fits"
  assert_no_leftovers
fi

step "an ID argument overrides the name; create -f keeps the bundle in the state dir until delete"
expect_ok rr create -f "$S/keep-id.yaml" kept
expect_ok rr state kept
bundle=$(jq -r .bundle <<<"$out")
expect_eq "$bundle" "$(cd "$STATE_ROOT" && pwd)/kept/bundle" "bundle of a sandbox"
[[ -f "$bundle/config.json" ]] || fail "no generated config.json in $bundle"
expect_eq "$(ls "$bundle" | grep -v '^etc-')" "config.json" "the generated bundle holds config.json and /etc files"
expect_ok rr start kept
wait_until 10 bash -c "[[ \$('$RRUN_BIN' --root '$STATE_ROOT' state kept | jq -r .status) == stopped ]]" ||
  fail "the kept sandbox did not stop"
expect_ok rr delete kept
[[ ! -e "$bundle" ]] || fail "delete left the generated bundle $bundle"
expect_eq "$(state_ids)" "" "state after delete"

step "bad files: one line with FILE:LINE:COLUMN and the key; nothing created"
printf 'rootfs: rootfs\nmounts:\n  - {type: tmpfs, target: /tmp, size: 12Q}\n' >"$S/bad-size.yaml"
expect_fail_with "$S/bad-size.yaml:3:39: mounts[0].size: invalid size \"12Q\"" -- rr run -f "$S/bad-size.yaml"
printf 'rootfs: rootfs\nmounts:\n  - {source: ., target: work}\n' >"$S/bad-target.yaml"
expect_fail_with "$S/bad-target.yaml:3:25: mounts[0].target: \"work\" must be an absolute path" -- \
  rr create -f "$S/bad-target.yaml"
printf 'rootfs: nothere\n' >"$S/bad-rootfs.yaml"
expect_fail_with "$S/bad-rootfs.yaml:1:9: rootfs: \`$S/nothere\` does not exist" -- rr run -f "$S/bad-rootfs.yaml"
printf 'rootfs: rootfs\nnetwrok: none\n' >"$S/bad-key.yaml"
expect_fail_with "$S/bad-key.yaml:2:1: netwrok: unknown key" -- rr run -f "$S/bad-key.yaml"
printf 'rootfs: rootfs\ntty: maybe\n' >"$S/bad-type.yaml"
expect_fail_with "$S/bad-type.yaml:2:6: tty: expected true or false" -- rr run -f "$S/bad-type.yaml"
expect_fail_with "cannot read the sandbox file" -- rr run -f "$S/none.yaml"
expect_fail_with "--file and --bundle can't be used together" -- rr run -f "$S/offline.yaml" -b "$S"
mkdir -p "$WORK/spec-bad"
expect_fail_with "mounts[0].size" -- "$RRUN_BIN" spec --from "$S/bad-size.yaml" -b "$WORK/spec-bad"
[[ ! -e "$WORK/spec-bad/config.json" ]] || fail "spec --from wrote a config.json for a bad file"
assert_no_leftovers
expect_eq "$(snapshot)" "$before" "the rootfs after the non-overlay sandboxes"

step "overlay: ephemeral leaves the rootfs unchanged"
expect_ok rr run -f "$S/ephemeral.yaml"
expect_eq "$out" $'scratch\nremoved' "output of the ephemeral sandbox"
[[ ! -e "$S/rootfs/scratch" ]] || fail "the ephemeral sandbox wrote into the rootfs"
[[ -e "$S/rootfs/bin/true" ]] || fail "the ephemeral sandbox removed a file of the rootfs"
expect_eq "$(snapshot)" "$before" "the rootfs after the ephemeral sandbox"

step "overlay: persistent:DIR keeps changes across runs, outside the rootfs"
expect_ok rr run -f "$S/persistent.yaml"
expect_eq "$out" "1" "first run"
expect_ok rr run -f "$S/persistent.yaml"
expect_eq "$out" "2" "second run"
[[ ! -e "$S/rootfs/runs.log" ]] || fail "the persistent sandbox wrote into the rootfs"
[[ -d "$S/changes" ]] || fail "no $S/changes directory"
expect_eq "$(snapshot)" "$before" "the rootfs after the persistent sandbox"
assert_no_leftovers

step "overlay: persistent:DIR is one sandbox's at a time; its owner can remove it after"
printf 'rootfs: rootfs\noverlay: persistent:changes\ncommand: [sleep, "600"]\n' >"$S/persistent-long.yaml"
expect_ok rr run -d -f "$S/persistent-long.yaml" long </dev/null
expect_fail_with "overlay persistent:$S/changes: \`$S/changes\` is in use by container \`long\`" -- \
  rr run -f "$S/persistent.yaml"
expect_ok rr delete -f long
expect_ok rr run -f "$S/persistent.yaml"
expect_eq "$out" "3" "the run after the other sandbox"
assert_no_leftovers
# No chmod, no unshare: the kernel's mode-000 work/work is gone.
[[ ! -e "$S/changes/work/work" ]] || fail "the kernel's work/work left in $S/changes"
rm -rf "$S/changes" || fail "rm -rf of the persistent directory by its owner: $(find "$S/changes" -printf '%p %m %u\n')"
