#!/usr/bin/env bash
# Soak (issue 15, "In the project's own suite"): create / start / kill /
# delete of one container, over and over (1000 cycles as root, 300 rootless;
# RRUN_SOAK_CYCLES sets the number): every command succeeds every time,
# nothing is left, and rrun does not drift: a createRuntime hook (run by
# `create`) and a poststart hook (run by `start`) record the number of fds
# open in their parent rrun (/proc/$PPID/fd) and its VmRSS; cycle N must
# show the fds of cycle 1, and the RSS stay within 1 MiB of it.
# The long run (README, Reliability):
#   cd build && RRUN_SOAK_CYCLES=10000 ctest -R 'load\.(root|rootless)\.soak' --output-on-failure
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

if [[ "$RRUN_TEST_MODE" == root ]]; then default=1000; else default=300; fi
cycles=${RRUN_SOAK_CYCLES:-$default}
B=$WORK/b
make_bundle "$B" sleep 1000
# The hook's line: PHASE FDS RSS_KB of its parent (the rrun that runs it),
# counted once it has read the state to its end: rrun has closed its end of
# the hook's stdin by then (before, the count is 11 or 13 by chance).
cat >"$WORK/record.sh" <<HOOK
#!/bin/sh
cat >/dev/null
fds=\$(ls /proc/\$PPID/fd | wc -l)
rss=\$(awk '/^VmRSS:/ { print \$2 }' /proc/\$PPID/status)
echo "\$1 \$fds \$rss" >>"$WORK/record.log"
HOOK
chmod 755 "$WORK/record.sh"
config_set "$B" '.hooks = {createRuntime: [{path: $p, args: [$p, "create"]}], poststart: [{path: $p, args: [$p, "start"]}]}' \
  --arg p "$WORK/record.sh"

# Unique on the host: cgroup_dirs looks for the ID in every hierarchy, and the
# root and rootless halves may run at once.
id=soak-$$
# The host's mount points (those of the other tests' temporary directories
# aside: each test checks its own; the clients tests, which mount in the
# host's namespace, do not run meanwhile: RESOURCE_LOCK host_mounts).
host_mounts() {
  awk -v tmp="$(dirname "$WORK")/" -v work="$WORK" \
    'index($5, tmp) != 1 || index($5, work) == 1 { print $5 }' /proc/self/mountinfo | sort
}
host_mounts >"$WORK/mounts.before"
start=$SECONDS
step "$cycles cycles of create, start, kill, delete"
for ((i = 1; i <= cycles; i++)); do
  run rr create -b "$B" "$id"
  ((rc == 0)) || { show_run; fail "cycle $i: create"; }
  run rr start "$id"
  ((rc == 0)) || { show_run; fail "cycle $i: start"; }
  run rr kill "$id" KILL
  ((rc == 0)) || { show_run; fail "cycle $i: kill"; }
  # delete without -f: the init must be gone first (kill does not wait).
  wait_until 10 sh -c '[ "$("$1" --root "$2" state "$3" | jq -r .status)" = stopped ]' sh "$RRUN_BIN" "$STATE_ROOT" "$id" ||
    fail "cycle $i: the init did not stop after kill"
  run rr delete "$id"
  ((rc == 0)) || { show_run; fail "cycle $i: delete"; }
done
elapsed=$((SECONDS - start))
assert_no_leftovers
left=$(cgroup_dirs "$id")
[[ -z "$left" ]] || fail "cgroup left: $left"
host_mounts >"$WORK/mounts.after"
new=$(comm -13 "$WORK/mounts.before" "$WORK/mounts.after")
[[ -z "$new" ]] || fail "mounts on the host after the cycles: $(echo $new)"

step "no drift: fds and RSS of rrun at cycle 1 and cycle $cycles"
expect_eq "$(grep -c '^create ' "$WORK/record.log")" "$cycles" "createRuntime hooks recorded"
expect_eq "$(grep -c '^start ' "$WORK/record.log")" "$cycles" "poststart hooks recorded"
for phase in create start; do
  read -r _ fds1 rss1 < <(grep "^$phase " "$WORK/record.log" | head -n1)
  read -r _ fdsn rssn < <(grep "^$phase " "$WORK/record.log" | tail -n1)
  distinct=$(grep "^$phase " "$WORK/record.log" | awk '{ print $2 }' | sort -u | paste -sd, -)
  echo "$phase: fds at cycle 1: $fds1, at cycle $cycles: $fdsn (all seen: $distinct); VmRSS $rss1 -> $rssn kB"
  expect_eq "$distinct" "$fds1" "fds of rrun $phase over the cycles"
  ((rssn - rss1 <= 1024)) || fail "$phase: VmRSS grew from $rss1 to $rssn kB"
done
echo "$cycles cycles in $elapsed s"

echo "PASS"
