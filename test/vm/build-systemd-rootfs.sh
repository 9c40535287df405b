#!/usr/bin/env bash
# build-systemd-rootfs.sh DIR — the root filesystem of the systemd test VM
# (test/vm/run-in-vm.sh with RRUN_VM_GUEST=systemd): Debian 12 from Debian's
# packages with mmdebstrap, systemd as init, D-Bus, a lingering test user with
# a subordinate range, rootless Podman. Cached as DIR/rootfs (a directory the
# VM boots from over virtio-9p, read-only under a tmpfs overlay, through the
# same kernel and initramfs as the cgroup v2 VM: no disk image, no loop
# device, no initramfs of its own). Idempotent: when DIR/rootfs was built
# from the same package list by the same version of this script, it does
# nothing (no network). Run as root: mmdebstrap --mode=root in a private
# mount namespace, so none of its mounts reaches the host's.
#
# What is in the image (the guest's own files; everything that changes more
# often lives in the host tree, which the guest sees over 9p):
#   - the packages below, no Recommends, no docs/man/locales;
#   - the user rrun-test (uid 1000) with /etc/subuid and /etc/subgid ranges
#     100000:65536 and lingering (/var/lib/systemd/linger/rrun-test), so
#     user@1000.service and its D-Bus session bus start at boot;
#   - /usr/local/sbin/rrun-vm-init: the initramfs runs it; it mounts the host's
#     / (9p tag "host") at /host and runs the stage named by rrun.stage3= on
#     the kernel command line from there (test/vm/guest-systemd.sh), which
#     ends by exec'ing systemd as PID 1;
#   - a fixed machine-id, no gettys, no timers, no Podman service or socket
#     (nothing else competes for the two slow vCPUs), a volatile journal;
#   - Podman: vfs storage (the root is an overlay on 9p), no network by
#     default (the guest has none).
#
# Exit status: 0 built or up to date; 77 mmdebstrap or the mirror cannot be
# had (the reason printed); 1 anything else.
set -euo pipefail

