#!/usr/bin/env bash
# Overlay mounts without root (rootfs/overlay.hpp): spec mounts of type
# overlay and the rootfs overlay annotations, through the kernel and through
# fuse-overlayfs (forced with rrun.overlay.driver=fuse), root and rootless;
# the error paths and their messages. run.sh makes /dev/fuse 0666 for the
# rrun-test run (and puts the mode back); rrun-nosub runs with the host's
# 0600 and checks the "no access to /dev/fuse" error instead of the fuse path.
# rrun-test: nosub
# rrun-test: devfuse
source "$(dirname "$0")/lib.sh"

FUSE_BIN=$(command -v fuse-overlayfs || true)
FUSE_ACCESS=0
if [[ -n "$FUSE_BIN" && -r /dev/fuse && -w /dev/fuse ]]; then FUSE_ACCESS=1; fi

scratch_bundle
rootfs_listing() { (cd "$B/rootfs" && find . -printf '%p %m %s\n' | sort && cat etc/passwd) | md5sum; }

# The lower layers: l1 on top of l2.
L1=$WORK/l1 L2=$WORK/l2
mkdir -p "$L1/d1" "$L1/d2/sub" "$L2/d1" "$L2/d3"
echo f1 >"$L1/d1/f"
echo x1 >"$L1/d2/sub/x"
echo g1 >"$L1/g"
echo g2 >"$L2/g"
echo h2 >"$L2/d1/h"
echo k2 >"$L2/d3/k"
layers_sum() { (cd "$WORK" && find l1 l2 -printf '%p %m %s\n' | sort && cat l1/d1/f l2/g l2/d1/h) | md5sum; }
LAYERS_BEFORE=$(layers_sum)

# What the container does on the merged tree (busybox sh).
SPEC_SCRIPT='set -e
cd /merged
echo "view=$(cat g d1/f d1/h d3/k | tr "\n" " ")"
echo changed >g
echo "copyup=$(cat g)"
rm d1/f
echo "whiteout=$(ls d1 | tr "\n" " ")"
rm -r d2
mkdir d2
touch d2/new
echo "opaque=$(ls -a d2 | tr "\n" " ")"
mv d3 d3moved
echo "renamed=$(ls d3moved):$(test -e d3 && echo still || echo gone)"
mv d1 d1moved
echo "renamed2=$(ls d1moved)"
echo "fstype=$(awk "\$2 == \"/merged\" {print \$3}" /proc/mounts)"
echo "pid1=$(cat /proc/1/comm)"
echo "fuseprocs=$(cat /proc/[0-9]*/comm | grep -c fuse-overlayfs || true)"
'

# spec_overlay DRIVER: one run with an overlay mount on /merged.
spec_overlay() {
  local drv=$1 up=$WORK/up-$1 wk=$WORK/wk-$1
  mkdir -p "$up" "$wk"
  fresh
  set_cmd sh /spec.sh
  config_set "$B" --arg l "lowerdir=$L1:$L2" --arg u "upperdir=$up" --arg w "workdir=$wk" --arg d "$drv" \
    '.annotations["rrun.overlay.driver"] = $d |
     .mounts += [{destination: "/merged", type: "overlay", source: "overlay", options: [$l, $u, $w]}]'
  expect_ok rr run -b "$B" "ov-$drv"
  expect_eq "$(val view)" "g1 f1 h2 k2 " "$drv: the merged view of two lower layers"
  expect_eq "$(val copyup)" "changed" "$drv: copy-up"
  expect_eq "$(val whiteout)" "h " "$drv: rm of a lower file (whiteout)"
  expect_eq "$(val opaque)" ". .. new " "$drv: rm -r + mkdir of a lower directory (opaque)"
  expect_eq "$(val renamed)" "k:gone" "$drv: rename of a lower directory"
  expect_eq "$(val renamed2)" "h" "$drv: rename of a merged directory"
  if [[ "$drv" == fuse ]]; then
    expect_eq "$(val fstype)" "fuse.fuse-overlayfs" "$drv: the mount's type"
  else
    expect_eq "$(val fstype)" "overlay" "$drv: the mount's type"
  fi
  # The daemon is not in the container's pid namespace.
  expect_eq "$(val fuseprocs)" "0" "$drv: fuse-overlayfs processes in the container"
  expect_eq "$(cat "$up/g")" "changed" "$drv: the upper layer on the host"
  expect_eq "$(layers_sum)" "$LAYERS_BEFORE" "$drv: the lower layers are unchanged"
  assert_no_leftovers
}

