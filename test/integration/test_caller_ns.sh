#!/usr/bin/env bash
# What a config leaves in the caller's namespaces is not changed there
# (issue 11, points 1, 2 and 9), root and rootless:
# - without a mount namespace the init only chroots into the rootfs (no
#   mount, no propagation change, no pivot_root): the caller's "/" and mount
#   table are the same before and after create, start, exec and delete; an
#   exec chroots into the init's root; what would need a mount namespace is
#   refused, naming the field, leaving nothing;
# - every linux.rootfsPropagation value runs, "/" inside has that
#   propagation, and the caller's mount table is unchanged;
# - hostname and domainname without a uts namespace are refused, and the
#   caller's domainname stays.
# The whole test runs in a throw-away mount and uts namespace, so that a
# regression changes only that namespace, never the host's. Its mounts are
# made shared, in peer groups of their own (none is the host's), so that a
# slave "/" shows in the container. Rootless, the namespace belongs to a user
# namespace that maps the caller to root (to make the mounts shared), and the
# test runs as the caller's uid in one more user namespace inside it, so that
# rrun still runs rootless.
if [[ -z "${RRUN_CALLER_NS:-}" ]]; then
  export RRUN_CALLER_NS=1
  enter=(unshare -m -u --propagation private --)
  then_run=(bash "$0")
  if ((EUID != 0)); then
    enter=(unshare --map-root-user -m -u --propagation private --)
    then_run=(unshare --map-user="$(id -u)" --map-group="$(id -g)" -- bash "$0")
  fi
  "${enter[@]}" true 2>/dev/null || { echo "SKIP: ${enter[*]} is not possible here"; exit 77; }
  exec "${enter[@]}" sh -c 'mount --make-rshared / && exec "$@"' sh "${then_run[@]}"
fi
source "$(dirname "$0")/lib.sh"

# bundle DIR ARG...: make_bundle; rootless with a mapping of the caller's
# own ids only (subordinate ids are not mapped in the throw-away namespace).
bundle() {
  make_bundle "$@"
  [[ "$RRUN_TEST_MODE" == rootless ]] || return 0
  config_set "$1" '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1}]
    | .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1}]' --argjson u "$(id -u)" --argjson g "$(id -g)"
}

# The caller's root (device:inode and the /proc link) and its whole mount table.
caller_view() { printf '%s %s\n' "$(stat -c %d:%i /)" "$(readlink /proc/self/root)"; cat /proc/self/mountinfo; }
expect_caller_view() { [[ "$(caller_view)" == "$1" ]] || fail "$2: the caller's / or mount table changed: $(diff <(echo "$1") <(caller_view))"; }
status_of() { "$RRUN_BIN" --root "$STATE_ROOT" state "$1" | jq -r .status; }
is_stopped() { [[ "$(status_of "$1")" == stopped ]]; }

step "no mount namespace: the init chroots into the rootfs; the caller's / and mounts stay"
b=$WORK/nomnt
bundle "$b" sh -c 'cat /only-in-rootfs; pwd; stat -c %i /'
echo rootfs-file >"$b/rootfs/only-in-rootfs"
config_set "$b" '.mounts = [] | del(.linux.maskedPaths, .linux.readonlyPaths, .linux.devices, .linux.rootfsPropagation)
  | .root.readonly = false | .process.cwd = "/tmp/work"
  | .linux.namespaces |= map(select(.type != "mount"))'
view=$(caller_view)
"$RRUN_BIN" --root "$STATE_ROOT" create -b "$b" c1 >"$WORK/c1.out" 2>"$WORK/c1.err" </dev/null ||
  fail "create without a mount namespace: $(cat "$WORK/c1.err")"
expect_caller_view "$view" "after create"
expect_ok rr start c1
wait_until 10 is_stopped c1 || fail "the container did not stop: $(status_of c1)"
expect_caller_view "$view" "after start"
expect_ok rr delete c1
expect_caller_view "$view" "after delete"
expect_eq "$(cat "$WORK/c1.out")" $'rootfs-file\n/tmp/work\n'"$(stat -c %i "$b/rootfs")" \
  "the process's view (a file only in the rootfs, process.cwd, the inode of /)"
assert_no_leftovers

step "no mount namespace: exec chroots into the init's root; the caller's / and mounts stay"
cp "$b/config.json" "$WORK/config.keep"
set_args "$b" sleep 600
seen_inside=$'rootfs-file\n/tmp/work\n'"$(stat -c %i "$b/rootfs")"
expect_ok rr create -b "$b" c3 </dev/null
# Rootless, exec into a created container fails whatever its namespaces: its
# init (rrun, not dumpable) is not the caller's to inspect in /proc.
whens=(created running)
[[ "$RRUN_TEST_MODE" == root ]] || whens=(running)
for when in "${whens[@]}"; do
  [[ "$when" == created ]] || expect_ok rr start c3
  expect_ok rr exec c3 sh -c 'cat /only-in-rootfs; pwd; stat -c %i /'
  expect_eq "$out" "$seen_inside" "an exec's view in a $when container (a file only in the rootfs, process.cwd, the inode of /)"
  expect_caller_view "$view" "after an exec in a $when container"
