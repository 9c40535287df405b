#!/usr/bin/env bash
# image-bench.sh — images (issue 14): rrun's pull and unpack against skopeo +
# umoci on the same local image, and the start of an `image:` sandbox whose
# layers are cached against the same sandbox on a plain rootfs. Run as root
# from the top of the tree:
#
#   bash test/bench/image-bench.sh
#   cmake --build build --target image-bench     (the same, measuring build/rrun;
#                                                 samples in build/image-bench-samples.csv)
#
# It builds the `big` test image (test/integration/image-fixtures.sh --big:
# busybox's layer + 5 layers of 20 MiB incompressible data, gzip, ~106 MB),
# serves it from Debian's docker-registry on 127.0.0.1 (plain HTTP, a free
# port; test/integration/registry.sh), creates the rootless test users
# (users.sh) and measures as root and as rrun-test (its subordinate range;
# skopeo and umoci --rootless as that user too), each step into a fresh
# directory and a fresh rrun store (XDG_DATA_HOME):
#   copy.skopeo     skopeo copy docker://REGISTRY/big:latest oci:DIR:latest
#   unpack.umoci    umoci unpack (rootless: --rootless) of that layout
#   pull.rrun       rrun pull --tls-verify=false docker://REGISTRY/big:latest
#   unpack.rrun     rrun unpack of it into a bundle directory
#   skopeo+umoci, rrun pull+unpack: the sums, per iteration
# (IMAGE_BENCH_RUNS iterations, default 3, the two tools alternating which
# goes first) and the start of a sandbox running /bin/true with `rrun run -f`
# (IMAGE_BENCH_START_RUNS, default 20, rotating order, after one unrecorded
# run each):
#   start.rootfs     `rootfs:` a directory holding busybox's layer
#   start.rootfs-eph the same with `overlay: ephemeral`
#   start.image      `image: oci:.../busybox:plain`, its layer cached
#                    (an image sandbox's overlay is ephemeral by default)
#   start.image-big  `image: oci:.../big:latest`, 6 cached layers
# Times are medians in ms (MB/s: the image's 106 MB of compressed blobs over
# the median), with the median peak RSS of each pull and unpack step
# (bench-launch, test/bench/launch.c). Not a test with thresholds: figures
# for the README.
#
# Environment:
#   RRUN_BIN                 rrun to measure (default: a stripped Release
#                            built into build-bench/, as bench.sh does)
#   IMAGE_BENCH_RUNS         pull/unpack iterations (default 3)
#   IMAGE_BENCH_START_RUNS   start iterations (default 20)
#   IMAGE_BENCH_ONLY         groups to run: pull start (default both)
#   IMAGE_BENCH_USERS        who: root rootless (default both)
#   IMAGE_BENCH_CSV          the samples (default build-bench/image-bench-samples.csv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
  echo "image-bench: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------
# Inside: the measurements of one user (root or the test user).
#   image-bench.sh --measure WORK REGISTRY IMAGES SAMPLES
# Appends "SCENARIO,WHO,ITER,NS,KIB" lines to SAMPLES.
measure() {
  local work=$1 registry=$2 images=$3 samples=$4
  local who=root launch=$work/bin/bench-launch rrun=$work/bin/rrun
  ((EUID == 0)) || who=rootless
  local me=$work/$who
  mkdir -p "$me"

  # time_one SCENARIO ITER CMD...: one timed run of CMD, its line recorded;
  # its time (ns) in $ns.
  time_one() {
    local name=$1 iter=$2 line
    shift 2
    : >"$me/line"
    "$launch" -o "$me/line" -- "$@" 2>>"$me/$name.err" || die "$name ($who): $* failed: $(tail -3 "$me/$name.err")"
    read -r line <"$me/line"
    ns=${line% *}
    echo "$name,$who,$iter,$ns,${line#* }" >>"$samples"
  }
  # Files of the subordinate ids (rrun's store, rootless) go as those ids.
  remove() {
    rm -rf --one-file-system -- "$@" 2>/dev/null || unshare --map-root-user --map-auto rm -rf --one-file-system -- "$@"
  }

  local group ns
  for group in ${IMAGE_BENCH_ONLY:-pull start}; do
    case $group in
      pull) measure_pull ;;
      start) measure_start ;;
      *) die "unknown group $group (known: pull start)" ;;
    esac
  done
}

