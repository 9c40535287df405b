# shellcheck shell=bash
# Sourced by client tests (after lib.sh) whose client insists on fixed host
# paths it creates whatever it is told: dockerd writes /etc/docker/key.json
# and /run/docker, containerd's shims /run/containerd/s, Docker's cgroupfs
# driver /sys/fs/cgroup/*/docker. Client tests may run in parallel (ctest
# -j2), so the path one test created may be in use by another when the
# first one ends; the last test using them removes what a test created.
#
#   host_paths_claim PATH...   before starting the client: records each PATH
#                              that does not exist yet as created by a test
#                              (a marker in $HOST_PATHS_DIR), and holds the
#                              users' lock shared until host_paths_release
#   host_paths_release         after the client is stopped: when no other
#                              test holds the users' lock, removes every
#                              marked path and its marker; else leaves them
#                              to the last one. A marked file is removed, a
#                              directory only as far as it holds nothing but
#                              empty directories (a live socket of a client
#                              outside this protocol keeps it, and its marker)
#
# A path that existed before any test ran is never marked, so never removed.
# Markers outlive a killed test; the next release removes their paths.
# Daemons must not inherit the users' lock (they might outlive the test):
# start them with `{HOST_PATHS_FD}>&-`.

HOST_PATHS_LOCK=/run/lock/rrun-clients-host-paths.lock
HOST_PATHS_USERS=/run/lock/rrun-clients-host-paths.users
HOST_PATHS_DIR=/run/lock/rrun-clients-host-paths.d
HOST_PATHS_FD=

_host_path_marker() {
  local p=${1//%/%25}
  echo "$HOST_PATHS_DIR/${p//\//%2F}"
}

host_paths_claim() {
  local p lockfd
  install -d -m 700 "$HOST_PATHS_DIR"
  exec {lockfd}>"$HOST_PATHS_LOCK"
  flock -x "$lockfd"
  for p in "$@"; do
    [[ -e "$p" || -e "$(_host_path_marker "$p")" ]] || printf '%s\n' "$p" >"$(_host_path_marker "$p")"
  done
  if [[ -z "$HOST_PATHS_FD" ]]; then
    exec {HOST_PATHS_FD}>"$HOST_PATHS_USERS"
    flock -s "$HOST_PATHS_FD"
  fi
  exec {lockfd}>&-
}

host_paths_release() {
  local lockfd m p
  [[ -n "$HOST_PATHS_FD" ]] || return 0
  exec {lockfd}>"$HOST_PATHS_LOCK"
  flock -x "$lockfd"
  if flock -xn "$HOST_PATHS_FD"; then
    for m in "$HOST_PATHS_DIR"/*; do
      [[ -f "$m" ]] || continue
      p=$(<"$m")
      if [[ -d "$p" && ! -L "$p" ]]; then
        if [[ "$p" == /sys/fs/cgroup/* ]]; then
          rmdir -- "$p" 2>/dev/null
        else
          find "$p" -xdev -depth -type d -empty -delete 2>/dev/null
        fi
        [[ ! -e "$p" ]] || echo "host-paths: $p is not empty; left for the next test" >&2
      else
        rm -f -- "$p"
      fi
      [[ -e "$p" ]] || rm -f -- "$m"
    done
  fi
  exec {HOST_PATHS_FD}>&-
  HOST_PATHS_FD=
  exec {lockfd}>&-
}
