#!/usr/bin/env bash
# Without newuidmap/newgidmap (the "uidmap" package), `rrun doctor` and the
# runs agree: mappings rrun chooses (a YAML sandbox's, a bundle without
# linux.uidMappings) become a single mapping of the caller's id with one
# warning line; a config.json whose own mappings need the helpers fails
# with one line naming newuidmap and the package; so does a sandbox whose
# `user:` needs the subordinate range. run.sh's "nohelpers" run hides the
# helpers in a private mount namespace; root needs no helpers (it writes
# any map), checked with them hidden the same way.
# rrun-test: nohelpers
source "$(dirname "$0")/lib.sh"

uid=$(id -u)
gid=$(id -g)
make_bundle "$WORK/b" probe maps
S=$WORK/sb
mkdir -p "$S"
cp -a "$WORK/b/rootfs" "$S/rootfs"
sandbox() { printf 'rootfs: rootfs\nnetwork: host\n%s\ncommand: [/bin/probe, maps]\n' "${1:-}" >"$S/s.yaml"; }
# line NAME: doctor's text line of check NAME in $out.
line() { grep -E "^(ok|warn|fail) +$1: " <<<"$out" || true; }

if [[ "$RRUN_TEST_MODE" == root ]]; then
  step "root: doctor needs no newuidmap, and neither do maps of many ids"
  expect_ok rr doctor
  expect_contains "$(line newuidmap)" "ok    newuidmap: "
  config_set "$WORK/b" '.linux.namespaces += [{type: "user"}] |
    .linux.uidMappings = [{containerID: 0, hostID: 0, size: 1}, {containerID: 1, hostID: 100000, size: 65536}] |
    .linux.gidMappings = .linux.uidMappings'
  install -m 644 /dev/null "$WORK/no-helper"
  # shellcheck source=users.sh
  source "$(dirname "$0")/users.sh"
  hidden=(without_idmap_helpers "$WORK/no-helper")
  expect_ok "${hidden[@]}" "$RRUN_BIN" --root "$STATE_ROOT" run -b "$WORK/b" many
  expect_contains "$out" "uid_map=1 100000 65536" "root's map of a range"
  expect_not_contains "$err" "newuidmap" "stderr"
  sandbox
  expect_ok "${hidden[@]}" "$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/s.yaml" sb
  expect_not_contains "$err" "newuidmap" "stderr of a sandbox"
  assert_no_leftovers
  echo "ok: $TEST_NAME (root)"
  exit 0
fi

[[ -n "$(subid_range /etc/subuid)" && -n "$(subid_range /etc/subgid)" ]] ||
  skip "$(id -un) has no subordinate range: the helpers are never needed"
read -r start count <<<"$(subid_range /etc/subuid)"
many='[{containerID: 0, hostID: $u, size: 1}, {containerID: 1, hostID: $s, size: $c}]'
config_set "$WORK/b" ".linux.uidMappings = $many | .linux.gidMappings = $many" \
  --argjson u "$uid" --argjson s "$start" --argjson c "$count"
cp "$WORK/b/config.json" "$WORK/config.many"

if [[ "$RRUN_TEST_USER_KIND" != nohelpers ]]; then
  step "with the helpers: doctor is content, every map gets the range"
  expect_ok rr doctor
  expect_contains "$(line newuidmap)" "ok    newuidmap: "
  sandbox
  expect_ok rr run -f "$S/s.yaml" sb
  expect_contains "$out" "uid_map=1 $start $count" "the sandbox's range"
  expect_ok rr run -b "$WORK/b" many
  expect_contains "$out" "uid_map=1 $start $count" "the config.json's range"
  assert_no_leftovers
  echo "ok: $TEST_NAME (rootless, $RRUN_TEST_USER_KIND)"
  exit 0
fi

step "without the helpers, doctor says what the runs do"
[[ ! -x "$(command -v newuidmap)" ]] || fail "newuidmap is still there: run.sh did not hide it"
expect_ok rr doctor
expect_contains "$(line newuidmap)" "warn  newuidmap: not installed: containers whose mappings rrun chooses (YAML sandboxes, bundles without linux.uidMappings) get a single mapping (your own id as root), and a config.json that maps more than your own id fails; remedy: install it: \`apt-get install uidmap\`"
expect_contains "$(line newgidmap)" "warn  newgidmap: not installed: "

step "a YAML sandbox: a single mapping, one warning line"
sandbox
expect_ok rr run -f "$S/s.yaml" sb
expect_contains "$out" "uid_map=0 $uid 1" "the single uid mapping"
expect_not_contains "$out" "uid_map=1 " "no second uid_map line"
expect_contains "$out" "gid_map=0 $gid 1" "the single gid mapping"
expect_eq "$(wc -l <<<"$err")" 1 "lines on stderr"
expect_contains "$err" "rrun: warning: newuidmap not found: install the \"uidmap\" package" "the warning"
expect_contains "$err" "the container gets a single mapping of your own id" "the warning"
assert_no_leftovers

step "user: keep: the single mapping keeps the caller's id"
sandbox "user: keep"
expect_ok rr run -f "$S/s.yaml" sb
expect_contains "$out" "uid_map=$uid $uid 1" "keep's single mapping"
assert_no_leftovers

step "user: keep with an overlay: the single mapping keeps the caller's id"
sandbox $'user: keep\noverlay: ephemeral'
expect_ok rr run -f "$S/s.yaml" sb
expect_contains "$out" "uid_map=$uid $uid 1" "keep's single mapping"
assert_no_leftovers

step "user: ID that needs the range: one error line naming newuidmap"
sandbox 'user: "1000:1000"'
expect_fail_with "newuidmap not found: process.user needs more than a single mapping of your own id (uid 0 -> $uid, gid 0 -> $gid), which only newuidmap and newgidmap can give; install the \"uidmap\" package" -- \
  rr run -f "$S/s.yaml" sb
assert_no_leftovers

step "a config.json without mappings: rrun's choice, a single mapping"
config_set "$WORK/b" 'del(.linux.uidMappings, .linux.gidMappings)'
expect_ok rr run -b "$WORK/b" auto
expect_contains "$out" "uid_map=0 $uid 1" "the single uid mapping"
expect_contains "$err" "newuidmap not found" "the warning"
assert_no_leftovers

step "a config.json with its own mappings of many ids: one error line naming newuidmap and the package"
cp "$WORK/config.many" "$WORK/b/config.json"
expect_fail_with "newuidmap not found: linux.uidMappings and linux.gidMappings map more than your own id, which only newuidmap and newgidmap can do; install the \"uidmap\" package (\`apt-get install uidmap\`; \`dnf install shadow-utils\` on Fedora), or map only your own ids (uid 0 -> $uid, gid 0 -> $gid)" -- \
  rr run -b "$WORK/b" many
assert_no_leftovers
echo "ok: $TEST_NAME (rootless, nohelpers)"
