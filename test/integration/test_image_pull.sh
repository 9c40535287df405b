#!/usr/bin/env bash
# `rrun pull` (rootfs/image/pull.hpp), offline: Debian's docker-registry on
# 127.0.0.1 in plain HTTP and with TLS (a CA made here) and htpasswd auth,
# images pushed with skopeo from OCI layouts built here with umoci; a
# small stub registry (registry_stub.py) for Bearer tokens, redirects and a
# connection dropped mid-blob; oci:, oci-archive: and docker-archive:.
# Checks: what is stored, what is transferred (the registries' access logs),
# platform choice, concurrent pulls, digest verification, the errors, and
# that a failed pull leaves nothing half-written in the store.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image_lib.sh"

# --- images
L=$WORK/layout
make_busybox_layout "$L" v1 amd64 hello "hello v1"
make_busybox_layout "$L" v2 amd64 hello "hello v2"
make_busybox_layout "$L" amd amd64 arch amd64
make_busybox_layout "$L" arm arm64 arch arm64
make_index "$L" multi amd arm
V1=$(manifest_of "$L" v1)
AMD=$(manifest_of "$L" amd)
# A layer of 4 MiB of noise, for the transfer cut in half.
BIG=$WORK/big
umoci init --layout "$BIG"
umoci new --image "$BIG:big"
mkdir -p "$WORK/bigroot"
head -c $((4 << 20)) /dev/urandom >"$WORK/bigroot/noise"
tar -C "$WORK/bigroot" -cf "$WORK/big.tar" .
umoci raw add-layer --image "$BIG:big" "$WORK/big.tar"
BIG_LAYER=$(jq -r '.layers[0].digest' "$BIG/blobs/sha256/$(manifest_of "$BIG" big | cut -d: -f2)")

# layer_of LAYOUT TAG: the digest of the image's one layer.
layer_of() { jq -r '.layers[0].digest' "$1/blobs/sha256/$(manifest_of "$1" "$2" | cut -d: -f2)"; }
has_blob() { [[ -f "$STORE/blobs/sha256/${1#sha256:}" ]]; }
record_names() { jq -r '.images[].name' "$STORE/images.json" 2>/dev/null | sort; }
# expect_clean_failure DIGEST: a failed pull left no file in tmp/ and no blob DIGEST.
expect_clean_failure() {
  local left
  left=$(store_leftovers)
  [[ -z "$left" ]] || fail "files left in $STORE/tmp: $left"
  ! has_blob "$1" || fail "the blob $1 is in the store after a failed pull"
}

step "plain HTTP registry: pull, stored as the registry has it"
start_registry plain
PLAIN=127.0.0.1:$plain_port
push_image "$L:v1" "docker://$PLAIN/tests/busybox:v1"
push_image "$L:v2" "docker://$PLAIN/tests/busybox:v2"
push_image "$L:multi" "docker://$PLAIN/tests/multi:latest" --dest-tls-verify=false --all
expect_ok rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:v1"
expect_eq "$out" "docker://$PLAIN/tests/busybox:v1 $V1" "pull's output (stdout is not a terminal: no progress)"
has_blob "$V1" || fail "the manifest is not in the store"
has_blob "$(layer_of "$L" v1)" || fail "the layer is not in the store"
expect_eq "$(record_names)" "docker://$PLAIN/tests/busybox:v1" "the image records"
expect_eq "$(jq -r '.images[0].layers[0].diff_id' "$STORE/images.json")" \
  "$(jq -r '.rootfs.diff_ids[0]' "$L/blobs/sha256/$(jq -r .config.digest "$L/blobs/sha256/${V1#sha256:}" | cut -d: -f2)")" \
  "the layer's diff_id from the config"
expect_eq "$(store_leftovers)" "" "tmp/ after a pull"
# The reference as a user types it: no scheme, no tag.
expect_ok rr pull --tls-verify=false "$PLAIN/tests/busybox:v2"
expect_contains "$out" "docker://$PLAIN/tests/busybox:v2 "

