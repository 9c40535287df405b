# shellcheck shell=bash
# Sourced by every test/integration/test_*.sh. run.sh runs each test twice:
# as root (RRUN_TEST_MODE=root) and as an unprivileged user
# (RRUN_TEST_MODE=rootless). A test can also be run by hand:
#   RRUN_BIN=build/rrun RRUN_PROBE=build/test/rrun-probe bash test/integration/test_spec.sh
#
# What a test gets:
#   $RRUN_TEST_MODE  root | rootless
#   $WORK            a fresh temp dir (mode 0755), removed at exit
#   $STATE_ROOT      a fresh --root for this test ($WORK/state, not created)
#   rr ARGS...       "$RRUN_BIN" --root "$STATE_ROOT" ARGS...
#   run CMD...       runs CMD, never fails; sets $out, $err (trailing newlines
#                    stripped) and $rc
#   make_bundle DIR [ARG...]
#                    busybox rootfs + config.json from `rrun spec` (--rootless
#                    when rootless), process.args = ARGs (default: sh), terminal false
#   sandbox_dir DIR  DIR/rootfs: that busybox rootfs, for sandbox files in DIR
#   config_set DIR JQ_FILTER [JQ_ARGS...]   edits DIR/config.json with jq
#   set_args DIR ARG...                     sets process.args
#   expect_eq ACTUAL EXPECTED [WHAT]
#   expect_contains HAYSTACK NEEDLE [WHAT], expect_not_contains
#   expect_ok CMD...                 CMD exits 0 (sets $out/$err/$rc)
#   expect_fail_with MSG -- CMD...   CMD exits 1 with exactly one stderr line,
#                                    starting with "rrun: " and containing MSG
#   assert_no_leftovers              no container in $STATE_ROOT, no mount and
#                                    no process mentioning $WORK
#   cgroup_dirs ID                   directories named ID under /sys/fs/cgroup
#   blocking_hook, release_hook      $WORK/hook.sh blocks until released
#   skip REASON                      prints it, exits 77 (CTest: skipped)
#   fail MSG                         prints it, exits 1
#   subid_range /etc/subuid|/etc/subgid   "START COUNT" of the caller, or ""
#   range_is_free START COUNT FILE        no line of a subid FILE touches those ids
#   step TEXT                        prints a progress line
set -euo pipefail

: "${RRUN_BIN:?RRUN_BIN must point at the rrun binary}"
: "${RRUN_PROBE:?RRUN_PROBE must point at the rrun-probe binary}"
if [[ -z "${RRUN_TEST_MODE:-}" ]]; then
  if ((EUID == 0)); then RRUN_TEST_MODE=root; else RRUN_TEST_MODE=rootless; fi
fi
export RRUN_TEST_MODE

TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${RRUN_TEST_TMP:-${TMPDIR:-/tmp}}/$TEST_NAME.XXXXXX")
chmod 755 "$WORK"
STATE_ROOT=$WORK/state
BUSYBOX=${RRUN_TEST_BUSYBOX:-/bin/busybox}
out="" err="" rc=0

step() { echo "--- $*"; }

fail() {
  echo "FAIL ($TEST_NAME, $RRUN_TEST_MODE): $*" >&2
  exit 1
}

skip() {
  echo "SKIP ($TEST_NAME, $RRUN_TEST_MODE): $*"
  exit 77
}

# RRUN_TEST_WRAP: a program that runs rrun under a checker, called as
# WRAP RRUN ARGS... (test/integration/valgrind-rrun.sh): RRUN_BIN becomes a
# script in $WORK that does so, for every test's calls alike.
if [[ -n "${RRUN_TEST_WRAP:-}" ]]; then
  mkdir "$WORK/.wrap"
  # valgrind-rrun.sh's reports: in $WORK unless the caller chose a place,
  # printed when the test fails (_rrun_test_cleanup).
  if [[ -z "${RRUN_VALGRIND_LOGS:-}" ]]; then export RRUN_VALGRIND_LOGS=$WORK/.wrap/logs; fi
  printf '#!/bin/bash\nexec %q %q "$@"\n' "$RRUN_TEST_WRAP" "$RRUN_BIN" >"$WORK/.wrap/rrun"
  chmod 755 "$WORK/.wrap" "$WORK/.wrap/rrun"
  RRUN_BIN=$WORK/.wrap/rrun
fi

rr() { "$RRUN_BIN" --root "$STATE_ROOT" "$@"; }

