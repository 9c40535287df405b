#!/usr/bin/env bash
# The kept user namespace (userns/kept.hpp). A rootless run whose maps need
# newuidmap and newgidmap starts a keeper once, which the helpers map; later
# runs join its namespace and write the container's maps themselves, so the
# helpers no longer run for each container. The container's maps read the
# same either way. Runs with hooks that rrun runs itself map through the
# helpers as before. A record that is not the caller's alone, or that names
# another process, is not joined. The keeper holds nothing of the runs, exits
# after its idle time (RRUN_USERNS_KEEP), and containers outlive it. Root
# writes any map and keeps nothing.
source "$(dirname "$0")/lib.sh"

uid=$(id -u)
gid=$(id -g)
make_bundle "$WORK/b" probe maps

if [[ "$RRUN_TEST_MODE" == root ]]; then
  step "root: a map of many ids keeps no namespace"
  config_set "$WORK/b" '.linux.namespaces += [{type: "user"}] |
    .linux.uidMappings = [{containerID: 0, hostID: 0, size: 1}, {containerID: 1, hostID: 100000, size: 65536}] |
    .linux.gidMappings = .linux.uidMappings'
  expect_ok rr run -b "$WORK/b" many
  expect_contains "$out" "uid_map=1 100000 65536" "root's map of a range"
  [[ ! -e /tmp/rrun-userns-0 && ! -e "${XDG_RUNTIME_DIR:-/nonexistent}/rrun-userns" ]] || fail "root recorded a keeper"
  [[ -z "$(pgrep -u 0 -x rrun-userns || true)" ]] || fail "a keeper runs as root"
  assert_no_leftovers
  echo "ok: $TEST_NAME (root)"
  exit 0
fi

[[ -n "${XDG_RUNTIME_DIR:-}" ]] || skip "needs the harness's XDG_RUNTIME_DIR"
read -r ustart ucount <<<"$(subid_range /etc/subuid)"
read -r gstart gcount <<<"$(subid_range /etc/subgid)"
[[ -n "$ustart" && -n "$gstart" ]] || skip "$(id -un) has no subordinate range"
umap='[{containerID: 0, hostID: $u, size: 1}, {containerID: 1, hostID: $s, size: $c}]'
config_set "$WORK/b" ".linux.uidMappings = $umap" --argjson u "$uid" --argjson s "$ustart" --argjson c "$ucount"
config_set "$WORK/b" ".linux.gidMappings = $umap" --argjson u "$gid" --argjson s "$gstart" --argjson c "$gcount"
cp "$WORK/b/config.json" "$WORK/config.many"
record=$XDG_RUNTIME_DIR/rrun-userns

# newuidmap and newgidmap that log each call, then are the real ones.
mkdir "$WORK/helpers"
for h in newuidmap newgidmap; do
  printf '#!/bin/sh\necho "%s $*" >>%q\nexec %q "$@"\n' "$h" "$WORK/helpers.log" "$(command -v $h)" >"$WORK/helpers/$h"
  chmod 755 "$WORK/helpers/$h"
done
: >"$WORK/helpers.log"
export PATH=$WORK/helpers:$PATH
calls() { wc -l <"$WORK/helpers.log"; }
keeper() { cut -d' ' -f1 "$record"; }
# expect_container_maps: the probe's maps are the config's, as without a keeper.
expect_container_maps() {
  expect_contains "$out" "uid_map=0 $uid 1" "the container's uid map"
  expect_contains "$out" "uid_map=1 $ustart $ucount" "the container's uid map"
  expect_contains "$out" "gid_map=0 $gid 1" "the container's gid map"
  expect_contains "$out" "gid_map=1 $gstart $gcount" "the container's gid map"
  expect_eq "$(val setgroups)" allow "setgroups"
}

export RRUN_USERNS_KEEP=20
step "the first run starts a keeper, which the helpers map"
expect_ok rr run -b "$WORK/b" k1
expect_container_maps
[[ -f "$record" ]] || fail "no record at $record"
k=$(keeper)
kill -0 "$k" 2>/dev/null || fail "the keeper $k is not running after the run returned"
expect_eq "$(cat "/proc/$k/comm")" rrun-userns "the keeper's name"
expect_eq "$(tr -d '\0' <"/proc/$k/cmdline")" rrun-userns "the keeper's command line"
expect_eq "$(awk '{print $1, $2, $3}' "/proc/$k/uid_map" | sort -n | tr '\n' ';')" \
  "$(printf '%s\n' "$uid $uid 1" "$ustart $ustart $ucount" | sort -n | tr '\n' ';')" "the keeper's uid map (its own ids onto themselves)"
