#!/usr/bin/env bash
# rss-check.sh — issue 6's memory target as a test (CTest bench.peak_rss):
#
#   bash test/bench/rss-check.sh BUILD_DIR
#
# Builds the rrun the benchmark measures (Release: stripped, static
# libstdc++/libseccomp/libcap/yaml-cpp, functions linked in the order of
# packaging/link-order.txt) into BUILD_DIR, then checks that the median peak
# RSS of each scenario is at most RSS_LIMIT_KIB (default 3000 KiB, 0.9 of
# crun 1.8.1's 3.2-3.3 MiB on these machines; rrun's medians are 2.3-2.6
# MiB, and the C library's share moves by ~100 KiB from run to run with
# where it is mapped): `run` as root, `run` as rrun-nosub (one
# id mapped) and as rrun-test (a subordinate range), `create` + `start` +
# `delete` as root, and `exec` into a running container. Peak RSS is
# ru_maxrss from test/bench/launch.c, as in bench.sh. Run as root.
#
# When it fails after a change, the functions a run executes have probably
# moved away from the ordered block: `bash test/bench/order.sh` rewrites the
# order.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:?usage: rss-check.sh BUILD_DIR}
limit=${RSS_LIMIT_KIB:-3000}
runs=${RSS_RUNS:-7}

die() {
  echo "rss-check: $*" >&2
  exit 1
}
[[ $(id -u) == 0 ]] || die "run as root (the rootless scenarios switch to the test users)"

# shellcheck source=../integration/users.sh
source "$top/test/integration/users.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
setup_users
bench_release "$build"

# Each shared library costs its relocation and the pages around them (libm,
# brought by nlohmann's CBOR reader once: ~330 KiB of the peak): the Release
# rrun needs libc alone (the others are static or dlopen'ed on demand).
needed=$(readelf -d "$build/rrun" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v -E '^(libc\.so\.6|ld-linux-x86-64\.so\.2)$' || true)
[[ -z "$needed" ]] || die "the Release rrun links $(echo $needed) besides libc: link it statically, dlopen it on demand, or drop what needs it"

bench_workdir rrun-rss
install -d -m 755 "$work/bin" "$work/bundles"
install -d -m 777 "$work/state" "$work/log"
install -m 755 "$build/rrun" "$work/bin/rrun"
cc -O2 -static -Wall -Wextra -o "$work/bin/launch" "$here/launch.c"
bench_small_set "$work"

# measure NAME USER CMD...: RUNS+1 runs of CMD (rrun's arguments, `:::`
# between commands, ID standing for a fresh container id), the first not
# counted; prints the median peak RSS in KiB.
measure() {
  local name=$1 user=$2
  shift 2
  local as i line kib=()
  as_bench_user "$user"
  local rrun=("$work/bin/rrun" --root "$work/state/$user")
  for ((i = 0; i <= runs; i++)); do
    local cmd=() w
    for w in "$@"; do
      case $w in
        :::) cmd+=(::: "${rrun[@]}") ;;
        ID) cmd+=("rss-$name-$i") ;;
        *) cmd+=("$w") ;;
      esac
    done
    : >"$work/log/$name.line"
    chmod 666 "$work/log/$name.line"
    "${as[@]}" "$work/bin/launch" -o "$work/log/$name.line" -- "${rrun[@]}" "${cmd[@]}" \
      2>>"$work/log/$name.err" || die "$name: rrun failed: $(tail -3 "$work/log/$name.err")"
    read -r line <"$work/log/$name.line"
    ((i == 0)) || kib+=("${line#* }")
  done
  printf '%s\n' "${kib[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

"$work/bin/rrun" --root "$work/state/root" run -d -b "$work/bundles/root-sleep" rss-exec </dev/null >/dev/null

fail=0
check() {
  local name=$1 median
  shift
  median=$(measure "$name" "$@")
  if ((median <= limit)); then
    echo "rss-check: $name: median peak RSS $median KiB <= $limit KiB"
  else
    echo "rss-check: $name: median peak RSS $median KiB > $limit KiB" \
      "(if the code on this path changed, regenerate packaging/link-order.txt: bash test/bench/order.sh)" >&2
    fail=1
  fi
}
check run.root root run -b "$work/bundles/root" ID
check run.rootless.map1 "$NOSUB_USER" run -b "$work/bundles/map1" ID
check run.rootless.range "$TEST_USER" run -b "$work/bundles/range" ID
check life.root root create -b "$work/bundles/root" ID ::: start ID ::: delete -f ID
check exec.root root exec rss-exec /bin/true
exit "$fail"
