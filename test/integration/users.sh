# shellcheck shell=bash
# The users of the rootless tests, shared by test/integration/run.sh and
# test/bench/bench.sh. setup_users (as root) makes sure they exist:
# rrun-test with a SUBID_COUNT-id range in /etc/subuid and /etc/subgid, and
# rrun-nosub without one.

TEST_USER=rrun-test
NOSUB_USER=rrun-nosub
SUBID_COUNT=65536

# The first free start of a subordinate range in FILE (>= 100000).
next_subid_start() {
  awk -F: 'BEGIN { m = 100000 } NF >= 3 && $2 + $3 > m { m = $2 + $3 } END { print m }' "$1"
}

# Rewrites FILE without the lines of user NAME (or its numeric UID); keeps
# the file's owner and mode, replaces it atomically.
remove_subid_lines() {
  local file=$1 name=$2 uid=$3
  grep -qE "^($name|$uid):" "$file" || return 0
  cp -p "$file" "$file.rrun-test"
  grep -vE "^($name|$uid):" "$file" >"$file.rrun-test" || true
  mv "$file.rrun-test" "$file"
}

ensure_subid_line() {
  local file=$1 name=$2 uid=$3
  grep -qE "^($name|$uid):[0-9]+:[0-9]+" "$file" && return 0
  local start
  start=$(next_subid_start "$file")
  # Keep the file ending in a newline before appending.
  if [[ -s "$file" && -n "$(tail -c1 "$file")" ]]; then echo >>"$file"; fi
  echo "$name:$start:$SUBID_COUNT" >>"$file"
}

ensure_user() {
  local name=$1
  if ! getent passwd "$name" >/dev/null; then
    useradd -m -s /bin/bash -c "rrun integration tests" "$name"
  fi
}

# without_idmap_helpers EMPTY CMD...: runs CMD (as root) in a private mount
# namespace where newuidmap and newgidmap are covered by EMPTY, an empty file
# that is not executable: a host without the uidmap package, its own files
# untouched.
without_idmap_helpers() {
  local empty=$1
  shift
  # shellcheck disable=SC2016
  unshare --mount --propagation private -- sh -c 'for h in newuidmap newgidmap; do
      p=$(command -v "$h") && mount --bind "$0" "$(readlink -f "$p")" || exit 1
    done; exec "$@"' "$empty" "$@"
}

# Idempotent, serialized with other run.sh instances (ctest -j).
setup_users() {
  local lockdir=/run/lock
  [[ -d "$lockdir" ]] || lockdir=/tmp
  exec 9>"$lockdir/rrun-test-users.lock"
  flock 9
  local f
  for f in /etc/subuid /etc/subgid; do
    [[ -e "$f" ]] || install -m 644 /dev/null "$f"
  done
  ensure_user "$TEST_USER"
  ensure_subid_line /etc/subuid "$TEST_USER" "$(id -u "$TEST_USER")"
  ensure_subid_line /etc/subgid "$TEST_USER" "$(id -u "$TEST_USER")"
  ensure_user "$NOSUB_USER"
  remove_subid_lines /etc/subuid "$NOSUB_USER" "$(id -u "$NOSUB_USER")"
  remove_subid_lines /etc/subgid "$NOSUB_USER" "$(id -u "$NOSUB_USER")"
  flock -u 9
  exec 9>&-
}

# end_keeper RECORD: ends the keeper of a kept user namespace (README
# Performance 10) that RECORD names, if that process is one; the record
# stays. A test user's rootless run starts one where the test does not
# hold it (bench work directories, Slurm's jobs).
end_keeper() {
  local k rest
  if read -r k rest <"$1" 2>/dev/null && [[ "$(cat "/proc/$k/comm" 2>/dev/null)" == rrun-userns ]]; then
    kill "$k" 2>/dev/null || true
  fi
}
