#!/usr/bin/env bash
# run.sh MODE SCRIPT — runs one integration test (CTest registers every
# test/integration/test_*.sh twice, as it.root.NAME and it.rootless.NAME).
#
#   root      runs SCRIPT as root with a fresh temp dir.
#   rootless  as root: makes sure the test users exist (rrun-test with a
#             /etc/subuid and /etc/subgid range, rrun-nosub without one),
#             copies rrun, rrun-probe and the test scripts to a world-readable
#             temp dir (the clone may sit under /root, which others can't
#             enter) and runs SCRIPT there as rrun-test with a clean
#             environment and its own XDG_RUNTIME_DIR (0700). A script with
#             the line "# rrun-test: nosub" runs a second time as rrun-nosub.
#             A script with "# rrun-test: devfuse" runs as rrun-test with
#             /dev/fuse made 0666 (as distributions ship it; the mode is put
#             back afterwards) and as rrun-nosub with the host's mode.
#             For a script with "# rrun-test: debian-rootfs" the cached
#             Debian rootfs is built first, as root (debian-rootfs.sh).
#             For a script with "# rrun-test: image-fixtures" (root and
#             rootless) the cached test images are built first, as root
#             (image-fixtures.sh), and RRUN_TEST_IMAGES names their directory.
#             A script with "# rrun-test: nohelpers" runs a third time as
#             rrun-test (kind "nohelpers") in a private mount namespace
#             where newuidmap and newgidmap are covered by an empty,
#             non-executable file: the host without the uidmap package,
#             its files untouched.
#             As a non-root user: runs SCRIPT as that user, as it is.
#
# Environment: RRUN_BIN, RRUN_PROBE (the built binaries); RRUN_TEST_CACHE,
# RRUN_TEST_DEBIAN_MIRROR, http_proxy, RRUN_TEST_FAULT_RANDOM
# (test_fault_points.sh), the sizes of the load tests (RRUN_SOAK_CYCLES,
# RRUN_LOAD_RUNS, RRUN_LOAD_ROUNDS), the checker's RRUN_TEST_WRAP (lib.sh;
# copied for the test user), RRUN_VALGRIND_LOGS, ASAN_OPTIONS and
# UBSAN_OPTIONS reach the test user. The exit status is
# the test's: 0 pass, 77 skipped (with a printed reason), anything else fails.
set -euo pipefail

mode=${1:?usage: run.sh root|rootless SCRIPT}
script=${2:?usage: run.sh root|rootless SCRIPT}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script")
: "${RRUN_BIN:?RRUN_BIN must point at the rrun binary}"
: "${RRUN_PROBE:?RRUN_PROBE must point at the rrun-probe binary}"
[[ -x "$RRUN_BIN" ]] || { echo "run.sh: $RRUN_BIN is not an executable" >&2; exit 1; }
[[ -x "$RRUN_PROBE" ]] || { echo "run.sh: $RRUN_PROBE is not an executable" >&2; exit 1; }

