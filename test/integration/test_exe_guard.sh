#!/usr/bin/env bash
# CVE-2019-5736 with every capability (core/exe_guard.hpp): a container
# process holding CAP_SYS_PTRACE and CAP_SYS_ADMIN (root: in the host's user
# namespace; rootless: in the container's) keeps opening /proc/PID/exe and
# /proc/PID/map_files/* of every other process it sees, across `create`
# (exec'd into the created container: the init is rrun until start), `start`
# (as the entrypoint) and 40 `exec`s, and once rrun has exited tries to
# write what it grabbed. rrun runs from a copy of its binary in $WORK, so a
# regression can only damage the copy.
source "$(dirname "$0")/lib.sh"

: "${RRUN_EXE_GRABBER:?RRUN_EXE_GRABBER must point at the rrun-exe-grabber binary}"
[[ -x "$RRUN_EXE_GRABBER" ]] || fail "$RRUN_EXE_GRABBER is not an executable"
is_static "$RRUN_EXE_GRABBER" || fail "$RRUN_EXE_GRABBER is not statically linked"

bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
for n in 19 21; do (((bnd >> n) & 1)) || skip "the bounding set lacks CAP_SYS_PTRACE or CAP_SYS_ADMIN"; done
ALL_CAPS=$(bounding_caps_json)

# The exploit's target: rrc runs this copy (rr, the original, cleans up).
mkdir -p "$WORK/bin"
copy=$WORK/bin/rrun
cp "$RRUN_BIN" "$copy"
chmod 755 "$copy"
rrc() { "$copy" --root "$STATE_ROOT" "$@"; }
sum=$(sha256sum <"$copy")
target=$(stat -c '%d:%i' "$copy")

# scenario HOW: the whole attack, with rrun re-executing from its overlay
# view (HOW=view, where the kernel can make one) or from the sealed memfd
# copy (HOW=memfd, RRUN_TEST_EXE_COPY=memfd). Rootless, neither is used.
scenario() {
  local how=$1
  c=$WORK/c-$how
  make_bundle "$c"
  cp "$RRUN_EXE_GRABBER" "$c/rootfs/grabber"
  config_set "$c" --argjson caps "$ALL_CAPS" \
    '.root.readonly = false | .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}'
  # The entrypoint's exploit runs under sh, which stays: were the exploit the
  # init, its exit would kill the other one before that one reports.
  set_args "$c" sh -c '/grabber "$0" /stop /report-start; exec sleep 1000' "$target"
  r=$c/rootfs

  step "create, then the exploit exec'd into the created container (its init is rrun until start)"
  expect_ok rrc create -b "$c" "xg-$how"
  # Root: the init runs from the overlay view of the binary (a file system of
  # its own, mounted nowhere, named by the binary's name), or from the sealed
  # copy, which holds the binary's loaded extent (a RelWithDebInfo rrun is
  # 50 MB, 2 of them loaded), not its debug sections.
  init_pid=$(rrc state "xg-$how" | jq -r .pid)
  init_exe=$(readlink "/proc/$init_pid/exe" 2>&1 || true)
  case "$RRUN_TEST_MODE/$how" in
  root/view)
    expect_eq "$init_exe" /rrun "the created init's exe"
    expect_eq "$(stat -L -f -c %T "/proc/$init_pid/exe")" overlayfs "the file system of the created init's exe"
    ;;
  root/memfd)
    [[ "$init_exe" == /memfd:rrun* ]] || fail "the created container's init does not run from the sealed copy: $init_exe"
    if command -v readelf >/dev/null; then
      expect_eq "$(stat -L -c %s "/proc/$init_pid/exe")" "$(loaded_extent "$copy")" "size of the sealed copy of rrun"
    fi
    ;;
  esac
  reports=("$r/report-start")
  run rrc exec -d "xg-$how" /grabber "$target" /stop /report-create
  if [[ "$RRUN_TEST_MODE" == rootless && "$rc" != 0 && "$err" == *"/ns/user): Permission denied"* ]]; then
    # Rootless, the init is not dumpable until start: its /proc/PID/ns is
    # closed to rrun too, so nothing enters a created container.
    echo "(rootless exec into a created container is refused: $err)"
  else
    expect_eq "$rc" 0 "exit status of exec -d into the created container ($err)"
    wait_until 30 test -e "$r/report-create.ready" || fail "the exploit in the created container did not start"
    reports+=("$r/report-create")
  fi

  step "start: the entrypoint starts the exploit"
  expect_ok rrc start "xg-$how"
  wait_until 30 test -e "$r/report-start.ready" || fail "the entrypoint exploit did not start"

  step "40 × exec while both exploits scan"
  for ((i = 0; i < 40; i++)); do expect_ok rrc exec "xg-$how" /bin/true; done

  step "rrun has exited: the exploits write what they grabbed"
  touch "$r/stop"
  for f in "${reports[@]}"; do
    wait_until 30 test -e "$f" || fail "the exploit did not write $f: $(cat "$f.tmp" 2>&1)"
    echo "=== ${f##*/}:"
    cat "$f"
  done
  reports=$(cat "${reports[@]}")
  total() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$reports" | awk '{ s += $1 } END { print s + 0 }'; }
  expect_eq "$(sha256sum <"$copy")" "$sum" "sha256 of the copy of rrun"
  expect_ok rr delete -f "xg-$how"
  expect_eq "$(total writable)" 0 "grabbed files the exploits could write"
  expect_eq "$(grep -c '^grab [a-z]* [0-9]* rrun ' <<<"$reports")" 0 "grabs of the rrun binary itself"
  (($(total seen_rrun) > 0)) || fail "the exploits never saw an rrun process: the test proves nothing"
  if [[ "$RRUN_TEST_MODE" == root ]]; then
    # CAP_SYS_PTRACE in rrun's user namespace opens /proc/PID/exe of rrun's
    # processes: it must be the view or the sealed copy.
    (($(total grabbed_rrun) > 0)) || fail "the exploits grabbed no rrun exe: the test proves nothing"
    expect_eq "$(grep -c "^grab [a-z]* [0-9]* $how " <<<"$reports")" "$(total grabbed_rrun)" "grabs that are the $how"
  fi
  if [[ "$how" == view ]]; then
    # Its file system has no upper layer: every write, also through a clone
    # of its mount made read-write (where the kernel lets the container
    # clone it at all: a mount of another mount namespace is EINVAL), is
    # EROFS.
    grep -q '^write /rrun EROFS$' <<<"$reports" || fail "no write to the view failed with EROFS"
    expect_eq "$(grep -c '^write /rrun ' <<<"$reports")" "$(grep -c '^write /rrun EROFS$' <<<"$reports")" \
      "writes to the view that failed with EROFS"
  fi
}

