#!/usr/bin/env bash
# build-deb.sh [OUTDIR]: the Debian package of rrun, from this tree.
# Copies the tree (without .git and build directories) to
# OUTDIR/rrun-VERSION, packaging/debian to its debian/, and runs
# `dpkg-buildpackage -b` there; the .deb lands in OUTDIR (default:
# build-deb), then lintian checks it (its errors fail the build; warnings are
# printed). Needs the build dependencies of packaging/debian/control and
# dpkg-dev, debhelper, lintian (packaging/install-deps.sh installs them).
# DEB_BUILD_OPTIONS=parallel=N is set from RRUN_JOBS (2). The copy's path
# is the same on every run, so that ccache (CMAKE_CXX_COMPILER_LAUNCHER)
# hits across runs despite the build path in Debian's -ffile-prefix-map.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$src/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(sed -n 's/^project(rrun VERSION \([0-9.]*\) .*/\1/p' "$src/CMakeLists.txt")
deb_version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
if [[ "$deb_version" != "$version" ]]; then
  echo "build-deb: packaging/debian/changelog is at $deb_version but CMakeLists.txt at $version: add a changelog entry (dch -v $version)" >&2
  exit 1
fi
for tool in dpkg-buildpackage dh lintian; do
  command -v "$tool" >/dev/null ||
    { echo "build-deb: $tool is missing: run packaging/install-deps.sh" >&2; exit 1; }
done

tree=$out/rrun-$version
marker=$tree/.rrun-build-deb-copy
[[ ! -e "$tree" || -e "$marker" ]] ||
  { echo "build-deb: $tree exists and is not a copy made by build-deb.sh: remove it or pick another OUTDIR" >&2; exit 1; }
rm -rf --one-file-system -- "$tree"
mkdir -p "$tree"
# The files of the tree as they are now (committed or not), minus .git and
# the build directories (build, build-asan, build-deb...).
tar -C "$src" --exclude=./.git --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$tree" -xf -
cp -r "$src/packaging/debian" "$tree/debian"
touch "$marker"

# The copy has no .git: `rrun --version` gets the commit from here
# (RRUN_COMMIT, packaging/cmake/help.cmake), or says unknown.
export RRUN_DEB_COMMIT=""
if command -v git >/dev/null && [[ -e "$src/.git" ]]; then
  RRUN_DEB_COMMIT=$(git -C "$src" describe --tags --always --dirty 2>/dev/null || true)
fi

rm -f -- "$out"/rrun_"$version"_*.deb "$out"/rrun-dbgsym_"$version"_*.deb
(cd "$tree" && DEB_BUILD_OPTIONS="parallel=${RRUN_JOBS:-2} ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -b -us -uc)

changes=$(ls "$out"/rrun_"$version"_*.changes)
echo "== lintian $changes"
lintian --fail-on error --info "$changes"
ls "$out"/rrun_"$version"_*.deb
