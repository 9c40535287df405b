#!/usr/bin/env bash
# build-image.sh OUTDIR — the kernel and initramfs of the cgroup v2 test VM
# (test/vm/run-in-vm.sh), cached in OUTDIR. Idempotent: when OUTDIR already
# holds an image built from the same kernel package by the same version of
# this script, it does nothing (no network).
#
# The kernel is Debian 12's current linux-image-6.1.0-NN-amd64 (what
# linux-image-amd64 depends on), fetched with `apt-get download` and unpacked
# with `dpkg-deb -x`, never installed: installing it pulls udev, whose install
# script changes /dev/fuse, /dev/kvm and /dev/net/tun permissions on the host.
# Set RRUN_VM_KERNEL_DEB to a local linux-image-*.deb to skip the download.
#
# OUTDIR afterwards:
#   kernel          the uncompressed vmlinux (PVH entry: boots in ~2 s under
#                   TCG), or the bzImage when no vmlinux could be extracted
#   initramfs.cpio  busybox-static, the 9p/virtio/overlay modules the kernel
#                   has as modules (in load order, /modules.order), and /init
#                   (test/vm/initramfs-init.sh)
#   criu-modules/   the modules CRIU's kernel-feature probe needs (`criu
#                   check`: the socket diag modules, nf_tables, tun, veth)
#                   with what they depend on, as plain .ko files, and
#                   modules.order (load order); test/vm/criu-suite.sh loads them
#   image.txt       what the image was built from (the cache key)
#
# Exit status: 0 built or up to date; 77 the kernel package or a tool is not
# available (the reason printed); 1 anything else.
set -euo pipefail

out=${1:?usage: build-image.sh OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() {
  echo "SKIP: build-image: $*"
  exit 77
}
die() {
  echo "build-image: $*" >&2
  exit 1
}

# The modules /init loads (with what they depend on), when the kernel has
# them as modules: virtio PCI transport, 9p over virtio, overlayfs, FUSE
# (/dev/fuse: rrun doctor and fuse-overlayfs in the systemd guest).
WANTED_MODULES=(virtio_pci 9pnet_virtio 9p overlay fuse)
# Loaded by the criu suite only (not in the initramfs): what `criu check`
# probes for (issue 16: without them it fails in its kernel-feature probe);
# crc32c_generic is what libcrc32c (nf_tables) asks for by name, not a depends=;
# nf_conntrack_netlink: a dump of a network namespace reads its conntrack table.
CRIU_MODULES=(crc32c_generic inet_diag tcp_diag udp_diag unix_diag netlink_diag af_packet_diag nfnetlink nf_tables nf_conntrack_netlink tun veth)

for tool in dpkg-deb cpio xz; do
  command -v "$tool" >/dev/null || skip "$tool is missing (packaging/install-deps.sh installs it)"
done
busybox=/bin/busybox
[[ -x $busybox ]] || skip "$busybox is missing: install busybox-static"
ldd_text=$(LC_ALL=C ldd "$busybox" 2>&1 || true)
if [[ "$ldd_text" != *"not a dynamic executable"* && "$ldd_text" != *"statically linked"* ]]; then
  skip "$busybox is not statically linked: install busybox-static"
fi

# The kernel package: a local .deb, else the one linux-image-amd64 depends on.
deb=${RRUN_VM_KERNEL_DEB:-}
if [[ -n "$deb" ]]; then
  [[ -f "$deb" ]] || die "RRUN_VM_KERNEL_DEB=$deb: no such file"
  pkg=$(dpkg-deb -f "$deb" Package)
  version=$(dpkg-deb -f "$deb" Version)
else
  command -v apt-cache >/dev/null || skip "apt-cache is missing: cannot find the Debian kernel package"
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
  if [[ -z "$pkg" ]]; then
    pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
      awk '{print $1}' | sort -t- -k5,5n | tail -n1)
  fi
  [[ -n "$pkg" ]] || skip "no linux-image-6.1.0-*-amd64 package known to apt (run apt-get update?)"
  version=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
fi

key="package=$pkg version=$version script=$(cat "$0" "$here/initramfs-init.sh" | sha256sum | cut -c1-16)"
if [[ -f "$out/image.txt" && -f "$out/kernel" && -f "$out/initramfs.cpio" ]] &&
  [[ "$(cat "$out/image.txt")" == "$key" ]]; then
  exit 0
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "$out/.build.XXXXXX")
mkdir "$tmp/pkg"
trap 'rm -rf --one-file-system -- "$tmp"' EXIT

echo "build-image: building the VM image from $pkg $version in $out"
if [[ -z "$deb" ]]; then
  # apt-get download writes to the current directory; as root, apt's sandbox
  # user must be able to write there too, else it warns and goes on.
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download -q "$pkg=$version" >"$tmp/apt.log" 2>&1); then
    sed 's/^/  /' "$tmp/apt.log"
    skip "could not download $pkg $version with apt-get download"
  fi
  deb=$(echo "$tmp"/"$pkg"_*.deb)
  [[ -f "$deb" ]] || skip "apt-get download left no $pkg .deb"