# root_overlay DRIVER MODE: the rootfs as an overlay.
ROOT_SCRIPT='set -e
echo "$1" >/written
rm /etc/passwd
mkdir -p /newdir && touch /newdir/f
echo "seen=$(cat /was-written 2>/dev/null || echo none)"
echo "root=$(awk "\$2 == \"/\" {print \$3}" /proc/mounts | tail -n 1)"
'
root_overlay() {
  local drv=$1 mode=$2 id=$3 token=$4
  fresh
  set_cmd sh /root.sh "$token"
  config_set "$B" --arg m "$mode" --arg d "$drv" \
    '.annotations["rrun.overlay.driver"] = $d | .annotations["rrun.rootfs.overlay"] = $m'
  expect_ok rr run -b "$B" "$id"
}

printf '%s\n' "$SPEC_SCRIPT" >"$B/rootfs/spec.sh"
printf '%s\n' "$ROOT_SCRIPT" >"$B/rootfs/root.sh"
for drv in kernel fuse; do
  if [[ "$drv" == fuse && "$FUSE_ACCESS" != 1 ]]; then
    continue
  fi
  step "$drv: a spec overlay mount with two lower layers"
  spec_overlay "$drv"

  step "$drv: ephemeral rootfs overlay leaves root.path unchanged"
  before=$(rootfs_listing)
  root_overlay "$drv" ephemeral "eph-$drv" one
  expect_eq "$(val seen)" "none" "$drv: a fresh ephemeral upper"
  [[ "$drv" == fuse ]] && expect_eq "$(val root)" "fuse.fuse-overlayfs" "$drv: the root's type"
  [[ "$drv" == kernel ]] && expect_eq "$(val root)" "overlay" "$drv: the root's type"
  expect_eq "$(rootfs_listing)" "$before" "$drv: root.path after an ephemeral run"
  assert_no_leftovers

  step "$drv: persistent rootfs overlay keeps changes across two runs"
  P=$WORK/persist-$drv
  root_overlay "$drv" "persistent:$P" "per-$drv" first
  expect_eq "$(cat "$P/upper/written")" "first" "$drv: the upper layer after the first run"
  # The second run reads what the first wrote (through the upper layer).
  fresh
  set_cmd sh -c 'echo "seen=$(cat /written)"; test ! -e /etc/passwd && echo passwd=gone; ls /newdir'
  config_set "$B" --arg m "persistent:$P" --arg d "$drv" \
    '.annotations["rrun.overlay.driver"] = $d | .annotations["rrun.rootfs.overlay"] = $m'
  expect_ok rr run -b "$B" "per2-$drv"
  expect_eq "$(val seen)" "first" "$drv: the second run sees the first run's file"
  expect_eq "$(val passwd)" "gone" "$drv: the second run sees the first run's whiteout"
  expect_eq "$(rootfs_listing)" "$before" "$drv: root.path after two persistent runs"
  assert_no_leftovers
  # The kernel leaves DIR/work/work mode 000 with a whiteout in it; rrun
  # removes it after the container, so its owner's rm -rf works.
  expect_eq "$(find "$P" -type d -perm 000 -printf '%P ')" "" "$drv: mode-000 directories left in DIR"
  [[ ! -e "$P/work/work" ]] || fail "$drv: $P/work/work left after the run"
  expect_eq "$(ls "$P")" "$(printf 'upper\nwork')" "$drv: what DIR holds between runs"

  step "$drv: persistent DIR in use: a second container is refused while the first runs, allowed after"
  fresh
  set_cmd sleep 600
  config_set "$B" --arg m "persistent:$P" --arg d "$drv" \
    '.annotations["rrun.overlay.driver"] = $d | .annotations["rrun.rootfs.overlay"] = $m'
  expect_ok rr run -d -b "$B" "busy1-$drv" </dev/null
  pid=$(rr state "busy1-$drv" | jq -r .pid)
  expect_fail_with "overlay persistent:$P: \`$P\` is in use by container \`busy1-$drv\` (pid $pid); two overlays on one upper directory corrupt it" -- \
    rr run -b "$B" "busy2-$drv"
  # Another state root (another user of rrun's --root) is refused the same.
  expect_fail_with "is in use by container \`busy1-$drv\` (pid $pid, state root \`$(cd "$STATE_ROOT" && pwd)\`)" -- \
    "$RRUN_BIN" --root "$WORK/other-root" run -b "$B" "busy3-$drv"
  expect_eq "$(state_ids)" "busy1-$drv" "containers after the refusals"
  # The first stops (not yet deleted): its claim ends with its init.
  expect_ok rr kill "busy1-$drv" KILL
  wait_until 10 bash -c "[[ \$('$RRUN_BIN' --root '$STATE_ROOT' state busy1-$drv | jq -r .status) == stopped ]]" ||
    fail "$drv: busy1 did not stop"
  set_cmd sh -c 'cat /written'
  expect_ok rr run -b "$B" "busy2-$drv"
  expect_eq "$out" "first" "$drv: the second container sees DIR's upper layer"
  expect_ok rr delete "busy1-$drv"
  assert_no_leftovers
  if [[ "$RRUN_TEST_MODE" == rootless ]]; then
    # Its owner can remove DIR with a plain rm -rf (no chmod, no unshare).
    rm -rf "$P" || fail "$drv: rm -rf of the persistent directory by its owner: $(find "$P" -printf '%p %m %u\n')"
  fi

  step "$drv: create, then delete without start stops everything"
  fresh
  set_cmd true
  config_set "$B" --arg d "$drv" '.annotations["rrun.overlay.driver"] = $d | .annotations["rrun.rootfs.overlay"] = "ephemeral"'
  expect_ok rr create -b "$B" "cd-$drv"
  expect_ok rr delete "cd-$drv"
  assert_no_leftovers

  step "$drv: a create that fails after the overlay is up leaves nothing"
  fresh
  set_cmd /no/such/program
  config_set "$B" --arg d "$drv" '.annotations["rrun.overlay.driver"] = $d | .annotations["rrun.rootfs.overlay"] = "ephemeral"'
  expect_fail_with 'process.args[0] `/no/such/program`' -- rr run -b "$B" "late-$drv"
  assert_no_leftovers
