#!/usr/bin/env bash
# No fd of rrun reaches the container (CVE-2024-21626): only stdio, the
# --preserve-fds and LISTEN_FDS fds; the process's cwd is inside the
# container; stdio that is /dev/null (or any host file) keeps its owner and
# mode (issue 3: rrun never chowns host files); stdio that is the caller's
# /dev/null is the container's /dev/null inside (for CRIU, as runc).
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

scratch_bundle
echo three >"$WORK/f3"
echo four >"$WORK/f4"
echo five >"$WORK/f5"

n=0
# fd_numbers: the fd numbers in the probe output ($out), space-separated.
fd_numbers() { grep -E '^[0-9]+=' <<<"$out" | cut -d= -f1 | sort -n | tr '\n' ' ' | sed 's/ $//'; }

step "run: the container has exactly fds 0, 1 and 2"
set_cmd probe fds
n=$((n + 1))
expect_ok rr run -b "$B" "f$n" </dev/null
expect_eq "$(fd_numbers)" "0 1 2" "open fds in the container: $out"
expect_eq "$(grep '^0=' <<<"$out")" "0=/dev/null" "fd 0"
for bad in "$STATE_ROOT" memfd: /proc/ socket: pipe: anon_inode:; do
  expect_not_contains "$out" "$bad" "fds of the container"
done

step "stdio that is the caller's /dev/null becomes the container's own (CRIU can dump it; runc does the same)"
set_cmd probe stdio-mounts
n=$((n + 1))
rr run -b "$B" "f$n" </dev/null >"$WORK/stdio.out" 2>/dev/null || fail "run failed: $(cat "$WORK/stdio.out")"
out=$(cat "$WORK/stdio.out")
expect_eq "$(val mount0)" inside "the mount of stdin (/dev/null) in the container's mount namespace: $out"
expect_eq "$(val mount2)" inside "the mount of stderr (/dev/null) in the container's mount namespace: $out"
expect_eq "$(val mount1)" outside "stdout, a pipe, is left alone: $out"
set_cmd probe fds

step "create + start: the same (the init waited for start with rrun's fds closed)"
rr create -b "$B" c1 </dev/null >"$WORK/c1.out" 2>&1 || fail "create failed: $(cat "$WORK/c1.out")"
expect_ok rr start c1
for ((i = 0; i < 100; i++)); do
  [[ "$(rr state c1 | jq -r .status)" == stopped ]] && break
  sleep 0.05
done
out=$(cat "$WORK/c1.out")
expect_eq "$(fd_numbers)" "0 1 2" "open fds after create + start: $out"
expect_ok rr delete c1

step "--preserve-fds 2: fds 3 and 4 reach the container, 5 does not"
set_cmd sh -c 'probe fds; cat <&3; cat <&4'
n=$((n + 1))
expect_ok rr run --preserve-fds 2 -b "$B" "f$n" </dev/null 3<"$WORK/f3" 4<"$WORK/f4" 5<"$WORK/f5"
expect_eq "$(fd_numbers)" "0 1 2 3 4" "open fds with --preserve-fds 2: $out"
expect_contains "$out" $'three\nfour' "what the container reads from fds 3 and 4"
expect_not_contains "$out" "five" "fd 5 (not preserved)"

step "without --preserve-fds, open fds 3 and 4 of the caller stay out"
set_cmd probe fds
n=$((n + 1))
expect_ok rr run -b "$B" "f$n" </dev/null 3<"$WORK/f3" 4<"$WORK/f4"
expect_eq "$(fd_numbers)" "0 1 2" "open fds without --preserve-fds"

step "LISTEN_FDS=1: fd 3 and LISTEN_FDS=1, LISTEN_PID=1 reach the container"
set_cmd sh -c 'probe fds env; cat <&3'
n=$((n + 1))
expect_ok env LISTEN_FDS=1 LISTEN_PID=$$ "$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" "f$n" </dev/null 3<"$WORK/f3"
expect_eq "$(fd_numbers)" "0 1 2 3" "open fds with LISTEN_FDS=1"
grep -qx "LISTEN_FDS=1" <<<"$out" || fail "LISTEN_FDS=1 not in the container's environment: $out"
grep -qx "LISTEN_PID=1" <<<"$out" || fail "LISTEN_PID=1 not in the container's environment: $out"
expect_contains "$out" "three" "what the container reads from fd 3"

