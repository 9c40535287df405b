#!/usr/bin/env bash
# bench.sh — times rrun, crun and runc side by side on one busybox /bin/true
# bundle (issue 6). Run as root from the top of the tree:
#
#   bash test/bench/bench.sh
#
# It installs crun and runc from Debian when missing (packaging/install-deps.sh
# --bench), builds rrun as a stripped Release into build-bench/ (unless
# RRUN_BIN names a binary), creates the rootless test users the integration
# tests use, and runs every scenario inside a private mount namespace in which
# /dev/null is bind-mounted over /sys/fs/cgroup/unified/cgroup.controllers
# (crun 1.8.1 refuses hybrid cgroup hosts otherwise; the host is unchanged).
#
# Scenarios (all three runtimes get the same config.json, generated once by
# `rrun spec` / `rrun spec --rootless`, with linux.resources removed and a
# relative linux.cgroupsPath):
#   run.root           `run` as root
#   run.rootless.map1  `run` as rrun-nosub: a single uid/gid mapping
#   run.rootless.range `run` as rrun-test: its own id plus 65536 subordinate ids
#   life.root          `create` + `start` + `delete -f`, as root
#   life.rootless      the same as rrun-test (range mapping)
#   exec.root          `exec /bin/true` into a running container, as root
#   seq100.root        100 sequential `run`s (one sample = all 100)
# In every iteration the runtimes run one after the other, in an order that
# rotates from one iteration to the next; the first BENCH_WARMUP iterations are
# not recorded. The `floor` column is
# `unshare --user --map-root-user --mount --pid --fork --uts --ipc --net /bin/true`
# run in the same alternation. The `crun-nocg` column is crun with
# --cgroup-manager=disabled (root scenarios only; see the README).
#
# Peak RSS is ru_maxrss from wait4 in test/bench/launch.c, a small static
# parent: the runtime process and the children it reaped.
#
# Environment:
#   RRUN_BIN       rrun binary to measure (default: build build-bench/rrun)
#   BENCH_RUNS     recorded iterations per scenario (default 40)
#   BENCH_WARMUP   unrecorded iterations first (default 3)
#   BENCH_SEQ_RUNS recorded iterations of seq100 (default 3)
#   BENCH_ONLY     space-separated scenario names to run (default: all)
#   BENCH_CSV      the summary CSV (default: build-bench/bench.csv); the raw
#                  samples go next to it as *-samples.csv
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

die() {
  echo "bench: $*" >&2
  exit 1
}

ALL_SCENARIOS="run.root run.rootless.map1 run.rootless.range life.root life.rootless exec.root seq100.root"

