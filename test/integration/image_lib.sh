# shellcheck shell=bash
# Sourced by test/integration/test_image_*.sh after lib.sh: an image store
# of the test's own, local registries and small images, all offline.
#
#   $STORE                  the test's image store ($XDG_DATA_HOME/rrun, XDG_DATA_HOME=$WORK/data)
#   use_store NAME          another store: XDG_DATA_HOME=$WORK/NAME, STORE (default: data)
#   free_port               prints a free TCP port on 127.0.0.1
#   start_registry NAME [tls] [htpasswd USER:PASSWORD]
#                           Debian's docker-registry (distribution 2.8) on
#                           127.0.0.1, storage in $WORK/NAME; sets NAME_port,
#                           NAME_dir, NAME_log (its access log), NAME_pid and,
#                           with tls, NAME_certs (a dir with the CA's ca.crt:
#                           --cert-dir). Killed when the test exits.
#   start_stub NAME LAYOUT [ARGS...]
#                           test/integration/registry_stub.py serving an OCI
#                           layout as a registry (bearer auth, redirects, a
#                           dropped connection: see its header); same variables
#   stop_registry NAME      kills it (SIGKILL: it "goes away")
#   push_image LAYOUT:TAG REF [SKOPEO_ARGS...]
#                           skopeo copy to a registry (plain http unless ARGS say otherwise)
#   make_busybox_layout DIR TAG [ARCH [FILE TEXT]]
#                           a one-layer OCI image of busybox-static made with
#                           umoci (adds /FILE holding TEXT; ARCH default amd64)
#   make_index LAYOUT TAG TAG_A TAG_B
#                           an OCI index named TAG of the images TAG_A and
#                           TAG_B (platforms from their configs)
#   manifest_of LAYOUT TAG  the manifest digest TAG names in LAYOUT
#   blob_gets NAME          the number of blob GETs in NAME's access log
#   store_leftovers         files in the store's tmp/ (should be none)

command -v docker-registry >/dev/null || skip "docker-registry is missing: install docker-registry"
command -v skopeo >/dev/null || skip "skopeo is missing: install skopeo"
command -v umoci >/dev/null || skip "umoci is missing: install umoci"

use_store() {
  export XDG_DATA_HOME=$WORK/$1
  STORE=$XDG_DATA_HOME/rrun
}
use_store data
_image_registries=()

_image_cleanup() {
  local name pid
  for name in "${_image_registries[@]}"; do
    pid=${name}_pid
    if [[ -n "${!pid:-}" ]]; then
      kill -KILL "${!pid}" 2>/dev/null || true
      wait "${!pid}" 2>/dev/null || true
    fi
  done
}
_image_exit() {
  local status=$?
  _image_cleanup
  (exit "$status")
  _rrun_test_cleanup
}
trap _image_exit EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _wait_listening NAME URL: until the registry answers (any HTTP status).
_wait_listening() {
  local name=$1 url=$2 pid=${1}_pid i
  for ((i = 0; i < 200; i++)); do
    if curl -sk -o /dev/null "$url" 2>/dev/null; then return 0; fi
    kill -0 "${!pid}" 2>/dev/null || break
    sleep 0.05
  done
  local log=${name}_log
  fail "registry $name did not start: $(tail -5 "${!log}" 2>/dev/null)"
}

# _make_certs DIR: a CA (DIR/ca.crt) and a certificate for 127.0.0.1 (IP SAN) it signed.
_make_certs() {
  local d=$1
  mkdir -p "$d/ca"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=rrun-test-ca \
    -keyout "$d/ca.key" -out "$d/ca/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
}

start_registry() {
  local name=$1 tls=0 htpasswd="" dir port
  shift
  while (($#)); do
    case $1 in
      tls) tls=1 ;;
      htpasswd) htpasswd=$2; shift ;;
      *) fail "start_registry: unknown option $1" ;;
    esac
    shift
  done
  dir=$WORK/$name
  mkdir -p "$dir/storage"
  port=$(free_port)
  {
    printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$dir/storage"
    printf '  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n  secret: rrun-test\n' "$port"
    if ((tls)); then
      _make_certs "$dir/certs"
      printf '  tls:\n    certificate: %s\n    key: %s\n' "$dir/certs/server.crt" "$dir/certs/server.key"
    fi
    if [[ -n "$htpasswd" ]]; then
      command -v htpasswd >/dev/null || skip "htpasswd is missing: install apache2-utils"
      htpasswd -Bbn "${htpasswd%%:*}" "${htpasswd#*:}" >"$dir/htpasswd"
      printf 'auth:\n  htpasswd:\n    realm: rrun-test\n    path: %s\n' "$dir/htpasswd"
    fi
  } >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  printf -v "${name}_pid" %s $!
  printf -v "${name}_port" %s "$port"
  printf -v "${name}_dir" %s "$dir"
  printf -v "${name}_log" %s "$dir/registry.log"
  ((tls)) && printf -v "${name}_certs" %s "$dir/certs/ca"
  _image_registries+=("$name")
  local scheme=http
  ((tls)) && scheme=https
  _wait_listening "$name" "$scheme://127.0.0.1:$port/v2/"
}

