#!/usr/bin/env bash
# linux.seccomp (issue 3): SCMP_ACT_ERRNO with errnoRet, defaultErrnoRet,
# SCMP_ACT_KILL_PROCESS, SCMP_ACT_LOG, architectures, flags, argument
# conditions, syscall names unknown to libseccomp (skipped with a debug line,
# as runc), and a filter with and without noNewPrivileges, root and rootless.
# The probe's `mkdir PATH [MODE]` makes the raw mkdir system call and prints
# mkdir=<errno> (0 on success).
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

[[ "$(uname -m)" == x86_64 ]] || skip "the seccomp rules here name x86_64 system calls (mkdir)"
ARCHES='["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]'

scratch_bundle

n=0
# seccomp JSON: sets linux.seccomp to the jq expression (with $arches).
seccomp() { config_set "$B" ".linux.seccomp = $1" --argjson arches "$ARCHES"; }
in_container() {
  set_cmd "$@"
  n=$((n + 1))
  expect_ok rr run -b "$B" "s$n" </dev/null
}
has_line() {
  [[ $'\n'"$out"$'\n' == *$'\n'"$1"$'\n'* ]] || fail "expected the line [$1] in the output: $out"
}

step "without linux.seccomp there is no filter"
fresh
in_container probe seccomp mkdir /tmp/d0
has_line "Seccomp=0"
has_line "mkdir=0"

step "SCMP_ACT_ERRNO with errnoRet 42; other calls are allowed"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", architectures: $arches,
  syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 42}]}'
in_container sh -c 'probe seccomp mkdir /tmp/d1; mkdir /tmp/d2 2>/dev/null; echo busybox=$?; touch /tmp/f && echo touch=ok'
has_line "Seccomp=2"
has_line "mkdir=42"
has_line "busybox=1"
has_line "touch=ok"
[[ ! -e "$B/rootfs/tmp/d1" && ! -e "$B/rootfs/tmp/d2" ]] || fail "mkdir was not blocked"

step "SCMP_ACT_ERRNO without errnoRet is EPERM"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir"], action: "SCMP_ACT_ERRNO"}]}'
in_container probe mkdir /tmp/d3
has_line "mkdir=1"

step "defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 43 and an allow list"
fresh
allow='["read", "write", "writev", "readv", "pread64", "pwrite64", "exit", "exit_group", "execve", "execveat",
  "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "arch_prctl", "set_tid_address", "set_robust_list",
  "rseq", "prlimit64", "getrlimit", "setrlimit", "readlink", "readlinkat", "uname", "getrandom", "fstat",
  "newfstatat", "stat", "lstat", "statx", "ioctl", "close", "close_range", "fcntl", "futex", "rt_sigaction",
  "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "getpid", "getppid", "gettid", "getuid", "geteuid",
  "getgid", "getegid", "getgroups", "open", "openat", "openat2", "lseek", "access", "faccessat", "faccessat2",
  "prctl", "getcwd", "getdents64", "dup", "dup2", "dup3", "clock_gettime", "gettimeofday", "nanosleep",
  "clock_nanosleep", "sched_getaffinity", "sched_yield", "umask", "poll", "ppoll", "wait4", "kill", "tgkill"]'
config_set "$B" '.linux.seccomp = {defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 43,
  architectures: $arches, syscalls: [{names: $allow, action: "SCMP_ACT_ALLOW"}]}' \
  --argjson arches "$ARCHES" --argjson allow "$allow"
in_container probe seccomp mkdir /tmp/d4 ids
has_line "Seccomp=2"
has_line "mkdir=43"
has_line "uid=0"

step "defaultErrnoRet with a default action that takes no errno is an error"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: 43}'
set_cmd probe seccomp
expect_fail_with "defaultErrnoRet" -- rr run -b "$B" s-bad </dev/null

step "SCMP_ACT_KILL_PROCESS: the process dies of SIGSYS (run exits 159)"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir"], action: "SCMP_ACT_KILL_PROCESS"}]}'
set_cmd probe mkdir /tmp/d5
n=$((n + 1))
run rr run -b "$B" "s$n" </dev/null
expect_eq "$rc" 159 "exit status of run when the process is killed by SIGSYS"
expect_not_contains "$out" "mkdir=" "output of the killed probe"
[[ ! -e "$B/rootfs/tmp/d5" ]] || fail "mkdir ran"
in_container sh -c 'probe mkdir /tmp/d6; echo status=$?'
has_line "status=159"

step "SCMP_ACT_LOG allows the call"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir"], action: "SCMP_ACT_LOG"}]}'
in_container probe seccomp mkdir /tmp/d7
has_line "Seccomp=2"
has_line "mkdir=0"
[[ -d "$B/rootfs/tmp/d7" ]] || fail "mkdir under SCMP_ACT_LOG did not create the directory"