fi
# Only what the VM needs: the bzImage, the config and the modules.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/pkg" --wildcards './boot/vmlinuz-*' './boot/config-*' \
  './lib/modules/*/kernel/drivers/virtio' './lib/modules/*/kernel/net' './lib/modules/*/kernel/fs' \
  './lib/modules/*/kernel/drivers/net' './lib/modules/*/kernel/lib' './lib/modules/*/kernel/crypto' 
kver=${pkg#linux-image-}
vmlinuz="$tmp/pkg/boot/vmlinuz-$kver"
config="$tmp/pkg/boot/config-$kver"
moddir="$tmp/pkg/lib/modules/$kver"
[[ -f "$vmlinuz" && -f "$config" && -d "$moddir" ]] || die "$pkg has no boot/vmlinuz-$kver, config or modules"

# --- The kernel: the vmlinux inside the bzImage, found by its compression
# magic (what the kernel's scripts/extract-vmlinux does); the first stream
# that decompresses to an ELF file wins.
extract_vmlinux() {
  local img=$1 dst=$2 c magic tool off
  local -a candidates=(
    '\xfd7zXZ\x00:xz -dc --single-stream'
    '\x28\xb5\x2f\xfd:zstd -dcq'
    '\x1f\x8b\x08\x00:gzip -dcq'
  )
  for c in "${candidates[@]}"; do
    magic=${c%%:*}
    tool=${c#*:}
    command -v "${tool%% *}" >/dev/null || continue
    for off in $(LC_ALL=C grep -obUaP "$magic" "$img" | cut -d: -f1 | head -n 5); do
      tail -c "+$((off + 1))" "$img" | $tool >"$dst" 2>/dev/null || true
      if [[ "$(head -c4 "$dst" | od -An -tx1 | tr -d ' ')" == 7f454c46 ]]; then
        return 0
      fi
    done
  done
  return 1
}
if extract_vmlinux "$vmlinuz" "$tmp/kernel" && grep -q '^CONFIG_PVH=y' "$config"; then
  kernel_kind=vmlinux
else
  echo "build-image: no vmlinux with a PVH entry in $vmlinuz; using the bzImage (slower to boot)"
  cp "$vmlinuz" "$tmp/kernel"
  kernel_kind=bzImage
fi

# --- The initramfs.
root=$tmp/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,newroot,lower,rw,lib/modules}
cp "$busybox" "$root/bin/busybox"
install -m 755 "$here/initramfs-init.sh" "$root/init"

# Modules: each wanted module that is =m, after what it depends on (the
# "depends=" of its .modinfo), decompressed when the package compresses them.
declare -A module_path=() loaded=()
while IFS= read -r f; do
  name=${f##*/}
  name=${name%%.ko*}
  module_path[$name]=$f
done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')

module_file() { # FILE: the plain .ko bytes on stdout
  case "$1" in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -dcq "$1" ;;
    *) cat "$1" ;;
  esac
}
order=()
mod_dest=$root/lib/modules
add_module() {
  local name=$1 deps d
  [[ -n "${loaded[$name]:-}" ]] && return 0
  loaded[$name]=1
  local f=${module_path[$name]:-}
  [[ -n "$f" ]] || die "module $name is not in $pkg"
  module_file "$f" >"$mod_dest/$name.ko"
  deps=$(tr '\0' '\n' <"$mod_dest/$name.ko" | sed -n 's/^depends=//p' | head -n1)
  for d in ${deps//,/ }; do add_module "$d"; done
  order+=("$name")
}
config_name() { # module name -> its CONFIG_ symbol (the ones we want)
  case "$1" in
    virtio_pci) echo CONFIG_VIRTIO_PCI ;;
    9pnet_virtio) echo CONFIG_NET_9P_VIRTIO ;;
    9p) echo CONFIG_9P_FS ;;
    overlay) echo CONFIG_OVERLAY_FS ;;
    fuse) echo CONFIG_FUSE_FS ;;
  esac
}
for m in "${WANTED_MODULES[@]}"; do
  sym=$(config_name "$m")
  if grep -q "^$sym=y" "$config"; then continue; fi
  grep -q "^$sym=m" "$config" || skip "$pkg has neither $sym=y nor =m: it cannot boot this VM"
  add_module "$m"
done
printf '%s\n' "${order[@]}" >"$root/modules.order"
boot_modules=("${order[@]}")

# The criu suite's modules (those built in are left out: =y in the config).
mod_dest=$tmp/criu-modules
mkdir -p "$mod_dest"
order=()
for m in "${CRIU_MODULES[@]}"; do
  if [[ -n "${module_path[$m]:-}" ]]; then add_module "$m"; fi
done
printf '%s\n' "${order[@]}" >"$mod_dest/modules.order"

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$tmp/initramfs.cpio"

rm -rf --one-file-system -- "$out/criu-modules"
mv "$tmp/criu-modules" "$out/criu-modules"
mv -f "$tmp/kernel" "$out/kernel"
mv -f "$tmp/initramfs.cpio" "$out/initramfs.cpio"
echo "$key" >"$out/image.txt"
echo "build-image: $kernel_kind of $pkg $version, modules: ${boot_modules[*]:-(none)}; for criu: ${order[*]:-(none)}"
