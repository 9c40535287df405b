#!/usr/bin/env bash
# Security points of the lifecycle: symlinks out of the rootfs, the rrun
# binary out of the container's reach (CVE-2019-5736), nothing left after a
# failure at any step, host files keep their owner and mode.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

add_mount() {
  local dir=$1 dest=$2 type=$3 src=$4
  shift 4
  config_set "$dir" '.mounts += [{destination: $d, type: $t, source: $s, options: $ARGS.positional}]' \
    --arg d "$dest" --arg t "$type" --arg s "$src" --args "$@"
}

# A name no host path has: whatever shows up on the host with it came from us.
U=rrun-sec-$$-$RANDOM
host_paths() {
  local n
  for n in x y z b m ro dev; do printf '%s\n' "/$U-$n" "/etc/$U-$n" "$WORK/etc/$U-$n"; done
}

step "symlinks in the rootfs never lead mounts, masks or devices out of it"
b=$WORK/s1
make_bundle "$b"
rm -rf "$b/rootfs/etc"
ln -s / "$b/rootfs/etc"                                  # /etc -> /
mkdir -p "$b/rootfs/a/b" "$WORK/src" "$b/rootfs/$U-ro"
ln -s ../../etc "$b/rootfs/lnk"                          # naively: $WORK/etc
ln -s ../../../../../../../../../../../etc "$b/rootfs/a/b/deep" # naively: the host's /etc
echo secret >"$b/rootfs/$U-m"
echo from-src >"$WORK/src/f"
add_mount "$b" "/etc/$U-x" tmpfs tmpfs size=1m
add_mount "$b" "/lnk/$U-y" tmpfs tmpfs size=1m
add_mount "$b" "/a/b/deep/$U-z" tmpfs tmpfs size=1m
add_mount "$b" "/etc/$U-b" bind "$WORK/src" bind ro
config_set "$b" --arg m "/etc/$U-m" --arg r "/a/b/deep/$U-ro" \
  '.linux.maskedPaths += [$m] | .linux.readonlyPaths += [$r] | .root.readonly = false'
if [[ "$RRUN_TEST_MODE" == root ]]; then
  config_set "$b" --arg p "/lnk/$U-dev" '.linux.devices = [{path: $p, type: "c", major: 1, minor: 3, fileMode: 438}]'
fi
printf '%s\n' "U=$U" '
for n in x y z; do echo "mnt_$n=$(awk -v d=/$U-$n '"'"'$2 == d { print $3 }'"'"' /proc/mounts)"; done
echo "bind=$(cat /$U-b/f)"
echo "masked=[$(cat /$U-m)]"
if touch /$U-ro/f 2>/dev/null; then echo ro_write=ok; else echo ro_write=fail; fi
echo "dev=$(stat -c "%F %t:%T" /$U-dev 2>/dev/null)"
' >"$b/rootfs/check.sh"
set_args "$b" sh /check.sh
expect_ok rr run -b "$b" sym1
for n in x y z; do expect_eq "$(val "mnt_$n")" tmpfs "the tmpfs for $U-$n, inside the rootfs"; done
expect_eq "$(val bind)" from-src "the bind through /etc -> /"
expect_eq "$(val masked)" "[]" "the masked path through /etc -> /"
expect_eq "$(val ro_write)" fail "the readonly path through a deep ../ symlink"
for n in x y z b; do
  [[ -d "$b/rootfs/$U-$n" ]] || fail "the mount point $U-$n was not created inside the rootfs"
done
if [[ "$RRUN_TEST_MODE" == root ]]; then
  expect_eq "$(val dev)" "character special file 1:3" "the device through /lnk -> ../../etc -> /"
  [[ -c "$b/rootfs/$U-dev" ]] || fail "the device was not created inside the rootfs"
fi
while read -r p; do
  [[ ! -e "$p" && ! -L "$p" ]] || fail "$p was created on the host, outside the rootfs"
