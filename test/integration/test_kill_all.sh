#!/usr/bin/env bash
# rrun-test: nosub
# kill --all signals every process of the container's pid namespace, plain
# kill only its init; --no-new-keyring keeps the caller's session keyring.
source "$(dirname "$0")/lib.sh"

make_bundle "$WORK/b" true
mkdir -p "$WORK/out"
chmod 777 "$WORK/out"
config_set "$WORK/b" '.mounts += [{destination: "/out", type: "bind", source: $o, options: ["rbind", "rw"]}]' \
  --arg o "$WORK/out"

# Waits (bounded) until FILE contains TEXT.
wait_for() {
  local file=$1 text=$2 i
  for ((i = 0; i < 200; i++)); do
    grep -qs -- "$text" "$file" && return 0
    sleep 0.05
  done
  fail "timed out waiting for [$text] in $file: $(cat "$file" 2>/dev/null)"
}

step "kill without --all reaches only the init; --all reaches every process"
set_args "$WORK/b" sh -c 'probe wait-signal >/out/a & probe wait-signal >/out/b & wait; wait; echo done >/out/init'
expect_ok rr run -d -b "$WORK/b" k1
wait_for "$WORK/out/a" ready
wait_for "$WORK/out/b" ready
# The init (sh, pid 1, no handler) ignores USR2; its children are not reached.
expect_ok rr kill k1 USR2
expect_not_contains "$(cat "$WORK/out/a")" "signal=" "child a after kill without --all"
expect_eq "$(rr state k1 | jq -r .status)" running
expect_ok rr kill --all k1 USR1
wait_for "$WORK/out/a" "signal=SIGUSR1"
wait_for "$WORK/out/b" "signal=SIGUSR1"
wait_for "$WORK/out/init" done
expect_ok rr delete k1
assert_no_leftovers

step "kill --all of a stopped container fails"
set_args "$WORK/b" true
expect_ok rr run -d -b "$WORK/b" k2
for ((i = 0; i < 200; i++)); do
  [[ "$(rr state k2 | jq -r .status)" == stopped ]] && break
  sleep 0.05
done
expect_fail_with "stopped" -- rr kill --all k2 KILL
expect_ok rr delete k2
assert_no_leftovers

step "a session keyring of its own, unless --no-new-keyring"
if [[ ! -r /proc/keys ]]; then
  echo "no /proc/keys on this kernel: keyring part not checked"
else
  set_args "$WORK/b" sh -c 'cat /proc/keys'
  config_set "$WORK/b" '.linux.maskedPaths -= ["/proc/keys"]'  # masked by the default spec
  expect_ok rr run -b "$WORK/b" keyring-a
  if [[ "$out" == *"_ses.keyring-a"* ]]; then
    expect_ok rr run --no-new-keyring -b "$WORK/b" keyring-b
    expect_not_contains "$out" "_ses.keyring-b" "keys with --no-new-keyring"
  else
    # keyctl refused (quota or policy): best effort, as runc.
    echo "the kernel did not give the container a session keyring here: --no-new-keyring not compared"
  fi
  assert_no_leftovers
fi
