#!/usr/bin/env bash
# `rrun spec [--rootless] [-b DIR]`: the default config.json, root and rootless.
# rrun-test: nosub
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

# check_json FILE FILTER WHAT [FILTER WHAT...]: every FILTER must give only
# true (and at least one value) on FILE; one jq run for all of them.
check_json() {
  local file=$1
  shift
  local prog='[' sep='' i=0 whats=() failed idx
  while (($# >= 2)); do
    prog+="$sep(([$1] | length > 0 and all) | if . then empty else $i end)"
    whats+=("$2 (jq: $1)")
    sep=,
    i=$((i + 1))
    shift 2
  done
  prog+=']'
  failed=$(jq -c "$prog" "$file") || fail "jq could not evaluate the checks on $file"
  if [[ "$failed" != "[]" ]]; then
    for idx in $(jq -r '.[]' <<<"$failed"); do
      echo "not true: ${whats[$idx]}" >&2
    done
    fail "$file does not have the expected content: $(cat "$file")"
  fi
}

step "spec writes config.json into the current directory"
b=$WORK/cwd
mkdir "$b"
run sh -c 'cd "$1" && exec "$2" spec' sh "$b" "$RRUN_BIN"
((rc == 0)) || { show_run; fail "rrun spec failed"; }
[[ -f "$b/config.json" ]] || fail "rrun spec did not write $b/config.json"
check_json "$b/config.json" \
  '.ociVersion | startswith("1.")' "ociVersion 1.x" \
  '.root.path == "rootfs"' "root.path is rootfs" \
  '.process.args == ["sh"]' "process.args is [sh]" \
  '.process.cwd == "/"' "process.cwd is /" \
  '[.linux.namespaces[].type] | index("pid") != null' "the default spec has a pid namespace" \
  '[.linux.namespaces[].type] | index("network") != null' "the default spec has a network namespace" \
  '[.linux.namespaces[].type] | index("ipc") != null' "the default spec has an ipc namespace" \
  '[.linux.namespaces[].type] | index("uts") != null' "the default spec has a uts namespace" \
  '[.linux.namespaces[].type] | index("mount") != null' "the default spec has a mount namespace" \
  '[.linux.namespaces[].type] | index("user") == null' "the default spec has no user namespace" \
  '(.linux.uidMappings // []) == []' "the default spec has no uidMappings" \
  '[.mounts[].destination] | index("/proc") != null' "/proc is mounted" \
  '.mounts | all(.destination | startswith("/"))' "mount destinations are absolute"

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
uid=$(id -u)
gid=$(id -g)
checks=(
  '[.linux.namespaces[].type] | index("user") != null' "the rootless spec has a user namespace"
  '[.linux.namespaces[].type] | index("network") == null' "the rootless spec has no network namespace"
  '[.linux.namespaces[].type] | index("pid") != null' "the rootless spec keeps the pid namespace"
  '[.linux.namespaces[].type] | index("ipc") != null' "the rootless spec keeps the ipc namespace"
  '[.linux.namespaces[].type] | index("uts") != null' "the rootless spec keeps the uts namespace"
  '[.linux.namespaces[].type] | index("mount") != null' "the rootless spec keeps the mount namespace"
  ".linux.uidMappings[0] == {\"containerID\":0,\"hostID\":$uid,\"size\":1}"
  "uidMappings[0] maps container root to the caller ($uid)"
  ".linux.gidMappings[0] == {\"containerID\":0,\"hostID\":$gid,\"size\":1}"
  "gidMappings[0] maps container root to the caller's group ($gid)"
  '[.mounts[] | select(.destination == "/sys")] | length == 1' "one /sys mount"
  '.mounts[] | select(.destination == "/sys") | .source == "/sys" and (.options | index("rbind") != null) and (.options | index("ro") != null)'
  "/sys is a read-only recursive bind of the host's /sys"
  '[.mounts[] | .options // [] | .[] | select(startswith("gid="))] | length == 0' "no gid= mount option"
  '.mounts[] | select(.destination == "/dev/pts") | .type == "devpts"' "/dev/pts is still devpts"
  '(.linux.resources // null) == null' "no linux.resources"
  '.process.args == ["sh"]' "process.args is [sh]"
)
read -r sub_start sub_count <<<"$(subid_range /etc/subuid)" || true
read -r subg_start subg_count <<<"$(subid_range /etc/subgid)" || true
if [[ -n "${sub_start:-}" ]]; then
  echo "caller has the subuid range $sub_start:$sub_count"
  checks+=(".linux.uidMappings[1] == {\"containerID\":1,\"hostID\":$sub_start,\"size\":$sub_count}"
    "uidMappings[1] maps 1..$sub_count onto the subuid range"
    '.linux.uidMappings | length == 2' "two uid mappings")
else
  echo "caller has no subuid range"
  checks+=('.linux.uidMappings | length == 1' "only the caller's own uid is mapped")
fi
if [[ -n "${subg_start:-}" ]]; then
  checks+=(".linux.gidMappings[1] == {\"containerID\":1,\"hostID\":$subg_start,\"size\":$subg_count}"
    "gidMappings[1] maps 1..$subg_count onto the subgid range"
    '.linux.gidMappings | length == 2' "two gid mappings")
else
  checks+=('.linux.gidMappings | length == 1' "only the caller's own gid is mapped")
fi
check_json "$c" "${checks[@]}"

step "both variants parse back (jq) and nothing else was created"
expect_eq "$(cd "$WORK" && ls | sort | tr '\n' ' ')" "b1 b2 b3 cwd rootless " "entries in the work dir"
expect_eq "$(ls "$r")" "config.json" "files written by spec --rootless"

if [[ "$RRUN_TEST_MODE" == rootless && -n "${sub_start:-}" && -n "${subg_start:-}" ]]; then
  step "spec --rootless: a rootfs owned by the first subordinate ids (mmdebstrap --mode=unshare) is root's inside"
  m=$WORK/unshare-made
  make_bundle "$m" sh -c 'stat -c "%u:%g" / /bin'
  rm "$m/config.json"
  # Made as root of a user namespace whose root is the first subordinate id.
  unshare --map-root-user --map-auto chown -R 1:1 "$m/rootfs" || fail "chown the rootfs to the first subordinate ids"
  expect_eq "$(stat -c %u:%g "$m/rootfs")" "$sub_start:$subg_start" "the rootfs's owner on the host"
  expect_ok "$RRUN_BIN" spec --rootless -b "$m"
  check_json "$m/config.json" \
    ".linux.uidMappings == [{\"containerID\":0,\"hostID\":$sub_start,\"size\":$sub_count},{\"containerID\":$sub_count,\"hostID\":$uid,\"size\":1}]" \
    "uid 0.. on the first range, the caller after it" \
    ".linux.gidMappings == [{\"containerID\":0,\"hostID\":$subg_start,\"size\":$subg_count},{\"containerID\":$subg_count,\"hostID\":$gid,\"size\":1}]" \
    "gid 0.. on the first range, the caller after it"
  config_set "$m" '.process.args = ["sh", "-c", "stat -c %u:%g / /bin"] | .process.terminal = false'
  expect_ok rr run -b "$m" unshare-made
  expect_eq "$out" "0:0"$'\n'"0:0" "the rootfs is root's inside"
  unshare --map-root-user --map-auto rm -rf --one-file-system "$m/rootfs"
fi
assert_no_leftovers
echo "PASS"