done < <(host_paths)
[[ ! -e "$WORK/etc" ]] || fail "$WORK/etc (../../etc from the rootfs) was created"
if grep -qF -- "$U" /proc/self/mountinfo; then fail "a mount of $U is in the host mount namespace"; fi
expect_eq "$(cat "$b/rootfs/$U-m")" secret "the masked file in the rootfs"
assert_no_leftovers

step "CVE-2019-5736: the container can't reach or write the rrun binary"
sum=$(sha256sum <"$RRUN_BIN")
c=$WORK/cve
make_bundle "$c"
printf '#!/proc/self/exe\n' >"$c/rootfs/evil.sh"
chmod 755 "$c/rootfs/evil.sh"
if [[ "$RRUN_TEST_MODE" == root ]]; then
  # No user namespace and no CAP_SYS_PTRACE: the program is executed through
  # the sealed trampoline (exe_guard.hpp), all a #!/proc/self/exe program
  # can reach.
  set_args "$c" /evil.sh
  run rr run -b "$c" cve1
  ((rc != 0)) || fail "a #!/proc/self/exe script succeeded"
  expect_contains "$err" "refusing to run the exec trampoline" "the #!/proc/self/exe script's error"
  set_args "$c" /proc/self/exe
  run rr run -b "$c" cve2
  ((rc != 0)) || fail "args[0] /proc/self/exe succeeded"
  expect_eq "$(sha256sum <"$RRUN_BIN")" "$sum" "sha256 of the rrun binary"
  assert_no_leftovers

  # A created container's init is rrun until it execs: a process that enters
  # its namespaces as uid 0 without capabilities can't open its exe.
  set_args "$c" true
  expect_ok rr create -b "$c" cve3
  expect_ok rr state cve3
  pid=$(jq -r .pid <<<"$out")
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "state cve3: no pid in [$out]"
  expect_ok nsenter -t "$pid" -p -i -u -n -- setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all \
    -- "$RRUN_PROBE" caps ids exe-write "/proc/$pid/exe"
  expect_eq "$(val CapEff)" 0000000000000000 "the entering process has no capabilities"
  expect_eq "$(val uid)" 0 "the entering process is uid 0"
  ew=$(val "/proc/$pid/exe")
  [[ "$ew" == EACCES || "$ew" == EPERM ]] || fail "open /proc/$pid/exe for writing from the container: $ew"
  # The bundle's capabilities hold no CAP_SYS_PTRACE: rrun did not
  # re-execute, the init runs the binary itself (closed to the container as
  # just shown; with every capability, test_exe_guard.sh: the init runs
  # from the overlay view or the sealed copy).
  expect_eq "$(stat -L -c %d:%i "/proc/$pid/exe")" "$(stat -L -c %d:%i "$RRUN_BIN")" "the created init's exe (dev:ino)"
  expect_ok rr start cve3
  expect_ok rr delete -f cve3
else
  # Container root is not the owner of the binary; the probe can't write its
  # own exe either.
  set_args "$c" /bin/probe exe-write /proc/self/exe
  expect_ok rr run -b "$c" cve1
  [[ "$(val /proc/self/exe)" != ok ]] || fail "the container opened /proc/self/exe for writing"
  set_args "$c" /evil.sh
  run rr run -b "$c" cve2
  ((rc != 0)) || fail "a #!/proc/self/exe script succeeded rootless"
fi
expect_eq "$(sha256sum <"$RRUN_BIN")" "$sum" "sha256 of the rrun binary"
assert_no_leftovers

step "a failure at each step leaves nothing and names the step"
f=$WORK/fail
make_bundle "$f" true
cp "$f/config.json" "$WORK/config.good"
reset_config() { cp "$WORK/config.good" "$f/config.json"; }

add_mount "$f" /mnt/bad rrun-no-such-fs none
expect_fail_with "mounts[" -- rr create -b "$f" f1
expect_contains "$err" "rrun-no-such-fs" "a bad mount type"
assert_no_leftovers