measure_pull() {
  local ref=docker://$registry/big:latest runs=${IMAGE_BENCH_RUNS:-3} i tool order d copy pull
  local rootless_flag=()
  [[ $who == rootless ]] && rootless_flag=(--rootless)
  for ((i = 1; i <= runs; i++)); do
    d=$me/pull-$i
    mkdir -p "$d"
    order=(skopeo rrun)
    ((i % 2)) || order=(rrun skopeo)
    for tool in "${order[@]}"; do
      if [[ $tool == skopeo ]]; then
        time_one copy.skopeo "$i" skopeo copy -q --src-tls-verify=false "$ref" "oci:$d/oci:latest"
        copy=$ns
        time_one unpack.umoci "$i" umoci unpack "${rootless_flag[@]}" --image "$d/oci:latest" "$d/bundle-umoci"
        echo "total.skopeo-umoci,$who,$i,$((copy + ns)),0" >>"$samples"
      else
        XDG_DATA_HOME=$d/store time_one pull.rrun "$i" "$rrun" pull --quiet --tls-verify=false "$ref"
        pull=$ns
        XDG_DATA_HOME=$d/store time_one unpack.rrun "$i" "$rrun" unpack --quiet --tls-verify=false "$ref" "$d/bundle-rrun"
        echo "total.rrun,$who,$i,$((pull + ns)),0" >>"$samples"
      fi
    done
    remove "$d"
  done
}

