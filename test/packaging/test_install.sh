#!/usr/bin/env bash
# test_install.sh BUILD: `cmake --install BUILD --prefix /usr` into a
# DESTDIR installs exactly the files of install-manifest.txt (next to this
# script), rrun executable. CTest: packaging.install (label `packaging`).
set -euo pipefail
build=${1:?usage: test_install.sh BUILD}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=$(mktemp -d /tmp/rrun-install-XXXXXX)
trap 'rm -rf --one-file-system -- "$dest"' EXIT

DESTDIR=$dest cmake --install "$build" --prefix /usr >"$dest.log" 2>&1 ||
  { cat "$dest.log"; rm -f -- "$dest.log"; echo "FAIL: cmake --install exited non-zero" >&2; exit 1; }
rm -f -- "$dest.log"

# Every file and symlink under DESTDIR, as paths from /.
actual=$(cd "$dest" && find . ! -type d | sed 's|^\.||' | LC_ALL=C sort)
expected=$(grep -v '^#' "$here/install-manifest.txt" | LC_ALL=C sort)
if [[ "$actual" != "$expected" ]]; then
  echo "FAIL: cmake --install did not install exactly test/packaging/install-manifest.txt (- expected, + installed):" >&2
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  exit 1
fi
[[ -x "$dest/usr/bin/rrun" ]] || { echo "FAIL: /usr/bin/rrun is not executable" >&2; exit 1; }
"$dest/usr/bin/rrun" --version >/dev/null || { echo "FAIL: the installed rrun --version failed" >&2; exit 1; }
echo "PASS: cmake --install installed the $(wc -l <<<"$actual") files of the manifest"
