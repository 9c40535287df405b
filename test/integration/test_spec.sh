#!/usr/bin/env bash
# `rrun spec [--rootless] [-b DIR]`: the default config.json, root and rootless.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

# jq -e FILTER on FILE, failing the test with WHAT when it is false.
check_json() {
  local file=$1 filter=$2 what=$3
  jq -e "$filter" "$file" >/dev/null || fail "$what (jq: $filter) in $(cat "$file")"
}

step "spec writes config.json into the current directory"
b=$WORK/cwd
mkdir "$b"
run sh -c 'cd "$1" && exec "$2" spec' sh "$b" "$RRUN_BIN"
((rc == 0)) || { show_run; fail "rrun spec failed"; }
[[ -f "$b/config.json" ]] || fail "rrun spec did not write $b/config.json"
check_json "$b/config.json" '.ociVersion | startswith("1.")' "ociVersion 1.x"
check_json "$b/config.json" '.root.path == "rootfs"' "root.path is rootfs"
check_json "$b/config.json" '.process.args == ["sh"]' "process.args is [sh]"
check_json "$b/config.json" '.process.cwd == "/"' "process.cwd is /"
for ns in pid network ipc uts mount; do
  check_json "$b/config.json" "[.linux.namespaces[].type] | index(\"$ns\") != null" "the default spec has a $ns namespace"
done
check_json "$b/config.json" '[.linux.namespaces[].type] | index("user") == null' "the default spec has no user namespace"
check_json "$b/config.json" '(.linux.uidMappings // []) == []' "the default spec has no uidMappings"
check_json "$b/config.json" '[.mounts[].destination] | index("/proc") != null' "/proc is mounted"
check_json "$b/config.json" '.mounts | all(.destination | startswith("/"))' "mount destinations are absolute"

step "spec refuses to overwrite an existing config.json"
sum=$(md5sum <"$b/config.json")
expect_fail_with "config.json" -- sh -c 'cd "$1" && exec "$2" spec' sh "$b" "$RRUN_BIN"
expect_contains "$err" "exists" "the overwrite error"
expect_eq "$(md5sum <"$b/config.json")" "$sum" "config.json after the refused spec"
expect_fail_with "config.json" -- "$RRUN_BIN" spec -b "$b"
expect_fail_with "config.json" -- "$RRUN_BIN" spec --rootless -b "$b"
expect_eq "$(md5sum <"$b/config.json")" "$sum" "config.json after the refused spec -b"

step "spec -b DIR, --bundle DIR and --bundle=DIR write into DIR"
mkdir "$WORK/b1" "$WORK/b2" "$WORK/b3"
expect_ok "$RRUN_BIN" spec -b "$WORK/b1"
expect_ok "$RRUN_BIN" spec --bundle "$WORK/b2"
expect_ok "$RRUN_BIN" spec "--bundle=$WORK/b3"
for d in b1 b2 b3; do
  jq -e . "$WORK/$d/config.json" >/dev/null || fail "$WORK/$d/config.json is not valid JSON"
done
expect_eq "$(md5sum <"$WORK/b1/config.json")" "$sum" "spec -b writes the same default as spec in the cwd"

step "spec -b into a missing directory fails and creates nothing"
expect_fail_with "" -- "$RRUN_BIN" spec -b "$WORK/missing"
[[ ! -e "$WORK/missing" ]] || fail "spec -b created $WORK/missing"

step "spec --rootless: user namespace, caller's mappings, no network namespace"
r=$WORK/rootless
mkdir "$r"
expect_ok "$RRUN_BIN" spec --rootless -b "$r"
c=$r/config.json
check_json "$c" '[.linux.namespaces[].type] | index("user") != null' "the rootless spec has a user namespace"
check_json "$c" '[.linux.namespaces[].type] | index("network") == null' "the rootless spec has no network namespace"
for ns in pid ipc uts mount; do
  check_json "$c" "[.linux.namespaces[].type] | index(\"$ns\") != null" "the rootless spec keeps the $ns namespace"
done
uid=$(id -u)
gid=$(id -g)
check_json "$c" ".linux.uidMappings[0] == {\"containerID\":0,\"hostID\":$uid,\"size\":1}" \
  "uidMappings[0] maps container root to the caller ($uid)"
check_json "$c" ".linux.gidMappings[0] == {\"containerID\":0,\"hostID\":$gid,\"size\":1}" \
  "gidMappings[0] maps container root to the caller's group ($gid)"
read -r sub_start sub_count <<<"$(subid_range /etc/subuid)" || true
read -r subg_start subg_count <<<"$(subid_range /etc/subgid)" || true
if [[ -n "${sub_start:-}" ]]; then
  echo "caller has the subuid range $sub_start:$sub_count"
  check_json "$c" ".linux.uidMappings[1] == {\"containerID\":1,\"hostID\":$sub_start,\"size\":$sub_count}" \
    "uidMappings[1] maps 1..$sub_count onto the subuid range"
  check_json "$c" '.linux.uidMappings | length == 2' "two uid mappings"
else
  echo "caller has no subuid range"
  check_json "$c" '.linux.uidMappings | length == 1' "only the caller's own uid is mapped"
fi
if [[ -n "${subg_start:-}" ]]; then
  check_json "$c" ".linux.gidMappings[1] == {\"containerID\":1,\"hostID\":$subg_start,\"size\":$subg_count}" \
    "gidMappings[1] maps 1..$subg_count onto the subgid range"
  check_json "$c" '.linux.gidMappings | length == 2' "two gid mappings"
else
  check_json "$c" '.linux.gidMappings | length == 1' "only the caller's own gid is mapped"
fi
check_json "$c" '[.mounts[] | select(.destination == "/sys")] | length == 1' "one /sys mount"
check_json "$c" '.mounts[] | select(.destination == "/sys") | .source == "/sys" and (.options | index("rbind") != null) and (.options | index("ro") != null)' \
  "/sys is a read-only recursive bind of the host's /sys"
check_json "$c" '[.mounts[] | .options // [] | .[] | select(startswith("gid="))] | length == 0' "no gid= mount option"
check_json "$c" '.mounts[] | select(.destination == "/dev/pts") | .type == "devpts"' "/dev/pts is still devpts"
check_json "$c" '(.linux.resources // null) == null' "no linux.resources"
check_json "$c" '.process.args == ["sh"]' "process.args is [sh]"

step "both variants parse back (jq) and nothing else was created"
expect_eq "$(cd "$WORK" && ls | sort | tr '\n' ' ')" "b1 b2 b3 cwd rootless " "entries in the work dir"
expect_eq "$(ls "$r")" "config.json" "files written by spec --rootless"
assert_no_leftovers
echo "PASS"
