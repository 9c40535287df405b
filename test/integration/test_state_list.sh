#!/usr/bin/env bash
# `state`, `list`, where the state root is by default, and --log JSON errors.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

HEADER_RE='^ID +PID +STATUS +BUNDLE +CREATED +OWNER$'

step "state of an unknown container fails with one line and creates nothing"
expect_fail_with "does not exist" -- rr state nosuch
expect_contains "$err" "nosuch" "the error names the container"
assert_no_leftovers

step "list on a missing root: header only, json null, -q nothing"
expect_ok rr list
[[ "$out" =~ $HEADER_RE ]] || fail "list header: got [$out]"
expect_ok rr list --format json
expect_eq "$out" "null" "list --format json with no containers (runc prints null)"
expect_ok rr list --format=json
expect_eq "$out" "null" "list --format=json"
expect_ok rr list -f json
expect_eq "$out" "null" "list -f json"
expect_ok rr list --format table
[[ "$out" =~ $HEADER_RE ]] || fail "list --format table header: got [$out]"
expect_ok rr list -q
expect_eq "$out" "" "list -q with no containers"

step "list on an empty root"
mkdir -m 700 "$STATE_ROOT"
expect_ok rr list
[[ "$out" =~ $HEADER_RE ]] || fail "list header: got [$out]"
expect_ok rr list --format json
expect_eq "$out" "null" "list --format json on an empty root"
expect_ok rr list -q
expect_eq "$out" "" "list -q on an empty root"
expect_fail_with "" -- rr list --format yaml
assert_no_leftovers

step "invalid container IDs are rejected before any path is built"
long=$(printf 'a%.0s' $(seq 1 1025))
for id in '../x' 'a/b' '.' '..' "$long" 'a b' '/abs'; do
  expect_fail_with "container id" -- rr state "$id"
  expect_not_contains "$err" "does not exist" "the error for ID [${id:0:20}]"
  expect_fail_with "container id" -- rr delete "$id"
done
[[ ! -e "$WORK/x" ]] || fail "an ID of ../x created $WORK/x"
assert_no_leftovers

step "--log F --log-format json appends one JSON object per error"
log=$WORK/log.json
expect_fail_with "does not exist" -- rr --log "$log" --log-format json state nosuch
[[ -f "$log" ]] || fail "--log $log was not written"
expect_eq "$(wc -l <"$log")" "1" "lines in the log after one error"
jq -e 'select(.level == "error" and (.msg | type == "string") and (.msg | contains("nosuch"))
  and (.time | type == "string"))' "$log" >/dev/null || fail "log line: $(cat "$log")"
expect_fail_with "does not exist" -- rr --log "$log" --log-format=json state other
expect_eq "$(wc -l <"$log")" "2" "lines in the log after two errors (appended)"
jq -e -s 'length == 2 and all(.level == "error")' "$log" >/dev/null || fail "log: $(cat "$log")"
expect_ok rr --log "$log" --log-format json list
expect_eq "$(jq -s '[.[] | select(.level == "error")] | length' "$log")" "2" "error lines after a successful command"

step "the default state root"
if [[ "$RRUN_TEST_MODE" == root ]]; then
  # /run/rrun; read-only commands work without creating anything.
  expect_ok "$RRUN_BIN" list
  [[ "$out" =~ ^ID ]] || fail "list without --root: got [$out]"
  expect_fail_with "does not exist" -- "$RRUN_BIN" state "rrun-it-nosuch-$$"