done
expect_ok rr delete -f c3
cp "$WORK/config.keep" "$b/config.json"
expect_caller_view "$view" "after delete -f"
assert_no_leftovers

step "no mount namespace: a sysctl of the container's uts namespace goes through rrun's /proc"
if [[ "$RRUN_TEST_MODE" == root ]]; then
  # Root only: the kernel lets only global root write the uts sysctls.
  cp "$b/config.json" "$WORK/config.keep"
  config_set "$b" '.linux.sysctl = {"kernel.domainname": "rrun-sysctl.org"}'
  set_args "$b" probe hostname
  domain=$(cat /proc/sys/kernel/domainname)
  expect_ok rr run -b "$b" c2 </dev/null
  expect_contains $'\n'"$out"$'\n' $'\ndomainname=rrun-sysctl.org\n' "the domainname inside"
  expect_eq "$(cat /proc/sys/kernel/domainname)" "$domain" "the caller's domainname"
  expect_caller_view "$view" "after run with a sysctl"
  cp "$WORK/config.keep" "$b/config.json"
  assert_no_leftovers
fi

step "no mount namespace: what needs one is refused, naming the field, nothing left"
refused() {
  local field=$1 filter=$2
  cp "$b/config.json" "$WORK/config.keep"
  config_set "$b" "$filter"
  expect_fail_with "$field: needs a mount namespace" -- rr create -b "$b" refused
  cp "$WORK/config.keep" "$b/config.json"
  assert_no_leftovers
  expect_caller_view "$view" "after refusing $field"
}
refused mounts '.mounts = [{destination: "/proc", type: "proc", source: "proc"}]'
refused linux.maskedPaths '.linux.maskedPaths = ["/proc/kcore"]'
refused linux.readonlyPaths '.linux.readonlyPaths = ["/proc/sys"]'
refused root.readonly '.root.readonly = true'
refused linux.rootfsPropagation '.linux.rootfsPropagation = "private"'
refused linux.devices '.linux.devices = [{path: "/dev/fuse", type: "c", major: 10, minor: 229}]'
refused annotations.rrun.rootfs.overlay '.annotations["rrun.rootfs.overlay"] = "ephemeral"'

step "every linux.rootfsPropagation: / inside has it; the caller's mounts stay"
p=$WORK/prop
bundle "$p" grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo
view=$(caller_view)
for prop in shared rshared slave rslave private rprivate unbindable runbindable; do
  config_set "$p" '.linux.rootfsPropagation = $p' --arg p "$prop"
  expect_ok rr run -b "$p" "prop-$prop" </dev/null
  root_line=$(tail -n 1 <<<"$out")
  case "$prop" in
    *shared) expect_contains "$root_line" " shared:" "/ with rootfsPropagation $prop" ;;
    *slave)
      expect_contains "$root_line" " master:" "/ with rootfsPropagation $prop"
      expect_not_contains "$root_line" "shared:" "/ with rootfsPropagation $prop"
      ;;
    *private | *unbindable)
      expect_not_contains "$root_line" "shared:" "/ with rootfsPropagation $prop"
      expect_not_contains "$root_line" "master:" "/ with rootfsPropagation $prop"
      ;;
  esac
  if [[ "$prop" == *unbindable ]]; then
    expect_contains "$root_line" " unbindable" "/ with rootfsPropagation $prop"
  else
    expect_not_contains "$root_line" "unbindable" "/ with rootfsPropagation $prop"
  fi
  expect_caller_view "$view" "after a container with rootfsPropagation $prop"
done
assert_no_leftovers

step "hostname and domainname without a uts namespace are refused; the caller's stay"
u=$WORK/uts
bundle "$u" probe hostname
config_set "$u" 'del(.hostname)'
domain=$(cat /proc/sys/kernel/domainname)
host=$(cat /proc/sys/kernel/hostname)
cp "$u/config.json" "$WORK/uts.json"
config_set "$u" '.domainname = "rrun-example.org" | .linux.namespaces |= map(select(.type != "uts"))'
expect_fail_with "domainname: needs a uts namespace" -- rr create -b "$u" uts1
assert_no_leftovers
cp "$WORK/uts.json" "$u/config.json"
config_set "$u" '.hostname = "rrun-box" | .linux.namespaces |= map(select(.type != "uts"))'
expect_fail_with "hostname: needs a uts namespace" -- rr create -b "$u" uts2
assert_no_leftovers
expect_eq "$(cat /proc/sys/kernel/domainname)" "$domain" "the caller's domainname"
expect_eq "$(cat /proc/sys/kernel/hostname)" "$host" "the caller's hostname"

step "hostname and domainname with a uts namespace are set inside only"
cp "$WORK/uts.json" "$u/config.json"
config_set "$u" '.hostname = "rrun-box" | .domainname = "rrun-example.org"'
expect_ok rr run -b "$u" uts3 </dev/null
expect_contains $'\n'"$out"$'\n' $'\nhostname=rrun-box\n' "the hostname inside"
expect_contains $'\n'"$out"$'\n' $'\ndomainname=rrun-example.org\n' "the domainname inside"
expect_eq "$(cat /proc/sys/kernel/domainname)" "$domain" "the caller's domainname"
expect_eq "$(cat /proc/sys/kernel/hostname)" "$host" "the caller's hostname"
assert_no_leftovers