expect_eq "$(calls)" 2 "helper calls"
expect_contains "$(cat "$WORK/helpers.log")" "newuidmap $k $uid $uid 1 $ustart $ustart $ucount" "the helpers' target"
expect_contains "$(cat "$WORK/helpers.log")" "newgidmap $k " "the helpers' target"

step "the keeper holds nothing of the runs"
expect_eq "$(ls "/proc/$k/fd" | wc -l)" 0 "the keeper's open files"
expect_eq "$(readlink "/proc/$k/cwd")" / "the keeper's working directory"
assert_no_leftovers

step "later runs join it: no helper runs, the container's maps are the config's"
for i in 1 2 3; do
  expect_ok rr run -b "$WORK/b" "k2-$i"
  expect_container_maps
done
expect_eq "$(calls)" 2 "helper calls after three more runs"
expect_eq "$(keeper)" "$k" "the recorded keeper"

step "create and start: the container's maps are the config's"
expect_ok rr create -b "$WORK/b" k3
expect_ok rr start k3
wait_until 10 bash -c "'$RRUN_BIN' --root '$STATE_ROOT' state k3 | grep -q '\"stopped\"'" || fail "k3 did not stop"
expect_ok rr delete k3
expect_eq "$(calls)" 2 "helper calls"

step "a run with a hook rrun runs maps through the helpers"
config_set "$WORK/b" '.hooks.prestart = [{path: "/bin/true"}]'
expect_ok rr run -b "$WORK/b" hooked
expect_container_maps
expect_eq "$(calls)" 4 "helper calls"
expect_not_contains "$(tail -2 "$WORK/helpers.log")" "map $k " "the helpers' target (the container, not the keeper)"
cp "$WORK/config.many" "$WORK/b/config.json"

step "a record others may write is not joined: the helpers map the container"
chmod 0660 "$record"
expect_ok rr --debug run -b "$WORK/b" shared
expect_container_maps
expect_contains "$err" "kept user namespace: \`$record\` is not a file of yours alone; mapping through newuidmap and newgidmap" "the debug line"
expect_eq "$(calls)" 6 "helper calls"
chmod 0600 "$record"

step "a record that names another process is not joined: a new keeper takes its place"
echo "$$ $(awk '{print $22}' "/proc/$$/stat")" >"$record"
expect_ok rr run -b "$WORK/b" other
expect_container_maps
expect_eq "$(calls)" 8 "helper calls"
k2=$(keeper)
[[ "$k2" != "$$" && "$k2" != "$k" ]] || fail "the record still names $k2"
expect_eq "$(cat "/proc/$k2/comm")" rrun-userns "the new keeper's name"
echo garbage >"$record"
expect_ok rr run -b "$WORK/b" garbage
expect_eq "$(calls)" 10 "helper calls"
k3=$(keeper)
[[ "$k3" != "$k2" ]] || fail "a garbage record was joined"

step "a container outlives its keeper"
set_args "$WORK/b" sleep 1000
expect_ok rr run -d -b "$WORK/b" long
expect_eq "$(calls)" 10 "helper calls"
kill -TERM "$k3"
wait_until 10 bash -c "! kill -0 $k3" || fail "the keeper $k3 ignored SIGTERM"
expect_ok rr exec long cat /proc/self/uid_map
expect_contains "$out" "$ustart" "exec's uid map"
expect_ok rr delete -f long
cp "$WORK/config.many" "$WORK/b/config.json"

step "a keeper no longer recorded exits after its idle time"
wait_until 40 bash -c "! kill -0 $k && ! kill -0 $k2" || fail "the keepers $k and $k2 still run"

step "RRUN_USERNS_KEEP: the idle time; 0 keeps nothing; anything else but seconds is refused"
RRUN_USERNS_KEEP=1 expect_ok rr run -b "$WORK/b" short
expect_eq "$(calls)" 12 "helper calls (a new keeper)"
k4=$(keeper)
wait_until 20 bash -c "! kill -0 $k4" || fail "the keeper $k4 outlived its idle time of 1 s"
rm "$record"
RRUN_USERNS_KEEP=0 expect_ok rr run -b "$WORK/b" none
expect_container_maps
expect_eq "$(calls)" 14 "helper calls"
[[ ! -e "$record" ]] || fail "RRUN_USERNS_KEEP=0 recorded a keeper"
RRUN_USERNS_KEEP=soon expect_fail_with \
  "RRUN_USERNS_KEEP=\`soon\`: expected a number of seconds up to 86400 (0 turns the kept user namespace off)" -- \
  rr run -b "$WORK/b" bad
assert_no_leftovers
echo "ok: $TEST_NAME (rootless)"
