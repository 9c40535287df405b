#!/usr/bin/env bash
# Hostile input on the JSON and command-line side (issue 15, points 1-5):
# deep nesting, files that never end or block, 200,000 annotations, a
# directory as the program, control bytes and NUL bytes. Each one: one error
# line, exit status 1, fast, nothing left (no state, no lock file, no
# process, no mount).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

b=$WORK/bundle
make_bundle "$b" true
cp "$b/config.json" "$WORK/base.json"
ESC=$'\e'

# with_config JQ_FILTER [JQ_ARGS...]: config.json = base edited by JQ_FILTER.
with_config() {
  local filter=$1
  shift
  jq "$filter" "$@" "$WORK/base.json" >"$b/config.json"
}

# no_raw_control: stderr of the last run holds no control byte (one printable line).
no_raw_control() {
  if LC_ALL=C grep -q '[[:cntrl:]]' "$WORK/.err"; then
    fail "control bytes in stderr: $(od -c "$WORK/.err" | head -5)"
  fi
}

step "a config.json nested 100,000 levels deep in an unknown member: refused at 512 levels"
python3 -c 'import sys; sys.stdout.write(open(sys.argv[1]).read().rstrip()[:-1] + ", \"x-deep\": " + "[" * 100000 + "]" * 100000 + "}")' \
  "$WORK/base.json" >"$b/config.json"
expect_fail_with "config.json: JSON nested deeper than 512 levels" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" create -b "$b" c1
assert_no_leftovers
step "511 levels in an unknown member (512 with the top level) still pass"
python3 -c 'import sys; sys.stdout.write(open(sys.argv[1]).read().rstrip()[:-1] + ", \"x-deep\": " + "[" * 511 + "]" * 511 + "}")' \
  "$WORK/base.json" >"$b/config.json"
expect_ok rr create -b "$b" c1
expect_ok rr delete -f c1
assert_no_leftovers

step "config.json that is /dev/zero, a FIFO, a directory: refused at once"
rm -f "$b/config.json"
ln -s /dev/zero "$b/config.json"
expect_fail_with "config.json\` is a character device, not a regular file" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" create -b "$b" c1
assert_no_leftovers
rm "$b/config.json"
mkfifo "$b/config.json"
expect_fail_with "config.json\` is a FIFO, not a regular file" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" create -b "$b" c1
assert_no_leftovers
rm "$b/config.json"
mkdir "$b/config.json"
expect_fail_with "config.json\` is a directory, not a regular file" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" create -b "$b" c1
assert_no_leftovers
rmdir "$b/config.json"

step "update --resources /dev/zero, a FIFO, a directory, stdin from /dev/zero: refused at once"
mkfifo "$WORK/fifo"
expect_fail_with "update --resources: \`/dev/zero\` is a character device" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" update --resources /dev/zero c1
expect_fail_with "update --resources: \`$WORK/fifo\` is a FIFO" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" update --resources "$WORK/fifo" c1
expect_fail_with "update --resources: \`$WORK\` is a directory" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" update --resources "$WORK" c1
expect_fail_with "\`standard input\` is a character device" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" update --resources - c1 </dev/zero
step "update --resources - from an endless pipe stops at 64 MiB"
run timeout 60 bash -c '"$0" --root "$1" update --resources - c1 < <(yes "{}")' "$RRUN_BIN" "$STATE_ROOT"
expect_eq "$rc" 1 "exit status"
expect_contains "$err" "\`standard input\` is larger than 64 MiB, the limit for this file"
assert_no_leftovers

step "update --resources nested 100,000 levels deep"
python3 -c 'print("{\"unified\": " + "[" * 100000 + "]" * 100000 + "}")' >"$WORK/deep.json"
expect_fail_with "linux.resources: JSON nested deeper than 512 levels" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" update --resources "$WORK/deep.json" c1
assert_no_leftovers

