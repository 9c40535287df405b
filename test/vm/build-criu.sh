#!/usr/bin/env bash
# build-criu.sh OUTDIR — Debian's criu and the libraries of it the host lacks,
# unpacked (never installed) into OUTDIR/root for the test VM: the guest
# runs on the host's / under a tmpfs overlay, so test/vm/criu-suite.sh
# copies OUTDIR/root over the guest's / and criu runs as if installed.
# Cached: nothing is downloaded when OUTDIR/criu.txt names the same packages.
#
# Exit status: 0 built or up to date; 77 the packages cannot be had (the
# reason printed); 1 anything else.
set -euo pipefail

out=${1:?usage: build-criu.sh OUTDIR}
skip() {
  echo "SKIP: build-criu: $*"
  exit 77
}

# criu's Depends, without python3-protobuf (only crit uses it); the rest of
# its libraries (libbsd, gnutls, libnl-3, jansson, libmnl, libnftnl,
# libxtables) are on every host that has iptables and nftables' tools, and
# the guest checks that `criu --version` starts.
PACKAGES=(criu libnet1 libnftables1 libprotobuf-c1)

command -v apt-cache >/dev/null || skip "apt-cache is missing"
command -v dpkg-deb >/dev/null || skip "dpkg-deb is missing"
key=""
for p in "${PACKAGES[@]}"; do
  v=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [[ -n "$v" && "$v" != "(none)" ]] || skip "apt knows no package $p (run apt-get update?)"
  key+="$p=$v "
done
key+="script=$(sha256sum <"$0" | cut -c1-16)"
if [[ -f "$out/criu.txt" && -x "$out/root/usr/sbin/criu" && "$(cat "$out/criu.txt")" == "$key" ]]; then
  exit 0
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf --one-file-system -- "$tmp"' EXIT
chmod 755 "$tmp"
echo "build-criu: downloading ${PACKAGES[*]}"
if ! (cd "$tmp" && apt-get download -q "${PACKAGES[@]}" >"$tmp/apt.log" 2>&1); then
  sed 's/^/  /' "$tmp/apt.log"
  skip "could not download ${PACKAGES[*]} with apt-get download"
fi
mkdir "$tmp/root"
for deb in "$tmp"/*.deb; do
  dpkg-deb -x "$deb" "$tmp/root"
done
[[ -x "$tmp/root/usr/sbin/criu" ]] || skip "the criu package has no usr/sbin/criu"
rm -rf --one-file-system -- "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$out/root"
mv "$tmp/root" "$out/root"
echo "$key" >"$out/criu.txt"
echo "build-criu: $key"
