#!/usr/bin/env bash
# rrun-test: nosub
# Rootless id mappings: a spec's mappings are checked against the caller's
# subordinate ranges before anything is created; a range outside them is one
# error line naming the file and the line to add.
source "$(dirname "$0")/lib.sh"

[[ "$RRUN_TEST_MODE" == rootless ]] || skip "rootless-only checks (root may map any ids)"

me=$(id -un)
uid=$(id -u)
gid=$(id -g)
make_bundle "$WORK/b" probe maps

step "an explicit single mapping of our own ids works"
config_set "$WORK/b" '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}]
  | .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}]' --argjson u "$uid" --argjson g "$gid"
expect_ok rr run -b "$WORK/b" own
expect_contains "$out" "uid_map=0 $uid 1"
assert_no_leftovers

step "a mapping outside our subordinate ranges names the line to add"
config_set "$WORK/b" '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}, {containerID: 1, hostID: 3000000, size: 1000}]
  | .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}, {containerID: 1, hostID: 3000000, size: 1000}]' \
  --argjson u "$uid" --argjson g "$gid"
if [[ -n "$(subid_range /etc/subuid)" ]]; then
  expect_fail_with "outside the subordinate ids of \"$me\": add \"$me:3000000:1000\" to /etc/subuid" -- \
    rr run -b "$WORK/b" outside
else
  expect_fail_with "user \"$me\" has no subordinate uids in /etc/subuid: add \"$me:3000000:1000\" to /etc/subuid" -- \
    rr run -b "$WORK/b" outside
fi
assert_no_leftovers

step "without a spec mapping rrun maps our range, or only us"
config_set "$WORK/b" 'del(.linux.uidMappings, .linux.gidMappings)'
expect_ok rr run -b "$WORK/b" auto
expect_contains "$out" "uid_map=0 $uid 1"
read -r start count <<<"$(subid_range /etc/subuid)" || true
if [[ -n "${start:-}" ]]; then
  expect_contains "$out" "1 $start $count" "the subordinate range in uid_map"
else
  expect_not_contains "$out" $'\n1 ' "no second uid_map line without a range"
fi
assert_no_leftovers
