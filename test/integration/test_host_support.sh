#!/usr/bin/env bash
# What depends on the host: AppArmor and SELinux labels are an error where
# the host has no such LSM, and rrun started as uid 0 inside a user namespace
# that maps only a few ids (as rootless Podman runs it) is rootless.
source "$(dirname "$0")/lib.sh"

make_bundle "$WORK/b" probe maps ids

step "process.apparmorProfile"
cp "$WORK/b/config.json" "$WORK/config.orig"
config_set "$WORK/b" '.process.apparmorProfile = "rrun-test-profile"'
if [[ -e /sys/kernel/security/apparmor ]]; then
  expect_fail_with "process.apparmorProfile: AppArmor profiles are not supported by rrun yet" -- rr create -b "$WORK/b" aa
else
  expect_fail_with "process.apparmorProfile: AppArmor is not enabled on this host" -- rr create -b "$WORK/b" aa
fi
assert_no_leftovers

step "process.selinuxLabel"
cp "$WORK/config.orig" "$WORK/b/config.json"
config_set "$WORK/b" '.process.selinuxLabel = "system_u:system_r:container_t:s0"'
if [[ -e /sys/fs/selinux/enforce ]]; then
  expect_fail_with "process.selinuxLabel: SELinux labels are not supported by rrun yet" -- rr create -b "$WORK/b" se
else
  expect_fail_with "process.selinuxLabel: SELinux is not enabled on this host" -- rr create -b "$WORK/b" se
fi
assert_no_leftovers

step "uid 0 in a user namespace that maps one id: rootless, and the container runs"
cp "$WORK/config.orig" "$WORK/b/config.json"
if ! unshare --user --map-root-user true 2>/dev/null; then
  skip "unshare --user --map-root-user is not allowed here"
fi
# A root spec (no user namespace in it): rrun must add one itself, as it does rootless.
"$RRUN_BIN" spec -b "$WORK/rootspec" 2>/dev/null || { mkdir -p "$WORK/rootspec" && "$RRUN_BIN" spec -b "$WORK/rootspec"; }
jq '.process.args = ["probe", "maps", "ids"] | .process.terminal = false | del(.linux.namespaces[] | select(.type == "network"))' \
  "$WORK/rootspec/config.json" >"$WORK/b/config.json"
expect_ok unshare --user --map-root-user -- "$RRUN_BIN" --root "$STATE_ROOT" run -b "$WORK/b" inner
expect_contains "$out" "uid_map=0 0 1" "the container's root is the namespace's root"
expect_contains "$out" "uid=0" "the process runs as root in the container"
assert_no_leftovers

step "the same with --rootless=false fails instead of half-working"
run unshare --user --map-root-user -- "$RRUN_BIN" --root "$STATE_ROOT" --rootless=false run -b "$WORK/b" inner2
((rc != 0)) || fail "--rootless=false in a one-id user namespace should fail (it cannot create devices or cgroups)"
assert_no_leftovers
