# shellcheck shell=bash
# Sourced by test/integration/test_image_*.sh after lib.sh: the test images
# (image-fixtures.sh: $IMAGES), Debian's docker-registry (registry.sh), a
# stub registry for what docker-registry cannot be made to do, and an image
# store of the test's own.
#
#   $STORE                 the test's image store ($XDG_DATA_HOME/rrun)
#   use_store NAME         another store: XDG_DATA_HOME=$WORK/NAME (default: data)
#   stub_start LAYOUT [ARGS...]
#                          registry_stub.py serving an OCI layout as a registry
#                          (Bearer tokens, redirects, a connection dropped
#                          mid-blob: see its header) on a free 127.0.0.1 port;
#                          sets STUB (127.0.0.1:PORT), STUB_PID, STUB_LOG.
#                          Killed at exit, as the registry is.
#   stub_stop              kills it (SIGKILL) and waits
#   manifest_of LAYOUT TAG the manifest digest TAG names in LAYOUT
#   platform_manifest LAYOUT TAG ARCH
#                          the ARCH manifest of the index TAG names
#   layer_of LAYOUT DIGEST the digest of the first layer of manifest DIGEST
#   blob_gets LOG          the number of blob GETs in an access log
#   has_blob DIGEST        the store has that blob
#   record_names           the names the store records, sorted
#   expect_pulled NAME DIGEST [OUT]
#                          the pull printed DIGEST's id (OUT, default $out) and
#                          the store records NAME with manifest DIGEST
#   store_leftovers        files in the store's tmp/ (a failed pull leaves none)

# shellcheck source=image-fixtures.sh
source "$(dirname "${BASH_SOURCE[0]}")/image-fixtures.sh"
# shellcheck source=registry.sh
source "$(dirname "${BASH_SOURCE[0]}")/registry.sh"
images_require

use_store() {
  export XDG_DATA_HOME=$WORK/$1
  STORE=$XDG_DATA_HOME/rrun
}
use_store data

STUB="" STUB_PID="" STUB_LOG=""

stub_start() {
  local layout=$1 dir _
  shift
  dir=$(mktemp -d "$WORK/stub.XXXXXX")
  STUB_LOG=$dir/access.log
  for _ in 1 2 3; do
    STUB=127.0.0.1:$(_registry_free_port)
    /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/registry_stub.py" --port "${STUB#*:}" --layout "$layout" "$@" \
      >"$STUB_LOG" 2>&1 &
    STUB_PID=$!
    for _ in $(seq 100); do
      curl -s -o /dev/null "http://$STUB/v2/" 2>/dev/null && return 0
      kill -0 "$STUB_PID" 2>/dev/null || break # lost the port: next one
      sleep 0.05
    done
    stub_stop
  done
  fail "the stub registry did not start: $(cat "$STUB_LOG")"
}

stub_stop() {
  [[ -n "$STUB_PID" ]] || return 0
  kill -KILL "$STUB_PID" 2>/dev/null || true
  wait "$STUB_PID" 2>/dev/null || true
  STUB_PID=""
}

# Both servers go before lib.sh's leftover check and cleanup.
# shellcheck disable=SC2154 # set in the trap
trap '_image_status=$?; stub_stop; registry_stop; (exit "$_image_status"); _rrun_test_cleanup' EXIT

manifest_of() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$1/index.json"
}

platform_manifest() {
  local index
  index=$(manifest_of "$1" "$2")
  jq -r --arg a "$3" '.manifests[] | select(.platform.architecture == $a) | .digest' \
    "$1/blobs/sha256/${index#sha256:}"
}

layer_of() { jq -r '.layers[0].digest' "$1/blobs/sha256/${2#sha256:}"; }

blob_gets() { grep -c '"GET /v2/[^ ]*/blobs/sha256:' "$1" || true; }

has_blob() { [[ -f "$STORE/blobs/sha256/${1#sha256:}" ]]; }

record_names() { jq -r '.images[].name' "$STORE/images.json" 2>/dev/null | sort; }

expect_pulled() {
  expect_eq "${3-$out}" "${2#sha256:}" "pull's output"
  expect_eq "$(jq -r --arg n "$1" '.images[] | select(.name == $n) | .manifest_digest' "$STORE/images.json")" "$2" \
    "the manifest recorded for $1"
}

store_leftovers() {
  [[ -d "$STORE/tmp" ]] || return 0
  find "$STORE/tmp" -mindepth 1 -printf '%P\n'
}
