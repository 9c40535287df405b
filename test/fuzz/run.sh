#!/usr/bin/env bash
# A time-boxed libFuzzer run for CTest (CMakeLists.txt here):
#   run.sh FUZZER WORKDIR CORPUS [libFuzzer flags...]
# fuzzes from CORPUS (read only) with new inputs in WORKDIR/new, and any
# crash written to WORKDIR (the run fails then: minimize it with
# `FUZZER -minimize_crash=1 -runs=10000 CRASH` and add it to CORPUS).
set -euo pipefail
fuzzer=$1 work=$2 corpus=$3
shift 3
rm -rf --one-file-system "$work"
mkdir -p "$work/new"
exec "$fuzzer" -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/new" "$corpus"
