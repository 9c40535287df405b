# shellcheck shell=bash
# The bundles of test/bench/: one busybox rootfs and configs from
# `rrun spec`, shared by bench.sh (the benchmark), order.sh (the link order)
# and rss-check.sh (the peak-RSS test). Needs jq and busybox-static; the
# caller defines die.

# bench_rootfs WORK: WORK/rootfs, busybox with sh, true and sleep.
bench_rootfs() {
  local work=$1 busybox=${RRUN_TEST_BUSYBOX:-/bin/busybox}
  [[ -x $busybox ]] || die "$busybox is missing: install busybox-static"
  mkdir -p "$work/rootfs"/{bin,dev,proc,sys,tmp,etc,root}
  cp "$busybox" "$work/rootfs/bin/busybox"
  local a
  for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
  chmod 1777 "$work/rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$work/rootfs/etc/group"
}

# bench_specs WORK RRUN: WORK/spec-root and WORK/spec-rootless, the two base
# configs, from RRUN spec; every runtime gets the same file.
bench_specs() {
  local work=$1 rrun=$2
  mkdir -p "$work/spec-root" "$work/spec-rootless"
  "$rrun" spec -b "$work/spec-root"
  "$rrun" spec --rootless -b "$work/spec-rootless"
}

# bench_bundle WORK NAME BASE ARGS_JSON [UID_MAPS GID_MAPS]: WORK/bundles/NAME
# from WORK/BASE/config.json, with ociVersion 1.0.2 (crun 1.8.1 refuses
# 1.3.0), no linux.resources, no terminal, and either the mappings given or
# (root) a relative cgroupsPath unique to WORK and NAME.
bench_bundle() {
  local work=$1 name=$2 base=$3 args=$4 umaps=${5:-null} gmaps=${6:-null}
  mkdir -p "$work/bundles/$name"
  jq --arg root "$work/rootfs" --arg cg "$(basename "$work")-$name" \
    --argjson args "$args" --argjson um "$umaps" --argjson gm "$gmaps" '
      .ociVersion = "1.0.2" | .process.args = $args | .process.terminal = false | .root.path = $root
      | del(.linux.resources)
      | if $um != null then .linux.uidMappings = $um | .linux.gidMappings = $gm else .linux.cgroupsPath = $cg end' \
    "$work/$base/config.json" >"$work/bundles/$name/config.json"
}

# maps_single ID; maps_range ID START COUNT: the JSON of a mapping of one id,
# or of one id plus a subordinate range at container id 1.
maps_single() { echo "[{\"containerID\":0,\"hostID\":$1,\"size\":1}]"; }
maps_range() { echo "[{\"containerID\":0,\"hostID\":$1,\"size\":1},{\"containerID\":1,\"hostID\":$2,\"size\":$3}]"; }
# subid_of USER FILE: "START COUNT" of USER's first range in FILE.
subid_of() { awk -F: -v n="$1" '$1 == n && NF >= 3 { print $2, $3; exit }' "$2"; }

# bench_rootless_bundles WORK SUFFIX BASE ARGS: WORK/bundles/map1SUFFIX (one
# id, for NOSUB_USER) and WORK/bundles/rangeSUFFIX (TEST_USER's id and its
# subordinate range), from users.sh's users.
bench_rootless_bundles() {
  local work=$1 suffix=$2 base=$3 args=$4 su_start su_count sg_start sg_count
  read -r su_start su_count < <(subid_of "$TEST_USER" /etc/subuid)
  read -r sg_start sg_count < <(subid_of "$TEST_USER" /etc/subgid)
  bench_bundle "$work" "map1$suffix" "$base" "$args" \
    "$(maps_single "$(id -u "$NOSUB_USER")")" "$(maps_single "$(id -g "$NOSUB_USER")")"
  bench_bundle "$work" "range$suffix" "$base" "$args" \
    "$(maps_range "$(id -u "$TEST_USER")" "$su_start" "$su_count")" \
    "$(maps_range "$(id -g "$TEST_USER")" "$sg_start" "$sg_count")"
}

bench_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# bench_release BUILD [CMAKE_ARG...]: the Release rrun (stripped, static
# libraries, linked in packaging/link-order.txt's order) built in BUILD.
bench_release() {
  local build=$1
  shift
  cmake -S "$bench_top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRRUN_TESTS=OFF "$@" >/dev/null
  make -C "$build" -j"${RRUN_JOBS:-2}" rrun >/dev/null
}

# bench_workdir NAME: a fresh /tmp/NAME-XXXXXX in $work, removed on exit with
# the background jobs and every container left in the rrun state
# directories under $work/state (rrun being $work/bin/rrun).
bench_workdir() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  chmod 755 "$work"
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local j st c
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for st in "$work"/state/*/; do
    [[ -d $st ]] || continue
    for c in $("$work/bin/rrun" --root "$st" list -q 2>/dev/null); do
      "$work/bin/rrun" --root "$st" delete -f "$c" >/dev/null 2>&1 || true
    done
  done
  bench_end_keepers "$work"
  rm -rf --one-file-system -- "$work"
}

# as_bench_user USER: the command prefix that runs as USER (nothing for
# root), with WORK/xdg-USER (made here, 0700) as XDG_RUNTIME_DIR, so that
# the keeper a rootless run starts (README Performance 10) is recorded in
# $work; sets the array `as`.
as_bench_user() {
  as=()
  [[ $1 == root ]] && return 0
  [[ -d "$work/xdg-$1" ]] || install -d -m 700 -o "$1" -g "$(id -g "$1")" "$work/xdg-$1"
  # shellcheck disable=SC2034 # the caller's array
  as=(runuser -u "$1" -- env XDG_RUNTIME_DIR="$work/xdg-$1")
}

# bench_end_keepers WORK: ends the keepers recorded under WORK with
# users.sh's end_keeper (without their record they would go at their next
# look, up to RRUN_USERNS_KEEP seconds later).
bench_end_keepers() {
  local r
  for r in "$1"/xdg-*/rrun-userns; do
    if [[ -f $r ]]; then end_keeper "$r"; fi
  done
}

# bench_small_set WORK: the rootfs and the bundles order.sh and rss-check.sh
# use: root (/bin/true, root), root-sleep (/bin/sleep, for exec), map1 and
# range (/bin/true, rootless).
bench_small_set() {
  local work=$1
  bench_rootfs "$work"
  bench_specs "$work" "$work/bin/rrun"
  bench_bundle "$work" root spec-root '["/bin/true"]'
  bench_bundle "$work" root-sleep spec-root '["/bin/sleep","100000"]'
  bench_rootless_bundles "$work" "" spec-rootless '["/bin/true"]'
  chmod -R a+rX "$work/bundles" "$work/bin"
}