step "200,000 annotations: create and delete in linear time (was 58 s)"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
c["annotations"] = {"org.example.k%d" % i: "v" for i in range(200000)}
json.dump(c, sys.stdout)' "$WORK/base.json" >"$b/config.json"
start=$(date +%s%N)
expect_ok timeout 60 "$RRUN_BIN" --root "$STATE_ROOT" create -b "$b" c1
expect_ok timeout 60 "$RRUN_BIN" --root "$STATE_ROOT" delete -f c1
ms=$((($(date +%s%N) - start) / 1000000))
echo "200,000 annotations: create + delete in $ms ms"
((ms < 10000)) || fail "200,000 annotations took $ms ms (limit 10000)"
assert_no_leftovers

step "a directory as process.args[0]: refused at create, like a missing file"
with_config '.process.args = ["/bin"]'
expect_fail_with "process.args[0] \`/bin\`: Is a directory" -- rr create -b "$b" c1
assert_no_leftovers
with_config '.process.args = ["/no/such/program"]'
expect_fail_with "process.args[0] \`/no/such/program\`: No such file or directory" -- rr create -b "$b" c1
assert_no_leftovers

step "control bytes from the input are escaped in the error line"
with_config '.process.args = ["/no\u001b]0;owned\u0007", "x"]'
expect_fail_with "process.args[0] \`/no\\x1b]0;owned\\x07\`" -- rr create -b "$b" c1
no_raw_control
assert_no_leftovers
with_config '.root.path = "no-root\u001b[2J\nx"'
expect_fail_with "no-root\\x1b[2J\\nx" -- rr create -b "$b" c1
no_raw_control
assert_no_leftovers
for verb in create state delete; do
  if [[ $verb == create ]]; then cmd=(rr create -b "$b"); else cmd=(rr "$verb"); fi
  expect_fail_with "invalid container id \"a\\x1b]0;owned\\x07\"" -- "${cmd[@]}" "a${ESC}]0;owned"$'\a'
  no_raw_control
done
assert_no_leftovers
expect_fail_with "update --resources: open \`$WORK/no\\x1bx\`: No such file or directory" -- rr update --resources "$WORK/no${ESC}x" c1
no_raw_control

step "NUL bytes in process.args, process.env, process.cwd: refused with the path"
cp "$WORK/base.json" "$b/config.json"
with_config '.process.args = ["sh", "-c\u0000rm -rf /"]'
expect_fail_with "config.json: process.args[1]: contains a NUL byte" -- rr create -b "$b" c1
assert_no_leftovers
with_config '.process.env += ["A=\u0000B"]'
expect_fail_with "config.json: process.env[" -- rr create -b "$b" c1
expect_contains "$err" "]: contains a NUL byte"
assert_no_leftovers

step "exec: a directory, --process from a FIFO, /dev/zero, with a NUL byte, too deep"
make_bundle "$WORK/run" sleep 600
rr run -d -b "$WORK/run" r1 </dev/null >/dev/null 2>"$WORK/run.err" || fail "run -d failed: $(cat "$WORK/run.err")"
expect_fail_with "process.args[0] \`/bin\`: Is a directory" -- rr exec r1 /bin
expect_fail_with "--process: \`$WORK/fifo\` is a FIFO, not a regular file" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" exec --process "$WORK/fifo" r1
expect_fail_with "--process: \`/dev/zero\` is a character device" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" exec --process /dev/zero r1
jq '.process | .args = ["sh", "a\u0000b"]' "$WORK/base.json" >"$WORK/process.json"
expect_fail_with "process.args[1]: contains a NUL byte" -- rr exec --process "$WORK/process.json" r1
python3 -c 'print("{\"args\": " + "[" * 100000 + "]" * 100000 + "}")' >"$WORK/process.json"
expect_fail_with "process: JSON nested deeper than 512 levels" -- timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" exec --process "$WORK/process.json" r1
expect_ok rr exec r1 true
expect_ok rr delete -f r1
assert_no_leftovers
echo "PASS"
