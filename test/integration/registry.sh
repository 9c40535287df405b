# shellcheck shell=bash
# A local registry for the image tests and the image benchmark: Debian's
# docker-registry (distribution 2.8) on 127.0.0.1 at a free port, its
# storage and config under a directory of the caller's. Sourced (after
# lib.sh in a test, which it hooks so that the registry is stopped at exit):
#
#   registry_start DIR [--tls] [--auth USER:PASSWORD]
#       starts it (plain HTTP by default; --tls: HTTPS with a certificate for
#       127.0.0.1 signed by a CA made here; --auth: htpasswd basic auth) and
#       waits until it answers. Sets:
#         REGISTRY      127.0.0.1:PORT
#         REGISTRY_PID  the registry's pid (registry_stop kills it)
#         REGISTRY_CA   with --tls: the CA certificate (PEM); its directory
#                       is a --cert-dir for skopeo
#         REGISTRY_LOG  its access log (one line per request: what a pull
#                       transferred); its storage is DIR/data
#   registry_push SRC NAME:TAG   skopeo copy --all SRC (oci:DIR:TAG, ...) to
#                                docker://$REGISTRY/NAME:TAG; from an OCI
#                                layout with --preserve-digests: the same
#                                manifest digests, an uncompressed layer stays
#                                uncompressed (skopeo would gzip it)
#   registry_stop                kills it and waits (also at exit)
# Needs docker-registry, skopeo, curl; --tls openssl; --auth htpasswd
# (apache2-utils). Skips the test (exit 77) when one is missing.
REGISTRY="" REGISTRY_PID="" REGISTRY_CA="" REGISTRY_LOG="" _registry_creds=""

_registry_skip() {
  if declare -F skip >/dev/null; then skip "$*"; fi
  echo "SKIP: $*"
  exit 77
}

# A port nobody listens on now (the registry may still lose it to another
# test in between: registry_start retries).
_registry_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The CA's certificate alone in DIR/ca (skopeo's --cert-dir takes a *.key
# there for a client key), the rest in DIR/tls.
_registry_tls() {
  local tls=$1/tls
  command -v openssl >/dev/null || _registry_skip "openssl is missing: run packaging/install-deps.sh"
  mkdir -p "$tls" "$1/ca"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rrun-test-ca \
    -keyout "$tls/ca.key" -out "$1/ca/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
    -keyout "$tls/registry.key" -out "$tls/registry.csr" 2>/dev/null
  openssl x509 -req -in "$tls/registry.csr" -CA "$1/ca/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 2 -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$tls/registry.crt" 2>/dev/null
  REGISTRY_CA=$1/ca/ca.crt
}

_registry_config() {
  local dir=$1 port=$2 tls=$3 auth=$4
  printf 'version: 0.1\nlog:\n  level: error\n'
  printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$dir/data"
  printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
  if ((tls)); then
    printf '  tls:\n    certificate: %s\n    key: %s\n' "$dir/tls/registry.crt" "$dir/tls/registry.key"
  fi
  if [[ -n "$auth" ]]; then
    printf 'auth:\n  htpasswd:\n    realm: rrun-test\n    path: %s\n' "$dir/htpasswd"
  fi
}

# 0 once the registry answers /v2/ (401 with auth counts).
_registry_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' ${REGISTRY_CA:+--cacert "$REGISTRY_CA"} \
    "$1://$REGISTRY/v2/" 2>/dev/null || true)
  [[ "$code" == 200 || "$code" == 401 ]]
}

registry_start() {
  local dir=$1 tls=0 auth="" scheme=http _
  shift
  REGISTRY_CA="" _registry_creds=""
  while (($#)); do
    case $1 in
      --tls) tls=1 scheme=https ;;
      --auth) auth=$2 && shift ;;
      *) echo "registry_start: unknown option $1" >&2 && return 1 ;;
    esac
    shift
  done
  command -v docker-registry >/dev/null || _registry_skip "docker-registry is missing: run packaging/install-deps.sh"
  command -v skopeo >/dev/null || _registry_skip "skopeo is missing: run packaging/install-deps.sh"
  mkdir -p "$dir/data"
  if ((tls)); then _registry_tls "$dir"; fi
  if [[ -n "$auth" ]]; then
    command -v htpasswd >/dev/null || _registry_skip "htpasswd is missing: install apache2-utils"
    htpasswd -Bbn "${auth%%:*}" "${auth#*:}" >"$dir/htpasswd"
    _registry_creds=$auth
  fi
  for _ in 1 2 3; do
    REGISTRY=127.0.0.1:$(_registry_free_port)
    _registry_config "$dir" "${REGISTRY#*:}" "$tls" "$auth" >"$dir/config.yml"
    REGISTRY_LOG=$dir/registry.log
    docker-registry serve "$dir/config.yml" >"$REGISTRY_LOG" 2>&1 &
    REGISTRY_PID=$!
    for _ in $(seq 100); do
      _registry_answers "$scheme" && return 0
      kill -0 "$REGISTRY_PID" 2>/dev/null || break # lost the port: next one
      sleep 0.1
    done
    registry_stop
  done
  cat "$dir/registry.log" >&2
  echo "registry_start: docker-registry did not answer on $REGISTRY (its log above)" >&2
  return 1
}

registry_push() {
  local src=$1 dest=$2 flags=(--dest-tls-verify=false)
  if [[ -n "$REGISTRY_CA" ]]; then flags=(--dest-cert-dir "$(dirname "$REGISTRY_CA")"); fi
  if [[ -n "$_registry_creds" ]]; then flags+=(--dest-creds "$_registry_creds"); fi
  if [[ "$src" == oci:* ]]; then flags+=(--preserve-digests); fi
  skopeo copy -q --all "${flags[@]}" "$src" "docker://$REGISTRY/$dest"
}

registry_stop() {
  [[ -n "$REGISTRY_PID" ]] || return 0
  kill "$REGISTRY_PID" 2>/dev/null || true
  wait "$REGISTRY_PID" 2>/dev/null || true
  REGISTRY_PID=""
}

# In a test (lib.sh): stop the registry before lib.sh's cleanup looks for
# leftovers and removes $WORK.
if declare -F _rrun_test_cleanup >/dev/null; then
  # shellcheck disable=SC2154 # set in the trap
  trap '_registry_status=$?; registry_stop; (exit "$_registry_status"); _rrun_test_cleanup' EXIT
fi