out=${1:?usage: build-systemd-rootfs.sh DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() {
  echo "SKIP: build-systemd-rootfs: $*"
  exit 77
}
die() {
  echo "build-systemd-rootfs: $*" >&2
  exit 1
}

PACKAGES=(
  systemd systemd-sysv dbus dbus-user-session libpam-systemd
  uidmap fuse-overlayfs podman criu iproute2 busybox-static jq procps
  # rrun's shared libraries (the host's build runs unchanged in the guest)
  libseccomp2 libcap2 libyaml-cpp0.7 libstdc++6
)
TEST_USER=rrun-test
TEST_UID=1000

# The mirror and apt proxy the Debian rootfs of the integration tests uses.
# shellcheck source=../integration/debian-rootfs.sh
source "$here/../integration/debian-rootfs.sh"

key="suite=$DEBIAN_SUITE packages=${PACKAGES[*]} script=$(sha256sum <"$0" | cut -c1-16)"
if [[ -f "$out/key.txt" && -x "$out/rootfs/usr/local/sbin/rrun-vm-init" ]] &&
  [[ "$(cat "$out/key.txt")" == "$key" ]]; then
  exit 0
fi
((EUID == 0)) || skip "building the systemd VM's rootfs needs root (mmdebstrap --mode=root)"
command -v mmdebstrap >/dev/null || skip "mmdebstrap is missing (packaging/install-deps.sh installs it)"
command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
debian_mirror_reachable || skip "the Debian mirror $DEBIAN_MIRROR is unreachable and no systemd VM rootfs is cached in $out"

mkdir -p "$out"
out=$(cd "$out" && pwd)
exec 8>"$out/.lock"
flock 8
if [[ -f "$out/key.txt" && "$(cat "$out/key.txt")" == "$key" ]]; then exit 0; fi
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf --one-file-system -- "$tmp"' EXIT

# The customize hook, run by mmdebstrap with the rootfs as $1 (in its own
# mount namespace: chroot is fine).
cat >"$tmp/customize.sh" <<EOF
#!/bin/sh
set -eu
r=\$1
rm -f "\$r/etc/resolv.conf"
echo rrun-sysvm >"\$r/etc/hostname"
# A fixed machine-id: no first boot (systemd-firstboot would prompt).
echo 5d8f1e0b6a3c4e7f9a2b1c0d3e4f5a6b >"\$r/etc/machine-id"
chroot "\$r" useradd -m -u $TEST_UID -s /bin/bash -c "rrun VM tests" $TEST_USER
echo "$TEST_USER:100000:65536" >"\$r/etc/subuid"
echo "$TEST_USER:100000:65536" >"\$r/etc/subgid"
mkdir -p "\$r/var/lib/systemd/linger"
touch "\$r/var/lib/systemd/linger/$TEST_USER"
for u in getty@tty1.service serial-getty@ttyS0.service console-getty.service systemd-firstboot.service \
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer \
  podman-auto-update.timer podman-auto-update.service podman-restart.service podman.service podman.socket \\
  systemd-timesyncd.service systemd-pstore.service; do
  ln -sf /dev/null "\$r/etc/systemd/system/\$u"
done
for u in podman.socket podman-auto-update.timer podman-restart.service; do
  ln -sf /dev/null "\$r/etc/systemd/user/\$u"
done
mkdir -p "\$r/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"\$r/etc/systemd/journald.conf.d/volatile.conf"
mkdir -p "\$r/etc/containers"
printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' >"\$r/etc/containers/storage.conf"
printf '[containers]\nnetns = "none"\n[engine]\nevents_logger = "file"\n' >"\$r/etc/containers/containers.conf"
cat >"\$r/usr/local/sbin/rrun-vm-init" <<'INIT'
#!/bin/bash
# The systemd VM's stage 2 (test/vm/build-systemd-rootfs.sh): mounts the
# host's / at /host and runs the host tree's stage 3 (rrun.stage3=).
stage3=
for w in \$(</proc/cmdline); do
  case \$w in rrun.stage3=*) stage3=\${w#rrun.stage3=} ;; esac
done
mkdir -p /host
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose host /host &&
  [[ -n \$stage3 && -f /host\$stage3 ]] && exec /bin/bash "/host\$stage3"
echo "rrun-vm-init: cannot mount the host (9p tag host) or find its stage 3 \$stage3" >/dev/console
/bin/busybox poweroff -f
INIT
chmod 755 "\$r/usr/local/sbin/rrun-vm-init"
EOF
chmod 755 "$tmp/customize.sh"

log=$tmp/mmdebstrap.log
echo "build-systemd-rootfs: building the systemd VM's Debian $DEBIAN_SUITE rootfs from $DEBIAN_MIRROR (a few minutes, once)"
t0=$SECONDS
include=$(
  IFS=,
  echo "${PACKAGES[*]}"
)
if ! unshare --mount --propagation private \
  env ${DEBIAN_PROXY:+http_proxy="$DEBIAN_PROXY"} mmdebstrap --mode=root --variant=apt --format=directory \
  --include="$include" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --customize-hook="$tmp/customize.sh \"\$1\"" \
  "$DEBIAN_SUITE" "$tmp/rootfs" "$DEBIAN_MIRROR" >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "mmdebstrap failed (the log's tail above)"
fi

# Swap in the new rootfs; the old one (an older recipe's) goes.
rm -f "$out/key.txt"
if [[ -e "$out/rootfs" ]]; then
  mv "$out/rootfs" "$tmp/old-rootfs"
fi
mv "$tmp/rootfs" "$out/rootfs"
echo "$key" >"$out/key.txt"
echo "build-systemd-rootfs: built in $((SECONDS - t0)) s ($(du -sm "$out/rootfs" | cut -f1) MiB)"
