#!/usr/bin/env bash
# `rrun pull` (rootfs/image/pull.hpp), offline: Debian's docker-registry on
# 127.0.0.1 in plain HTTP and with TLS (a CA made by registry.sh) and
# htpasswd auth, the test images (image-fixtures.sh) pushed with skopeo; a
# small stub registry (registry_stub.py) for Bearer tokens, redirects and a
# connection dropped mid-blob; oci:, oci-archive: and docker-archive:.
# Checks: what is stored, what is transferred (the access logs), platform
# choice, concurrent pulls, digest verification, the errors, and that a
# failed pull leaves nothing half-written in the store.
# rrun-test: nosub
# rrun-test: image-fixtures
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image_lib.sh"

BB=$IMAGES/busybox
PLAIN_M=$(manifest_of "$BB" plain)
CONFIGURED_M=$(manifest_of "$BB" configured)
BB_LAYER=$(layer_of "$BB" "$PLAIN_M")
AMD_M=$(platform_manifest "$IMAGES/multiarch" latest amd64)
ARM_M=$(platform_manifest "$IMAGES/multiarch" latest arm64)
AMD_LAYER=$(jq -r '.layers[-1].digest' "$IMAGES/multiarch/blobs/sha256/${AMD_M#sha256:}")
ARM_LAYER=$(jq -r '.layers[-1].digest' "$IMAGES/multiarch/blobs/sha256/${ARM_M#sha256:}")

# expect_clean_failure DIGEST: a failed pull left no file in tmp/, no blob
# DIGEST and no record.
expect_clean_failure() {
  expect_eq "$(store_leftovers)" "" "files in $STORE/tmp after a failed pull"
  ! has_blob "$1" || fail "the blob $1 is in the store after a failed pull"
  expect_eq "$(record_names)" "" "records after a failed pull"
}

step "plain HTTP registry: pull, stored as the registry has it"
registry_start "$WORK/plain"
PLAIN=$REGISTRY
PLAIN_LOG=$REGISTRY_LOG
registry_push "oci:$BB:plain" tests/busybox:plain
registry_push "oci:$BB:configured" tests/busybox:configured
registry_push "oci:$IMAGES/multiarch:latest" tests/multiarch:latest
registry_push "oci:$IMAGES/mixed:latest" tests/mixed:latest
expect_ok rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:plain"
expect_pulled "docker://$PLAIN/tests/busybox:plain" "$PLAIN_M" # (not a terminal: no progress)
has_blob "$PLAIN_M" || fail "the manifest is not in the store"
has_blob "$BB_LAYER" || fail "the layer is not in the store"
expect_eq "$(record_names)" "docker://$PLAIN/tests/busybox:plain" "the image records"
config=$(jq -r .config.digest "$BB/blobs/sha256/${PLAIN_M#sha256:}")
expect_eq "$(jq -r '.images[0].layers[0].diff_id' "$STORE/images.json")" \
  "$(jq -r '.rootfs.diff_ids[0]' "$BB/blobs/sha256/${config#sha256:}")" "the layer's diff_id from the config"
expect_eq "$(store_leftovers)" "" "tmp/ after a pull"
# The reference as a user types it: no transport.
expect_ok rr pull --tls-verify=false "$PLAIN/tests/busybox:configured"
expect_pulled "docker://$PLAIN/tests/busybox:configured" "$CONFIGURED_M"
# gzip, zstd and uncompressed layers, recorded as the manifest says.
expect_ok rr pull --tls-verify=false "$PLAIN/tests/mixed:latest"
expect_eq "$(jq -r --arg n "docker://$PLAIN/tests/mixed:latest" \
  '.images[] | select(.name == $n) | [.layers[].media_type | sub(".*[.]"; "")] | join(" ")' "$STORE/images.json")" \
  "tar+gzip tar+zstd tar" "the mixed image's layer types"

step "a second pull transfers nothing but the manifest"
gets=$(blob_gets "$PLAIN_LOG")
manifests=$(grep -c '"GET /v2/tests/busybox/manifests/plain' "$PLAIN_LOG")
# (A proxy of the environment is not used for 127.0.0.1, as skopeo does.)
http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
  expect_ok rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:plain"