step "LISTEN_FDS=1 and --preserve-fds 1: fds 3 and 4"
set_cmd probe fds
n=$((n + 1))
expect_ok env LISTEN_FDS=1 "$RRUN_BIN" --root "$STATE_ROOT" run --preserve-fds 1 -b "$B" "f$n" \
  </dev/null 3<"$WORK/f3" 4<"$WORK/f4"
expect_eq "$(fd_numbers)" "0 1 2 3 4" "open fds with LISTEN_FDS=1 and --preserve-fds 1"

step "the process's cwd is process.cwd inside the container"
config_set "$B" '.process.cwd = "/tmp"'
set_cmd sh -c 'probe cwd; readlink /proc/self/cwd; readlink /proc/1/cwd'
n=$((n + 1))
expect_ok rr run -b "$B" "f$n" </dev/null
expect_eq "$out" $'cwd=/tmp\n/tmp\n/tmp' "cwd as the container sees it"

step "process.cwd through a leaked fd (/proc/self/fd/N) can't reach a host directory"
for fd in 3 4 5 6 7 8 9; do
  config_set "$B" '.process.cwd = $c' --arg c "/proc/self/fd/$fd"
  set_cmd sh -c 'probe cwd; ls ../../.. 2>&1 | head -3'
  n=$((n + 1))
  run rr run -b "$B" "f$n" </dev/null
  if ((rc == 0)); then
    expect_not_contains "$out" "unreachable" "cwd /proc/self/fd/$fd"
    expect_not_contains "$out" "cwd=?" "cwd /proc/self/fd/$fd"
    expect_not_contains "$out" "$WORK" "cwd /proc/self/fd/$fd"
  else
    [[ "$err" == rrun:* ]] || fail "cwd /proc/self/fd/$fd: unexpected failure: $err"
  fi
done
config_set "$B" '.process.cwd = "/"'

step "stdio from /dev/null keeps its owner and mode"
before=$(stat -c '%U:%G %a' /dev/null)
expect_eq "$before" "root:root 666" "/dev/null before the test"
set_cmd true
n=$((n + 1))
expect_ok rr run -b "$B" "f$n" </dev/null >/dev/null 2>/dev/null
expect_eq "$(stat -c '%U:%G %a' /dev/null)" "$before" "/dev/null after a run as container root"
if ((MANY_IDS)); then
  config_set "$B" '.process.user = {uid: 1000, gid: 1000}'
  set_cmd sh -c 'echo hi >/dev/stdout; ls -l /proc/self/fd/0'
  n=$((n + 1))
  expect_ok rr run -b "$B" "f$n" </dev/null >/dev/null 2>/dev/null
  expect_eq "$(stat -c '%U:%G %a' /dev/null)" "$before" "/dev/null after a run as uid 1000"
  n=$((n + 1))
  expect_ok rr run -d -b "$B" "f$n" </dev/null >/dev/null 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    [[ "$(rr state "f$n" | jq -r .status)" == stopped ]] && break
    sleep 0.05
  done
  expect_ok rr delete "f$n"
  expect_eq "$(stat -c '%U:%G %a' /dev/null)" "$before" "/dev/null after run -d as uid 1000"
  config_set "$B" 'del(.process.user.uid) | .process.user = {uid: 0, gid: 0}'
fi

step "stdio to a host file keeps its owner and mode"
: >"$WORK/stdout.txt"
chmod 640 "$WORK/stdout.txt"
file_before=$(stat -c '%u:%g %a' "$WORK/stdout.txt")
if ((MANY_IDS)); then config_set "$B" '.process.user = {uid: 1000, gid: 1000}'; fi
set_cmd sh -c 'echo written'
n=$((n + 1))
"$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" "f$n" </dev/null >"$WORK/stdout.txt" 2>&1 ||
  fail "run with stdout to a file failed: $(cat "$WORK/stdout.txt")"
expect_eq "$(cat "$WORK/stdout.txt")" "written" "what the container wrote"
expect_eq "$(stat -c '%u:%g %a' "$WORK/stdout.txt")" "$file_before" "owner and mode of the stdout file"

assert_no_leftovers