step "argument conditions: SCMP_CMP_EQ on the mode, SCMP_CMP_MASKED_EQ"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", architectures: $arches, syscalls: [
  {names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 42, args: [{index: 1, value: 448, op: "SCMP_CMP_EQ"}]},
  {names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 44,
   args: [{index: 1, value: 7, valueTwo: 7, op: "SCMP_CMP_MASKED_EQ"}]}]}'
in_container probe mkdir /tmp/a1 700 mkdir /tmp/a2 755 mkdir /tmp/a3 777 mkdir /tmp/a4 757
expect_eq "$out" $'mkdir=42\nmkdir=0\nmkdir=44\nmkdir=44' "mkdir with modes 700, 755, 777, 757"

step "conditions on different arguments must all hold; on the same argument any (as runc)"
# mkdir's third register is ignored by the kernel; the probe sets it (EXTRA).
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [
  {names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 42, args: [
    {index: 1, value: 448, op: "SCMP_CMP_EQ"}, {index: 2, value: 7, op: "SCMP_CMP_EQ"}]}]}'
in_container probe mkdir /tmp/b1 700 7 mkdir /tmp/b2 700 8 mkdir /tmp/b3 755 7
expect_eq "$out" $'mkdir=42\nmkdir=0\nmkdir=0' "mkdir (mode, extra) (700, 7), (700, 8), (755, 7)"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [
  {names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 42, args: [
    {index: 1, value: 448, op: "SCMP_CMP_EQ"}, {index: 1, value: 384, op: "SCMP_CMP_EQ"}]}]}'
in_container probe mkdir /tmp/c1 700 mkdir /tmp/c2 600 mkdir /tmp/c3 755
expect_eq "$out" $'mkdir=42\nmkdir=42\nmkdir=0' "mkdir with modes 700, 600, 755"

step "an unknown operator, action or architecture is an error"
for bad in '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir"], action: "SCMP_ACT_ERRNO", args: [{index: 1, value: 1, op: "SCMP_CMP_NOPE"}]}]}' \
  '{defaultAction: "SCMP_ACT_NOPE"}' \
  '{defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_NOPE"]}'; do
  fresh
  seccomp "$bad"
  set_cmd probe seccomp
  expect_fail_with "linux.seccomp" -- rr run -b "$B" s-bad </dev/null
  [[ -z "$(state_ids)" ]] || fail "a refused seccomp profile left state: $(state_ids)"
done

step "flags: SECCOMP_FILTER_FLAG_LOG and SPEC_ALLOW are accepted"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
  syscalls: [{names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 42}]}'
in_container probe seccomp mkdir /tmp/f1
has_line "Seccomp=2"
has_line "mkdir=42"

step "a syscall name unknown to libseccomp is skipped (a debug line with --debug)"
fresh
seccomp '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [
  {names: ["no_such_syscall_xyz", "mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 42}]}'
in_container probe mkdir /tmp/u1
has_line "mkdir=42"
expect_not_contains "$err" "no_such_syscall_xyz" "stderr without --debug"
set_cmd probe mkdir /tmp/u2
expect_ok rr --debug run -b "$B" s-debug </dev/null
has_line "mkdir=42"
expect_contains "$err" "no_such_syscall_xyz" "the --debug output"
grep -q 'debug.*no_such_syscall_xyz' <<<"$err" || fail "no debug line names the skipped syscall: $err"

for nnp in true false; do
  step "a filter with noNewPrivileges $nnp, container root"
  fresh
  seccomp '{defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 42}]}'
  config_set "$B" '.process.noNewPrivileges = ($v == "true")' --arg v "$nnp"
  in_container probe seccomp nnp mkdir /tmp/n1
  has_line "Seccomp=2"
  has_line "Seccomp_filters=1"
  has_line "NoNewPrivs=$([[ $nnp == true ]] && echo 1 || echo 0)"
  has_line "mkdir=42"
  if ((MANY_IDS)); then
    step "a filter with noNewPrivileges $nnp, uid 1000 without capabilities"
    config_set "$B" '.process.user = {uid: 1000, gid: 1000} |
      .process.capabilities = {bounding: [], effective: [], permitted: [], inheritable: [], ambient: []}'
    in_container probe ids seccomp nnp mkdir /tmp/n2
    has_line "uid=1000"
    has_line "Seccomp=2"
    has_line "NoNewPrivs=$([[ $nnp == true ]] && echo 1 || echo 0)"
    has_line "mkdir=42"
  fi
done

assert_no_leftovers
