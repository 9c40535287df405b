#!/usr/bin/env bash
# What depends on the host: SELinux labels are no-ops (a debug line naming the
# field) where SELinux is not enabled and an error naming the field where it
# is; an AppArmor profile is applied where AppArmor is enabled and an error
# where it is not (as runc); and rrun started as uid 0 inside a user namespace
# that maps only a few ids is rootless, and runs the container in that
# namespace (test_caller_userns.sh: one that maps a range, as rootless Podman).
source "$(dirname "$0")/lib.sh"

make_bundle "$WORK/b" probe maps ids

aa_enabled=0
[[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" == Y* ]] && aa_enabled=1
se_enabled=0
[[ -e /sys/fs/selinux/enforce ]] && se_enabled=1

step "process.apparmorProfile"
cp "$WORK/b/config.json" "$WORK/config.orig"
config_set "$WORK/b" '.process.apparmorProfile = "rrun-test-profile"'
if ((aa_enabled)); then
  # Applied at the exec, as runc: a profile that is not loaded fails create.
  expect_fail_with "apply the AppArmor profile \`rrun-test-profile\`" -- rr create -b "$WORK/b" aa
  cp "$WORK/config.orig" "$WORK/b/config.json"
  config_set "$WORK/b" '.process.apparmorProfile = "unconfined" | .process.args = ["cat", "/proc/self/attr/current"]'
  expect_ok rr run -b "$WORK/b" aa
  expect_contains "$out" "unconfined" "the process's AppArmor label"
else
  expect_fail_with "process.apparmorProfile: AppArmor is not enabled on this host" -- rr create -b "$WORK/b" aa
fi
assert_no_leftovers

step "process.selinuxLabel, linux.mountLabel: no-ops without SELinux, a debug line names each field"
cp "$WORK/config.orig" "$WORK/b/config.json"
config_set "$WORK/b" '.linux.mountLabel = "system_u:object_r:container_file_t:s0:c1,c2"'
if ((se_enabled)); then
  expect_fail_with "linux.mountLabel: SELinux labels are not supported by rrun yet" -- rr create -b "$WORK/b" se
  config_set "$WORK/b" 'del(.linux.mountLabel) | .process.selinuxLabel = "system_u:system_r:container_t:s0"'
  expect_fail_with "process.selinuxLabel: SELinux labels are not supported by rrun yet" -- rr create -b "$WORK/b" se
else
  expect_ok rr run -b "$WORK/b" se </dev/null
  expect_contains "$out" "uid=0" "the container with a mountLabel ran"
  expect_not_contains "$err" "mountLabel" "stderr without --debug"
  config_set "$WORK/b" '.process.selinuxLabel = "system_u:system_r:container_t:s0:c1,c2"'
  expect_ok rr --debug run -b "$WORK/b" se </dev/null
  expect_contains "$out" "uid=0" "the container with both labels ran"
  expect_contains "$err" "process.selinuxLabel: SELinux is not enabled on this host; label \`system_u:system_r:container_t:s0:c1,c2\` ignored" "--debug"
  expect_contains "$err" "linux.mountLabel: SELinux is not enabled on this host; label \`system_u:object_r:container_file_t:s0:c1,c2\` ignored" "--debug"
fi
assert_no_leftovers

step "exec: labels of --process and the flags, each named"
cp "$WORK/config.orig" "$WORK/b/config.json"
set_args "$WORK/b" sleep 600
rr run -d -b "$WORK/b" ex </dev/null >/dev/null 2>"$WORK/run.err" || fail "run -d failed: $(cat "$WORK/run.err")"
echo '{"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/", "selinuxLabel": "system_u:system_r:container_t:s0"}' >"$WORK/se.json"
echo '{"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/", "apparmorProfile": "rrun-test-profile"}' >"$WORK/aa.json"
if ((se_enabled)); then
  expect_fail_with "process.selinuxLabel: SELinux labels are not supported by rrun yet" -- rr exec --process "$WORK/se.json" ex
  expect_fail_with "--process-label: SELinux labels are not supported by rrun yet" -- rr exec --process-label l ex true
else
  expect_ok rr --debug exec --process "$WORK/se.json" ex
  expect_contains "$err" "process.selinuxLabel: SELinux is not enabled on this host" "--debug of exec --process"
  expect_ok rr --debug exec --process-label system_u:system_r:container_t:s0 ex true
  expect_contains "$err" "--process-label: SELinux is not enabled on this host" "--debug of exec --process-label"
fi
if ((aa_enabled)); then
  expect_fail_with "apply the AppArmor profile \`rrun-test-profile\`" -- rr exec --process "$WORK/aa.json" ex
  expect_fail_with "apply the AppArmor profile \`rrun-test-profile\`" -- rr exec --apparmor rrun-test-profile ex true
else
  expect_fail_with "process.apparmorProfile: AppArmor is not enabled on this host" -- rr exec --process "$WORK/aa.json" ex
  expect_fail_with "--apparmor: AppArmor is not enabled on this host" -- rr exec --apparmor rrun-test-profile ex true
fi
rr delete -f ex
assert_no_leftovers

step "uid 0 in a user namespace that maps one id: rootless, the container shares that namespace"
cp "$WORK/config.orig" "$WORK/b/config.json"
if ! unshare --user --map-root-user true 2>/dev/null; then
  skip "unshare --user --map-root-user is not allowed here"
fi
# A root spec (no user namespace in it): rrun adds none (runc and crun don't
# either as root); the container uses the caller's, with its one id.
mkdir -p "$WORK/rootspec"
"$RRUN_BIN" spec -b "$WORK/rootspec"
jq '.process.args = ["sh", "-c", "readlink /proc/self/ns/user; echo $(cat /proc/self/uid_map); id -u"] |
    .process.terminal = false | del(.linux.namespaces[] | select(.type == "network"))' \
  "$WORK/rootspec/config.json" >"$WORK/b/config.json"
expect_ok unshare --user --map-root-user -- sh -c 'readlink /proc/self/ns/user; echo $(cat /proc/self/uid_map); exec "$@"' \
  sh "$RRUN_BIN" --root "$STATE_ROOT" run -b "$WORK/b" inner
mapfile -t got <<<"$out"
expect_eq "${got[2]}" "${got[0]}" "the container's user namespace (lines: caller's ns, caller's uid_map, the container's)"
expect_eq "${got[3]}" "${got[1]}" "the container's uid_map (the caller's)"
expect_eq "${got[3]}" "0 $(id -u) 1" "the caller's uid_map"
expect_eq "${got[4]}" "0" "the process's uid in the container"
assert_no_leftovers

step "the same with --rootless=false fails instead of half-working"
run unshare --user --map-root-user -- "$RRUN_BIN" --root "$STATE_ROOT" --rootless=false run -b "$WORK/b" inner2
((rc != 0)) || fail "--rootless=false in a one-id user namespace should fail (it cannot create devices or cgroups)"
assert_no_leftovers