# ---------------------------------------------------------------------------
# Inside: one scenario, as the user it is about (root or a test user).
#   bench.sh --scenario NAME KIND WORK SAMPLES RUNTIME...
# KIND: run | life | exec | seq100. Appends "NAME,RUNTIME,ITER,NS,KIB" lines.
scenario() {
  local name=$1 kind=$2 work=$3 samples=$4
  shift 4
  local runtimes=("$@")
  local launch=$work/bin/bench-launch
  local state=$work/state/$(id -un)
  mkdir -p "$state"
  local floor_cmd=(unshare --user --map-root-user --mount --pid --fork --uts --ipc --net /bin/true)

  # rt_cmd RT: the runtime's command prefix, in the array `cmd`.
  rt_cmd() {
    case $1 in
      rrun) cmd=("$work/bin/rrun" --root "$state/rrun") ;;
      crun) cmd=(crun --root "$state/crun") ;;
      crun-nocg) cmd=(crun --cgroup-manager=disabled --root "$state/crun-nocg") ;;
      runc) cmd=(runc --root "$state/runc") ;;
      *) die "unknown runtime $1" ;;
    esac
  }
  local rt cmd id bundle
  local -A skip=()

  if [[ $kind == exec ]]; then
    for rt in "${runtimes[@]}"; do
      [[ $rt == floor ]] && continue
      rt_cmd "$rt"
      id=bench-$rt-$name
      "${cmd[@]}" run -d -b "$work/bundles/$name-$rt" "$id" </dev/null >/dev/null 2>"$work/log/$name-$rt.setup" ||
        { cat "$work/log/$name-$rt.setup" >&2; die "$name: $rt run -d failed"; }
      if ! "${cmd[@]}" exec "$id" /bin/true </dev/null >/dev/null 2>"$work/log/$name-$rt.probe"; then
        if grep -q "not implemented" "$work/log/$name-$rt.probe"; then
          echo "    $rt: $(cat "$work/log/$name-$rt.probe") -> n/a" >&2
          skip[$rt]=1
        else
          cat "$work/log/$name-$rt.probe" >&2
          die "$name: $rt exec failed"
        fi
      fi
    done
  fi

  local warm=${BENCH_WARMUP:-3} runs=${BENCH_RUNS:-40} n=1
  [[ $kind == seq100 ]] && { runs=${BENCH_SEQ_RUNS:-3}; warm=1; n=100; }
  local total=$((warm + runs)) it k nrt=${#runtimes[@]} line
  local tmp=$work/log/$name.line
  for ((it = 1; it <= total; it++)); do
    for ((k = 0; k < nrt; k++)); do
      rt=${runtimes[$(((it + k) % nrt))]}
      [[ -n ${skip[$rt]:-} ]] && continue
      : >"$tmp"
      if [[ $rt == floor ]]; then
        "$launch" -n "$n" -o "$tmp" -- "${floor_cmd[@]}" 2>>"$work/log/$name-$rt.err" ||
          die "$name: floor failed: $(tail -3 "$work/log/$name-$rt.err")"
      else
        rt_cmd "$rt"
        id=bench-$rt-$name
        bundle=$work/bundles/$name-$rt
        case $kind in
          run | seq100)
            "$launch" -n "$n" -o "$tmp" -- "${cmd[@]}" run -b "$bundle" "$id" 2>>"$work/log/$name-$rt.err" ;;
          life)
            "$launch" -o "$tmp" -- "${cmd[@]}" create -b "$bundle" "$id" ::: "${cmd[@]}" start "$id" \
              ::: "${cmd[@]}" delete -f "$id" 2>>"$work/log/$name-$rt.err" ;;
          exec)
            "$launch" -o "$tmp" -- "${cmd[@]}" exec "$id" /bin/true 2>>"$work/log/$name-$rt.err" ;;
        esac || die "$name: $rt failed: $(tail -3 "$work/log/$name-$rt.err")"
      fi
      if ((it > warm)); then
        read -r line <"$tmp"
        echo "$name,$rt,$((it - warm)),${line% *},${line#* }" >>"$samples"
      fi
    done
  done

  if [[ $kind == exec ]]; then
    for rt in "${runtimes[@]}"; do
      [[ $rt == floor ]] && continue
      rt_cmd "$rt"
      "${cmd[@]}" delete -f "bench-$rt-$name" >/dev/null 2>&1 || true
    done
  fi
}

