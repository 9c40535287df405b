#!/bin/bash
# Stage 2 of the cgroup v2 test VM, PID 1 in the guest (the initramfs /init
# switches to the overlay on the host's / and runs this with the host's bash).
# Mounts what a test needs — pure cgroup2 at /sys/fs/cgroup with cpuset cpu
# io memory pids enabled for the children of the root, devpts, /dev/shm,
# a fresh /run — and the writable results share (9p tag "results") at the
# path rrun.results= names, runs the job run-in-vm.sh wrote there, stores
# its stdout, stderr and exit status next to it, and powers the VM off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
umask 022

# The static busybox (busybox-static, a run-time dependency of the tests
# anyway) for the few tools used here: every dynamically linked program costs
# a second or more to start under TCG on a loaded host.
bb=/bin/busybox
mkdir() { "$bb" mkdir "$@"; }
mount() { "$bb" mount "$@"; }
umount() { "$bb" umount "$@"; }
ln() { "$bb" ln "$@"; }
chmod() { "$bb" chmod "$@"; }
hostname() { "$bb" hostname "$@"; }
sync() { "$bb" sync "$@"; }

say() { echo "rrun-vm: $*" >/dev/console; }
off() {
  sync
  "$bb" poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 10
}
die() {
  say "stage 2: $*"
  say "FAILED"
  off
}

echo "rrun-vm: stage 2 started" >/dev/kmsg
results=""
read -r -a words </proc/cmdline
for word in "${words[@]}"; do
  case "$word" in
    rrun.results=*) results=${word#rrun.results=} ;;
  esac
done
[[ -n "$results" ]] || die "no rrun.results= on the kernel command line"

mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts || die "cannot mount /dev/pts"
[[ -e /dev/ptmx ]] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm || die "cannot mount /dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run || die "cannot mount /run"
mkdir -p /run/lock /run/user
chmod 1777 /run/lock
ln -sf /proc/self/fd /dev/fd 2>/dev/null
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || die "cannot mount cgroup2 at /sys/fs/cgroup"
controllers="cpuset cpu io memory pids"
for c in $controllers; do
  echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || die "cannot enable the $c controller in the root cgroup"
done
hostname rrun-vm
"$bb" ip link set lo up 2>/dev/null || true

mkdir -p "$results" || die "cannot create the mount point $results"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results "$results" ||
  die "cannot mount the results share at $results"
[[ -f "$results/job.sh" ]] || die "no job.sh in the results share"

echo "rrun-vm: running the job" >/dev/kmsg
read -r up _ </proc/uptime
echo "$up" >"$results/boot-seconds"
status=0
bash "$results/job.sh" >"$results/stdout" 2>"$results/stderr" </dev/null || status=$?
read -r up2 _ </proc/uptime
echo "$up2" >"$results/end-seconds"
echo "$status" >"$results/status"
sync
umount "$results"
off