# Root, every capability but CAP_SYS_PTRACE (the default of runc, Docker
# and Podman lacks it): rrun does not re-execute (exe_guard.hpp), so the
# created init runs the binary itself. The exploit, exec'd into the created
# container and as the entrypoint, sees rrun's processes but can open none
# of their exes (not dumpable, and their capabilities are no subset of its
# own), and the program is executed through the sealed trampoline. A
# process that may hold CAP_SYS_PTRACE enters only after start.
noptrace() {
  c=$WORK/c-noptrace
  make_bundle "$c"
  cp "$RRUN_EXE_GRABBER" "$c/rootfs/grabber"
  local caps
  caps=$(jq -c 'map(select(. != "CAP_SYS_PTRACE"))' <<<"$ALL_CAPS")
  config_set "$c" --argjson caps "$caps" \
    '.root.readonly = false | .process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}'
  set_args "$c" sh -c '/grabber "$0" /stop /report-start; exec sleep 1000' "$target"
  r=$c/rootfs

  step "without CAP_SYS_PTRACE: no re-execution, the created init runs the binary"
  expect_ok rrc create -b "$c" xg-np
  init_pid=$(rrc state xg-np | jq -r .pid)
  expect_eq "$(stat -L -c %d:%i "/proc/$init_pid/exe")" "$target" "the created init's exe (dev:ino)"
  expect_fail_with "before it is started" -- rrc exec --cap CAP_SYS_PTRACE xg-np /bin/true
  expect_ok rrc exec -d xg-np /grabber "$target" /stop /report-create
  wait_until 30 test -e "$r/report-create.ready" || fail "the exploit in the created container did not start"

  step "without CAP_SYS_PTRACE: start, 20 × exec, none of them re-executes"
  expect_ok rrc start xg-np
  wait_until 30 test -e "$r/report-start.ready" || fail "the entrypoint exploit did not start"
  for ((i = 0; i < 20; i++)); do expect_ok rrc exec xg-np /bin/true; done
  run rrc --debug exec xg-np /bin/true
  expect_eq "$rc" 0 "exit status of exec --debug ($err)"
  expect_contains "$err" "may hold CAP_SYS_PTRACE: no re-execution" "exec's decision"
  expect_eq "$(jq -r '.ptraceExec // false' "$STATE_ROOT/xg-np/state.json")" false "ptraceExec before"

  step "an exec that may hold CAP_SYS_PTRACE is recorded; every exec after it re-executes"
  expect_ok rrc exec --cap CAP_SYS_PTRACE xg-np /bin/true
  expect_eq "$(jq -r '.ptraceExec // false' "$STATE_ROOT/xg-np/state.json")" true "ptraceExec after"
  expect_ok rrc exec -d --cap CAP_SYS_PTRACE xg-np /grabber "$target" /stop /report-ptrace
  wait_until 30 test -e "$r/report-ptrace.ready" || fail "the exploit with CAP_SYS_PTRACE did not start"
  for ((i = 0; i < 40; i++)); do expect_ok rrc exec xg-np /bin/true; done
  run rrc --debug exec xg-np /bin/true
  expect_eq "$rc" 0 "exit status of exec --debug ($err)"
  expect_contains "$err" "running from a view of rrun's binary" "exec's decision after ptraceExec"

  step "without CAP_SYS_PTRACE: rrun has exited, the exploits write what they grabbed"
  touch "$r/stop"
  local f all=""
  for f in "$r/report-start" "$r/report-create"; do
    wait_until 30 test -e "$f" || fail "the exploit did not write $f: $(cat "$f.tmp" 2>&1)"
    echo "=== ${f##*/}:"
    cat "$f"
    all+=$(cat "$f")$'\n'
  done
  total() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$all" | awk '{ s += $1 } END { print s + 0 }'; }
  wait_until 30 test -e "$r/report-ptrace" || fail "the exploit did not write report-ptrace: $(cat "$r/report-ptrace.tmp" 2>&1)"
  expect_eq "$(sha256sum <"$copy")" "$sum" "sha256 of the copy of rrun"
  expect_ok rr delete -f xg-np
  (($(total seen_rrun) > 0)) || fail "the exploits never saw an rrun process: the test proves nothing"
  # What they may grab: the sealed trampoline, PID 1's exe for an instant.
  expect_eq "$(grep -c '^grab [a-z]* [0-9]* rrun ' <<<"$all")" 0 "grabs of the rrun binary itself"
  expect_eq "$(grep '^grab [a-z]* [0-9]* \(memfd\|view\) ' <<<"$all" | grep -vc ' /memfd:rrun-trampoline ')" 0 \
    "grabs of rrun's processes other than the trampoline"
  expect_eq "$(total writable)" 0 "grabbed files the exploits could write"
  # The exploit that holds CAP_SYS_PTRACE opens the exe of each exec it
  # catches: every one the view or the sealed copy, never the binary.
  f=$r/report-ptrace
  echo "=== ${f##*/}:"
  cat "$f"
  all=$(cat "$f")
  expect_eq "$(sha256sum <"$copy")" "$sum" "sha256 of the copy of rrun"
  expect_eq "$(total writable)" 0 "grabbed files the exploit with CAP_SYS_PTRACE could write"
  expect_eq "$(grep -c '^grab [a-z]* [0-9]* rrun ' <<<"$all")" 0 "grabs of the rrun binary by the exploit with CAP_SYS_PTRACE"
  (($(total grabbed_rrun) > 0)) || fail "the exploit with CAP_SYS_PTRACE grabbed no rrun exe: the test proves nothing"
  expect_eq "$(grep -c '^grab [a-z]* [0-9]* \(memfd\|view\) ' <<<"$all")" "$(total grabbed_rrun)" \
    "grabs that are the view or the sealed copy"

  step "without CAP_SYS_PTRACE: a #!/proc/self/exe program reaches the trampoline"
  printf '#!/proc/self/exe\n' >"$r/evil.sh"
  chmod 755 "$r/evil.sh"
  set_args "$c" /evil.sh
  run rrc run -b "$c" xg-np-evil
  ((rc != 0)) || fail "a #!/proc/self/exe script succeeded"
  expect_contains "$err" "refusing to run the exec trampoline" "the #!/proc/self/exe program's error"
  expect_eq "$(sha256sum <"$copy")" "$sum" "sha256 of the copy of rrun"
}

# The loaded extent of an ELF file (core/exe_guard.hpp elf_loaded_extent):
# the end of its farthest segment.
loaded_extent() {
  local end=0 off size
  while read -r off size; do
    if ((off + size > end)); then end=$((off + size)); fi
  done < <(readelf -lW "$1" | awk '$2 ~ /^0x/ { print $2, $5 }')
  echo "$end"
}

if [[ "$RRUN_TEST_MODE" == root ]]; then
  scenario view
  export RRUN_TEST_EXE_COPY=memfd
  scenario memfd
  unset RRUN_TEST_EXE_COPY
  noptrace
else
  scenario none
fi
assert_no_leftovers
echo PASS