reset_config
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  config_set "$f" --arg p "/dev/$U-nodev" '.linux.devices = [{path: $p, type: "c", major: 1, minor: 3}]'
  expect_fail_with "linux.devices[0]" -- rr create -b "$f" f2
  expect_contains "$err" "$U-nodev" "a missing host device"
else
  # mknod under /dev/null (not a directory) fails inside the init.
  config_set "$f" '.linux.devices = [{path: "/dev/null/x", type: "c", major: 1, minor: 3}]'
  expect_fail_with "linux.devices[0]" -- rr create -b "$f" f2
fi
assert_no_leftovers

reset_config
config_set "$f" '.root.path = "no-such-rootfs"'
expect_fail_with "no-such-rootfs" -- rr create -b "$f" f3
[[ ! -e "$f/no-such-rootfs" ]] || fail "the missing rootfs was created"
assert_no_leftovers

reset_config
config_set "$f" '.hostname = "h" | .linux.namespaces |= map(select(.type != "uts"))'
expect_fail_with "hostname" -- rr create -b "$f" f4
reset_config
config_set "$f" --arg h "$(printf 'h%.0s' $(seq 1 100))" '.hostname = $h'
expect_fail_with "hostname" -- rr create -b "$f" f5
assert_no_leftovers

reset_config
config_set "$f" '.hooks.createRuntime = [{path: "/bin/true"}, {path: "/bin/false"}]'
expect_fail_with "createRuntime" -- rr create -b "$f" f6
assert_no_leftovers
reset_config
config_set "$f" '.hooks.createContainer = [{path: "/bin/false"}]'
expect_fail_with "createContainer" -- rr create -b "$f" f7
assert_no_leftovers
reset_config
config_set "$f" '.process.cwd = "/etc/passwd"'
expect_fail_with "cwd" -- rr create -b "$f" f8
assert_no_leftovers
reset_config
set_args "$f" /no/such/program
expect_fail_with "args[0]" -- rr run -b "$f" f9
assert_no_leftovers

step "rrun never changes the owner or mode of host files"
h=$WORK/host
make_bundle "$h" sh -c 'probe ids fds; echo x >/dev/null; head -c 4 /dev/stdin >/dev/null'
user=1000
if [[ "$RRUN_TEST_MODE" == rootless && -z "$(subid_range /etc/subuid)" ]]; then
  user=0 # a single mapping: only container root exists
fi
config_set "$h" --argjson u "$user" '.process.user = {uid: $u, gid: $u} | .process.terminal = false'
files=(/dev/null /dev/zero /dev/tty /dev/full "$h" "$h/rootfs" "$h/rootfs/dev" "$h/rootfs/tmp" "$h/config.json")
before=$(stat -c '%n %u:%g %a' "${files[@]}")
expect_ok sh -c '"$@" </dev/null' sh "$RRUN_BIN" --root "$STATE_ROOT" run -b "$h" own1
expect_eq "$(val uid)" "$user" "process.user.uid"
expect_eq "$(val 0)" /dev/null "stdin of the container (passed as it is)"
expect_ok sh -c '"$@" </dev/zero >/dev/null 2>/dev/null' sh "$RRUN_BIN" --root "$STATE_ROOT" run -b "$h" own2
expect_ok sh -c '"$@" </dev/null >/dev/null 2>/dev/null' sh "$RRUN_BIN" --root "$STATE_ROOT" run -b "$h" own3
if (exec </dev/tty) 2>/dev/null; then
  expect_ok sh -c '"$@" </dev/tty' sh "$RRUN_BIN" --root "$STATE_ROOT" run -b "$h" own4
fi
expect_ok sh -c '"$@" </dev/null' sh "$RRUN_BIN" --root "$STATE_ROOT" create -b "$h" own5
expect_ok rr start own5
expect_ok rr delete -f own5
expect_eq "$(stat -c '%n %u:%g %a' "${files[@]}")" "$before" "owner and mode of host files after the runs"
assert_no_leftovers
echo "PASS"