done

# auto: the kernel refuses upper and work on different mounts (fuse-overlayfs
# does not mind), so rrun falls back to fuse-overlayfs, or says why it can't.
if [[ -n "$FUSE_BIN" && -d /dev/shm && -w /dev/shm ]] &&
  [[ "$(stat -c %m "$WORK")" != "$(stat -c %m /dev/shm)" ]]; then
  step "auto: the kernel refuses, fuse-overlayfs takes over"
  SHM=$(mktemp -d /dev/shm/rrun-test-overlay.XXXXXX)
  # The test's status reaches _rrun_test_cleanup through $? (not rm's).
  trap 'status=$?; rm -rf "$SHM"; (exit "$status"); _rrun_test_cleanup' EXIT
  fresh
  set_cmd sh -c 'echo "fstype=$(awk "\$2 == \"/merged\" {print \$3}" /proc/mounts)"; echo y >/merged/new; cat /merged/g'
  mkdir -p "$WORK/up-auto"
  config_set "$B" --arg l "lowerdir=$L1:$L2" --arg u "upperdir=$WORK/up-auto" --arg w "workdir=$SHM" \
    '.mounts += [{destination: "/merged", type: "overlay", source: "overlay", options: [$l, $u, $w]}]'
  if [[ "$FUSE_ACCESS" == 1 ]]; then
    expect_ok rr run -b "$B" auto
    expect_eq "$(val fstype)" "fuse.fuse-overlayfs" "auto: the fallback's type"
    expect_eq "$(cat "$WORK/up-auto/new")" "y" "auto: written through the fallback"
  else
    expect_fail_with "the kernel refused the overlay" -- rr run -b "$B" auto
    expect_contains "$err" "which this user can't open" "auto without /dev/fuse access"
  fi
  assert_no_leftovers
  chmod -R u+rwx "$SHM" 2>/dev/null || true
  rm -rf "$SHM"
fi

