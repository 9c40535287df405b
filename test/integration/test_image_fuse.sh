#!/usr/bin/env bash
# An image through fuse-overlayfs (README "Images"): `user: keep` rootless
# shows the image's files owned as `user: root` shows them, which only
# fuse-overlayfs's id mapping can, so the layers are unpacked in its
# whiteout form (`.wh.` files) and the overlay driver is fuse: several lower
# layers, whiteouts and opaque directories honoured, owners 0, 42 and 1000
# as the image has them, the caller's id inside.
# rrun-test: devfuse
# rrun-test: image-fixtures
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/image-fixtures.sh"
images_require

[[ "$RRUN_TEST_MODE" == rootless ]] || skip "user: keep through fuse-overlayfs is for rootless callers"
((MANY_IDS)) || skip "user: keep through fuse-overlayfs needs a subordinate range"
command -v fuse-overlayfs >/dev/null || skip "fuse-overlayfs is missing"
[[ -r /dev/fuse && -w /dev/fuse ]] || skip "/dev/fuse is not usable by $(id -un)"

export XDG_DATA_HOME=$WORK/data
printf '%s\n' "image: oci:$IMAGES/multi:latest" "user: keep" >"$WORK/keep.yaml"

step "user: keep with an image: fuse-overlayfs over the layers in its whiteout form"
mkdir "$WORK/spec"
expect_ok rr spec --from "$WORK/keep.yaml" -b "$WORK/spec"
expect_eq "$(jq -r '.annotations["rrun.overlay.driver"]' "$WORK/spec/config.json")" fuse "the driver"
expect_eq "$(jq -r '.annotations["rrun.rootfs.overlay.lower"] | split(":") | length' "$WORK/spec/config.json")" 2 \
  "the lower layers under the top one"
[[ -n "$(find "$XDG_DATA_HOME/rrun/layers" -maxdepth 1 -name 'fuse*')" ]] || fail "no layers of the fuse form"
expect_ok rr run -f "$WORK/keep.yaml" -- /bin/sh -c 'cd /data; stat -c "%n %u:%g" root-file user42 user1000
id -u; cat changed opaque/new; ls -a . opaque | grep -c "^\.wh\." || true
for f in gone-file gone-dir opaque/old opaque/old-dir; do test -e $f && echo present $f; done; true'
expect_contains "$out" "root-file 0:0"$'\n'"user42 42:42"$'\n'"user1000 1000:1000" "owners as root sees them"
expect_contains "$out" "$(id -u)"$'\n'"v2"$'\n'"new"$'\n'"0" "the caller's id, the upper layers' files, no .wh."
expect_not_contains "$out" "present" "whiteouts and the opaque directory"

assert_no_leftovers
