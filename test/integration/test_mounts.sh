#!/usr/bin/env bash
# Mounts, /dev, maskedPaths, readonlyPaths, root.readonly, devices,
# --no-pivot, rootfsPropagation and sysctl, root and rootless.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

expect_val() { expect_eq "$(val "$1")" "$2" "$1 (${3:-inside the container})"; }

# Shell helpers for the scripts that run inside the container.
CHECK_LIB='
r() { if "$@" >/dev/null 2>&1; then echo ok; else echo fail; fi; }
w() { r sh -c "echo x > $1"; }
m() { awk -v d="$1" '"'"'$2 == d'"'"' /proc/mounts | tail -n 1; }
mi() { awk -v d="$1" '"'"'$5 == d'"'"' /proc/self/mountinfo | tail -n 1; }
'

# container_script BUNDLE SCRIPT: SCRIPT becomes /check.sh, run by process.args.
container_script() {
  printf '%s\n%s\n' "$CHECK_LIB" "$2" >"$1/rootfs/check.sh"
  set_args "$1" sh /check.sh
}

# add_mount BUNDLE DEST TYPE SOURCE OPTION... queues a mount (plain strings
# only: no quotes or backslashes); flush_mounts BUNDLE appends the queue in
# one jq run.
PENDING_MOUNTS=""
add_mount() {
  local dest=$2 type=$3 src=$4 opts=""
  shift 4
  (($# == 0)) || printf -v opts '"%s",' "$@"
  PENDING_MOUNTS+="{\"destination\":\"$dest\",\"type\":\"$type\",\"source\":\"$src\",\"options\":[${opts%,}]},"
}
flush_mounts() {
  config_set "$1" ".mounts += [${PENDING_MOUNTS%,}]"
  PENDING_MOUNTS=""
}

b=$WORK/m
make_bundle "$b"
config_set "$b" '.root.readonly = false'

step "mounts in order with their options"
mkdir -p "$WORK/ro" "$b/data" "$WORK/exec" "$b/rootfs/a" "$b/rootfs/ropath" "$b/rootfs/etc/secretdir"
echo original >"$WORK/ro/f"
echo hello-from-bundle >"$b/data/hello"
cp "$BUSYBOX" "$WORK/exec/busybox"
echo secret >"$b/rootfs/etc/secret"
echo secret >"$b/rootfs/etc/secretdir/f"
add_mount "$b" /mnt/t tmpfs tmpfs size=1m mode=1750 nosuid nodev noexec
add_mount "$b" /ro bind "$WORK/ro" bind ro
add_mount "$b" /data bind data bind
add_mount "$b" /a/sub tmpfs tmpfs size=1m
add_mount "$b" /nb bind rootfs/a bind
add_mount "$b" /rb bind rootfs/a rbind
add_mount "$b" /rbro bind rootfs/a rbind ro
add_mount "$b" /rro bind rootfs/a rbind rro
add_mount "$b" /noexec bind "$WORK/exec" bind noexec nosuid nodev
add_mount "$b" /mnt/sh tmpfs tmpfs shared
add_mount "$b" /mnt/pr tmpfs tmpfs private
add_mount "$b" /mnt/ub tmpfs tmpfs unbindable
flush_mounts "$b"
# Mounts apply in order: the second tmpfs on /mnt/order hides the first.
add_mount "$b" /mnt/order tmpfs tmpfs size=1m
add_mount "$b" /mnt/order tmpfs tmpfs size=2m
flush_mounts "$b"
config_set "$b" '.linux.maskedPaths += ["/etc/secret", "/etc/secretdir"] | .linux.readonlyPaths += ["/ropath"]'
container_script "$b" '
echo "tmpfs=$(m /mnt/t)"
echo "tmpfs_mode=$(stat -c %a /mnt/t)"
echo "tmpfs_write=$(w /mnt/t/x)"
echo "ro_read=$(cat /ro/f)"
echo "ro_write=$(w /ro/f)"
echo "ro_mount=$(m /ro)"
echo "data=$(cat /data/hello)"
echo "nb_sub=$(m /nb/sub)"
echo "rb_sub=$(m /rb/sub)"
echo "rbro_top=$(w /rbro/x)"
echo "rbro_sub=$(w /rbro/sub/x)"
echo "rro_top=$(w /rro/y)"
echo "rro_sub=$(w /rro/sub/y)"
echo "noexec_run=$(r /noexec/busybox true)"
echo "noexec_mount=$(m /noexec)"
echo "sh=$(mi /mnt/sh)"
echo "pr=$(mi /mnt/pr)"
echo "ub=$(mi /mnt/ub)"
echo "order=$(m /mnt/order)"
echo "masked_file=[$(cat /etc/secret)]"
echo "masked_file_write=$(w /etc/secret)"
echo "masked_dir=[$(ls -A /etc/secretdir)]"
echo "masked_dir_write=$(w /etc/secretdir/n)"
echo "masked_dir_mount=$(m /etc/secretdir)"
echo "ropath_write=$(w /ropath/x)"
echo "root_write=$(w /rootfile)"
'
expect_ok rr run -b "$b" mounts1
tm=$(val tmpfs)
expect_contains "$tm" "tmpfs /mnt/t tmpfs" "the tmpfs on /mnt/t"
for o in nosuid nodev noexec size=1024k mode=1750; do expect_contains "$tm" "$o" "the tmpfs options on /mnt/t"; done
expect_val tmpfs_mode 1750 "stat of the tmpfs mode=1750"
expect_val tmpfs_write ok "writing into the tmpfs"
expect_val ro_read original
expect_val ro_write fail "writing through a read-only bind"
expect_contains "$(val ro_mount)" " ro," "the read-only bind in /proc/mounts"
expect_eq "$(cat "$WORK/ro/f")" original "the host file behind the read-only bind"
expect_val data hello-from-bundle "a bind source relative to the bundle"
expect_val nb_sub "" "a plain bind does not carry the submount"
expect_contains "$(val rb_sub)" "/rb/sub tmpfs" "rbind carries the submount"
expect_val rbro_top fail "rbind,ro: the top is read-only"
expect_val rbro_sub ok "rbind,ro: a submount stays writable (ro is not recursive)"
expect_val rro_top fail "rbind,rro: the top is read-only"
expect_val rro_sub fail "rbind,rro: the submount is read-only too"
expect_val noexec_run fail "running a program from a noexec bind"
for o in nosuid nodev noexec; do expect_contains "$(val noexec_mount)" "$o" "the noexec bind in /proc/mounts"; done
expect_contains "$(val sh)" " shared:" "the shared tmpfs in mountinfo"
expect_not_contains "$(val pr)" "shared:" "the private tmpfs in mountinfo"
expect_not_contains "$(val pr)" "master:" "the private tmpfs in mountinfo"
expect_contains "$(val ub)" "unbindable" "the unbindable tmpfs in mountinfo"
expect_contains "$(val order)" "size=2048k" "the later of two mounts on one destination is on top"
expect_val masked_file "[]" "a masked file reads empty"
expect_val masked_dir "[]" "a masked directory is empty"
expect_val masked_dir_write fail "writing into a masked directory"
expect_contains "$(val masked_dir_mount)" "tmpfs /etc/secretdir tmpfs ro" "a masked directory is a read-only tmpfs"
expect_val ropath_write fail "writing into a readonlyPaths entry"
expect_val root_write ok "writing / without root.readonly"
[[ -d "$b/rootfs/mnt/t" && -d "$b/rootfs/nb" ]] || fail "missing mount destinations were not created inside the rootfs"
[[ ! -e /mnt/t/x && ! -e /ro/f && ! -e /rootfile ]] || fail "something was created on the host instead of the rootfs"
expect_eq "$(cat "$b/rootfs/etc/secret")" secret "the masked file itself"
expect_eq "$(cat "$b/rootfs/rootfile")" x "the file written to / landed in the rootfs"
assert_no_leftovers

step "root.readonly: / is read-only, a tmpfs on /tmp stays writable"
config_set "$b" '.root.readonly = true'
add_mount "$b" /tmp tmpfs tmpfs mode=1777
flush_mounts "$b"
container_script "$b" '
echo "root_write=$(w /rootfile2)"
echo "tmp_write=$(w /tmp/x)"
echo "root_mount=$(m /)"
'
expect_ok rr run -b "$b" mounts2
expect_val root_write fail "writing / with root.readonly"
expect_val tmp_write ok "writing the /tmp tmpfs with root.readonly"
expect_contains "$(val root_mount)" " ro" "/ in /proc/mounts with root.readonly"
[[ ! -e "$b/rootfs/rootfile2" ]] || fail "root.readonly: the rootfs was written"
assert_no_leftovers

step "/dev: default devices, links, devpts newinstance, /dev/shm, linux.devices"
d=$WORK/dev
make_bundle "$d"
config_set "$d" '.linux.devices = [{path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 438}]'
if [[ "$RRUN_TEST_MODE" == root ]]; then
  # A copy of /dev/null under another name, with its own mode and owner.
  config_set "$d" '.linux.devices += [{path: "/dev/sub/mynull", type: "c", major: 1, minor: 3,
    fileMode: 416, uid: 0, gid: 8}]'
