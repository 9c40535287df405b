#!/usr/bin/env bash
# run-in-vm.sh SCRIPT [ARG...] — runs SCRIPT as root inside a small QEMU VM
# whose kernel (Debian 12's 6.1) has pure cgroup v2 mounted at /sys/fs/cgroup
# with cpuset cpu io memory pids enabled in the root's cgroup.subtree_control.
# These hosts run a hybrid hierarchy that belongs to their supervisor, so
# cgroup v2 tests cannot run on the host itself (issue 4).
#
# The guest sees the host's / read-only over virtio-9p under a tmpfs overlay:
# the built rrun, the test scripts and the host's tools run unchanged, and
# anything the guest writes (/etc/passwd, /tmp, /home) stays in the guest.
# /run, /dev/shm, /dev/pts, /proc and /sys are the guest's own. No network.
# SCRIPT runs in the current directory (as the host path), with the RRUN_*
# variables of this environment (not RRUN_VM_*); a SCRIPT that is a file but
# not executable runs with bash. Its stdout, stderr and exit status come back
# through a writable 9p share; this script exits with that status.
#
# Environment:
#   RRUN_VM_DIR      image cache and run directories (default: build/vm in
#                    the source tree); test/vm/build-image.sh fills it
#   RRUN_VM_TIMEOUT  seconds before the VM is killed (default 600)
#   RRUN_VM_MEMORY   guest RAM in MiB (default 1536); RRUN_VM_CPUS (default 2)
#   RRUN_VM_VERBOSE  1: print the guest console even on success
#   RRUN_VM_KCMD     kernel log options (default "quiet loglevel=3"; e.g.
#                    "printk.time=1" with RRUN_VM_VERBOSE=1 to time the boot)
#   RRUN_VM_CPU_MODEL  QEMU -cpu model (default max)
#   RRUN_VM_GUEST    cgroup2 (the default: the guest above) or systemd: a
#                    Debian 12 systemd host (test/vm/build-systemd-rootfs.sh,
#                    cached in $RRUN_TEST_CACHE or /var/cache/rrun-test) booted
#                    from the same kernel with systemd as PID 1 on pure cgroup
#                    v2; the host's / is at /host there, and the source tree,
#                    the job's directory and the directories of RRUN_* paths
#                    are bound at their host paths (test/vm/guest-systemd.sh).
#                    SCRIPT runs as root from a systemd unit once the system
#                    is up. Default RAM 2048 MiB.
#
# Exit status: SCRIPT's; 77 when QEMU or the kernel package cannot be had
# (the reason printed); 1 when the VM failed (the console's tail printed).
set -euo pipefail

(($# >= 1)) || {
  echo "usage: run-in-vm.sh SCRIPT [ARG...]" >&2
  exit 2
}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
vmdir=${RRUN_VM_DIR:-$src/build/vm}
timeout_s=${RRUN_VM_TIMEOUT:-600}
guest=${RRUN_VM_GUEST:-cgroup2}
case $guest in
  cgroup2) memory=${RRUN_VM_MEMORY:-1536} ;;
  systemd) memory=${RRUN_VM_MEMORY:-2048} ;;
  *)
    echo "run-in-vm: RRUN_VM_GUEST=$guest: expected cgroup2 or systemd" >&2
    exit 2
    ;;
esac
cpus=${RRUN_VM_CPUS:-2}

skip() {
  echo "SKIP: run-in-vm: $*"
  exit 77
}
die() {
  echo "run-in-vm: $*" >&2
  exit 1
}

qemu=$(command -v qemu-system-x86_64 || true)
[[ -n "$qemu" ]] || skip "qemu-system-x86_64 is missing (packaging/install-deps.sh installs qemu-system-x86)"
[[ "$(uname -m)" == x86_64 ]] || skip "the test VM is x86_64 only (this host is $(uname -m))"
((EUID == 0)) || skip "run-in-vm needs root: QEMU exports the host's / with its owners and modes (security_model=passthrough)"
command -v timeout >/dev/null || skip "timeout (coreutils) is missing"

mkdir -p "$vmdir"
vmdir=$(cd "$vmdir" && pwd)
# Paths go on the kernel command line and into QEMU's comma-separated options.
[[ "$vmdir" != *[[:space:],]* ]] || die "RRUN_VM_DIR=$vmdir: the path must not contain spaces or commas"

t0=$(date +%s.%N)
status=0
# One build at a time (ctest -j runs vm.cgroup2 and vm.systemd together).
exec 9>"$vmdir/.image.lock"
flock 9
"$here/build-image.sh" "$vmdir/image" || status=$?
flock -u 9
exec 9>&-
((status == 0)) || exit "$status"
if [[ "$guest" == systemd ]]; then
  rootfs_dir=${RRUN_TEST_CACHE:-/var/cache/rrun-test}/systemd-vm
  "$here/build-systemd-rootfs.sh" "$rootfs_dir" || status=$?
  ((status == 0)) || exit "$status"
fi
t_image=$(date +%s.%N)

run=$(mktemp -d "$vmdir/run.XXXXXX")
cleanup() { rm -rf --one-file-system -- "$run"; }
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
mkdir "$run/share"
chmod 777 "$run/share"