# ---------------------------------------------------------------------------
# The summary: per scenario and runtime, the median, min and max (ms) and the
# median peak RSS (KiB), from the raw samples. Prints the table, writes CSV.
summarize() {
  local samples=$1 csv=$2
  sort -t, -k1,1 -k2,2 -k4,4n "$samples" | awk -F, -v csv="$csv" -v order="$ALL_SCENARIOS" '
    function flush() {
      if (key == "") return
      split(key, kk, SUBSEP)
      med = (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
      # RSS median: sort the n values (small n, insertion sort).
      for (i = 2; i <= n; i++) { v = r[i]; j = i - 1; while (j > 0 && r[j] > v) { r[j + 1] = r[j]; j-- } r[j + 1] = v }
      rmed = (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
      MED[kk[1], kk[2]] = med / 1e6; MIN[kk[1], kk[2]] = t[1] / 1e6; MAX[kk[1], kk[2]] = t[n] / 1e6
      RSS[kk[1], kk[2]] = rmed; N[kk[1], kk[2]] = n; HAVE[kk[1]] = 1
    }
    {
      k = $1 SUBSEP $2
      if (k != key) { flush(); key = k; n = 0 }
      n++; t[n] = $4; r[n] = $5
    }
    END {
      flush()
      nrt = split("rrun crun runc crun-nocg floor", rts, " ")
      print "scenario,runtime,n,median_ms,min_ms,max_ms,peak_rss_kib,rrun_over_this" > csv
      printf "%-19s %-23s %-23s %-23s %-9s %-9s %-15s %-15s %s\n", "scenario", "rrun ms", "crun ms", "runc ms", \
        "floor", "crun-nocg", "rrun/crun", "rrun/runc", "peak RSS MiB rrun/crun/runc"
      ns = split(order, sc, " ")
      for (s = 1; s <= ns; s++) {
        name = sc[s]
        if (!HAVE[name]) continue
        for (i = 1; i <= nrt; i++) {
          rt = rts[i]
          if (!((name, rt) in MED)) { cell[rt] = "n/a"; rss[rt] = "n/a"; continue }
          cell[rt] = sprintf("%.1f [%.1f-%.1f]", MED[name, rt], MIN[name, rt], MAX[name, rt])
          if (name ~ /^seq100/) cell[rt] = sprintf("%.0f [%.0f-%.0f]", MED[name, rt], MIN[name, rt], MAX[name, rt])
          rss[rt] = sprintf("%.1f", RSS[name, rt] / 1024)
          ratio = ((name, "rrun") in MED) ? sprintf("%.2f", MED[name, "rrun"] / MED[name, rt]) : ""
          printf "%s,%s,%d,%.3f,%.3f,%.3f,%d,%s\n", name, rt, N[name, rt], MED[name, rt], MIN[name, rt], \
            MAX[name, rt], RSS[name, rt], ratio >> csv
        }
        rc = ((name, "rrun") in MED && (name, "crun") in MED) ? sprintf("%.2f", MED[name, "rrun"] / MED[name, "crun"]) : "n/a"
        rr = ((name, "rrun") in MED && (name, "runc") in MED) ? sprintf("%.2f", MED[name, "rrun"] / MED[name, "runc"]) : "n/a"
        if ((name, "rrun") in MED && (name, "crun-nocg") in MED) rc = rc sprintf(" (%.2f)", MED[name, "rrun"] / MED[name, "crun-nocg"])
        fl = ((name, "floor") in MED) ? sprintf("%.1f", MED[name, "floor"]) : "-"
        if (name ~ /^seq100/ && fl != "-") fl = sprintf("%.0f", MED[name, "floor"])
        cg = ((name, "crun-nocg") in MED) ? sprintf("%.1f", MED[name, "crun-nocg"]) : "-"
        if (name ~ /^seq100/ && cg != "-") cg = sprintf("%.0f", MED[name, "crun-nocg"])
        printf "%-19s %-23s %-23s %-23s %-9s %-9s %-15s %-15s %s/%s/%s\n", name, cell["rrun"], cell["crun"], cell["runc"], \
          fl, cg, rc, rr, rss["rrun"], rss["crun"], rss["runc"]
      }
    }'
}

# ---------------------------------------------------------------------------
# Inside the private mount namespace (root): hide cgroup.controllers, run the
# scenarios, each as its user.
inner() {
  local work=$1 samples=$2
  local controllers=/sys/fs/cgroup/unified/cgroup.controllers
  if [[ -e $controllers ]]; then
    mount --bind /dev/null "$controllers"
  fi
  local s
  for s in $BENCH_ONLY; do
    echo "--- $s" >&2
    case $s in
      run.root) scenario "$s" run "$work" "$samples" rrun crun runc crun-nocg floor ;;
      life.root) scenario "$s" life "$work" "$samples" rrun crun runc crun-nocg ;;
      exec.root) scenario "$s" exec "$work" "$samples" rrun crun runc crun-nocg ;;
      seq100.root) scenario "$s" seq100 "$work" "$samples" rrun crun runc crun-nocg floor ;;
      run.rootless.map1) as_user "$NOSUB_USER" "$s" run "$work" "$samples" rrun crun runc floor ;;
      run.rootless.range) as_user "$TEST_USER" "$s" run "$work" "$samples" rrun crun runc floor ;;
      life.rootless) as_user "$TEST_USER" "$s" life "$work" "$samples" rrun crun runc ;;
      *) die "unknown scenario $s (known: $ALL_SCENARIOS)" ;;
    esac
    check_cgroups "$work" || touch "$work/cgroups-left"
  done
}

as_user() {
  local user=$1 work=$4 samples=$5
  local gid
  gid=$(id -g "$user")
  install -d -m 700 -o "$user" -g "$gid" "$work/xdg-$user"
  install -d -m 755 -o "$user" -g "$gid" "$work/state/$user"
  touch "$samples"
  chmod 666 "$samples"
  chmod 777 "$work/log"
  shift
  setpriv --reuid="$user" --regid="$gid" --init-groups -- \
    env -i HOME="$work" USER="$user" LOGNAME="$user" LANG=C.UTF-8 \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin XDG_RUNTIME_DIR="$work/xdg-$user" \
    BENCH_RUNS="${BENCH_RUNS:-}" BENCH_WARMUP="${BENCH_WARMUP:-}" BENCH_SEQ_RUNS="${BENCH_SEQ_RUNS:-}" \
    bash "$work/bin/bench.sh" --scenario "$@"
}

# Every cgroup crun or runc made for our bundles must be gone.
check_cgroups() {
  local work=$1 left
  left=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "$(basename "$work")-*" 2>/dev/null || true)
  if [[ -n $left ]]; then
    echo "bench: cgroups left behind by a runtime (removing them):" >&2
    echo "$left" >&2
    # Deepest first; only empty cgroups go (rmdir), which is all that is left.
    echo "$left" | sort -r | while read -r d; do rmdir "$d" 2>/dev/null || true; done
    return 1
  fi
}

# ---------------------------------------------------------------------------
if [[ ${1:-} == --scenario ]]; then
  shift
  scenario "$@"
  exit 0
