#!/usr/bin/env bash
# shellcheck shell=bash
# A minimal Debian 12 (bookworm) rootfs for the tests that need a real
# distribution (apt, su, setuid binaries): made once per machine with
# mmdebstrap (variant apt, no busybox) from the host's Debian mirror, kept as
# a tarball in the test cache ($RRUN_TEST_CACHE or /var/cache/rrun-test, as
# test/clients/lib.sh), unpacked into the test's own directory per run.
#
# Run as root (run.sh does, before the rootless half of a script marked
# "# rrun-test: debian-rootfs"): builds the tarball if missing and prints its
# path; exit 77 with the reason when the mirror is unreachable.
# Sourced by a test (after lib.sh):
#   debian_rootfs DIR [LAYOUT]
#                       unpacks the tarball into DIR (made; skips the test
#                       when there is no tarball and it can't be built).
#                       LAYOUT root (the default): owned by root as the
#                       container sees it (rootless: unpacked in a user
#                       namespace mapped as rrun's default, 0 = the caller,
#                       1.. = the subordinate range); subid: owned by the
#                       caller's first subordinate ids (container 0 = host
#                       sub_start), what `mmdebstrap --mode=unshare` makes.
#   debian_require_mirror   skips the test when the mirror is unreachable
#   DEBIAN_MIRROR, DEBIAN_PROXY (the host's apt http proxy, or "")
# The tarball holds no /etc/resolv.conf or /etc/hostname (as Debian's
# container images), no man pages, locales or docs (as debian:*-slim), /usr
# merged by symlinks as debootstrap does (the usrmerge package would bring
# perl: 40 MB more to unpack per run), and no device nodes are unpacked
# (rrun makes /dev).
set -euo pipefail

DEBIAN_SUITE=bookworm
DEBIAN_CACHE=${RRUN_TEST_CACHE:-/var/cache/rrun-test}
# The recipe's version: bump it when the mmdebstrap options below change.
DEBIAN_TARBALL=$DEBIAN_CACHE/debian-$DEBIAN_SUITE-apt-2.tar

