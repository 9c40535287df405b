#!/bin/bash
# Stage 3 of the systemd test VM (RRUN_VM_GUEST=systemd in run-in-vm.sh).
#
# Without arguments it is PID 1: the initramfs switched to the Debian rootfs
# of test/vm/build-systemd-rootfs.sh (read-only over 9p under a tmpfs
# overlay) and ran its /usr/local/sbin/rrun-vm-init, which mounted the host's
# / at /host and runs this script from there. It mounts the results share at
# /rrun-results, binds the host paths run-in-vm.sh listed (the source tree,
# the build, the job's directory) at the same paths in the guest, installs
# the unit rrun-vm-job.service (this script with `job`) into
# multi-user.target, and execs systemd. Editing this script needs no image
# rebuild.
#
# `job`: the unit's ExecStart, once the system is up: runs the job
# run-in-vm.sh wrote (results/job.sh), stores its stdout, stderr and status
# in the share, with the boot time, and powers the VM off (the unit's
# FailureAction too, if the job itself dies).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
umask 022
RESULTS=/rrun-results
bb=/bin/busybox

say() { echo "rrun-vm: $*" >/dev/console; }
die() {
  say "stage 3: $*"
  say "FAILED"
  sync
  "$bb" poweroff -f
  sleep 10
}

if [[ "${1:-}" == job ]]; then
  read -r up _ </proc/uptime
  echo "$up" >"$RESULTS/boot-seconds"
  say "system up after $up s, running the job"
  status=0
  bash "$RESULTS/job.sh" >"$RESULTS/stdout" 2>"$RESULTS/stderr" </dev/null || status=$?
  read -r up2 _ </proc/uptime
  echo "$up2" >"$RESULTS/end-seconds"
  echo "$status" >"$RESULTS/status"
  sync
  # Straight off: the results are on the host already, and a clean stop of
  # every unit (poweroff-force included) can hang on the test's leftovers.
  "$bb" poweroff -f
  exit 0
fi

(($$ == 1)) || die "stage 3 must run as PID 1"
me=$(readlink -f "$0")
me=${me#/host}
# The results share by its 9p tag, at a fixed path (rrun.results= on the
# command line is the host's path of it, which only stage 2 needs).
"$bb" mkdir -p "$RESULTS"
"$bb" mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results "$RESULTS" ||
  die "cannot mount the results share"
[[ -f "$RESULTS/job.sh" ]] || die "no job.sh in the results share"

# The host paths the job needs, at the same paths (read-only), where the
# guest has nothing (its own /tmp or /home stay).
if [[ -f "$RESULTS/binds" ]]; then
  while IFS= read -r p; do
    [[ -n "$p" && -d "/host$p" && ! -e "$p" ]] || continue
    "$bb" mkdir -p "$p" && "$bb" mount --bind "/host$p" "$p" || die "cannot bind the host's $p"
  done <"$RESULTS/binds"
fi

# The mode Debian's udev rules give /dev/fuse (the guest's devtmpfs: the
# initramfs loaded fuse before udev ran).
[[ -c /dev/fuse ]] && "$bb" chmod 0666 /dev/fuse

cat >/etc/systemd/system/rrun-vm-job.service <<EOF
[Unit]
Description=rrun VM job (test/vm/run-in-vm.sh)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/bash /host$me job
TimeoutStartSec=infinity
FailureAction=poweroff-force
EOF
"$bb" mkdir -p /etc/systemd/system/multi-user.target.wants
"$bb" ln -sf ../rrun-vm-job.service /etc/systemd/system/multi-user.target.wants/rrun-vm-job.service
echo "rrun-vm: stage 3, starting systemd" >/dev/kmsg
exec /lib/systemd/systemd