step "bad annotation values name the annotation"
fresh
config_set "$B" '.annotations["rrun.overlay.driver"] = "fusion"'
expect_fail_with 'annotations.rrun.overlay.driver: unknown value `fusion` (expected auto, kernel or fuse)' -- rr run -b "$B" bad1
fresh
config_set "$B" '.annotations["rrun.rootfs.overlay"] = "persistent:relative/dir"'
expect_fail_with 'annotations.rrun.rootfs.overlay: `persistent:relative/dir`: needs an absolute directory' -- rr run -b "$B" bad2
fresh
config_set "$B" '.annotations["rrun.rootfs.overlay"] = "tmpfs"'
expect_fail_with 'annotations.rrun.rootfs.overlay: unknown value `tmpfs`' -- rr run -b "$B" bad3
fresh
config_set "$B" '.mounts += [{destination: "/m", type: "overlay", source: "overlay", options: ["upperdir=/u"]}]'
expect_fail_with 'an overlay mount needs `lowerdir=DIR[:DIR...]`' -- rr run -b "$B" bad4
assert_no_leftovers

step "fuse forced, fuse-overlayfs not in PATH"
# rrun looks fuse-overlayfs up in its own PATH.
mkdir -p "$WORK/emptybin"
fresh
config_set "$B" '.annotations["rrun.overlay.driver"] = "fuse" | .annotations["rrun.rootfs.overlay"] = "ephemeral"'
expect_fail_with "annotations.rrun.rootfs.overlay: annotations.rrun.overlay.driver is \`fuse\` but fuse-overlayfs was not found in PATH \`$WORK/emptybin\`" -- \
  env PATH="$WORK/emptybin" "$RRUN_BIN" --root "$STATE_ROOT" run -b "$B" nofuse
expect_contains "$err" "apt install fuse-overlayfs" "the remedy"
assert_no_leftovers

if [[ -n "$FUSE_BIN" && "$FUSE_ACCESS" != 1 ]]; then
  step "fuse forced without access to /dev/fuse ($(stat -c %a /dev/fuse))"
  fresh
  set_cmd true
  config_set "$B" '.annotations["rrun.overlay.driver"] = "fuse" | .annotations["rrun.rootfs.overlay"] = "ephemeral"'
  expect_fail_with "needs \`/dev/fuse\`, which this user can't open" -- rr run -b "$B" nodev
  expect_contains "$err" "chmod 0666 /dev/fuse" "the remedy"
  assert_no_leftovers
  # The kernel driver needs no /dev/fuse.
  fresh
  set_cmd true
  config_set "$B" '.annotations["rrun.rootfs.overlay"] = "ephemeral"'
  expect_ok rr run -b "$B" nodev-kernel
  assert_no_leftovers
fi

if [[ -n "$FUSE_BIN" && "$FUSE_ACCESS" == 1 ]]; then
  step "fuse-overlayfs fails to start: its message reaches the error"
  fresh
  set_cmd true
  config_set "$B" --arg l "lowerdir=$L1:$WORK/no-such-layer" --arg u "upperdir=$WORK/up-x" --arg w "workdir=$WORK/wk-x" \
    '.annotations["rrun.overlay.driver"] = "fuse" |
     .mounts += [{destination: "/merged", type: "overlay", source: "overlay", options: [$l, $u, $w]}]'
  mkdir -p "$WORK/up-x" "$WORK/wk-x"
  expect_fail_with "fuse-overlayfs on \`/merged\` did not start" -- rr run -b "$B" broken
  expect_contains "$err" "fuse-overlayfs said:" "the daemon's own message"
  assert_no_leftovers
fi

# Issue 11 point 5: a rootfs whose files belong to ids the container does not
# map breaks every kernel copy-up (EOVERFLOW). rrun-test: the group of /etc
# of a copy of the rootfs becomes its first subordinate gid (unshare
# --map-auto), the config maps only its own ids. rrun-nosub can chown nothing: root.path is the host's
# /usr (root's). Root: the config maps 0 to 100000, the rootfs is root's.
step "a rootfs owned by ids the container does not map: fuse-overlayfs, or one line and nothing left"
UB=$WORK/unmapped
cp -a "$B" "$UB"
cp "$WORK/config.orig" "$UB/config.json"
fuse_usable=$FUSE_ACCESS
if [[ "$RRUN_TEST_MODE" == root ]]; then
  config_set "$UB" '.linux.namespaces += [{type: "user"}] |
    .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}] | .linux.gidMappings = .linux.uidMappings'
  owner="uid 0"
  # Without fuse-overlayfs in rrun's PATH: deterministic whatever the mode of
  # /dev/fuse, which it.rootless.overlay changes while this test may run
  # (and the container's root, host uid 100000, can't reach $WORK anyway).
  fuse_usable=0
