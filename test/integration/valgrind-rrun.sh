#!/usr/bin/env bash
# valgrind-rrun.sh RRUN ARGS...: runs RRUN under valgrind memcheck; the
# integration tests use it as their RRUN_TEST_WRAP (lib.sh; README,
# Reliability). --trace-children=no: what rrun executes (the container's
# program, hooks, itself from its sealed copy) runs without valgrind. A
# memory error or a definite leak makes the exit status 99 (which no test
# expects of rrun), the report in $RRUN_VALGRIND_LOGS/rrun.PID.log (empty
# files for clean runs; lib.sh sets it to a directory in the test's $WORK
# and prints the reports when the test fails).
set -eu
logs=${RRUN_VALGRIND_LOGS:-${TMPDIR:-/tmp}/rrun-valgrind-$(id -u)}
mkdir -p "$logs"
# Valgrind 3.19 checks that a bind mount's NULL type is addressable.
if [[ ! -s "$logs/rrun.supp" ]]; then
  printf '{\n  mount-null-type\n  Memcheck:Param\n  mount(type)\n  fun:mount\n}\n' >"$logs/rrun.supp.$$"
  mv "$logs/rrun.supp.$$" "$logs/rrun.supp"
fi
# valgrind lets its client set RLIMIT_NOFILE only to the hard limit it
# found less its own 12 fds: with a soft limit of 1024 (and room above it)
# that is the default spec's 1024.
hard=$(ulimit -Hn)
if [[ "$hard" == unlimited ]] || ((hard >= 1036)); then ulimit -Sn 1024; fi
exec valgrind -q --trace-children=no --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --suppressions="$logs/rrun.supp" --log-file="$logs/rrun.%p.log" "$@"