top=""
fuse_mode=""
cleanup() {
  if [[ -n "$fuse_mode" ]]; then chmod "$fuse_mode" /dev/fuse || echo "run.sh: could not put /dev/fuse back to $fuse_mode" >&2; fi
  if [[ -n "$top" && -d "$top" ]]; then
    rm -rf --one-file-system -- "$top" || echo "run.sh: could not remove $top" >&2
  fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

skip() {
  echo "SKIP: $*"
  exit 77
}

# setup_users: the test users (test/integration/users.sh).
# shellcheck source=users.sh
source "$here/users.sh"

# run_as USER: runs the copied script as USER in $top; prints its exit status.
run_as() {
  local user=$1 kind=$2 uid gid home dir xdg
  uid=$(id -u "$user")
  gid=$(id -g "$user")
  home=$(getent passwd "$user" | cut -d: -f6)
  [[ -d "$home" ]] || home=$top
  dir=$top/$user
  xdg=$top/$user-xdg
  install -d -m 755 -o "$uid" -g "$gid" "$dir"
  install -d -m 700 -o "$uid" -g "$gid" "$xdg"
  echo "=== rootless as $user (uid $uid, $kind)"
  local status=0 hide=()
  if [[ "$kind" == nohelpers ]]; then
    install -m 644 /dev/null "$top/no-helper"
    hide=(without_idmap_helpers "$top/no-helper")
  fi
  (cd "$dir" && "${hide[@]}" setpriv --reuid="$user" --regid="$gid" --init-groups -- \
    env -i HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash LANG=C.UTF-8 \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin \
    XDG_RUNTIME_DIR="$xdg" TMPDIR=/tmp \
    RRUN_BIN="$top/bin/rrun" RRUN_PROBE="$top/bin/rrun-probe" \
    RRUN_SECCOMP_AGENT="$top/bin/rrun-seccomp-agent" RRUN_RECVTTY="$top/bin/rrun-recvtty" \
    RRUN_EXE_GRABBER="$top/bin/rrun-exe-grabber" \
    RRUN_TEST_MODE=rootless RRUN_TEST_TMP="$dir" RRUN_TEST_USER_KIND="$kind" \
    ${RRUN_TEST_CACHE:+"RRUN_TEST_CACHE=$RRUN_TEST_CACHE"} ${http_proxy:+"http_proxy=$http_proxy"} \
    ${RRUN_TEST_IMAGES:+"RRUN_TEST_IMAGES=$RRUN_TEST_IMAGES"} \
    ${RRUN_TEST_DEBIAN_MIRROR:+"RRUN_TEST_DEBIAN_MIRROR=$RRUN_TEST_DEBIAN_MIRROR"} \
    ${RRUN_SOAK_CYCLES:+"RRUN_SOAK_CYCLES=$RRUN_SOAK_CYCLES"} ${RRUN_LOAD_RUNS:+"RRUN_LOAD_RUNS=$RRUN_LOAD_RUNS"} \
    ${RRUN_LOAD_ROUNDS:+"RRUN_LOAD_ROUNDS=$RRUN_LOAD_ROUNDS"} \
    ${RRUN_TEST_WRAP:+"RRUN_TEST_WRAP=$top/bin/rrun-wrap"} ${RRUN_VALGRIND_LOGS:+"RRUN_VALGRIND_LOGS=$RRUN_VALGRIND_LOGS"} \
    ${ASAN_OPTIONS:+"ASAN_OPTIONS=$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+"UBSAN_OPTIONS=$UBSAN_OPTIONS"} \
    ${RRUN_TEST_FAULT_RANDOM:+"RRUN_TEST_FAULT_RANDOM=$RRUN_TEST_FAULT_RANDOM"} \
    bash "$top/tests/$(basename "$script")") || status=$?
  return "$status"
}

# The cached test images (image-fixtures.sh), built as root; without them
# (a tool missing, the build failed: its error is above) the test skips.
if ((EUID == 0)) && grep -q '^# rrun-test: image-fixtures' "$script"; then
  RRUN_TEST_IMAGES=$(bash "$here/image-fixtures.sh") || RRUN_TEST_IMAGES=""
  export RRUN_TEST_IMAGES
fi

case "$mode" in
  root)
    ((EUID == 0)) || skip "the root half of the integration tests needs root (running as uid $EUID)"
    top=$(mktemp -d /tmp/rrun-it.XXXXXX)
    cd "$top"
    status=0
    RRUN_TEST_MODE=root RRUN_TEST_TMP="$top" bash "$script" || status=$?
    exit "$status"
    ;;
  rootless)
    top=$(mktemp -d /tmp/rrun-it.XXXXXX)
    if ((EUID != 0)); then
      cd "$top"
      status=0
      RRUN_TEST_MODE=rootless RRUN_TEST_TMP="$top" bash "$script" || status=$?
      exit "$status"
    fi
    command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
    command -v useradd >/dev/null || skip "useradd (passwd) is missing"
    setup_users
    chmod 755 "$top"
    install -d -m 755 "$top/bin" "$top/tests"
    install -m 755 "$RRUN_BIN" "$top/bin/rrun"
    install -m 755 "$RRUN_PROBE" "$top/bin/rrun-probe"
    if [[ -n "${RRUN_SECCOMP_AGENT:-}" ]]; then install -m 755 "$RRUN_SECCOMP_AGENT" "$top/bin/rrun-seccomp-agent"; fi
    if [[ -n "${RRUN_RECVTTY:-}" ]]; then install -m 755 "$RRUN_RECVTTY" "$top/bin/rrun-recvtty"; fi
    if [[ -n "${RRUN_EXE_GRABBER:-}" ]]; then install -m 755 "$RRUN_EXE_GRABBER" "$top/bin/rrun-exe-grabber"; fi
    if [[ -n "${RRUN_TEST_WRAP:-}" ]]; then install -m 755 "$RRUN_TEST_WRAP" "$top/bin/rrun-wrap"; fi
    # test_image_unpack.sh's driver of the layer API, built next to the probe.
    if [[ -x "$(dirname "$RRUN_PROBE")/rrun-layer-tool" ]]; then
      install -m 755 "$(dirname "$RRUN_PROBE")/rrun-layer-tool" "$top/bin/rrun-layer-tool"
    fi
    cp -r "$here/." "$top/tests/"
    # The YAML sandbox examples (test_sandbox.sh runs them): $top/examples.
    if [[ -d "$here/../../examples" ]]; then cp -r "$here/../../examples" "$top/examples"; fi
    chmod -R a+rX "$top/tests"
    if [[ -d "$top/examples" ]]; then chmod -R a+rX "$top/examples"; fi

    # The cached Debian rootfs (debian-rootfs.sh) is built as root; the test
    # user only unpacks it, and skips with the reason when it is missing.
    if grep -q '^# rrun-test: debian-rootfs' "$script"; then
      bash "$here/debian-rootfs.sh" >/dev/null || true
    fi
    variants=("$TEST_USER:subid")
    if grep -q '^# rrun-test: nosub' "$script"; then
      variants+=("$NOSUB_USER:nosub")
    fi
    if grep -q '^# rrun-test: nohelpers' "$script"; then
      variants+=("$TEST_USER:nohelpers")
    fi
    final=77
    devfuse=0
    if grep -q '^# rrun-test: devfuse' "$script" && [[ -c /dev/fuse ]]; then
      devfuse=1
      # One devfuse test at a time, also across concurrent ctest runs: a
      # second one would save 0666 as the mode to put back, and its nosub
      # half would find fuse usable. The lock is on /dev/fuse itself, so
      # nothing is left behind.
      exec 8</dev/fuse
      flock 8
    fi
    for v in "${variants[@]}"; do
      status=0
      if ((devfuse)) && [[ "${v#*:}" == subid ]]; then
        fuse_mode=$(stat -c %a /dev/fuse)
        chmod 0666 /dev/fuse
      fi
      run_as "${v%%:*}" "${v#*:}" 8<&- || status=$?
      if [[ -n "$fuse_mode" ]]; then
        chmod "$fuse_mode" /dev/fuse
        fuse_mode=""
      fi
      if ((status != 0 && status != 77)); then
        final=$status
      elif ((status == 0 && final == 77)); then
        final=0
      fi
    done
    exit "$final"
    ;;
  *)
    echo "run.sh: unknown mode \`$mode\` (expected root or rootless)" >&2
    exit 2
    ;;
esac