step "a second pull transfers nothing but the manifest"
gets=$(blob_gets plain)
manifests=$(grep -c '"GET /v2/tests/busybox/manifests/v1' "$plain_log")
expect_ok rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:v1"
expect_eq "$(blob_gets plain)" "$gets" "blob GETs of the second pull"
expect_eq "$(grep -c '"GET /v2/tests/busybox/manifests/v1' "$plain_log")" "$((manifests + 1))" "manifest GETs"

step "an index: the host's platform"
if [[ "$(uname -m)" == x86_64 ]]; then
  expect_ok rr pull --tls-verify=false "docker://$PLAIN/tests/multi"
  expect_eq "$out" "docker://$PLAIN/tests/multi:latest $AMD" "the amd64 manifest of the index"
  has_blob "$(layer_of "$L" amd)" || fail "the amd64 layer is not in the store"
  ! has_blob "$(layer_of "$L" arm)" || fail "the arm64 layer was pulled too"
fi

step "two concurrent pulls: both succeed, each blob downloaded once"
gets=$(blob_gets plain)
use_store data2
(rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:v1" >"$WORK/c1.out" 2>"$WORK/c1.err") &
p1=$!
(rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:v1" >"$WORK/c2.out" 2>"$WORK/c2.err") &
p2=$!
wait "$p1" || fail "the first concurrent pull failed: $(cat "$WORK/c1.err")"
wait "$p2" || fail "the second concurrent pull failed: $(cat "$WORK/c2.err")"
expect_eq "$(blob_gets plain)" "$((gets + 2))" "blob GETs of two concurrent pulls of a config and a layer"
expect_eq "$(cat "$WORK/c1.out")" "$(cat "$WORK/c2.out")" "both pulls' output"
use_store data

step "a corrupted blob is refused, nothing half-written is kept"
BAD_LAYER=$(layer_of "$L" v2)
use_store data3
bad_data=$plain_dir/storage/docker/registry/v2/blobs/sha256/${BAD_LAYER:7:2}/${BAD_LAYER#sha256:}/data
[[ -f "$bad_data" ]] || fail "no blob data at $bad_data"
printf 'corrupt' | dd of="$bad_data" bs=1 seek=1000 conv=notrunc status=none
expect_fail_with "blob $BAD_LAYER: digest mismatch" -- rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:v2"
expect_contains "$err" "rrun: pull docker://$PLAIN/tests/busybox:v2: "
expect_clean_failure "$BAD_LAYER"
expect_eq "$(record_names)" "" "records after a refused pull"
use_store data

step "errors: no registry, a missing image, plain HTTP without --tls-verify=false, bad references"
expect_fail_with "manifest nope: HTTP 404: manifest unknown (MANIFEST_UNKNOWN) from $PLAIN" -- \
  rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:nope"
expect_fail_with "TLS with $PLAIN failed" -- rr pull "docker://$PLAIN/tests/busybox:v1"
expect_contains "$err" "--tls-verify=false"
expect_fail_with 'invalid image reference "Tests/X": name component "Tests" has upper-case letters' -- \
  rr pull "Tests/X"
stop_registry plain
expect_fail_with "pull docker://$PLAIN/tests/busybox:v1: manifest v1: cannot connect to $PLAIN" -- \
  rr pull --tls-verify=false "docker://$PLAIN/tests/busybox:v1"
expect_contains "$err" "is the registry running there?"

step "TLS and htpasswd: the CA from --cert-dir or certs.d, credentials from --creds or auth.json"
start_registry secure tls htpasswd alice:s3cret
SECURE=127.0.0.1:$secure_port
push_image "$L:v1" "docker://$SECURE/tests/busybox:v1" --dest-cert-dir "$secure_certs" --dest-creds alice:s3cret
REF=docker://$SECURE/tests/busybox:v1
export XDG_RUNTIME_DIR=$WORK/xdg XDG_CONFIG_HOME=$WORK/config HOME=$WORK/home
mkdir -p "$XDG_RUNTIME_DIR/containers" "$XDG_CONFIG_HOME" "$HOME"
expect_fail_with "TLS with $SECURE failed" -- rr pull --creds alice:s3cret "$REF"
expect_contains "$err" "give its CA with --cert-dir DIR"
expect_fail_with "$SECURE requires authentication (HTTP 401: authentication required (UNAUTHORIZED)): log in with \`podman login $SECURE\`, or give --creds USER:PASSWORD or --authfile FILE" -- \
  rr pull --cert-dir "$secure_certs" "$REF"
expect_fail_with "$SECURE refused the credentials from --creds for user \"alice\"" -- \
  rr pull --cert-dir "$secure_certs" --creds alice:wrong "$REF"
expect_contains "$err" "check them, or log in again with \`podman login $SECURE\`"
expect_fail_with "--creds: expected USER:PASSWORD" -- rr pull --cert-dir "$secure_certs" --creds alice "$REF"
# auth.json as podman login writes it; the CA in certs.d.
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$SECURE" "$(printf alice:s3cret | base64)" \
  >"$XDG_RUNTIME_DIR/containers/auth.json"
mkdir -p "$XDG_CONFIG_HOME/containers/certs.d/$SECURE"
cp "$secure_certs/ca.crt" "$XDG_CONFIG_HOME/containers/certs.d/$SECURE/"
expect_ok rr pull "$REF"
expect_eq "$out" "$REF $V1" "pull with auth.json and certs.d"
# Wrong credentials in the file: the message names it.
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$SECURE" "$(printf alice:nope | base64)" >"$WORK/wrong.json"
expect_fail_with "refused the credentials from $WORK/wrong.json" -- rr pull --authfile "$WORK/wrong.json" "$REF"
expect_fail_with "--authfile \`$WORK/none.json\`: no such file" -- rr pull --authfile "$WORK/none.json" "$REF"
# A credential helper is not run, and the error says so.
printf '{"auths":{},"credHelpers":{"%s":"pass"}}\n' "$SECURE" >"$WORK/helper.json"
expect_fail_with "$WORK/helper.json names the credential helper docker-credential-pass for $SECURE, which rrun does not run" -- \
  rr pull --authfile "$WORK/helper.json" "$REF"
# --tls-verify=false on a TLS registry: TLS without verification.
rm -rf --one-file-system "$XDG_CONFIG_HOME/containers/certs.d"
expect_ok rr pull --tls-verify=false "$REF"
stop_registry secure

step "Bearer tokens (stub registry), blobs redirected to another host without the credentials"
start_stub bearer "$L" --bearer bob:pw --redirect
STUB=127.0.0.1:$bearer_port
use_store data4
expect_fail_with "$STUB requires authentication" -- rr pull --tls-verify=false "docker://$STUB/tests/busybox:v1"
expect_fail_with "$STUB refused the credentials from --creds for user \"bob\"" -- \
  rr pull --tls-verify=false --creds bob:wrong "docker://$STUB/tests/busybox:v1"
expect_ok rr pull --tls-verify=false --creds bob:pw "docker://$STUB/tests/busybox:v1"
expect_eq "$out" "docker://$STUB/tests/busybox:v1 $V1" "pull with a Bearer token"
grep -q '"GET /token?service=stub&scope=repository%3Atests%2Fbusybox%3Apull' "$bearer_log" ||
  fail "no token request with the service and scope: $(cat "$bearer_log")"
grep -q '"GET /storage/sha256:' "$bearer_log" || fail "the blobs were not redirected"
stop_registry bearer
start_stub anon "$L" --bearer -
expect_ok rr pull --tls-verify=false "docker://127.0.0.1:$anon_port/tests/busybox:v2"
stop_registry anon
use_store data

step "the registry goes away mid-blob: nothing of the blob is kept"
start_stub gone "$BIG" --drop "$BIG_LAYER"
use_store data5
expect_fail_with "blob $BIG_LAYER: the registry went away during the transfer" -- \
  rr pull --tls-verify=false "docker://127.0.0.1:$gone_port/tests/big:big"
expect_clean_failure "$BIG_LAYER"
expect_eq "$(record_names)" "" "records after a cut transfer"
stop_registry gone
use_store data

step "oci: layouts"
expect_ok rr pull "oci:$L:v1"
expect_eq "$out" "oci:$L:v1 $V1" "pull oci:"
if [[ "$(uname -m)" == x86_64 ]]; then
  expect_ok rr pull "oci:$L:multi"
  expect_eq "$out" "oci:$L:multi $AMD" "pull oci: of an index"
fi
expect_fail_with "pull oci:$L: the layout holds 5 images (v1, v2, amd, arm, multi): name one as oci:$L:NAME" -- rr pull "oci:$L"
expect_fail_with "pull oci:$L:nope: the layout has no image named \"nope\" (it has v1, v2, amd, arm, multi)" -- rr pull "oci:$L:nope"
expect_fail_with "pull oci:$WORK: not an OCI image layout" -- rr pull "oci:$WORK"
expect_ok rr pull "oci:$BIG"
expect_contains "$out" "oci:$BIG sha256:"
# A corrupted layer in a layout.
cp -a "$L" "$WORK/badlayout"
layer=$(layer_of "$L" v2)
printf 'corrupt' | dd of="$WORK/badlayout/blobs/sha256/${layer#sha256:}" bs=1 seek=1000 conv=notrunc status=none
use_store data6
expect_fail_with "blob $layer: digest mismatch" -- rr pull "oci:$WORK/badlayout:v2"
expect_clean_failure "$layer"
use_store data

step "oci-archive: and docker-archive:"
tar -C "$L" -cf "$WORK/layout.tar" .
use_store data7
expect_ok rr pull "oci-archive:$WORK/layout.tar:v1"
expect_eq "$out" "oci-archive:$WORK/layout.tar:v1 $V1" "pull oci-archive:"
expect_eq "$(store_leftovers)" "" "tmp/ after an oci-archive pull"
expect_fail_with "not a tar archive" -- rr pull "oci-archive:$L/index.json"
expect_fail_with "\`$WORK/none.tar\`: no such file" -- rr pull "oci-archive:$WORK/none.tar"
run skopeo --insecure-policy copy --quiet "oci:$L:v1" "docker-archive:$WORK/docker.tar:tests/busybox:v1"
((rc == 0)) || fail "skopeo copy to docker-archive: $err"
expect_ok rr pull "docker-archive:$WORK/docker.tar"
expect_contains "$out" "docker-archive:$WORK/docker.tar sha256:"
digest=${out##* }
# Recorded as an OCI image whose one layer is the plain tar: its digest is its diff_id.
manifest=$STORE/blobs/sha256/${digest#sha256:}
expect_eq "$(jq -r .mediaType "$manifest")" "application/vnd.oci.image.manifest.v1+json" "the recorded manifest"
expect_eq "$(jq -r '.layers[0].digest' "$manifest")" \
  "$(jq -r --arg n "docker-archive:$WORK/docker.tar" '.images[] | select(.name == $n) | .layers[0].diff_id' "$STORE/images.json")" \
  "the docker-archive layer's digest and diff_id"
expect_ok rr pull "docker-archive:$WORK/docker.tar:tests/busybox:v1"
expect_fail_with "the archive has no image named \"x:y\" (docker.io/tests/busybox:v1)" -- rr pull "docker-archive:$WORK/docker.tar:x:y"
expect_eq "$(store_leftovers)" "" "tmp/ after the archive pulls"
use_store data

step "progress on a terminal, none with --quiet"
use_store data8
script -qec "$RRUN_BIN --root $STATE_ROOT pull oci:$BIG:big" /dev/null >"$WORK/tty.out" </dev/null ||
  fail "pull on a terminal failed: $(cat "$WORK/tty.out")"
tty_out=$(cat "$WORK/tty.out")
expect_contains "$tty_out" $'\r'"layer 1/1 ${BIG_LAYER:0:19}" "progress"
expect_contains "$tty_out" "done, 4.0 MiB in " "progress"
script -qec "$RRUN_BIN --root $STATE_ROOT pull --quiet oci:$BIG:big" /dev/null >"$WORK/tty.out" </dev/null
expect_not_contains "$(cat "$WORK/tty.out")" "layer 1/1" "pull --quiet"
use_store data

assert_no_leftovers
