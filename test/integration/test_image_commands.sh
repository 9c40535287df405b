#!/usr/bin/env bash
# The image commands (README "Images"), on the OCI layouts of
# image-fixtures.sh: `rrun pull` prints the image id; `rrun images` lists
# name, id, size and times (table, --format json, -q); `rrun unpack` writes a
# bundle that `rrun run -b` runs as the image says; `rrun rmi` then `rrun
# prune` leave nothing in blobs/ and layers/; unknown names are one error
# line and exit 1. A plain bundle never touches the store.
# rrun-test: nosub
# rrun-test: image-fixtures
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/image-fixtures.sh"
images_require

export XDG_DATA_HOME=$WORK/data
STORE=$XDG_DATA_HOME/rrun
BB=oci:$IMAGES/busybox

step "a plain bundle neither needs nor makes the store"
make_bundle "$WORK/plain" true
expect_ok rr run -b "$WORK/plain" plain
[[ ! -e "$STORE" ]] || fail "run -b of a bundle made $STORE"
expect_fail_with "--creds is for images" -- rr run -b "$WORK/plain" --creds u:p plain

step "pull prints the manifest digest"
want=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "configured") | .digest' \
  "$IMAGES/busybox/index.json")
expect_ok rr pull -q "$BB:configured"
expect_eq "$out" "${want#sha256:}" "the id"
expect_ok rr pull "$BB:configured"
expect_eq "$out" "${want#sha256:}" "the id again (cached)"
expect_ok rr pull -q "oci:$IMAGES/multi:latest"
expect_fail_with "invalid image reference" -- rr pull "Bad Name"
expect_fail_with "nothing" -- rr pull "oci:$WORK/nothing:x"

step "images: name, id, size, times"
expect_ok rr images
header=$(head -1 <<<"$out")
for col in NAME ID SIZE PULLED "LAST USED"; do expect_contains "$header" "$col" "the header"; done
line=$(grep -F "$BB:configured" <<<"$out") || fail "busybox:configured not listed: $out"
expect_contains "$line" "${want:7:12}" "the short id"
[[ "$line" =~ [0-9.]+\ (kB|MB) ]] || fail "no human size in [$line]"
expect_contains "$line" "ago" "the times"
expect_ok rr images -q
expect_contains "$out" "${want:7:12}" "images -q"
expect_eq "$(wc -l <<<"$out")" 2 "images -q: two images"
expect_ok rr images --format json
expect_eq "$(jq -r --arg n "$BB:configured" '.[] | select(.name == $n) | .id' <<<"$out")" "$want" "json id"
expect_eq "$(jq -r '[.[] | .size > 1000 and (.pulled | length) > 0] | all' <<<"$out")" true "json size and pulled"

step "unpack writes a bundle that run -b runs as the image says"
expect_ok rr unpack -q "$BB:configured" "$WORK/b"
cfg=$WORK/b/config.json
expect_eq "$(jq -c .process.args "$cfg")" '["/bin/sh","-c","echo hello from the image"]' "Entrypoint + Cmd"
expect_eq "$(jq -r .process.cwd "$cfg")" /work "WorkingDir"
expect_eq "$(jq -r '.process.env | index("FOO=bar") != null' "$cfg")" true "Env"
expect_eq "$(jq -r '"\(.process.user.uid):\(.process.user.gid)"' "$cfg")" 1000:1000 "User"
expect_eq "$(jq -r '.annotations["org.opencontainers.image.stopSignal"]' "$cfg")" SIGUSR1 "StopSignal"
expect_eq "$(jq -r ".process.terminal // false" "$cfg")" false "no terminal"
if ((MANY_IDS)); then
  expect_ok rr run -b "$WORK/b" unpacked
  expect_eq "$out" "hello from the image" "run -b of the unpacked image"
  config_set "$WORK/b" '.process.args = ["/bin/sh", "-c", "stat -c %u:%g /work /bin/busybox; id -u"]'
  expect_ok rr run -b "$WORK/b" unpacked
  expect_eq "$out" "1000:1000"$'\n'"0:0"$'\n'"1000" "owners inside the unpacked rootfs"
else
  # Without a range only root is mapped: the image's user 1000 can't run.
  config_set "$WORK/b" '.process.user = {"uid": 0, "gid": 0}'
  expect_ok rr run -b "$WORK/b" unpacked
  expect_eq "$out" "hello from the image" "run -b of the unpacked image as root"
fi
expect_fail_with "already exists" -- rr unpack "$BB:configured" "$WORK/b"
expect_fail_with "invalid image reference" -- rr unpack "oci:" "$WORK/never"
[[ ! -e "$WORK/never" ]] || fail "a failed unpack left $WORK/never"

step "sandboxes unpack layers into the store; rmi then prune frees it all"
printf 'image: %s\n' "oci:$IMAGES/multi:latest" >"$WORK/multi.yaml"
expect_ok rr run -f "$WORK/multi.yaml" -- true
[[ -n "$(find "$STORE/layers" -mindepth 2 -maxdepth 2)" ]] || fail "no unpacked layer in $STORE/layers"
expect_fail_with "no image \`nothing\` in rrun's store" -- rr rmi nothing
expect_ok rr rmi "${want:7:12}" "oci:$IMAGES/multi:latest"
expect_contains "$out" "removed $BB:configured ${want:7:12}" "rmi by id"
expect_ok rr images -q
expect_eq "$out" "" "no image left"
expect_ok rr prune
expect_contains "$out" "freed" "prune says what it freed"
[[ "$out" =~ freed\ ([0-9]+)\ blob ]] && ((BASH_REMATCH[1] > 0)) || fail "prune freed no blob: $out"
expect_eq "$(find "$STORE/blobs" -type f | wc -l)" 0 "blobs left"
expect_eq "$(find "$STORE/layers" -mindepth 2 -maxdepth 2 | wc -l)" 0 "layers left"
expect_ok rr prune
expect_contains "$out" "freed 0 blobs and 0 unpacked layers" "a second prune"

assert_no_leftovers
