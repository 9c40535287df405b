#!/usr/bin/env bash
# Namespaces: each type created, the user namespace and its maps, a time
# namespace with offsets, namespaces joined by path, and failures.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

# The /proc/PID/ns name of a spec namespace type.
proc_ns() {
  case $1 in
    network) echo net ;;
    mount) echo mnt ;;
    *) echo "$1" ;;
  esac
}

NS_TYPES=(pid network ipc uts mount cgroup user)
[[ -e /proc/self/ns/time ]] && NS_TYPES+=(time)

NS_SCRIPT='
for t in pid net ipc uts mnt cgroup user time; do
  echo "ns_$t=$(readlink /proc/self/ns/$t 2>/dev/null)"
done
echo "pid=$$"
echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"
'

# check_namespaces BUNDLE: every namespace type in the spec differs from the
# host's, every other one is the host's.
check_namespaces() {
  local bundle=$1 t n in host
  for t in "${NS_TYPES[@]}"; do
    n=$(proc_ns "$t")
    in=$(val "ns_$n")
    host=$(readlink "/proc/self/ns/$n")
    if jq -e --arg t "$t" '[.linux.namespaces[].type] | index($t) != null' "$bundle/config.json" >/dev/null ||
      [[ "$t" == user && "$RRUN_TEST_MODE" == rootless ]]; then
      [[ -n "$in" && "$in" != "$host" ]] || fail "the $t namespace inside ($in) is not a new one (host: $host)"
    else
      expect_eq "$in" "$host" "the $t namespace (not in the spec) is the host's"
    fi
  done
}

step "each namespace of the spec is created"
b=$WORK/ns
make_bundle "$b" sh -c "$NS_SCRIPT"
# Every type but user (and time, below): the rootless spec lacks network.
config_set "$b" '.linux.namespaces = [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"},
  {type: "mount"}, {type: "cgroup"}] + [.linux.namespaces[] | select(.type == "user")]'
expect_ok rr run -b "$b" ns1
check_namespaces "$b"
expect_eq "$(val pid)" 1 "the container's process is pid 1"
expect_eq "$(val ifaces)" "lo " "a new network namespace has only lo"

step "namespaces not in the spec are the host's"
config_set "$b" '.linux.namespaces = [{type: "pid"}, {type: "mount"}] + [.linux.namespaces[] | select(.type == "user")]
  | del(.hostname)'
config_set "$b" '.mounts |= map(select(.type != "mqueue" and .type != "sysfs" and .type != "cgroup"))'
expect_ok rr run -b "$b" ns2
check_namespaces "$b"

step "a user namespace with mappings"
u=$WORK/user
make_bundle "$u" probe maps
if [[ "$RRUN_TEST_MODE" == root ]]; then
  # Container root stays host root: the test's temp dirs are 0700 root.
  config_set "$u" '.linux.namespaces += [{type: "user"}]
    | .linux.uidMappings = [{containerID: 0, hostID: 0, size: 1}, {containerID: 1, hostID: 200000, size: 65535}]
    | .linux.gidMappings = [{containerID: 0, hostID: 0, size: 1}, {containerID: 1, hostID: 200000, size: 65535}]'
  expect_ok rr run -b "$u" user1
  expect_contains "$out" "uid_map=0 0 1"$'\n'"uid_map=1 200000 65535" "uid_map in the user namespace"
  expect_contains "$out" "gid_map=0 0 1"$'\n'"gid_map=1 200000 65535" "gid_map in the user namespace"
else
  expect_ok rr run -b "$u" user1
  expect_contains "$out" "uid_map=0 $(id -u) 1" "uid_map: container root is the caller"
  read -r sub_start sub_count <<<"$(subid_range /etc/subuid)" || true
  if [[ -n "${sub_start:-}" ]]; then
    expect_contains "$out" "uid_map=1 $sub_start $sub_count" "uid_map: the subordinate range"
  else
    expect_contains "$out" "setgroups=deny" "a single mapping denies setgroups"
  fi
  # A spec without a user namespace still gets one, rootless.
  config_set "$u" '.linux.namespaces |= map(select(.type != "user")) | del(.linux.uidMappings, .linux.gidMappings)'
  expect_ok rr run -b "$u" user2
  expect_contains "$out" "uid_map=0 $(id -u) 1" "uid_map of the user namespace rrun adds"
fi

step "a time namespace with timeOffsets"
if [[ ! -e /proc/self/ns/time ]]; then
  echo "no time namespaces in this kernel ($(uname -r)): part skipped"