fi
container_script "$d" '
for n in null zero full random urandom tty; do
  echo "dev_$n=$(stat -c "%F %t:%T" /dev/$n)"
done
echo "null_write=$(w /dev/null)"
echo "zero_read=$(head -c 3 /dev/zero | wc -c)"
for n in ptmx fd stdin stdout stderr; do echo "link_$n=$(readlink /dev/$n)"; done
echo "fuse=$(stat -c "%F %t:%T" /dev/fuse)"
echo "mynull=$(stat -c "%F %t:%T %a %u:%g" /dev/sub/mynull 2>/dev/null)"
echo "mynull_write=$(w /dev/sub/mynull)"
echo "pts=$(m /dev/pts)"
echo "pts_dev=$(stat -c %d /dev/pts)"
echo "pts_ls=$(ls /dev/pts | tr "\n" " ")"
echo "shm=$(m /dev/shm)"
echo "shm_write=$(w /dev/shm/x)"
'
expect_ok rr run -b "$d" dev1
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  name=${n%%:*} mm=${n#*:}
  expect_val "dev_$name" "character special file $(printf '%x:%x' "${mm%%:*}" "${mm#*:}")" "/dev/$name"
done
expect_val null_write ok "writing /dev/null"
expect_val zero_read 3 "reading /dev/zero"
expect_val link_ptmx pts/ptmx
expect_val link_fd /proc/self/fd
expect_val link_stdin /proc/self/fd/0
expect_val link_stdout /proc/self/fd/1
expect_val link_stderr /proc/self/fd/2
expect_val fuse "character special file a:e5" "linux.devices /dev/fuse"
if [[ "$RRUN_TEST_MODE" == root ]]; then
  expect_val mynull "character special file 1:3 640 0:8" "linux.devices /dev/sub/mynull (mknod with mode and owner)"
  expect_val mynull_write ok "writing the copy of /dev/null"
fi
expect_contains "$(val pts)" "devpts /dev/pts devpts" "/dev/pts"
[[ "$(val pts_dev)" != "$(stat -c %d /dev/pts)" ]] || fail "/dev/pts is the host's devpts, not a new instance"
expect_val pts_ls "ptmx " "a new devpts instance has only ptmx"
expect_contains "$(val shm)" "/dev/shm tmpfs" "/dev/shm"
expect_val shm_write ok "writing /dev/shm"
[[ ! -e "$d/rootfs/dev/null" ]] || fail "/dev/null was created in the rootfs on the host (not in the /dev tmpfs)"
assert_no_leftovers

step "linux.devices: a host device that doesn't exist (rootless) / a bad type fails create, nothing left"
config_set "$d" '.linux.devices = [{path: "/dev/rrun-test-nosuch", type: "x", major: 1, minor: 3}]'
expect_fail_with "linux.devices[0].type" -- rr create -b "$d" dev2
assert_no_leftovers
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  config_set "$d" '.linux.devices = [{path: "/dev/rrun-test-nosuch", type: "c", major: 1, minor: 3}]'
  expect_fail_with "linux.devices[0].path" -- rr create -b "$d" dev3
  expect_contains "$err" "/dev/rrun-test-nosuch" "the error for a missing host device"
  assert_no_leftovers
fi

step "--no-pivot"
n=$WORK/nopivot
make_bundle "$n"
container_script "$n" '
echo "probe=$(r test -x /bin/probe)"
echo "host_work=$(r test -e '"$WORK"')"
echo "root_ino=$(stat -c %i /check.sh)"
'
expect_ok rr run --no-pivot -b "$n" np1
expect_val probe ok "the rootfs is / with --no-pivot"
expect_val host_work fail "the host's $WORK is not visible with --no-pivot"
expect_val root_ino "$(stat -c %i "$n/rootfs/check.sh")" "/check.sh is the bundle's file"
assert_no_leftovers

step "linux.rootfsPropagation"
p=$WORK/prop
make_bundle "$p"
container_script "$p" 'echo "root=$(mi /)"'
config_set "$p" '.linux.rootfsPropagation = "shared"'
expect_ok rr run -b "$p" prop1
expect_contains "$(val root)" " shared:" "/ with rootfsPropagation shared"
config_set "$p" '.linux.rootfsPropagation = "private"'
expect_ok rr run -b "$p" prop2
expect_not_contains "$(val root)" "shared:" "/ with rootfsPropagation private"
expect_not_contains "$(val root)" "master:" "/ with rootfsPropagation private"
config_set "$p" '.linux.rootfsPropagation = "bogus"'
expect_fail_with "rootfsPropagation" -- rr create -b "$p" prop3
assert_no_leftovers

step "sysctl: a namespaced key is set inside; a host-wide key fails create"
s=$WORK/sysctl
make_bundle "$s" cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname
config_set "$s" '.linux.namespaces |= (map(select(.type != "network")) + [{type: "network"}])'
host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
if [[ "$RRUN_TEST_MODE" == root ]]; then
  config_set "$s" '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.domainname": "example.org"}'
  expect_ok rr run -b "$s" sys1
  expect_eq "$out" $'1\nexample.org' "net.ipv4.ip_forward and kernel.domainname inside"
else
  # The kernel lets only global root write the UTS sysctls (as for runc).
  config_set "$s" '.linux.sysctl = {"net.ipv4.ip_forward": "1"}'
  set_args "$s" cat /proc/sys/net/ipv4/ip_forward
  expect_ok rr run -b "$s" sys1
  expect_eq "$out" 1 "net.ipv4.ip_forward inside"
fi
expect_eq "$(cat /proc/sys/net/ipv4/ip_forward)" "$host_fwd" "the host's net.ipv4.ip_forward"
config_set "$s" '.linux.sysctl = {"kernel.panic": "5"}'
host_panic=$(cat /proc/sys/kernel/panic)
expect_fail_with "kernel.panic" -- rr create -b "$s" sys2
assert_no_leftovers
expect_eq "$(cat /proc/sys/kernel/panic)" "$host_panic" "the host's kernel.panic"

step "a bad mount type fails create with the mount's index, nothing left"
config_set "$s" '.linux.sysctl = {}'
add_mount "$s" /mnt/bad rrun-no-such-fs none
flush_mounts "$s"
expect_fail_with "mounts[" -- rr create -b "$s" bad1
expect_contains "$err" "rrun-no-such-fs" "the error for an unknown file system type"
assert_no_leftovers
echo "PASS"
