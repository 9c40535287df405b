#!/usr/bin/env bash
# The demo (README's first command): install dependencies, build rrun, make a
# busybox bundle from Debian's busybox-static in a temp dir and run it with
# `rrun run`; then make an OCI image of the same busybox with umoci (offline)
# and run it as an image sandbox (examples/images/busybox.yaml). Run it as an
# ordinary user and the containers are rootless (sudo is only used by
# install-deps.sh, for apt-get, when packages are missing).
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
  "$rrun" delete -f "$id-image" >/dev/null 2>&1 || true
  "$rrun" rmi "oci:$demo/busybox-oci:latest" >/dev/null 2>&1 || true
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

echo "== making an OCI image of the same busybox in $demo/busybox-oci (umoci, offline)"
tar --numeric-owner --owner=0 --group=0 -C "$demo/rootfs" -cf "$demo/layer.tar" .
umoci init --layout "$demo/busybox-oci"
umoci new --image "$demo/busybox-oci:latest"
umoci raw add-layer --image "$demo/busybox-oci:latest" "$demo/layer.tar"
# shellcheck disable=SC2016 # expanded by the image's shell
umoci config --image "$demo/busybox-oci:latest" --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env "GREETING=hello from an OCI image" --config.workingdir /tmp \
  --config.cmd /bin/sh --config.cmd -c --config.cmd 'echo "$GREETING"; pwd; id'
cp "$src/examples/images/busybox.yaml" "$demo/"

echo "== rrun run -f busybox.yaml $id-image (image: oci:./busybox-oci:latest)"
"$rrun" run -f busybox.yaml "$id-image"
"$rrun" images
