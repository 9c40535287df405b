#!/usr/bin/env bash
# `rrun doctor [--format text|json]`: one line per check (ok, warn or fail,
# with the remedy), exit 0 when rootless containers can run here. Runs as
# root, as rrun-test (with subordinate ids) and as rrun-nosub (without).
# rrun-test: nosub
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

CHECKS=(userns newuidmap newgidmap subuid subgid xdg_runtime_dir state_dir cgroups kernel_overlay dev_fuse
  fuse_overlayfs seccomp clone3 pidfd_open openat2 idmapped_mounts)

# The probes work under $TMPDIR: a fresh one shows that they leave nothing.
PROBE_TMP=$WORK/tmp
mkdir "$PROBE_TMP"
doctor() { TMPDIR=$PROBE_TMP rr doctor "$@"; }

# line NAME: the text line of check NAME in $out.
line() { grep -E "^(ok|warn|fail) +$1: " <<<"$out" || true; }

step "text: a line per check, in order, then the verdict; exit 0 here"
expect_ok doctor
mapfile -t lines <<<"$out"
expect_eq "${#lines[@]}" "$((${#CHECKS[@]} + 1))" "number of lines"
for i in "${!CHECKS[@]}"; do
  [[ "${lines[$i]}" =~ ^(ok|warn|fail)\ +${CHECKS[$i]}:\  ]] || fail "line $((i + 1)) is not the ${CHECKS[$i]} check: ${lines[$i]}"
  if [[ "${lines[$i]}" == warn* || "${lines[$i]}" == fail* ]]; then
    expect_contains "${lines[$i]}" "; remedy: " "a ${CHECKS[$i]} line that is not ok"
  fi
done
expect_contains "${lines[-1]}" "rootless containers can run here" "the verdict"
expect_not_contains "$out" "fail  " "the checks"
expect_eq "$(ls -A "$PROBE_TMP")" "" "what the probes left in TMPDIR"
assert_no_leftovers

step "the probes ran for real: user namespace and kernel overlay (userxattr) work on this host"
expect_contains "$(line userns)" "ok    userns: a user namespace with your id as root works"
expect_contains "$(line kernel_overlay)" "ok    kernel_overlay: overlay with userxattr mounts in a user namespace"
expect_contains "$(line kernel_overlay)" "tried under $PROBE_TMP"
expect_contains "$(line seccomp)" "ok    seccomp: filters and user notification"

step "subordinate ids ($RRUN_TEST_MODE${RRUN_TEST_USER_KIND:+, $RRUN_TEST_USER_KIND})"
me=$(id -un)
if [[ "$RRUN_TEST_MODE" == root ]]; then
  expect_contains "$(line subuid)" "ok    subuid: not needed as root"
elif [[ -n "$(subid_range /etc/subuid)" ]]; then
  read -r start count <<<"$(subid_range /etc/subuid)"
  expect_contains "$(line subuid)" "ok    subuid: $me: $start-$((start + count - 1)) ($count ids)"
  read -r start count <<<"$(subid_range /etc/subgid)"
  expect_contains "$(line subgid)" "ok    subgid: $me: $start-$((start + count - 1)) ($count ids)"
else
  # A single mapping still runs containers: a warning with the line to add, exit 0 (checked above).
  expect_contains "$(line subuid)" "warn  subuid: no subordinate uids for $me in /etc/subuid"
  # The range to add is free in the file: nobody else's (as the mapping errors propose).
  re="remedy: as root: add \`$me:([0-9]+):65536\` to /etc/subuid \(\`usermod --add-subuids [0-9]+-[0-9]+ $me\`\)"
  [[ "$(line subuid)" =~ $re ]] || fail "subuid remedy: $(line subuid)"
  range_is_free "${BASH_REMATCH[1]}" 65536 /etc/subuid || fail "doctor proposes a taken range: $(line subuid)"
  expect_contains "$(line subgid)" "to /etc/subgid (\`usermod --add-subgids "
fi

step "/dev/fuse as it is"
if [[ -r /dev/fuse && -w /dev/fuse ]]; then
  expect_contains "$(line dev_fuse)" "ok    dev_fuse: /dev/fuse opens read-write"
else
  expect_contains "$(line dev_fuse)" "warn  dev_fuse: /dev/fuse: Permission denied"
  expect_contains "$(line dev_fuse)" "remedy: as root: \`chmod 0666 /dev/fuse\`"
fi

