#!/usr/bin/env bash
# The test command (README, .ci/run): install dependencies, run the unit
# tests and a set of integration tests under AddressSanitizer +
# UndefinedBehaviorSanitizer, the fuzz targets briefly (clang, build-fuzz),
# then build
# normally and run every test (unit and integration, as root and rootless).
# CTest's summary of the full suite is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
jobs=${RRUN_JOBS:-2}

bash packaging/install-deps.sh --clients

# Every build below (and the Release one bench.peak_rss makes) compiles
# through ccache, its cache next to the other test caches: a second run on
# the same machine recompiles only what changed. CMake reads the launcher
# from the environment.
cache=${RRUN_TEST_CACHE:-/var/cache/rrun-test}
if command -v ccache >/dev/null && mkdir -p "$cache/ccache" 2>/dev/null; then
  export CCACHE_DIR=$cache/ccache CCACHE_BASEDIR=$src CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi

# The integration tests labelled `asan` (test/CMakeLists.txt) run there too,
# as root and rootless; the whole integration suite under the sanitizers:
# cd build-asan && ctest -L integration, with these options. A report makes
# rrun exit 98, which no test expects of it.
echo "== unit tests and the asan set of integration tests under ASan+UBSan (build-asan)"
cmake -S "$src" -B "$src/build-asan" -DRRUN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$src/build-asan" -j"$jobs"
(cd "$src/build-asan" && ASAN_OPTIONS=detect_leaks=1:exitcode=98 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98 \
  ctest -L '^(unit|asan)$' --output-on-failure -j"$jobs")

# The fuzz targets (test/fuzz/README.md): clang's libFuzzer, each target's
# corpus as regression inputs, then RRUN_FUZZ_SECONDS (15) of fuzzing each.
echo "== fuzz targets, short runs (build-fuzz)"
cmake -S "$src" -B "$src/build-fuzz" -DRRUN_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DRRUN_FUZZ_SECONDS="${RRUN_FUZZ_SECONDS:-15}" >/dev/null
cmake --build "$src/build-fuzz" -j"$jobs"
(cd "$src/build-fuzz" && ctest -L fuzz --output-on-failure -j"$jobs")

echo "== full suite (build)"
cmake -S "$src" -B "$src/build" -DRRUN_SANITIZE=OFF >/dev/null
cmake --build "$src/build" -j"$jobs"
cd "$src/build"
exec ctest --output-on-failure -j"$jobs"
