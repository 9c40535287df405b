#!/usr/bin/env bash
# Bad config.json and bad IDs given to `create`: one error line naming the
# JSON path and what was expected, exit status 1, nothing left behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

b=$WORK/bundle
make_bundle "$b" true
cp "$b/config.json" "$WORK/base.json"

# bad_config MSG JQ_FILTER: config.json = base edited by JQ_FILTER; create must fail with MSG.
bad_config() {
  local msg=$1 filter=$2
  jq "$filter" "$WORK/base.json" >"$b/config.json"
  expect_fail_with "$msg" -- rr create -b "$b" c1
  assert_no_leftovers
}

step "malformed JSON: the byte offset is named"
printf '{"ociVersion": "1.0.2", "process": {"args": ["sh"' >"$b/config.json"
expect_fail_with "not valid JSON: at byte" -- rr create -b "$b" c1
assert_no_leftovers
printf '{"ociVersion": "1.0.2",, "root": {"path": "rootfs"}}' >"$b/config.json"
expect_fail_with "not valid JSON: at byte 24" -- rr create -b "$b" c1
assert_no_leftovers

step "not an object at the top level"
bad_config "expected a JSON object" '[.]'

step "wrong types"
bad_config "process.args[0]: expected a string, got number" '.process.args = [1, "x"]'
bad_config "process.terminal: expected a boolean, got string" '.process.terminal = "yes"'
bad_config "linux.namespaces: expected an array, got object" '.linux.namespaces = {}'
bad_config "process.user.uid: expected an integer" '.process.user.uid = "0"'
bad_config "mounts[1].options: expected an array" '.mounts[1].options = "ro"'

step "missing required fields"
bad_config "ociVersion: required field missing" 'del(.ociVersion)'
bad_config "process.args: required field missing" 'del(.process.args)'
bad_config "root.path: required field missing" 'del(.root.path)'

step "unsupported major version"
bad_config "ociVersion: unsupported version \"2.0.0\"" '.ociVersion = "2.0.0"'
bad_config "ociVersion: invalid version" '.ociVersion = "one"'

step "non-absolute mount destination"
bad_config "mounts[0].destination: must be an absolute path" '.mounts[0].destination = "proc"'

step "unknown namespace type"
bad_config "unknown namespace type \"foo\"" '.linux.namespaces += [{"type": "foo"}]'

step "non-absolute cwd"
bad_config "process.cwd: must be an absolute path" '.process.cwd = "tmp"'

step "a missing config.json"
rm "$b/config.json"
expect_fail_with "config.json" -- rr create -b "$b" c1
assert_no_leftovers
cp "$WORK/base.json" "$b/config.json"

step "invalid IDs on create"
for id in '../x' 'a/b' '.' '..'; do
  expect_fail_with "container id" -- rr create -b "$b" "$id"
done
[[ ! -e "$WORK/x" ]] || fail "an ID of ../x created $WORK/x"
assert_no_leftovers

step "unknown command and unknown flag"
expect_fail_with "" -- rr frobnicate
expect_fail_with "" -- rr state --no-such-flag c1
assert_no_leftovers
echo "PASS"
