#!/usr/bin/env bash
# rrun-test: nosub
# Rootless id mappings: a spec's mappings are checked against the caller's
# subordinate ranges before anything is created. A range outside them is one
# error line that says which ids the caller has, the largest mapping that
# fits them, and a range for root to add that is free in /etc/subuid and
# /etc/subgid (never another user's ids), as `rrun doctor` proposes. Root
# maps any ids: the same config.json runs.
source "$(dirname "$0")/lib.sh"

me=$(id -un)
uid=$(id -u)
gid=$(id -g)
make_bundle "$WORK/b" probe maps

# A config.json made by someone else (`rrun spec --rootless` as that user):
# another user's uid and range from /etc/subuid, or made-up ones.
read -r other other_start other_count < <(awk -F: -v n="$me" -v u="$uid" \
  '$1 != n && $1 != u && NF >= 3 { print $1, $2, $3; exit }' /etc/subuid) || true
if [[ -z "${other:-}" ]]; then other=nobody other_start=3000000 other_count=65536; fi
other_uid=$(id -u "$other" 2>/dev/null || echo 4242)
[[ "$other_uid" != "$uid" ]] || other_uid=$((uid + 1))
foreign='[{containerID: 0, hostID: $o, size: 1}, {containerID: 1, hostID: $s, size: $c}]'
set_foreign() {
  config_set "$WORK/b" ".linux.uidMappings = $foreign | .linux.gidMappings = $foreign" \
    --argjson o "$other_uid" --argjson s "$other_start" --argjson c "${1:-$other_count}"
}

if [[ "$RRUN_TEST_MODE" == root ]]; then
  step "root: another user's range is root's to map"
  # Container root stays host root: the bundle sits under run.sh's 0700 dir.
  other_uid=0
  config_set "$WORK/b" '.linux.namespaces += [{type: "user"}]'
  set_foreign
  expect_ok rr run -b "$WORK/b" foreign
  expect_contains "$out" "uid_map=0 0 1" "the config's own uid_map"
  expect_contains "$out" "uid_map=1 $other_start $other_count" "the config's own range"
  assert_no_leftovers
  echo "ok: $TEST_NAME (root)"
  exit 0
fi

# expect_free_proposal COUNT: the error proposes `me:START:COUNT`, free in
# both files, and says to map onto it.
expect_free_proposal() {
  local want=$1 re="add \`$me:([0-9]+):([0-9]+)\` to /etc/subuid"
  [[ "$err" =~ $re ]] || fail "no range proposed for $me: [$err]"
  local s=${BASH_REMATCH[1]} c=${BASH_REMATCH[2]}
  expect_eq "$c" "$want" "the proposed range's size"
  range_is_free "$s" "$c" /etc/subuid || fail "the proposed $s:$c overlaps a range of /etc/subuid: $(cat /etc/subuid)"
  range_is_free "$s" "$c" /etc/subgid || fail "the proposed $s:$c overlaps a range of /etc/subgid: $(cat /etc/subgid)"
  ((s > other_uid || s + c <= other_uid)) || fail "the proposed $s:$c holds $other's uid $other_uid"
  expect_contains "$err" "and map 0 -> $uid, 1-$c -> $s-$((s + c - 1))" "the mapping onto the proposed range"
  expect_not_contains "$err" "$me:$other_start:" "another user's range proposed"
  expect_not_contains "$err" "$me:$other_uid:" "another user's uid proposed"
}

step "a single mapping of someone else's id (root's, from \`rrun spec\` as root): our ids, whatever they are"
config_set "$WORK/b" '.linux.uidMappings = [{containerID: 0, hostID: 0, size: 1}] | .linux.gidMappings = .linux.uidMappings'
expect_fail_with "0 -> 0 (1 id) maps host" -- rr run -b "$WORK/b" root-map
read -r start count <<<"$(subid_range /etc/subuid)" || true
if [[ -n "${start:-}" ]]; then
  expect_contains "$err" "subordinate $([[ $uid == "$gid" ]] && echo ids || echo uids) $start-$((start + count - 1))" "our range"
else
  expect_contains "$err" "and no subordinate" "no range of ours"
fi
assert_no_leftovers

step "an explicit single mapping of our own ids works"
config_set "$WORK/b" '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}]
  | .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}]' --argjson u "$uid" --argjson g "$gid"
expect_ok rr run -b "$WORK/b" own
expect_contains "$out" "uid_map=0 $uid 1"
assert_no_leftovers

step "another user's config.json: our real ids, what fits, a free range (not $other's)"
set_foreign
kinds="uid"
[[ "$uid" == "$gid" ]] && kinds="uid and gid"
expect_fail_with "linux.uidMappings" -- rr run -b "$WORK/b" foreign
expect_contains "$err" "0 -> $other_uid (1 id) and 1 -> $other_start ($other_count ids) map host" "the mappings named"
expect_contains "$err" "that are not yours: you ($me) have $kinds $uid and " "the caller's own id"
read -r start count <<<"$(subid_range /etc/subuid)" || true
if [[ -n "${start:-}" ]]; then
  expect_contains "$err" "the subordinate $([[ $kinds == uid ]] && echo uids || echo ids) $start-$((start + count - 1)) ($count ids)" "our range"
  expect_contains "$err" "map at most $((count + 1)) ids: 0 -> $uid, 1-$count -> $start-$((start + count - 1))" "what fits"
else
  expect_contains "$err" "and no subordinate" "no range of ours"
  expect_contains "$err" "map only your own" "what fits"
  expect_contains "$err" "(0 -> $uid)" "what fits"
fi
expect_free_proposal 65536
assert_no_leftovers

if [[ -n "${start:-}" ]]; then
  step "more ids than our range holds: the ids there are, and a free range as large as asked"
  config_set "$WORK/b" '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}, {containerID: 1, hostID: $s, size: 70000}]
    | .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}]' \
    --argjson u "$uid" --argjson g "$gid" --argjson s "$start"
  expect_fail_with "linux.uidMappings: 1 -> $start (70000 ids) maps host uids that are not all yours" -- \
    rr run -b "$WORK/b" big
  expect_contains "$err" "map at most $((count + 1)) ids: 0 -> $uid, 1-$count -> $start-$((start + count - 1))" "what fits"
  expect_free_proposal 70000
  assert_no_leftovers
fi

step "without a spec mapping rrun maps our range, or only us"
config_set "$WORK/b" 'del(.linux.uidMappings, .linux.gidMappings)'
expect_ok rr run -b "$WORK/b" auto
expect_contains "$out" "uid_map=0 $uid 1"
if [[ -n "${start:-}" ]]; then
  expect_contains "$out" "1 $start $count" "the subordinate range in uid_map"
else
  expect_not_contains "$out" $'\n1 ' "no second uid_map line without a range"
fi
assert_no_leftovers
echo "ok: $TEST_NAME ($RRUN_TEST_MODE${RRUN_TEST_USER_KIND:+, $RRUN_TEST_USER_KIND})"