# The host's Debian mirror for the suite (one-line or deb822 sources), else
# Debian's redirector; RRUN_TEST_DEBIAN_MIRROR overrides.
_debian_host_mirror() {
  local f files=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  awk -v suite="$DEBIAN_SUITE" '
    function pick(uri) { sub(/\/+$/, "", uri); if (uri ~ /\/debian$/) { print uri; found = 1; exit } }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[ \t]*$/) { uris = ""; suites = ""; next }
      if ($1 == "URIs:") { $1 = ""; uris = $0 }
      if ($1 == "Suites:") { $1 = ""; suites = " " $0 " " }
      if (uris != "" && index(suites, " " suite " ")) { n = split(uris, u, " "); for (i = 1; i <= n; i++) pick(u[i]) }
      next
    }
    $1 == "deb" {
      i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++
      if ($i ~ /^\[/ || $i ~ /\]$/) i++
      if ($(i + 1) == suite) pick($i)
    }' "${files[@]}" 2>/dev/null | head -n 1
}
DEBIAN_MIRROR=${RRUN_TEST_DEBIAN_MIRROR:-$(_debian_host_mirror)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The proxy apt uses on the host (apt.conf or http_proxy), for apt inside.
DEBIAN_PROXY=$(apt-config dump --format '%v%n' Acquire::http::Proxy 2>/dev/null | head -n 1 || true)
[[ "$DEBIAN_PROXY" == DIRECT ]] && DEBIAN_PROXY=""
DEBIAN_PROXY=${DEBIAN_PROXY:-${http_proxy:-}}

_debian_skip() {
  if declare -F skip >/dev/null; then skip "$*"; fi
  echo "SKIP: $*"
  exit 77
}

# 0 when the suite's Release file comes from the mirror within ~10 s (apt's
# own downloader, so apt's proxy settings apply).
debian_mirror_reachable() {
  local tmp rc=0
  tmp=$(mktemp -d)
  timeout 15 /usr/lib/apt/apt-helper -o Acquire::http::Timeout=5 -o Acquire::Retries=0 \
    download-file "$DEBIAN_MIRROR/dists/$DEBIAN_SUITE/Release" "$tmp/Release" >/dev/null 2>&1 || rc=1
  rm -rf -- "$tmp"
  return "$rc"
}

debian_require_mirror() {
  debian_mirror_reachable || _debian_skip "the Debian mirror $DEBIAN_MIRROR is unreachable (no $DEBIAN_SUITE Release file within 10 s)"
}

# debian_build_tarball TARBALL MMDEBSTRAP_OPTION...: builds TARBALL of the
# suite (as root) unless it exists: mmdebstrap in a private mount namespace
# (no mount of its reaches the host's), into a temp name renamed when
# complete. test/packaging/test_deb.sh makes its own recipe with it.
debian_build_tarball() {
  local tarball=$1 log
  shift
  log=${tarball%.tar}.log
  [[ -e "$tarball" ]] && return 0
  echo "debian-rootfs: building $tarball from $DEBIAN_MIRROR (about a minute, once)" >&2
  local t0=$SECONDS
  if ! unshare --mount --propagation private \
    env ${DEBIAN_PROXY:+http_proxy="$DEBIAN_PROXY"} mmdebstrap --mode=root --format=tar "$@" \
    "$DEBIAN_SUITE" "$tarball.tmp" "$DEBIAN_MIRROR" >"$log" 2>&1; then
    rm -f -- "$tarball.tmp"
    tail -n 20 "$log" >&2
    echo "debian-rootfs: mmdebstrap failed (log above: $log)" >&2
    return 1
  fi
  chmod 644 "$tarball.tmp"
  mv -- "$tarball.tmp" "$tarball"
  echo "debian-rootfs: built in $((SECONDS - t0)) s" >&2
}

# The tests' rootfs: variant apt, no man pages, locales or docs.
_debian_build() {
  # shellcheck disable=SC2016 # mmdebstrap's hook gets the rootfs as $1
  debian_build_tarball "$DEBIAN_TARBALL" --variant=apt \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' || return 1
  local old
  for old in "$DEBIAN_CACHE"/debian-"$DEBIAN_SUITE"-apt-*.tar; do
    [[ "$old" == "$DEBIAN_TARBALL" ]] || rm -f -- "$old" # an older recipe's
  done
}

# Makes sure $DEBIAN_TARBALL exists: built first under the cache's lock when
# root (the root and rootless halves of a test run in parallel under ctest -j).
debian_tarball() {
  [[ -e "$DEBIAN_TARBALL" ]] && return 0
  debian_mirror_reachable ||
    _debian_skip "the Debian mirror $DEBIAN_MIRROR is unreachable and no Debian rootfs is cached in $DEBIAN_CACHE"
  ((EUID == 0)) || _debian_skip "no cached Debian rootfs $DEBIAN_TARBALL: build it as root with test/integration/debian-rootfs.sh (run.sh does for scripts marked \"# rrun-test: debian-rootfs\")"
  command -v mmdebstrap >/dev/null || _debian_skip "mmdebstrap is missing: run packaging/install-deps.sh"
  install -d -m 755 "$DEBIAN_CACHE"
  (
    exec 8>"$DEBIAN_CACHE/.debian.lock"
    flock 8
    _debian_build
  )
}

# tar -x with the owners as stored, no device nodes (rootless can't mknod).
_debian_untar=(tar --numeric-owner --exclude='./dev/*' -xpf)

debian_rootfs() {
  local dir=$1 layout=${2:-root} tarball=$DEBIAN_TARBALL start count gstart gcount
  debian_tarball
  mkdir -p "$dir"
  case "$layout:$EUID" in
    root:0) "${_debian_untar[@]}" "$tarball" -C "$dir" ;;
    root:*) unshare --map-root-user --map-auto "${_debian_untar[@]}" "$tarball" -C "$dir" ;;
    subid:*)
      # As mmdebstrap --mode=unshare: container 0..count-1 = host start..,
      # and the caller at container id count (it owns DIR: tar chowns it).
      read -r start count < <(subid_range /etc/subuid) || true
      read -r gstart gcount < <(subid_range /etc/subgid) || true
      [[ -n "$start" && -n "$gstart" ]] ||
        { echo "debian_rootfs: the subid layout needs a range in /etc/subuid and /etc/subgid" >&2; return 1; }
      unshare --map-user="$count" --map-group="$gcount" --map-users="$start,0,$count" \
        --map-groups="$gstart,0,$gcount" --setuid 0 --setgid 0 "${_debian_untar[@]}" "$tarball" -C "$dir"
      ;;
    *)
      echo "debian_rootfs: unknown layout \`$layout\` (expected root or subid)" >&2
      return 1
      ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  ((EUID == 0)) || { echo "debian-rootfs.sh: run it as root (it builds the cached tarball with mmdebstrap)" >&2; exit 1; }
  debian_tarball
  echo "$DEBIAN_TARBALL"
fi
