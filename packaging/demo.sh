#!/usr/bin/env bash
# The demo (README's first command): install dependencies, build rrun, make a
# busybox bundle from Debian's busybox-static in a temp dir and run it with
# `rrun run`. Run it as an ordinary user and the container is rootless (sudo
# is only used by install-deps.sh, for apt-get, when packages are missing).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

bash packaging/install-deps.sh

echo "== building rrun (build/)"
cmake -S "$src" -B "$src/build" >/dev/null
cmake --build "$src/build" -j"${RRUN_JOBS:-2}" --target rrun
rrun=$src/build/rrun

demo=$(mktemp -d "${TMPDIR:-/tmp}/rrun-demo.XXXXXX")
id=rrun-demo-$$
cleanup() {
  "$rrun" delete -f "$id" >/dev/null 2>&1 || true
  rm -rf --one-file-system -- "$demo"
}
trap cleanup EXIT

echo "== making a busybox bundle in $demo"
mkdir -p "$demo/rootfs"/{bin,dev,proc,sys,tmp,etc,root}
chmod 1777 "$demo/rootfs/tmp"
cp /bin/busybox "$demo/rootfs/bin/busybox"
for applet in sh echo id hostname cat ls ps uname; do
  ln -s busybox "$demo/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$demo/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$demo/rootfs/etc/group"

spec_flags=()
if ((EUID != 0)); then
  spec_flags=(--rootless)
  echo "== running as $(id -un) (uid $EUID): rootless"
else
  echo "== running as root"
fi
(cd "$demo" && "$rrun" spec "${spec_flags[@]}")
jq '.process.args = ["/bin/sh", "-c", "echo hello from rrun; id; hostname"] | .process.terminal = false' \
  "$demo/config.json" >"$demo/config.json.new"
mv "$demo/config.json.new" "$demo/config.json"

echo "== rrun run $id"
cd "$demo"
"$rrun" run "$id"