run() {
  set +e
  "$@" >"$WORK/.out" 2>"$WORK/.err"
  rc=$?
  set -e
  out=$(cat "$WORK/.out")
  err=$(cat "$WORK/.err")
}

# Prints what the last run() captured, for failure messages.
show_run() {
  printf 'exit status: %s\n--- stdout:\n%s\n--- stderr:\n%s\n---\n' "$rc" "$out" "$err" >&2
}

expect_eq() {
  local actual=$1 expected=$2 what=${3:-value}
  if [[ "$actual" != "$expected" ]]; then
    fail "$what: expected [$expected], got [$actual]"
  fi
}

expect_contains() {
  local haystack=$1 needle=$2 what=${3:-output}
  if [[ "$haystack" != *"$needle"* ]]; then
    fail "$what: expected it to contain [$needle], got [$haystack]"
  fi
}

expect_not_contains() {
  local haystack=$1 needle=$2 what=${3:-output}
  if [[ "$haystack" == *"$needle"* ]]; then
    fail "$what: expected it not to contain [$needle], got [$haystack]"
  fi
}

expect_ok() {
  run "$@"
  if ((rc != 0)); then
    show_run
    fail "expected success: $*"
  fi
}

# expect_fail_with MSG -- CMD...
expect_fail_with() {
  local msg=$1
  shift
  [[ "${1:-}" == "--" ]] || fail "expect_fail_with: usage: expect_fail_with MSG -- CMD..."
  shift
  run "$@"
  if ((rc != 1)); then
    show_run
    fail "expected exit status 1 from: $*"
  fi
  if [[ -z "$err" || "$err" == *$'\n'* ]]; then
    show_run
    fail "expected exactly one line on stderr from: $*"
  fi
  if [[ "$err" != "rrun: "* ]]; then
    show_run
    fail "expected the error line to start with 'rrun: ' from: $*"
  fi
  if [[ "$err" != *"$msg"* ]]; then
    show_run
    fail "expected the error to contain [$msg] from: $*"
  fi
}

# subid_range FILE: the caller's first subordinate range in FILE as "START COUNT".
subid_range() {
  local file=$1 name
  name=$(id -un)
  [[ -r "$file" ]] || return 0
  awk -F: -v n="$name" -v u="$(id -u)" '($1 == n || $1 == u) && NF >= 3 { print $2, $3; exit }' "$file"
}

# range_is_free START COUNT FILE: no line of the subuid/subgid FILE, whoever's,
# touches the ids [START, START+COUNT).
range_is_free() {
  awk -F: -v s="$1" -v c="$2" 'NF >= 3 && $2 + 0 < s + c && s < $2 + $3 { bad = 1 } END { exit bad }' "$3"
}

is_static() {
  local text
  text=$(LC_ALL=C ldd "$1" 2>&1 || true)
  [[ "$text" == *"not a dynamic executable"* || "$text" == *"statically linked"* ]]
}

config_set() {
  local dir=$1 filter=$2
  shift 2
  jq "$filter" "$@" <"$dir/config.json" >"$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
}

set_args() {
  local dir=$1 args
  shift
  # `--` first: otherwise jq takes an argument such as "-c" for its own flag.
  config_set "$dir" '.process.args = $ARGS.positional' --args -- "$@"
}

# Applets linked in every test rootfs (the probe covers what busybox can't).
BUSYBOX_APPLETS=(sh ash echo cat ls id sleep true false hostname mount umount ps kill mkdir rm touch
  env pwd readlink stat grep sed head tail wc test printf uname chmod chown ln cp mv date dd)