else
  [[ -n "${XDG_RUNTIME_DIR:-}" ]] || skip "rootless default-root checks need the harness's XDG_RUNTIME_DIR"
  xdg=$XDG_RUNTIME_DIR
  # With XDG_RUNTIME_DIR set, the root is $XDG_RUNTIME_DIR/rrun.
  expect_ok "$RRUN_BIN" list
  [[ "$out" =~ $HEADER_RE ]] || fail "list without --root: got [$out]"
  expect_fail_with "does not exist" -- "$RRUN_BIN" state nosuch
  # A group/world-accessible directory there is refused, which shows it is the one used.
  mkdir -m 755 "$xdg/rrun"
  expect_fail_with "$xdg/rrun" -- "$RRUN_BIN" list
  expect_contains "$err" "mode 0755" "the error for a 0755 state directory"
  rmdir "$xdg/rrun"

  # Without XDG_RUNTIME_DIR: /tmp/rrun-$UID (real /tmp; nothing is created by read-only commands).
  fallback=/tmp/rrun-$UID
  existed=no
  [[ -e "$fallback" ]] && existed=yes
  expect_ok env -u XDG_RUNTIME_DIR "$RRUN_BIN" list
  [[ "$out" =~ $HEADER_RE ]] || fail "list without XDG_RUNTIME_DIR: got [$out]"
  expect_fail_with "does not exist" -- env -u XDG_RUNTIME_DIR "$RRUN_BIN" state nosuch
  if [[ -d "$fallback" ]]; then
    expect_eq "$(stat -c '%u %a' "$fallback")" "$UID 700" "owner and mode of $fallback"
  fi
  if [[ "$existed" == no && -d "$fallback" ]]; then
    rmdir "$fallback" 2>/dev/null || true
  fi

  # The rest needs a private /tmp: a user namespace mapping only our own ids
  # (so rrun still sees our uid) with a mount namespace and a tmpfs on /tmp.
  # --keep-caps keeps CAP_SYS_ADMIN of that namespace across exec; busybox's
  # mount calls mount(2) directly where util-linux's refuses a non-root uid.
  # CMD runs with $MOUNT set to the mount command and $RRUN to rrun, through
  # an fd opened before the tmpfs hid /tmp (where run.sh puts the binary).
  in_private_tmp() {
    MOUNT="$BUSYBOX mount" RRUN=/proc/self/fd/9 unshare --user --map-user="$(id -u)" --map-group="$(id -g)" \
      --keep-caps --mount --propagation private \
      sh -c '$MOUNT -t tmpfs -o mode=1777 tmpfs /tmp && "$@"' sh "$@" 9<"$RRUN_BIN"
  }
  if ! in_private_tmp true 2>/dev/null; then
    echo "SKIP (part): cannot make a private /tmp with unshare --user --mount here"
  else
    step "without XDG_RUNTIME_DIR a group/world-accessible /tmp/rrun-$UID is refused"
    expect_fail_with "$fallback" -- in_private_tmp sh -c \
      'mkdir -m 755 "$1" && exec env -u XDG_RUNTIME_DIR "$RRUN" list' sh "$fallback"
    expect_contains "$err" "mode 0755" "the error for a 0755 state directory"
    step "without XDG_RUNTIME_DIR a /tmp/rrun-$UID owned by someone else is refused"
    # /usr belongs to root, which this user namespace does not map (it shows as nobody).
    expect_fail_with "$fallback" -- in_private_tmp sh -c \
      'mkdir "$1" && $MOUNT --bind /usr "$1" && exec env -u XDG_RUNTIME_DIR "$RRUN" list' sh "$fallback"
    expect_contains "$err" "owned by" "the error for a state directory of another user"
    step "an unwritable XDG_RUNTIME_DIR falls back to /tmp/rrun-$UID"
    expect_fail_with "$fallback" -- in_private_tmp sh -c \
      'mkdir -m 755 "$1" && exec env XDG_RUNTIME_DIR=/ "$RRUN" list' sh "$fallback"
  fi
fi

# default_root_create ROOT [ENV...]: `create` without --root puts the
# container in ROOT (mode 0700, ours); `delete` removes it again.
default_root_create() {
  local root=$1 id=rrun-it-$$
  shift
  expect_ok env "$@" "$RRUN_BIN" create -b "$bundle" "$id"
  [[ -d "$root/$id" ]] || fail "create without --root did not use $root (no $root/$id)"
  local owner mode
  read -r owner mode <<<"$(stat -c '%u %a' "$root")"
  expect_eq "$owner" "$(id -u)" "owner of $root"
  (((8#$mode & 8#077) == 0)) || fail "$root has mode $mode, open to other users"
  expect_ok env "$@" "$RRUN_BIN" list -q
  expect_contains "$out" "$id" "list without --root"
  expect_ok env "$@" "$RRUN_BIN" delete -f "$id"
  local left
  left=$(find "$root" -mindepth 1 -maxdepth 1 -name "*$id*")
  [[ -z "$left" ]] || fail "delete left $left behind"
}

step "create without --root uses the default state root"
bundle=$WORK/bundle
make_bundle "$bundle" true
if [[ "$RRUN_TEST_MODE" == root ]]; then
  had_run_rrun=0
  [[ -d /run/rrun ]] && had_run_rrun=1
  default_root_create /run/rrun
  # Leave the host as it was: the empty default root goes again if we made it.
  ((had_run_rrun)) || rmdir /run/rrun 2>/dev/null || true
else
  default_root_create "$XDG_RUNTIME_DIR/rrun"
  fallback=/tmp/rrun-$UID
  existed=no
  [[ -e "$fallback" ]] && existed=yes
  # No keeper of the kept user namespace: without XDG_RUNTIME_DIR its
  # record would be /tmp/rrun-userns-$UID, outside $WORK.
  default_root_create "$fallback" -u XDG_RUNTIME_DIR RRUN_USERNS_KEEP=0
  if [[ "$existed" == no ]]; then
    rmdir "$fallback" || fail "$fallback is not empty after delete: $(ls -A "$fallback")"
  fi
fi

assert_no_leftovers
echo "PASS"
