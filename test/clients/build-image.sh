#!/usr/bin/env bash
# build-image.sh DIR — builds the client tests' image rrun-test/busybox:latest
# into DIR (test/clients/lib.sh's client_image calls it under a lock):
# busybox-static with its applets, /etc/passwd and /etc/group that know
# nobody (65534), and /run, /tmp, /var/tmp for Podman's --read-only (tmpcopyup
# must keep /run/marker). Built with umoci (no registry, no network), exported
# with skopeo as DIR/busybox.oci (an OCI layout), DIR/busybox.oci-archive and
# DIR/busybox.docker-archive; DIR/done marks a complete build.
set -euo pipefail
dir=${1:?usage: build-image.sh DIR}
rm -rf --one-file-system -- "$dir"
mkdir -p "$dir"
tree=$dir/tree
mkdir -p "$tree"/{bin,etc,tmp,run,var/tmp,root,home}
chmod 1777 "$tree/tmp" "$tree/var/tmp"
cp /bin/busybox "$tree/bin/busybox"
for a in $("$tree/bin/busybox" --list); do
  [[ "$a" == busybox ]] || ln -s busybox "$tree/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tree/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tree/etc/group"
echo "kept by tmpcopyup" >"$tree/run/marker"
img=$dir/busybox.oci:latest
umoci init --layout "$dir/busybox.oci"
umoci new --image "$img"
umoci insert --image "$img" "$tree" /
umoci config --image "$img" --config.cmd sh \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umoci gc --layout "$dir/busybox.oci"
# skopeo as root keeps a blob-info cache in /var/lib/containers/cache; with
# a rootless uid for containers/image (any but 0), it keeps it under XDG_DATA_HOME,
# here in DIR (nothing written on the host outside the cache).
sk() { _CONTAINERS_ROOTLESS_UID=65534 XDG_DATA_HOME=$dir/.skopeo skopeo "$@"; }
sk copy -q "oci:$img" "oci-archive:$dir/busybox.oci-archive:rrun-test/busybox:latest"
sk copy -q "oci:$img" "docker-archive:$dir/busybox.docker-archive:rrun-test/busybox:latest"
rm -rf --one-file-system -- "$tree" "$dir/.skopeo"
chmod -R a+rX "$dir"
touch "$dir/done"