else
  config_set "$UB" --argjson u "$(id -u)" --argjson g "$(id -g)" \
    '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}] | .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}]'
  if [[ "$RRUN_TEST_USER_KIND" == subid ]]; then
    # As `chown -R user` leaves a tree root made: ours, its group someone else's.
    unshare --map-root-user --map-auto chgrp -R 1 "$UB/rootfs/etc" || fail "chgrp /etc into the subordinate range"
    owner="gid $(stat -c %g "$UB/rootfs/etc")"
    [[ "$owner" != "gid $(id -g)" ]] || fail "/etc is still our group's"
  else
    config_set "$UB" '.root.path = "/usr"'
    owner="uid 0"
  fi
fi
# The shell's own read, not awk: with /usr as the rootfs (rrun-nosub) the
# host's /usr/bin/awk is a symlink to /etc/alternatives, outside it.
set_args "$UB" sh -c 'echo hi >/etc/motd && echo "motd=$(cat /etc/motd)"; while read -r _ m t _; do [ "$m" != / ] || echo "root=$t"; done </proc/mounts'
config_set "$UB" '.annotations["rrun.rootfs.overlay"] = "ephemeral"'
if [[ "$fuse_usable" == 1 ]]; then
  expect_ok rr run -b "$UB" unmapped
  expect_eq "$(val motd)" hi "a file copied up from an unmapped directory"
  expect_eq "$(val root)" fuse.fuse-overlayfs "the root's type (auto took fuse-overlayfs)"
else
  nofuse=()
  [[ "$RRUN_TEST_MODE" == root ]] && nofuse=(env PATH="$WORK/emptybin")
  expect_fail_with "belongs to $owner, which the container's user namespace does not map" -- \
    "${nofuse[@]}" "$RRUN_BIN" --root "$STATE_ROOT" run -b "$UB" unmapped
  expect_contains "$err" "chown -R " "the remedy"
  expect_contains "$err" "fuse" "the other remedy"
fi
assert_no_leftovers
config_set "$UB" '.annotations["rrun.overlay.driver"] = "kernel"'
expect_fail_with "belongs to $owner, which the container's user namespace does not map" -- rr run -b "$UB" unmapped-kernel
expect_contains "$err" "or use fuse-overlayfs" "the remedy with the kernel driver forced"
assert_no_leftovers
if [[ "$RRUN_TEST_MODE" == rootless && "$RRUN_TEST_USER_KIND" == subid ]]; then
  unshare --map-root-user --map-auto chgrp -R 0 "$UB/rootfs/etc" || true
fi

step "user: keep sandbox with an overlay: the rootfs owned by root through fuse-overlayfs"
# The usual rootless mapping's owners (rrun.rootfs.overlay.uidmapping);
# without subordinate ids or /dev/fuse, the keep mapping's view: yours.
K=$WORK/keep
make_bundle "$K" true
printf '%s\n' "rootfs: rootfs" "user: keep" "overlay: ephemeral" \
  "command: [/bin/sh, -c, 'stat -c %u:%g / /bin/busybox; id -un']" >"$K/keep.yaml"
expect_ok rr run -f "$K/keep.yaml"
shown="$(id -u):$(id -g)"
if ((EUID == 0)) || { ((MANY_IDS)) && [[ "$FUSE_ACCESS" == 1 ]]; }; then shown=0:0; fi
expect_eq "$out" "$shown"$'\n'"$shown"$'\n'"$(id -un)" "owners of / and /bin/busybox, id -un"
assert_no_leftovers

# overlayfs leaves WORKDIR/work with mode 000: give it back to its owner so
# that the cleanup (an ordinary rm -rf) can remove it (rrun does that for
# the persistent directories itself).
chmod -R u+rwx "$WORK"/wk-* 2>/dev/null || true

echo "ok: $TEST_NAME ($RRUN_TEST_MODE${RRUN_TEST_USER_KIND:+, $RRUN_TEST_USER_KIND}, fuse access $FUSE_ACCESS)"