start_stub() {
  local name=$1 layout=$2 port dir
  shift 2
  dir=$WORK/$name
  mkdir -p "$dir"
  port=$(free_port)
  python3 "$(dirname "${BASH_SOURCE[0]}")/registry_stub.py" --port "$port" --layout "$layout" "$@" \
    >"$dir/registry.log" 2>&1 &
  printf -v "${name}_pid" %s $!
  printf -v "${name}_port" %s "$port"
  printf -v "${name}_dir" %s "$dir"
  printf -v "${name}_log" %s "$dir/registry.log"
  _image_registries+=("$name")
  _wait_listening "$name" "http://127.0.0.1:$port/v2/"
}

stop_registry() {
  local pid=${1}_pid
  kill -KILL "${!pid}" 2>/dev/null || true
  wait "${!pid}" 2>/dev/null || true
  printf -v "${1}_pid" %s ""
}

push_image() {
  local src=$1 dest=$2
  shift 2
  local args=("$@")
  ((${#args[@]})) || args=(--dest-tls-verify=false)
  run skopeo --insecure-policy copy --quiet "${args[@]}" "oci:$src" "$dest"
  if ((rc != 0)); then
    show_run
    fail "skopeo copy oci:$src $dest failed"
  fi
}

make_busybox_layout() {
  local dir=$1 tag=$2 arch=${3:-amd64} file=${4:-} text=${5:-} root
  [[ -x "$BUSYBOX" ]] || skip "$BUSYBOX missing: install busybox-static"
  [[ -d "$dir" ]] || umoci init --layout "$dir"
  umoci new --image "$dir:$tag"
  root=$(mktemp -d "$WORK/layer.XXXXXX")
  mkdir -p "$root/bin" "$root/etc"
  cp "$BUSYBOX" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  [[ -n "$file" ]] && printf '%s\n' "$text" >"$root/$file"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$root" -cf "$root.tar" .
  umoci raw add-layer --image "$dir:$tag" "$root.tar"
  umoci config --image "$dir:$tag" --architecture "$arch" --config.cmd /bin/sh
  rm -rf --one-file-system "$root" "$root.tar"
}

manifest_of() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$1/index.json"
}

# make_index LAYOUT TAG TAG_A TAG_B: an index blob of the two images (their
# platform from their configs), named TAG in index.json.
make_index() {
  local layout=$1 tag=$2 entries="[]" t m cfg arch blob digest size
  for t in "$3" "$4"; do
    m=$(manifest_of "$layout" "$t")
    cfg=$(jq -r .config.digest "$layout/blobs/sha256/${m#sha256:}")
    arch=$(jq -r .architecture "$layout/blobs/sha256/${cfg#sha256:}")
    size=$(stat -c %s "$layout/blobs/sha256/${m#sha256:}")
    entries=$(jq -c --arg d "$m" --argjson s "$size" --arg a "$arch" \
      '. + [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
             platform: {architecture: $a, os: "linux"}}]' <<<"$entries")
  done
  blob=$WORK/index.blob
  jq -cn --argjson m "$entries" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: $m}' \
    >"$blob"
  digest=sha256:$(sha256sum "$blob" | cut -d' ' -f1)
  size=$(stat -c %s "$blob")
  mv "$blob" "$layout/blobs/sha256/${digest#sha256:}"
  jq -c --arg d "$digest" --argjson s "$size" --arg t "$tag" \
    '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
                     annotations: {"org.opencontainers.image.ref.name": $t}}]' "$layout/index.json" >"$layout/index.json.new"
  mv "$layout/index.json.new" "$layout/index.json"
}

blob_gets() {
  local log=${1}_log
  grep -c '"GET /v2/[^ ]*/blobs/sha256:' "${!log}" || true
}

store_leftovers() {
  [[ -d "$STORE/tmp" ]] || return 0
  find "$STORE/tmp" -mindepth 1 -printf '%P\n'
}
