#!/usr/bin/env bash
# rrun started as uid 0 in a user namespace that maps a range of ids, with a
# spec that asks for no user namespace: how rootless Podman (and `podman
# unshare`), and Docker and containerd under rootlesskit, run their runtime.
# The container shares that namespace, as with runc and crun: every id it
# maps works (process.user, chown, exec --user) and no nested namespace maps
# root alone. A spec that asks for a user namespace gets one, its maps
# written by rrun itself (root in its namespace needs no newuidmap).
source "$(dirname "$0")/lib.sh"

scratch_bundle
# A root spec (`rrun spec` as root: no user namespace, devpts with gid=5)
# with the capabilities Podman gives, CAP_CHOWN and CAP_SETUID among them.
mkdir -p "$WORK/rootspec"
"$RRUN_BIN" spec -b "$WORK/rootspec"
jq '.process.args = ["true"] | .process.terminal = false | .root.readonly = false |
    .process.capabilities |= with_entries(if .key == "bounding" or .key == "effective" or .key == "permitted"
      then .value += ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"] else . end)' \
  "$WORK/rootspec/config.json" >"$B/config.json"
cp "$B/config.json" "$WORK/config.orig"
[[ "$(jq '[.linux.namespaces[] | select(.type == "user")] | length' "$B/config.json")" == 0 ]] ||
  fail "rrun spec as root has a user namespace"

# The caller's namespace lives as long as a holder process in it; rrun enters
# it with nsenter, as conmon runs the runtime in the namespace of Podman's
# pause process. Rootless: root = you, 1..65535 on your subordinate range
# (`unshare --map-root-user --map-auto`, Podman's layout). As root: ids
# 0..65535 onto themselves, written here (unshare's --map-users would need a
# range of root's in /etc/subuid).
mkfifo "$WORK/holder.in"
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  [[ -n "$(subid_range /etc/subuid)" && -n "$(subid_range /etc/subgid)" ]] ||
    skip "needs a subordinate id range (as rootless Podman does)"
  unshare --map-root-user --map-auto -- cat <"$WORK/holder.in" >/dev/null 2>"$WORK/holder.err" &
else
  unshare --user -- cat <"$WORK/holder.in" >/dev/null 2>"$WORK/holder.err" &
fi
holder=$!
exec {hold}>"$WORK/holder.in"
own_ns=$(readlink /proc/self/ns/user)
holder_in_userns() { [[ "$(readlink "/proc/$holder/ns/user")" != "$own_ns" ]]; }
holder_is_cat() { [[ "$(readlink "/proc/$holder/exe")" == */cat ]]; }
wait_until 10 holder_in_userns || skip "cannot make a user namespace here: $(cat "$WORK/holder.err")"
if [[ "$RRUN_TEST_MODE" == root ]]; then
  echo "0 0 65536" >"/proc/$holder/uid_map"
  echo "0 0 65536" >"/proc/$holder/gid_map"
fi
wait_until 10 holder_is_cat || fail "the user namespace holder did not start: $(cat "$WORK/holder.err")"
stop_holder() {
  exec {hold}>&-
  wait "$holder" || true
}

in_ns() { nsenter --user --target "$holder" -- "$@"; }
rr_ns() { in_ns "$RRUN_BIN" --root "$STATE_ROOT" "$@"; }
outer_ns=$(readlink "/proc/$holder/ns/user")
expect_ok in_ns cat /proc/self/uid_map
outer_uid_map=$(echo $out)
expect_ok in_ns cat /proc/self/gid_map
outer_gid_map=$(echo $out)
[[ "$outer_uid_map" == *" 65536" || "$outer_uid_map" == *" 65535" ]] || fail "the caller's uid_map: [$outer_uid_map]"

step "a root spec run as root of a user namespace: the container shares it, no nested one"
set_cmd sh -c 'readlink /proc/self/ns/user; echo $(cat /proc/self/uid_map); echo $(cat /proc/self/gid_map); id -u'
expect_ok rr_ns run -b "$B" shared
mapfile -t got <<<"$out"
expect_eq "${got[0]}" "$outer_ns" "the container's user namespace (the caller's is $outer_ns)"
expect_eq "${got[1]}" "$outer_uid_map" "uid_map in the container"
expect_eq "${got[2]}" "$outer_gid_map" "gid_map in the container"
expect_eq "${got[3]}" "0" "the process's uid"
assert_no_leftovers

step "process.user 65534:65534, an id of the caller's range"
fresh
config_set "$B" '.process.user = {"uid": 65534, "gid": 65534}'
set_cmd probe ids
expect_ok rr_ns run -b "$B" nobody
expect_eq "$(val uid) $(val gid) $(val euid) $(val egid)" "65534 65534 65534 65534" "uid gid euid egid"
assert_no_leftovers

step "chown 65534:65534 of a file in the container"
fresh
set_cmd sh -c 'touch /tmp/owned && chown 65534:65534 /tmp/owned && stat -c %u:%g /tmp/owned; rm -f /tmp/owned'
expect_ok rr_ns run -b "$B" chown
expect_eq "$out" "65534:65534" "owner after chown in the container"
assert_no_leftovers

step "exec --user 65534:65534"
fresh
set_cmd sleep 600
rr_ns run -d -b "$B" ex </dev/null >/dev/null 2>"$WORK/run.err" || fail "run -d: $(cat "$WORK/run.err")"
expect_ok rr_ns exec --user 65534:65534 ex probe ids
expect_eq "$(val uid) $(val gid)" "65534 65534" "uid gid of the exec'd process"
expect_ok rr_ns exec ex sh -c 'touch /tmp/e && chown 65534 /tmp/e && stat -c %u /tmp/e && rm /tmp/e'
expect_eq "$out" "65534" "chown in an exec'd process"
expect_ok rr_ns delete -f ex
assert_no_leftovers

step "a spec with a user namespace of its own: its maps are written (no newuidmap), nested in the caller's"
fresh
config_set "$B" '.linux.namespaces += [{"type": "user"}] |
  .linux.uidMappings = [{"containerID": 0, "hostID": 0, "size": 1}, {"containerID": 1, "hostID": 1000, "size": 1999}] |
  .linux.gidMappings = [{"containerID": 0, "hostID": 0, "size": 1}, {"containerID": 1, "hostID": 1000, "size": 1999}]'
set_cmd sh -c 'readlink /proc/self/ns/user; echo $(cat /proc/self/uid_map); echo $(cat /proc/self/gid_map); id -u'
expect_ok rr_ns run -b "$B" nested
mapfile -t got <<<"$out"
[[ "${got[0]}" != "$outer_ns" ]] || fail "the container should have a user namespace of its own: ${got[0]}"
expect_eq "${got[1]}" "0 0 1 1 1000 1999" "uid_map of the nested namespace"
expect_eq "${got[2]}" "0 0 1 1 1000 1999" "gid_map of the nested namespace"
expect_eq "${got[3]}" "0" "the process's uid"
assert_no_leftovers

stop_holder
