#!/usr/bin/env bash
# What issue 15 found clean and keeps so (its "Clean, and to stay clean"):
# - a sandbox's default seccomp profile refuses keyctl, add_key, request_key,
#   unshare, mount, umount2, bpf, io_uring_setup, userfaultfd,
#   perf_event_open, kexec_load and open_by_handle_at (the probe's `syscalls`
#   makes each call with arguments the kernel rejects otherwise, so EPERM
#   comes from the filter: the same calls without a filter show no EPERM);
# - runs racing a swap of a mount destination's parent between a directory
#   and symbolic links out of the rootfs (absolute and ../..) never create
#   or mount anything outside the rootfs. RRUN_TEST_RACE_RUNS sets the number
#   of runs (40 by default; the issue's long variant: 300).
# Other users' containers, /tmp/rrun-UID planted or a symlink, cwd through
# /proc/self/fd/N and the limits are in test_state_trust.sh,
# test_state_list.sh, test_fds.sh and test_cgroups.sh.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

[[ "$(uname -m)" == x86_64 ]] || skip "the probe's system calls are x86_64's"

CALLS=(keyctl add_key request_key unshare mount umount2 bpf io_uring_setup userfaultfd perf_event_open
  kexec_load open_by_handle_at)

step "the default sandbox profile refuses ${CALLS[*]}"
make_bundle "$WORK/plain" probe syscalls
expect_ok rr run -b "$WORK/plain" unfiltered </dev/null
for c in "${CALLS[@]}"; do
  v=$(val "$c")
  [[ -n "$v" && "$v" != EPERM ]] || fail "$c without a filter: expected a result other than EPERM, got [$v]"
done
S=$WORK/sb
mkdir -p "$S"
cp -a "$WORK/plain/rootfs" "$S/rootfs"
printf '%s\n' "rootfs: rootfs" "command: [probe, syscalls, seccomp]" >"$S/default.yaml"
expect_ok rr run -f "$S/default.yaml" </dev/null
expect_eq "$(val Seccomp)" 2 "a filter in the sandbox"
for c in "${CALLS[@]}"; do
  expect_eq "$(val "$c")" EPERM "$c in a sandbox with the default profile"
done

runs=${RRUN_TEST_RACE_RUNS:-40}
step "$runs runs racing a directory/symlink swap on a mount destination: nothing outside the rootfs"
B=$WORK/race
make_bundle "$B" true
HOST=$WORK/host-dir
mkdir -p "$HOST" "$B/rootfs/mnt/d"
config_set "$B" '.mounts += [{destination: "/mnt/d/new/x", type: "tmpfs", source: "tmpfs", options: ["size=64k"]}]'
rel=$(realpath --relative-to="$B/rootfs/mnt" "$HOST")
# The swapper: d is a directory, a symlink to the host dir, a relative one
# climbing out, in turn, as fast as the shell goes. A directory rrun made at
# d meanwhile is moved aside too; no step may put anything in the host dir.
(
  cd "$B/rootfs/mnt" || exit 1
  n=0
  while [[ ! -e "$WORK/race.stop" ]]; do
    n=$((n + 1))
    rm -rf --one-file-system aside
    if [[ -d d && ! -L d ]]; then mv -T d aside; fi
    ln -s "$HOST" l1 && { mv -T l1 d || rm -f l1; }
    ln -s "../../../../../../../../../../$rel" l2 && { mv -T l2 d || rm -f l2; }
    if [[ -L d ]]; then rm -f d; fi
    mkdir d 2>/dev/null || true
  done 2>/dev/null
  echo "swaps: $n"
) &
swapper=$!
ok=0 refused=0
for ((i = 0; i < runs; i++)); do
  run rr run -b "$B" "race$i" </dev/null
  if ((rc == 0)); then
    ok=$((ok + 1))
  elif [[ "$err" == rrun:* ]]; then
    refused=$((refused + 1))
    sed "s/race$i/raceN/g" <<<"$err" >>"$WORK/race.errors"
  else
    touch "$WORK/race.stop"
    wait "$swapper"
    show_run
    fail "run $i: neither done nor an rrun error"
  fi
  [[ -z "$(ls -A "$HOST")" ]] || {
    touch "$WORK/race.stop"
    wait "$swapper"
    fail "run $i made $(ls -A "$HOST") in the host directory"
  }
done
touch "$WORK/race.stop"
wait "$swapper" || true
echo "runs: $ok done, $refused refused:"
[[ ! -e "$WORK/race.errors" ]] || sort "$WORK/race.errors" | uniq -c
expect_eq "$(ls -A "$HOST")" "" "the host directory after $runs runs"
grep -F "$HOST" /proc/self/mountinfo && fail "a mount on the host directory"
expect_eq "$(state_ids)" "" "no container left"