measure_start() {
  local s=$me/start runs=${IMAGE_BENCH_START_RUNS:-20} kinds=(rootfs rootfs-eph image image-big) i k n
  mkdir -p "$s/rootfs"
  # The plain rootfs: busybox's layer, as the image has it (rootless: the
  # caller's files, container root).
  if [[ $who == root ]]; then
    tar -xpf "$images/layers/base.tar" -C "$s/rootfs"
  else
    tar -xpf "$images/layers/base.tar" --no-same-owner -C "$s/rootfs"
  fi
  printf 'rootfs: rootfs\ncommand: [/bin/true]\n' >"$s/rootfs.yaml"
  printf 'rootfs: rootfs\noverlay: ephemeral\ncommand: [/bin/true]\n' >"$s/rootfs-eph.yaml"
  printf 'image: oci:%s/busybox:plain\ncommand: [/bin/true]\n' "$images" >"$s/image.yaml"
  printf 'image: oci:%s/big:latest\ncommand: [/bin/true]\n' "$images" >"$s/image-big.yaml"
  export XDG_DATA_HOME=$s/store
  n=${#kinds[@]}
  for ((i = 0; i <= runs; i++)); do
    for ((k = 0; k < n; k++)); do
      local kind=${kinds[$(((i + k) % n))]}
      if ((i == 0)); then # warm: the images pulled into the store, caches filled
        "$rrun" --root "$s/state" run -f "$s/$kind.yaml" "bench-$kind" </dev/null >/dev/null 2>>"$me/start.err" ||
          die "start.$kind ($who): rrun run -f failed: $(tail -3 "$me/start.err")"
        continue
      fi
      time_one "start.$kind" "$i" "$rrun" --root "$s/state" run -f "$s/$kind.yaml" "bench-$kind"
    done
  done
  unset XDG_DATA_HOME
  remove "$s"
}

# ---------------------------------------------------------------------------
# The table: per scenario, the median (ms) for root and rootless; MB/s for
# the pull and unpack rows; the ratios issue 14 asks about.
summarize() {
  local samples=$1 mb=$2
  sort -t, -k1,1 -k2,2 -k4,4n "$samples" | awk -F, -v mb="$mb" '
    function flush() {
      if (key == "") return
      split(key, kk, SUBSEP)
      MED[kk[1], kk[2]] = ((n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2) / 1e6
      N[kk[1], kk[2]] = n
      # The peak RSS: the median of the n values (few: insertion sort).
      for (i = 2; i <= n; i++) { v = r[i]; j = i - 1; while (j > 0 && r[j] > v) { r[j + 1] = r[j]; j-- } r[j + 1] = v }
      RSS[kk[1], kk[2]] = ((n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2) / 1024
    }
    {
      k = $1 SUBSEP $2
      if (k != key) { flush(); key = k; n = 0 }
      t[++n] = $4
      r[n] = $5
    }
    # cell SCENARIO WHO RATE: "MS ms", with RATE "MS ms (MB/s, peak RSS)".
    function cell(s, w, rate) {
      if (!((s, w) in MED)) return "-"
      if (!rate) return sprintf("%.1f ms", MED[s, w])
      if (RSS[s, w] == 0) return sprintf("%.0f ms (%.0f MB/s)", MED[s, w], mb / (MED[s, w] / 1000))
      return sprintf("%.0f ms (%.0f MB/s, %.0f MiB)", MED[s, w], mb / (MED[s, w] / 1000), RSS[s, w])
    }
    function ratio(a, b, w) {
      if (!((a, w) in MED) || !((b, w) in MED)) return "-"
      return sprintf("%.2f", MED[a, w] / MED[b, w])
    }
    function line(what, root, rootless) { printf "%-34s %-32s %-32s\n", what, root, rootless }
    # rows LIST RATE: a row per scenario of LIST measured, "name (n root/n rootless)".
    function rows(list, rate,    sc, i, n) {
      n = split(list, sc, " ")
      for (i = 1; i <= n; i++)
        if ((sc[i], "root") in MED || (sc[i], "rootless") in MED)
          line(sc[i] " (" N[sc[i], "root"] + 0 "/" N[sc[i], "rootless"] + 0 ")", cell(sc[i], "root", rate), \
            cell(sc[i], "rootless", rate))
    }
    function ratios(what, a, b) { line(what, ratio(a, b, "root"), ratio(a, b, "rootless")) }
    END {
      flush()
      line("median (n)", "root", "rootless (rrun-test)")
      line("", "ms (MB/s, peak RSS)", "")
      rows("copy.skopeo pull.rrun unpack.umoci unpack.rrun total.skopeo-umoci total.rrun", 1)
      ratios("rrun pull / skopeo copy", "pull.rrun", "copy.skopeo")
      ratios("rrun pull+unpack / skopeo+umoci", "total.rrun", "total.skopeo-umoci")
      rows("start.rootfs start.rootfs-eph start.image start.image-big", 0)
      ratios("start.image / start.rootfs-eph", "start.image", "start.rootfs-eph")
      ratios("start.image / start.rootfs", "start.image", "start.rootfs")
    }'
}

# ---------------------------------------------------------------------------
if [[ ${1:-} == --measure ]]; then
  shift
  measure "$@"
  exit 0
fi

((EUID == 0)) || die "run me as root (the rootless half runs as the test user rrun-test)"
top=$(cd "$here/../.." && pwd)
for t in skopeo umoci docker-registry jq cc setpriv curl tar; do
  command -v "$t" >/dev/null || die "$t is missing: run packaging/install-deps.sh"
done

build=$top/build-bench
if [[ -z ${RRUN_BIN:-} ]]; then
  echo "image-bench: building a stripped Release rrun in $build" >&2
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRRUN_TESTS=OFF >/dev/null
  make -C "$build" -j"${BENCH_JOBS:-1}" rrun >/dev/null
  RRUN_BIN=$build/rrun
fi
[[ -x $RRUN_BIN ]] || die "$RRUN_BIN is not an executable"
csv=${IMAGE_BENCH_CSV:-$build/image-bench-samples.csv}
mkdir -p "$(dirname "$csv")"

images=$(bash "$top/test/integration/image-fixtures.sh" --big) || die "the test images could not be built (above)"
# shellcheck source=../integration/users.sh
source "$top/test/integration/users.sh"
# shellcheck source=../integration/registry.sh
source "$top/test/integration/registry.sh"
setup_users

work=$(mktemp -d /tmp/rrun-image-bench-XXXXXX)
cleanup() {
  registry_stop
  rm -rf --one-file-system -- "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
chmod 755 "$work"
install -d -m 755 "$work/bin"
install -m 755 "$RRUN_BIN" "$work/bin/rrun"
install -m 755 "$here/image-bench.sh" "$work/bin/"
cc -O2 -static -Wall -Wextra -o "$work/bin/bench-launch" "$here/launch.c"

registry_start "$work/registry"
registry=$REGISTRY
registry_push "oci:$images/big:latest" big:latest
mb=$(skopeo inspect --raw "oci:$images/big:latest" | jq '[.layers[].size, .config.size] | add / 1e6')

samples=$work/samples.csv
: >"$samples"
chmod 666 "$samples"
echo "image-bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r); rrun $("$work/bin/rrun" --version | head -1)," \
  "$(skopeo --version), umoci $(umoci --version | awk '{print $NF}'); big: $(printf '%.0f' "$mb") MB of blobs" >&2
for who in ${IMAGE_BENCH_USERS:-root rootless}; do
  echo "--- $who" >&2
  case $who in
    root) bash "$work/bin/image-bench.sh" --measure "$work" "$registry" "$images" "$samples" ;;
    rootless)
      gid=$(id -g "$TEST_USER")
      install -d -m 755 -o "$TEST_USER" -g "$gid" "$work/rootless"
      install -d -m 700 -o "$TEST_USER" -g "$gid" "$work/xdg"
      setpriv --reuid="$TEST_USER" --regid="$gid" --init-groups -- \
        env -i HOME="$work/rootless" USER="$TEST_USER" LOGNAME="$TEST_USER" LANG=C.UTF-8 \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin XDG_RUNTIME_DIR="$work/xdg" \
        IMAGE_BENCH_RUNS="${IMAGE_BENCH_RUNS:-}" IMAGE_BENCH_START_RUNS="${IMAGE_BENCH_START_RUNS:-}" \
        IMAGE_BENCH_ONLY="${IMAGE_BENCH_ONLY:-}" \
        bash "$work/bin/image-bench.sh" --measure "$work" "$registry" "$images" "$samples"
      ;;
    *) die "unknown IMAGE_BENCH_USERS entry $who (known: root rootless)" ;;
  esac
done
cp "$samples" "$csv"
summarize "$samples" "$mb"
echo "image-bench: samples in $csv" >&2