fi
if [[ ${1:-} == --inner ]]; then
  # shellcheck source=../integration/users.sh
  source "$2/bin/users.sh"
  inner "$2" "$3"
  exit 0
fi

((EUID == 0)) || die "run me as root (the rootless scenarios run as the test users rrun-test and rrun-nosub)"
BENCH_ONLY=${BENCH_ONLY:-$ALL_SCENARIOS}
export BENCH_ONLY BENCH_RUNS BENCH_WARMUP BENCH_SEQ_RUNS

bash "$top/packaging/install-deps.sh" --bench >&2
for t in crun runc unshare setpriv jq cc; do
  command -v "$t" >/dev/null || die "$t is missing"
done

build=$top/build-bench
if [[ -z ${RRUN_BIN:-} ]]; then
  echo "bench: building a stripped Release rrun in $build" >&2
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRRUN_TESTS=OFF >/dev/null
  make -C "$build" -j"${BENCH_JOBS:-1}" rrun >/dev/null
  RRUN_BIN=$build/rrun
fi
[[ -x $RRUN_BIN ]] || die "$RRUN_BIN is not an executable"
csv=${BENCH_CSV:-$build/bench.csv}
mkdir -p "$(dirname "$csv")"
samples_out=${csv%.csv}-samples.csv

# shellcheck source=../integration/users.sh
source "$top/test/integration/users.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
setup_users

work=$(mktemp -d /tmp/rrun-bench-XXXXXX)
cleanup() {
  local st rt
  for st in "$work"/state/*/; do
    [[ -d $st ]] || continue
    for rt in crun crun-nocg runc; do
      [[ -d $st/$rt ]] || continue
      local root_flag=(--root "$st/$rt")
      [[ $rt == crun-nocg ]] && root_flag=(--cgroup-manager=disabled --root "$st/$rt")
      for c in $("${rt%-nocg}" "${root_flag[@]}" list -q 2>/dev/null); do
        "${rt%-nocg}" "${root_flag[@]}" delete -f "$c" >/dev/null 2>&1 || true
      done
    done
  done
  rm -rf --one-file-system -- "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
chmod 755 "$work"
install -d -m 755 "$work/bin" "$work/bundles" "$work/state" "$work/log"
install -m 755 "$RRUN_BIN" "$work/bin/rrun"
install -m 755 "$here/bench.sh" "$top/test/integration/users.sh" "$work/bin/"
cc -O2 -static -Wall -Wextra -o "$work/bin/bench-launch" "$here/launch.c"

# One busybox rootfs for every bundle, two base configs from rrun spec.
bench_rootfs "$work"
bench_specs "$work" "$work/bin/rrun"

nosub_uid=$(id -u "$NOSUB_USER")
nosub_gid=$(id -g "$NOSUB_USER")
test_uid=$(id -u "$TEST_USER")
test_gid=$(id -g "$TEST_USER")
read -r su_start su_count < <(subid_of "$TEST_USER" /etc/subuid)
read -r sg_start sg_count < <(subid_of "$TEST_USER" /etc/subgid)
true_args='["/bin/true"]'
range_maps=("$(maps_range "$test_uid" "$su_start" "$su_count")" "$(maps_range "$test_gid" "$sg_start" "$sg_count")")
for rt in rrun crun runc crun-nocg; do
  bench_bundle "$work" "run.root-$rt" spec-root "$true_args"
  bench_bundle "$work" "life.root-$rt" spec-root "$true_args"
  bench_bundle "$work" "seq100.root-$rt" spec-root "$true_args"
  bench_bundle "$work" "exec.root-$rt" spec-root '["/bin/sleep","100000"]'
  bench_bundle "$work" "run.rootless.map1-$rt" spec-rootless "$true_args" \
    "$(maps_single "$nosub_uid")" "$(maps_single "$nosub_gid")"
  bench_bundle "$work" "run.rootless.range-$rt" spec-rootless "$true_args" "${range_maps[@]}"
  bench_bundle "$work" "life.rootless-$rt" spec-rootless "$true_args" "${range_maps[@]}"
done
chmod -R a+rX "$work/bundles" "$work/bin"

samples=$work/samples.csv
: >"$samples"
echo "bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r); rrun $("$work/bin/rrun" --version | head -1)," \
  "$(crun --version | head -1), $(runc --version | head -1)" >&2
unshare --mount --propagation private -- bash "$work/bin/bench.sh" --inner "$work" "$samples"
cp "$samples" "$samples_out"
summarize "$samples" "$csv"
echo "bench: summary in $csv, samples in $samples_out" >&2
[[ ! -e $work/cgroups-left ]] || die "a runtime left cgroups behind (listed above; removed)"