step "a caller who cannot open /dev/fuse gets the /dev/fuse remedy (and exit 0: kernel overlay works)"
# In a user namespace of our own, bind over /dev/fuse a file whose owner is
# not mapped there, so that opening it read-write is refused (only this
# process's private mount namespace sees the bind).
if [[ "$RRUN_TEST_MODE" == root ]]; then
  denied=$WORK/not-fuse
  install -m 600 -o 65534 -g 65534 /dev/null "$denied"
else
  denied=/etc/shadow
fi
if ! unshare --user --map-root-user --mount true 2>/dev/null; then
  echo "unshare --user --map-root-user is not allowed here; the /dev/fuse denial is covered by the unit tests"
elif [[ ! -e "$denied" || ("$RRUN_TEST_MODE" == rootless && -r "$denied") ]]; then
  echo "no file to stand in for an inaccessible /dev/fuse; covered by the unit tests"
else
  run unshare --user --map-root-user --mount -- sh -c 'mount --bind "$1" /dev/fuse && shift && exec "$@"' sh \
    "$denied" env TMPDIR="$PROBE_TMP" "$RRUN_BIN" --root "$STATE_ROOT" doctor
  ((rc == 0)) || { show_run; fail "doctor without /dev/fuse access should still exit 0"; }
  expect_contains "$(line dev_fuse)" "warn  dev_fuse: /dev/fuse: Permission denied: fuse-overlayfs cannot run for you"
  expect_contains "$(line dev_fuse)" "remedy: as root: \`chmod 0666 /dev/fuse\`"
fi
expect_eq "$(ls -A "$PROBE_TMP")" "" "what the probes left in TMPDIR"

step "rootless or root view of the cgroups and the state directory"
expect_ok doctor
if [[ "$RRUN_TEST_MODE" == root ]]; then
  expect_contains "$(line xdg_runtime_dir)" "ok    xdg_runtime_dir: not used as root"
  expect_contains "$(line newuidmap)" "ok    newuidmap: "
else
  expect_contains "$(line newuidmap)" "ok    newuidmap: /usr/bin/newuidmap (setuid root)"
  expect_contains "$(line xdg_runtime_dir)" "ok    xdg_runtime_dir: $XDG_RUNTIME_DIR"
  if [[ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]]; then
    expect_contains "$(line cgroups)" "warn  cgroups: cgroup "
    expect_contains "$(line cgroups)" "rootless containers run without limits"
  fi
fi
expect_contains "$(line state_dir)" "ok    state_dir: $STATE_ROOT"

step "json: the same checks, each with name, status, detail, remedy"
expect_ok doctor --format json
json=$out
jq -e --argjson n "${#CHECKS[@]}" '
  .ok == true and (.checks | length) == $n and
  all(.checks[]; (keys == ["detail", "name", "remedy", "status"]) and (.status | IN("ok", "warn", "fail")) and
      ((.status == "ok") == (.remedy == "")))' <<<"$json" >/dev/null ||
  fail "doctor --format json: unexpected shape: $json"
expect_eq "$(jq -r '[.checks[].name] | join(" ")' <<<"$json")" "${CHECKS[*]}" "check names"
expect_eq "$(jq -r '.checks[] | select(.name == "userns") | .status' <<<"$json")" ok "userns status"
expect_ok doctor -f=json
expect_eq "$(jq -r .ok <<<"$out")" true "-f=json"
expect_eq "$(ls -A "$PROBE_TMP")" "" "what the probes left in TMPDIR"

step "a state directory that cannot be made is a failure: exit 1, in text and json"
run "$RRUN_BIN" --root /proc/rrun-doctor-test/state doctor
expect_eq "$rc" 1 "exit status"
expect_contains "$out" "fail  state_dir: /proc/rrun-doctor-test/state does not exist and its parent directory is not writable; remedy: pass --root"
expect_contains "$out" "rootless containers cannot run here: 1 check failed"
run "$RRUN_BIN" --root /proc/rrun-doctor-test/state doctor --format json
expect_eq "$rc" 1 "exit status (json)"
expect_eq "$(jq -r '.ok, (.checks[] | select(.name == "state_dir") | .status)' <<<"$out" | tr '\n' ' ')" "false fail " "json verdict"

step "bad --format"
expect_fail_with 'doctor: invalid format "yaml"; use text or json' -- rr doctor --format yaml
expect_fail_with 'doctor: takes no arguments' -- rr doctor extra
assert_no_leftovers