_make_bundle_fresh() {
  local dir=$1
  shift
  [[ -x "$BUSYBOX" ]] || skip "$BUSYBOX missing: install busybox-static"
  is_static "$BUSYBOX" || skip "$BUSYBOX is not statically linked: install busybox-static"
  is_static "$RRUN_PROBE" || fail "$RRUN_PROBE is not statically linked"
  mkdir -p "$dir/rootfs"/{bin,dev,proc,sys,tmp,etc,root}
  cp "$BUSYBOX" "$dir/rootfs/bin/busybox"
  local a
  for a in "${BUSYBOX_APPLETS[@]}"; do
    ln -sf busybox "$dir/rootfs/bin/$a"
  done
  cp "$RRUN_PROBE" "$dir/rootfs/bin/probe"
  chmod 1777 "$dir/rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$dir/rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/rootfs/etc/group"
  local spec_flags=()
  [[ "$RRUN_TEST_MODE" == rootless ]] && spec_flags=(--rootless)
  run "$RRUN_BIN" spec "${spec_flags[@]}" -b "$dir"
  if ((rc != 0)); then
    show_run
    fail "make_bundle: rrun spec failed"
  fi
  if (($# == 0)); then set -- sh; fi
  set_args "$dir" "$@"
  config_set "$dir" '.process.terminal = false'
}

# make_bundle DIR [ARG...]: the first bundle of a test is built, the later
# ones are copies of it (a bundle takes a second or two to build under load).
make_bundle() {
  local dir=$1
  shift
  if [[ ! -d "$WORK/.bundle-template" ]]; then
    _make_bundle_fresh "$WORK/.bundle-template" sh
  fi
  mkdir -p "$(dirname "$dir")"
  cp -a "$WORK/.bundle-template" "$dir"
  if (($# == 0)); then set -- sh; fi
  set_args "$dir" "$@"
}

# scratch_bundle [JQ_FILTER]: $B, one bundle with a writable root for a test's
# many runs (JQ_FILTER edits its config too); set_cmd ARG... sets its
# process.args, fresh puts its config back as scratch_bundle made it.
scratch_bundle() {
  B=$WORK/b
  make_bundle "$B" true
  config_set "$B" ".root.readonly = false${1:+ | $1}"
  cp "$B/config.json" "$WORK/config.orig"
}
# sandbox_dir DIR: a directory for YAML sandbox files, with make_bundle's
# busybox rootfs as DIR/rootfs (`rootfs: rootfs` in the files).
sandbox_dir() {
  make_bundle "$1/.bundle" true
  mv "$1/.bundle/rootfs" "$1/rootfs"
  rm -r -- "$1/.bundle"
}
set_cmd() { set_args "$B" "$@"; }
fresh() { cp "$WORK/config.orig" "$B/config.json"; }

# val KEY: the value of the first KEY=... line of $out (probe output).
val() {
  local line
  while IFS= read -r line; do
    if [[ "$line" == "$1="* ]]; then
      printf '%s' "${line#"$1="}"
      return 0
    fi
  done <<<"$out"
  # Not `fail`: this runs in $(...); a value no test expects.
  echo "no line $1=... in the container's output: [$out]" >&2
  printf '<no %s line>' "$1"
}

# wait_until SECONDS CMD...: polls CMD (every 50 ms) until it succeeds; 1 on timeout.
wait_until() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 20; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  return 1
}

# bounding_caps_json: every capability of our bounding set (a host may lack
# some) as a JSON array of names, in capability order.
bounding_caps_json() {
  local names bnd
  names='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID","CAP_KILL",
"CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST",
"CAP_NET_ADMIN","CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER","CAP_SYS_MODULE","CAP_SYS_RAWIO","CAP_SYS_CHROOT",
"CAP_SYS_PTRACE","CAP_SYS_PACCT","CAP_SYS_ADMIN","CAP_SYS_BOOT","CAP_SYS_NICE","CAP_SYS_RESOURCE","CAP_SYS_TIME",
"CAP_SYS_TTY_CONFIG","CAP_MKNOD","CAP_LEASE","CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL","CAP_SETFCAP","CAP_MAC_OVERRIDE",
"CAP_MAC_ADMIN","CAP_SYSLOG","CAP_WAKE_ALARM","CAP_BLOCK_SUSPEND","CAP_AUDIT_READ","CAP_PERFMON","CAP_BPF",
"CAP_CHECKPOINT_RESTORE"]'
  bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
  jq -c --argjson b "$bnd" '[to_entries[] | select((($b / pow(2; .key)) | floor) % 2 == 1) | .value]' <<<"$names"
}

# Whether a container can use ids beyond its root: as root all of them;
# rootless only with subordinate ranges (a single mapping maps root only).
MANY_IDS=0
if [[ "$RRUN_TEST_MODE" == root ]] ||
  [[ -n "$(subid_range /etc/subuid)" && -n "$(subid_range /etc/subgid)" ]]; then
  MANY_IDS=1
fi

# IDs of the containers in $STATE_ROOT (directories, not the lock files nor
# the .new@ID of a create killed while it made ID).
state_ids() {
  [[ -d "$STATE_ROOT" ]] || return 0
  find "$STATE_ROOT" -mindepth 1 -maxdepth 1 -type d ! -name '*@*' -printf '%f\n' | sort
}

# cgroup_dirs ID: directories named ID under /sys/fs/cgroup (read only).
cgroup_dirs() { find /sys/fs/cgroup -maxdepth 6 -type d -name "$1" 2>/dev/null | sort || true; }

# blocking_hook: (re)writes $WORK/hook.sh, a hook (run in rrun's namespaces)
# that writes its pid to $WORK/hook.pid and blocks until release_hook.
blocking_hook() {
  rm -f "$WORK/hook.pid" "$WORK/release"
  cat >"$WORK/hook.sh" <<HOOK
#!/bin/sh
echo \$\$ >"$WORK/hook.pid"
while [ ! -e "$WORK/release" ]; do sleep 0.05; done
HOOK
  chmod 755 "$WORK/hook.sh"
}

# release_hook: lets the hook of blocking_hook finish and waits until it has.
release_hook() {
  local hook
  hook=$(cat "$WORK/hook.pid")
  touch "$WORK/release"
  wait_until 10 test ! -e "/proc/$hook" || fail "the hook $hook did not finish"
}

# PIDs of processes whose root, cwd, exe or command line mention $WORK
# (best effort: unreadable processes are skipped). Runs in a subshell from /
# so its helpers don't match; the test shell and the subshells between it and
# this one are left out, and so are keepers of the kept user namespace
# (`rrun-userns`): left by design, they hold nothing but their executable,
# which is $WORK's copy of rrun in some tests (test_kept_userns.sh checks
# what they hold).
work_processes() (
  cd /
  local p pid dir target args stat
  local -A skip=()
  pid=$BASHPID
  while [[ -n "$pid" && "$pid" != 0 ]]; do
    skip[$pid]=1
    [[ "$pid" == "$$" ]] && break
    read -r stat <"/proc/$pid/stat" || break
    stat=${stat##*) }
    read -r _ pid _ <<<"$stat"
  done
  {
    while read -r dir target; do
      if [[ "$target" == "$WORK"* ]]; then echo "${dir#/proc/}"; fi
    done < <(find /proc -mindepth 2 -maxdepth 2 -regex '/proc/[0-9]+/\(root\|cwd\|exe\)' \
      -printf '%h %l\n' 2>/dev/null)
    for p in /proc/[0-9]*; do
      args=()
      mapfile -d '' args 2>/dev/null <"$p/cmdline" || continue
      if [[ "${args[*]}" == *"$WORK"* ]]; then echo "${p#/proc/}"; fi
    done
  } | sort -u | while read -r pid; do
    if [[ -z "${skip[$pid]:-}" && "$(cat "/proc/$pid/comm" 2>/dev/null)" != rrun-userns ]]; then echo "$pid"; fi
  done
)

assert_no_leftovers() {
  local left
  if [[ -d "$STATE_ROOT" ]]; then
    left=$(find "$STATE_ROOT" -mindepth 1 -printf '%P\n')
    [[ -z "$left" ]] || fail "state root $STATE_ROOT is not empty: $(echo $left)"
  fi
  if grep -qF -- "$WORK" /proc/self/mountinfo; then
    fail "mounts left under $WORK: $(grep -F -- "$WORK" /proc/self/mountinfo)"
  fi
  left=$(work_processes)
  [[ -z "$left" ]] || fail "processes left that use $WORK: $(echo $left)"
}

_rrun_test_cleanup() {
  local status=$?
  set +e
  local id
  for id in $(state_ids); do
    "$RRUN_BIN" --root "$STATE_ROOT" delete -f "$id" >/dev/null 2>&1
  done
  if ((status != 0)) && [[ "${RRUN_VALGRIND_LOGS:-}" == "$WORK/"* ]]; then
    find "$RRUN_VALGRIND_LOGS" -name 'rrun.*.log' -size +0 -exec sh -c 'echo "--- valgrind: $1"; cat "$1"' sh {} \; >&2
  fi
  if grep -qF -- "$WORK" /proc/self/mountinfo; then
    echo "cleanup: mounts left under $WORK; not removing it" >&2
    ((status == 0)) && status=1
  else
    rm -rf --one-file-system -- "$WORK" 2>/dev/null
    if [[ -e "$WORK" && "$RRUN_TEST_MODE" == rootless ]]; then
      # Files a container wrote as a subordinate id: remove them as that id.
      unshare --map-root-user --map-auto rm -rf --one-file-system -- "$WORK" 2>/dev/null
    fi
    [[ -e "$WORK" ]] && echo "cleanup: could not remove all of $WORK (run.sh removes it)" >&2
  fi
  exit "$status"
}
trap _rrun_test_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
