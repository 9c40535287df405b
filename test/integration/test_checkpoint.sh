#!/usr/bin/env bash
# `checkpoint` and `restore` where CRIU cannot run (these hosts: no criu, or
# a kernel CRIU 3.17 cannot start on): the error paths, each one line that
# names what is missing, exit 1, and nothing left behind; the container a
# failed checkpoint was asked for runs on; a checkpoint with a terminal
# restored without a console socket to hand it to. Rootless: one error
# naming what CRIU lacks. The working paths run in the VM (test/vm/criu-suite.sh).
source "$(dirname "$0")/lib.sh"

B=$WORK/b
make_bundle "$B" sleep 1000
mkdir -p "$WORK/img"
: >"$WORK/img/inventory.img"  # looks like a checkpoint to restore's first check

step "unknown ID"
expect_fail_with 'container `nope` does not exist' -- rr checkpoint --image-path "$WORK/img" nope

step "flags rrun cannot honour"
expect_fail_with '--lazy-pages is not supported by rrun' -- rr checkpoint --lazy-pages c1
expect_fail_with '--lazy-pages is not supported by rrun' -- rr restore --lazy-pages -b "$B" c1
expect_fail_with '--manage-cgroups-mode `bogus`: expected soft, full, strict or ignore' -- \
  rr checkpoint --manage-cgroups-mode bogus c1

expect_ok rr run -d c1 -b "$B"
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  step "rootless: one error naming what CRIU lacks"
  expect_fail_with 'checkpoint: not supported rootless: CRIU can dump and restore a container'"'"'s user namespace only as root' -- \
    rr checkpoint --image-path "$WORK/img" c1
  expect_contains "$err" "CAP_CHECKPOINT_RESTORE"
  expect_fail_with 'restore: not supported rootless' -- rr restore -d --image-path "$WORK/img" -b "$B" c2
else
  step "no criu: the message names it and how to install it"
  expect_fail_with 'checkpoint: criu not found at `/nonexistent` (--criu): rrun checkpoint needs CRIU: install it with `apt-get install criu`' -- \
    "$RRUN_BIN" --root "$STATE_ROOT" --criu /nonexistent checkpoint --image-path "$WORK/img" c1
  expect_fail_with '`criu` is not installed (not found in $PATH)' -- \
    env PATH=/nonexistent "$RRUN_BIN" --root "$STATE_ROOT" checkpoint --image-path "$WORK/img" c1
  expect_contains "$err" 'apt-get install criu'
  expect_fail_with 'restore: criu not found at `/nonexistent`' -- \
    "$RRUN_BIN" --root "$STATE_ROOT" --criu /nonexistent restore -d --image-path "$WORK/img" -b "$B" c2
  step "no checkpoint in the image path"
  mkdir -p "$WORK/empty"
  expect_fail_with 'restore: no checkpoint in' -- \
    "$RRUN_BIN" --root "$STATE_ROOT" --criu /bin/true restore -d --image-path "$WORK/empty" -b "$B" c2
  step "a checkpoint with a terminal: restore needs --console-socket, and one that nobody listens on fails"
  # What checkpoint records for an init whose stdio is its pty (the key is
  # CRIU's tty[RDEV:DEV]); criu (/bin/true) is never reached.
  mkdir -p "$WORK/imgt"
  : >"$WORK/imgt/inventory.img"
  jq -n '{id: "c2", descriptors: ["/dev/pts/0", "/dev/pts/0", "/dev/pts/0"], terminal: "tty[8800:1b]"}' \
    >"$WORK/imgt/rrun-checkpoint.json"
  BT=$WORK/bt
  make_bundle "$BT" sleep 1000
  config_set "$BT" '.process.terminal = true'
  expect_fail_with 'restore: the checkpoint in `'"$WORK"'/imgt` has a terminal (process.terminal): give --console-socket SOCKET to receive its new pty master' -- \
    "$RRUN_BIN" --root "$STATE_ROOT" --criu /bin/true restore -d --image-path "$WORK/imgt" -b "$BT" c2
  expect_fail_with 'connect to --console-socket `'"$WORK"'/nobody.sock`' -- \
    "$RRUN_BIN" --root "$STATE_ROOT" --criu /bin/true restore -d --image-path "$WORK/imgt" -b "$BT" \
    --console-socket "$WORK/nobody.sock" c2
  step "criu fails: its reason and where its log is"
  # A stand-in for a criu that fails the way 3.17 does on these kernels.
  printf '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --work-dir ] && w=$2; shift; done\n%s\n%s\nexit 1\n' \
    'echo "(00.004) Error (criu/vdso.c:627): vdso: Unexpected rt vDSO area bounds" >"$w/dump.log"' \
    'echo "(00.005) Error (criu/cr-dump.c:2098): Dumping FAILED." >>"$w/dump.log"' >"$WORK/fake-criu"
  chmod 755 "$WORK/fake-criu"
  expect_fail_with 'checkpoint: criu dump failed: Error (criu/vdso.c:627): vdso: Unexpected rt vDSO area bounds (log: `'"$WORK"'/img/dump.log`)' -- \
    "$RRUN_BIN" --root "$STATE_ROOT" --criu "$WORK/fake-criu" checkpoint --image-path "$WORK/img" c1
fi
run rr state c1
expect_contains "$out" '"status": "running"' "c1 after the failed checkpoints"
run rr state c2
((rc != 0)) || fail "restore left a container c2: $out"
[[ -z "$(cgroup_dirs c2)" ]] || fail "restore left a cgroup: $(cgroup_dirs c2)"
expect_ok rr delete -f c1
assert_no_leftovers
