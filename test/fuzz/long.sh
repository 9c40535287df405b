#!/usr/bin/env bash
# The long fuzzing run (README.md here): every target (or those named) to
# RRUN_FUZZ_RUNS executions (1,000,000 by default), split over RRUN_FUZZ_JOBS
# parallel processes (1 by default), from the repository's corpus; new
# inputs and crashes stay in BUILD/fuzz-long/TARGET/. Prints one line per
# target: executions, exec/s, coverage, corpus size, crashes.
#   test/fuzz/long.sh build-fuzz [spec sandbox ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: long.sh BUILD_DIR [TARGET...]}" && pwd)
shift
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(spec sandbox args subid mountinfo cgroup image layer); fi
runs=${RRUN_FUZZ_RUNS:-1000000}
jobs=${RRUN_FUZZ_JOBS:-1}
status=0
for t in "${targets[@]}"; do
  fuzzer=$build/test/fuzz/${t}_fuzz
  out=$build/fuzz-long/$t
  rm -rf --one-file-system "$out"
  mkdir -p "$out/corpus"
  start=$(date +%s)
  # -jobs: each job is one process running -runs inputs, and writes fuzz-N.log.
  (cd "$out" && "$fuzzer" -runs=$(((runs + jobs - 1) / jobs)) -jobs="$jobs" -workers="$jobs" \
    -max_len="${RRUN_FUZZ_MAX_LEN:-4096}" -close_fd_mask=3 -artifact_prefix="$out/" -print_final_stats=1 \
    "$out/corpus" "$here/corpus/$t" >/dev/null 2>&1) || true
  secs=$(($(date +%s) - start))
  execs=0
  for log in "$out"/fuzz-*.log; do
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    execs=$((execs + ${n:-0}))
  done
  last=$(grep -h -E '^#[0-9]+' "$out"/fuzz-*.log | grep -E 'cov: ' | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$out/corpus" -type f | wc -l)
  crashes=$(find "$out" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' \
    -o -maxdepth 1 -name 'oom-*' | wc -l)
  printf '%-10s executions %d in %ds (%d exec/s), cov %s ft %s, corpus %d new inputs, crashes %d\n' \
    "$t" "$execs" "$secs" $((execs / (secs > 0 ? secs : 1))) "${cov:-?}" "${ft:-?}" "$corpus" "$crashes"
  ((crashes == 0)) || status=1
done
exit $status
