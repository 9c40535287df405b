#!/bin/busybox sh
# /init of the cgroup v2 test VM's initramfs (test/vm/build-image.sh puts it
# there). Loads the 9p/virtio/overlay modules, mounts the host's / (9p tag
# "hostroot", read-only) under a tmpfs overlay at /newroot and switches to it,
# running the stage-2 script named by rrun.stage2= on the kernel command line
# (test/vm/guest-stage2.sh from the host tree, so it needs no image rebuild).
# Any failure here powers the VM off; run-in-vm.sh then prints the console.
/bin/busybox --install -s /bin
export PATH=/bin

die() {
  echo "rrun-vm init: $*"
  echo "rrun-vm init: FAILED" >/dev/kmsg 2>/dev/null
  poweroff -f
  sleep 5
}

mount -t proc proc /proc || die "cannot mount /proc"
mount -t sysfs sysfs /sys || die "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev || die "cannot mount /dev"

for m in $(cat /modules.order); do
  insmod "/lib/modules/$m.ko" || die "cannot load module $m"
done

stage2=""
for word in $(cat /proc/cmdline); do
  case "$word" in
    rrun.stage2=*) stage2=${word#rrun.stage2=} ;;
  esac
done
[ -n "$stage2" ] || die "no rrun.stage2= on the kernel command line"

# The virtio-9p devices appear asynchronously after the module load.
i=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower 2>/dev/null; do
  i=$((i + 1))
  [ $i -lt 100 ] || die "cannot mount the host root (9p tag hostroot)"
  sleep 0.05
done
mount -t tmpfs -o mode=755 tmpfs /rw || die "cannot mount the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
  die "cannot mount the overlay on the host root"
[ -x "/newroot$stage2" ] || [ -f "/newroot$stage2" ] || die "no stage-2 script $stage2 in the host root"

for d in proc sys dev; do
  mount --move "/$d" "/newroot/$d" || die "cannot move /$d into the new root"
done
echo "rrun-vm init: switching root" >/dev/kmsg
exec switch_root /newroot /bin/bash "$stage2"