# The job: the current directory, the RRUN_* environment and the command.
{
  echo "cd $(printf '%q' "$PWD") || exit 1"
  while IFS= read -r name; do
    [[ "$name" == RRUN_VM_* ]] && continue
    echo "export $name=$(printf '%q' "${!name}")"
  done < <(compgen -e | grep '^RRUN_' || true)
  cmd=$1
  shift
  if [[ "$cmd" == */* && -f "$cmd" ]]; then
    cmd=$(cd "$(dirname "$cmd")" && pwd)/$(basename "$cmd")
    if [[ ! -x "$cmd" ]]; then set -- "$cmd" "$@" && cmd=bash; fi
  fi
  printf 'exec'
  printf ' %q' "$cmd" "$@"
  echo
} >"$run/share/job.sh"

# The systemd guest binds these host directories at their paths: the source
# tree, the job's directory and those of absolute RRUN_* paths (each one
# the guest lacks, test/vm/guest-systemd.sh: never its /tmp or /).
if [[ "$guest" == systemd ]]; then
  {
    echo "$src"
    echo "$PWD"
    while IFS= read -r name; do
      value=${!name}
      [[ "$value" == /* && -e "$value" ]] || continue
      [[ -d "$value" ]] || value=$(dirname "$value")
      echo "$value"
    done < <(compgen -e | grep '^RRUN_' | grep -v '^RRUN_VM_' || true)
  } | sort -u | awk 'NR == 1 || index($0, prev "/") != 1 { print; prev = $0 }' >"$run/share/binds"
fi

# mitigations=off: retpolines and RSB filling only cost time under TCG.
append="console=ttyS0 ${RRUN_VM_KCMD:-quiet loglevel=3} mitigations=off panic=-1 rrun.results=$run/share"
guest_root=/
if [[ "$guest" == systemd ]]; then
  guest_root=$rootfs_dir/rootfs
  append+=" rrun.stage2=/usr/local/sbin/rrun-vm-init rrun.stage3=$here/guest-systemd.sh"
  append+=" systemd.unified_cgroup_hierarchy=1 systemd.show_status=0"
else
  append+=" rrun.stage2=$here/guest-stage2.sh"
fi
[[ "$guest_root" != *[[:space:],]* ]] || die "$guest_root: the path must not contain spaces or commas"
qemu_args=(
  -nodefaults -no-user-config -nographic -no-reboot
  -machine pc -accel tcg -cpu "${RRUN_VM_CPU_MODEL:-max}" -m "$memory" -smp "$cpus"
  -kernel "$vmdir/image/kernel" -initrd "$vmdir/image/initramfs.cpio" -append "$append"
  -serial "file:$run/console.log" -monitor none
  -fsdev "local,id=hostroot,path=$guest_root,security_model=passthrough,readonly=on,multidevs=remap"
  -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"
  -fsdev "local,id=results,path=$run/share,security_model=none,multidevs=remap"
  -device "virtio-9p-pci,fsdev=results,mount_tag=results"
)
if [[ "$guest" == systemd ]]; then
  qemu_args+=(
    -fsdev "local,id=host,path=/,security_model=passthrough,readonly=on,multidevs=remap"
    -device "virtio-9p-pci,fsdev=host,mount_tag=host"
  )
fi

console_tail() {
  echo "--- the last 60 lines of the guest console ($*):" >&2
  tail -n 60 "$run/console.log" >&2 2>/dev/null || echo "(no console output)" >&2
  echo "---" >&2
}

qemu_status=0
timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null >"$run/qemu.log" 2>&1 || qemu_status=$?
t_end=$(date +%s.%N)

if [[ -s "$run/share/stdout" ]]; then cat "$run/share/stdout"; fi
if [[ -s "$run/share/stderr" ]]; then cat "$run/share/stderr" >&2; fi
if [[ "${RRUN_VM_VERBOSE:-0}" == 1 ]]; then
  echo "--- guest console:"
  cat "$run/console.log"
fi
if ((qemu_status == 124 || qemu_status == 137)); then
  console_tail "QEMU killed after ${timeout_s} s"
  die "the VM did not finish within RRUN_VM_TIMEOUT=$timeout_s seconds"
fi
if ((qemu_status != 0)); then
  sed 's/^/  qemu: /' "$run/qemu.log" >&2
  console_tail "QEMU exited with status $qemu_status"
  die "QEMU failed (exit status $qemu_status)"
fi
if [[ ! -s "$run/share/status" ]]; then
  console_tail "no exit status came back"
  die "the VM powered off without running the job to its end"
fi
status=$(cat "$run/share/status")

boot=$(cat "$run/share/boot-seconds" 2>/dev/null || echo 0)
end=$(cat "$run/share/end-seconds" 2>/dev/null || echo 0)
awk -v t0="$t0" -v ti="$t_image" -v te="$t_end" -v boot="$boot" -v end="$end" 'BEGIN {
  printf "run-in-vm: image %.1f s; VM %.1f s wall: guest boot %.1f s, job %.1f s\n", ti - t0, te - ti, boot, end - boot
}'
exit "$status"