expect_eq "$(blob_gets "$PLAIN_LOG")" "$gets" "blob GETs of the second pull"
expect_eq "$(grep -c '"GET /v2/tests/busybox/manifests/plain' "$PLAIN_LOG")" "$((manifests + 1))" "manifest GETs"

step "an index: the host's platform"
if [[ "$(uname -m)" == x86_64 ]]; then
  expect_ok rr pull --tls-verify=false "docker://$PLAIN/tests/multiarch"
  expect_pulled "docker://$PLAIN/tests/multiarch:latest" "$AMD_M"
  has_blob "$AMD_LAYER" || fail "the amd64 layer is not in the store"
  ! has_blob "$ARM_LAYER" || fail "the arm64 layer was pulled too"
fi

step "two concurrent pulls: both succeed, each blob downloaded once"
use_store concurrent
gets=$(blob_gets "$PLAIN_LOG")
(rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:plain" >"$WORK/c1.out" 2>"$WORK/c1.err") &
p1=$!
(rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:plain" >"$WORK/c2.out" 2>"$WORK/c2.err") &
p2=$!
wait "$p1" || fail "the first concurrent pull failed: $(cat "$WORK/c1.err")"
wait "$p2" || fail "the second concurrent pull failed: $(cat "$WORK/c2.err")"
expect_eq "$(blob_gets "$PLAIN_LOG")" "$((gets + 2))" "blob GETs of two concurrent pulls of a config and a layer"
expect_pulled "docker://$PLAIN/tests/busybox:plain" "$PLAIN_M" "$(cat "$WORK/c1.out")"
expect_pulled "docker://$PLAIN/tests/busybox:plain" "$PLAIN_M" "$(cat "$WORK/c2.out")"
use_store data

step "errors: a missing image, plain HTTP without --tls-verify=false, bad references"
expect_fail_with "manifest nope: HTTP 404: manifest unknown (MANIFEST_UNKNOWN) from $PLAIN" -- \
  rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:nope"
expect_fail_with "TLS with $PLAIN failed" -- rr pull "docker://$PLAIN/tests/busybox:plain"
expect_contains "$err" "--tls-verify=false"
expect_fail_with 'invalid image reference "Tests/X": name component "Tests" has upper-case letters' -- rr pull Tests/X
expect_fail_with 'invalid image reference "docker:busybox": the docker transport is written docker://' -- \
  rr pull docker:busybox

step "a corrupted blob is refused, nothing half-written is kept"
use_store corrupted
bad=$WORK/plain/data/docker/registry/v2/blobs/sha256/${BB_LAYER:7:2}/${BB_LAYER#sha256:}/data
[[ -f "$bad" ]] || fail "no blob data at $bad"
printf 'corrupt' | dd of="$bad" bs=1 seek=1000 conv=notrunc status=none
expect_fail_with "pull docker://$PLAIN/tests/busybox:plain: blob $BB_LAYER: digest mismatch" -- \
  rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:plain"
expect_clean_failure "$BB_LAYER"

step "the registry is gone"
registry_stop
expect_fail_with "pull docker://$PLAIN/tests/busybox:plain: manifest plain: cannot connect to $PLAIN" -- \
  rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:plain"
expect_contains "$err" "is the registry running there?"
use_store data

step "TLS and htpasswd: the CA from --cert-dir or certs.d, credentials from --creds or auth.json"
use_store secure
registry_start "$WORK/secure" --tls --auth alice:s3cret
SECURE=$REGISTRY
CERTS=$(dirname "$REGISTRY_CA")
registry_push "oci:$BB:plain" tests/busybox:plain
REF=docker://$SECURE/tests/busybox:plain
export XDG_RUNTIME_DIR=$WORK/xdg XDG_CONFIG_HOME=$WORK/config HOME=$WORK/home
mkdir -p "$XDG_RUNTIME_DIR/containers" "$XDG_CONFIG_HOME" "$HOME"
expect_fail_with "TLS with $SECURE failed" -- rr pull --creds alice:s3cret "$REF"
expect_contains "$err" "give its CA with --cert-dir DIR"
expect_fail_with "$SECURE requires authentication (HTTP 401: authentication required (UNAUTHORIZED)): log in with \`podman login $SECURE\`, or give --creds USER:PASSWORD or --authfile FILE" -- \
  rr pull --cert-dir "$CERTS" "$REF"
expect_fail_with "$SECURE refused the credentials from --creds for user \"alice\"" -- \
  rr pull --cert-dir "$CERTS" --creds alice:wrong "$REF"
expect_contains "$err" "check them, or log in again with \`podman login $SECURE\`"
expect_fail_with "--creds: expected USER:PASSWORD" -- rr pull --cert-dir "$CERTS" --creds alice "$REF"
expect_eq "$(record_names)" "" "records after the refused pulls"
# auth.json as podman login writes it; the CA in certs.d.
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$SECURE" "$(printf alice:s3cret | base64)" \
  >"$XDG_RUNTIME_DIR/containers/auth.json"
mkdir -p "$XDG_CONFIG_HOME/containers/certs.d/$SECURE"
cp "$REGISTRY_CA" "$XDG_CONFIG_HOME/containers/certs.d/$SECURE/ca.crt"
expect_ok rr pull "$REF"
expect_pulled "$REF" "$PLAIN_M"
# The other places podman and docker write: $REGISTRY_AUTH_FILE, ~/.docker/config.json.
mv "$XDG_RUNTIME_DIR/containers/auth.json" "$WORK/good.json"
expect_fail_with "$SECURE requires authentication" -- rr pull "$REF"
REGISTRY_AUTH_FILE=$WORK/good.json expect_ok rr pull "$REF"
mkdir -p "$HOME/.docker"
cp "$WORK/good.json" "$HOME/.docker/config.json"
expect_ok rr pull "$REF"
rm "$HOME/.docker/config.json"
# Wrong credentials in a file: the message names it.
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$SECURE" "$(printf alice:nope | base64)" >"$WORK/wrong.json"
expect_fail_with "refused the credentials from $WORK/wrong.json" -- rr pull --authfile "$WORK/wrong.json" "$REF"
expect_fail_with "--authfile \`$WORK/none.json\`: no such file" -- rr pull --authfile "$WORK/none.json" "$REF"
# A credential helper is not run, and the error says so.
printf '{"auths":{},"credHelpers":{"%s":"pass"}}\n' "$SECURE" >"$WORK/helper.json"
expect_fail_with "$WORK/helper.json names the credential helper docker-credential-pass for $SECURE, which rrun does not run" -- \
  rr pull --authfile "$WORK/helper.json" "$REF"
# --tls-verify=false on a TLS registry: TLS without verification.
rm -rf --one-file-system "$XDG_CONFIG_HOME/containers/certs.d"
expect_ok rr pull --tls-verify=false --authfile "$WORK/good.json" "$REF"
registry_stop
use_store data

step "Bearer tokens (stub registry), blobs redirected to another host without the credentials"
use_store bearer
stub_start "$BB" --bearer bob:pw --redirect
expect_fail_with "$STUB requires authentication" -- rr pull --tls-verify=false "docker://$STUB/tests/busybox:plain"
expect_fail_with "$STUB refused the credentials from --creds for user \"bob\"" -- \
  rr pull --tls-verify=false --creds bob:wrong "docker://$STUB/tests/busybox:plain"
expect_ok rr pull --tls-verify=false --creds bob:pw "docker://$STUB/tests/busybox:plain"
expect_pulled "docker://$STUB/tests/busybox:plain" "$PLAIN_M"
grep -q '"GET /token?service=stub&scope=repository%3Atests%2Fbusybox%3Apull' "$STUB_LOG" ||
  fail "no token request with the service and scope: $(cat "$STUB_LOG")"
grep -q '"GET /storage/sha256:.*" 200' "$STUB_LOG" || fail "the blobs were not redirected: $(cat "$STUB_LOG")"
stub_stop
# Anonymous tokens (Docker Hub's way).
use_store anonymous
stub_start "$BB" --bearer -
expect_ok rr pull --tls-verify=false "docker://$STUB/tests/busybox:configured"
stub_stop

step "the registry goes away mid-blob: nothing of the blob is kept"
use_store gone
stub_start "$BB" --drop "$BB_LAYER"
expect_fail_with "blob $BB_LAYER: the registry went away during the transfer" -- \
  rr pull --tls-verify=false "docker://$STUB/tests/busybox:plain"
expect_clean_failure "$BB_LAYER"
stub_stop
use_store data

step "oci: layouts"
expect_ok rr pull "oci:$BB:plain"
expect_pulled "oci:$BB:plain" "$PLAIN_M"
if [[ "$(uname -m)" == x86_64 ]]; then
  expect_ok rr pull "oci:$IMAGES/multiarch"
  expect_pulled "oci:$IMAGES/multiarch" "$AMD_M"
fi
expect_fail_with "pull oci:$BB: the layout holds 3 images (plain, configured, named): name one as oci:$BB:NAME" -- \
  rr pull "oci:$BB"
expect_fail_with "pull oci:$BB:nope: the layout has no image named \"nope\" (it has plain, configured, named)" -- \
  rr pull "oci:$BB:nope"
expect_fail_with "pull oci:$WORK: not an OCI image layout" -- rr pull "oci:$WORK"
# A corrupted layer in a layout.
use_store badlayout
cp -a "$BB" "$WORK/badlayout"
chmod -R u+w "$WORK/badlayout"
printf 'corrupt' | dd of="$WORK/badlayout/blobs/sha256/${BB_LAYER#sha256:}" bs=1 seek=1000 conv=notrunc status=none
expect_fail_with "blob $BB_LAYER: digest mismatch" -- rr pull "oci:$WORK/badlayout:plain"
expect_clean_failure "$BB_LAYER"

step "oci-archive: and docker-archive:"
use_store archives
expect_ok rr pull "oci-archive:$IMAGES/busybox.oci-archive.tar:latest"
expect_pulled "oci-archive:$IMAGES/busybox.oci-archive.tar:latest" "$CONFIGURED_M"
expect_eq "$(store_leftovers)" "" "tmp/ after an oci-archive pull"
expect_fail_with "not a tar archive" -- rr pull "oci-archive:$BB/index.json"
expect_fail_with "\`$WORK/none.tar\`: no such file" -- rr pull "oci-archive:$WORK/none.tar"
DA=$IMAGES/busybox.docker-archive.tar
expect_ok rr pull "docker-archive:$DA"
digest=sha256:$out
expect_pulled "docker-archive:$DA" "$digest"
# Recorded as an OCI image whose layer is the archive's plain tar: its
# digest is its diff_id, and its config is busybox:configured's.
manifest=$STORE/blobs/sha256/${digest#sha256:}
expect_eq "$(jq -r .mediaType "$manifest")" "application/vnd.oci.image.manifest.v1+json" "the recorded manifest"
record=$(jq -c --arg n "docker-archive:$DA" '.images[] | select(.name == $n)' "$STORE/images.json")
expect_eq "$(jq -r '.layers[0].digest' "$manifest")" "$(jq -r '.layers[0].diff_id' <<<"$record")" \
  "the docker-archive layer's digest and diff_id"
expect_eq "$(jq -r '.layers[0].diff_id' <<<"$record")" \
  "$(jq -r '.rootfs.diff_ids[0]' "$BB/blobs/sha256/$(jq -r .config.digest "$BB/blobs/sha256/${CONFIGURED_M#sha256:}" | cut -d: -f2)")" \
  "the docker-archive's diff_id"
expect_ok rr pull "docker-archive:$DA:busybox:latest"
expect_fail_with "the archive has no image named \"x:y\" (docker.io/library/busybox:latest)" -- \
  rr pull "docker-archive:$DA:x:y"
expect_eq "$(store_leftovers)" "" "tmp/ after the archive pulls"

step "progress on a terminal, none with --quiet"
use_store progress
script -qec "$RRUN_BIN --root $STATE_ROOT pull oci:$BB:plain" /dev/null >"$WORK/tty.out" </dev/null ||
  fail "pull on a terminal failed: $(cat "$WORK/tty.out")"
tty_out=$(cat "$WORK/tty.out")
expect_contains "$tty_out" $'\r'"layer 1/1 ${BB_LAYER:0:19}" "progress"
expect_contains "$tty_out" " done, " "progress"
use_store progress-quiet
script -qec "$RRUN_BIN --root $STATE_ROOT pull --quiet oci:$BB:plain" /dev/null >"$WORK/tty.out" </dev/null
expect_pulled "oci:$BB:plain" "$PLAIN_M" "$(tr -d '\r' <"$WORK/tty.out")"

assert_no_leftovers