else
  t=$WORK/time
  make_bundle "$t" sh -c 'echo "uptime=$(cut -d. -f1 /proc/uptime)"; echo "ns_time=$(readlink /proc/self/ns/time)"'
  config_set "$t" '.linux.namespaces += [{type: "time"}]
    | .linux.timeOffsets = {boottime: {secs: 8640000, nanosecs: 0}, monotonic: {secs: 8640000, nanosecs: 0}}'
  expect_ok rr run -b "$t" time1
  host_up=$(cut -d. -f1 /proc/uptime)
  in_up=$(val uptime)
  ((in_up >= host_up + 8640000 - 5 && in_up <= host_up + 8640000 + 5)) ||
    fail "uptime inside ($in_up) is not the host's ($host_up) + 8640000"
  [[ "$(val ns_time)" != "$(readlink /proc/self/ns/time)" ]] || fail "no new time namespace"
  config_set "$t" '.linux.namespaces |= map(select(.type != "time"))'
  expect_fail_with "timeOffsets" -- rr create -b "$t" time2
fi
assert_no_leftovers

step "join the net, ipc and uts namespaces of another container by path"
a=$WORK/a
make_bundle "$a" sleep 300
config_set "$a" '.hostname = "alpha" | .linux.namespaces |= (map(select(.type != "network")) + [{type: "network"}])'
expect_ok rr run -d -b "$a" alpha
expect_ok rr state alpha
apid=$(jq -r .pid <<<"$out")
[[ "$apid" =~ ^[0-9]+$ && "$apid" != 0 ]] || fail "state alpha: no pid in [$out]"
j=$WORK/join
make_bundle "$j" sh -c "$NS_SCRIPT"'echo "hostname=$(hostname)"; echo "comm1=$(cat /proc/1/comm)"'
# Joining the first container's namespaces: in rootless mode they belong to
# its user namespace, which is joined too.
config_set "$j" --arg p "/proc/$apid/ns" 'del(.hostname)
  | .linux.namespaces = [{type: "pid"}, {type: "mount"}, {type: "network", path: ($p + "/net")},
      {type: "ipc", path: ($p + "/ipc")}, {type: "uts", path: ($p + "/uts")}]'
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  config_set "$j" --arg p "/proc/$apid/ns" '.linux.namespaces += [{type: "user", path: ($p + "/user")}]
    | del(.linux.uidMappings, .linux.gidMappings)'
fi
expect_ok rr run -b "$j" join1
for n in net ipc uts; do
  expect_eq "$(val "ns_$n")" "$(readlink "/proc/$apid/ns/$n")" "the joined $n namespace"
done
expect_eq "$(val hostname)" alpha "the hostname of the joined uts namespace"
[[ "$(val ns_pid)" != "$(readlink "/proc/$apid/ns/pid")" ]] || fail "the pid namespace was joined, not created"
[[ "$(val ns_mnt)" != "$(readlink "/proc/$apid/ns/mnt")" ]] || fail "the mount namespace was joined, not created"
expect_eq "$(val pid)" 1 "pid in the new pid namespace of the joining container"

step "join the pid namespace of another container"
config_set "$j" --arg p "/proc/$apid/ns" '.linux.namespaces |= map(if .type == "pid" then .path = ($p + "/pid") else . end)'
expect_ok rr run -b "$j" join2
expect_eq "$(val ns_pid)" "$(readlink "/proc/$apid/ns/pid")" "the joined pid namespace"
expect_eq "$(val comm1)" sleep "pid 1 seen from the joining container (the first container's process)"
[[ "$(val pid)" != 1 ]] || fail "the joining process is pid 1 in a joined pid namespace"
expect_ok rr delete -f alpha
assert_no_leftovers

step "a duplicate namespace entry is an error, nothing left"
config_set "$b" '.linux.namespaces += [{type: "ipc"}, {type: "ipc"}]'
expect_fail_with "linux.namespaces" -- rr create -b "$b" dup1
expect_contains "$err" "ipc" "the duplicate error names the type"

step "a namespace path that doesn't exist is an error naming it, nothing left"
config_set "$b" '.linux.namespaces |= (map(select(.type != "ipc")) + [{type: "ipc", path: "/nonexistent/rrun-ns"}])'
idx=$(jq '[.linux.namespaces[].type] | index("ipc")' "$b/config.json")
expect_fail_with "linux.namespaces[$idx].path" -- rr create -b "$b" nopath1
expect_contains "$err" "/nonexistent/rrun-ns" "the error names the path"
step "a namespace path of the wrong type is an error, nothing left"
config_set "$b" '.linux.namespaces |= map(if .type == "ipc" then .path = "/proc/self/ns/uts" else . end)'
expect_fail_with "" -- rr create -b "$b" wrongtype1
assert_no_leftovers
echo "PASS"
