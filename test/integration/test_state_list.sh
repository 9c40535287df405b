#!/usr/bin/env bash
# `state`, `list`, where the state root is by default, and --log JSON errors.
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
  in_private_tmp() {
    unshare --user --map-user="$(id -u)" --map-group="$(id -g)" --mount --propagation private \
      sh -c 'mount -t tmpfs -o mode=1777 tmpfs /tmp && "$@"' sh "$@"
  }
  if ! in_private_tmp true 2>/dev/null; then
    echo "SKIP (part): cannot make a private /tmp with unshare --user --mount here"
  else
    step "without XDG_RUNTIME_DIR a group/world-accessible /tmp/rrun-$UID is refused"
    expect_fail_with "$fallback" -- in_private_tmp sh -c \
      'mkdir -m 755 "$1" && exec env -u XDG_RUNTIME_DIR "$2" list' sh "$fallback" "$RRUN_BIN"
    step "without XDG_RUNTIME_DIR a /tmp/rrun-$UID owned by someone else is refused"
    # /usr belongs to root, which this user namespace does not map (it shows as nobody).
    expect_fail_with "$fallback" -- in_private_tmp sh -c \
      'mkdir "$1" && mount --bind /usr "$1" && exec env -u XDG_RUNTIME_DIR "$2" list' sh "$fallback" "$RRUN_BIN"
    step "an unwritable XDG_RUNTIME_DIR falls back to /tmp/rrun-$UID"
    expect_fail_with "$fallback" -- in_private_tmp sh -c \
      'mkdir -m 755 "$1" && exec env XDG_RUNTIME_DIR=/ "$2" list' sh "$fallback" "$RRUN_BIN"
  fi
fi

assert_no_leftovers
echo "PASS"
