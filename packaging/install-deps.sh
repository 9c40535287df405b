#!/usr/bin/env bash
# Install everything rrun needs to build and test, from Debian 12 packages only.
# Idempotent: when every package is already installed it does nothing (no
# `apt-get update`), so it is cheap to call before every build.
#   --bench    also the other runtimes test/bench/bench.sh compares rrun with
#   --clients  also the container clients test/clients/ drives rrun with
set -euo pipefail

bench=0
clients=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    --clients) clients=1 ;;
    *)
      echo "install-deps: unknown option \`$arg\` (expected --bench, --clients or nothing)" >&2
      exit 2
      ;;
  esac
done

# clang-14, libclang-rt-14-dev: the libFuzzer targets of test/fuzz/
# (build-fuzz, label `fuzz`); rrun itself is built with g++.
# lld: links rrun in the order of packaging/link-order.txt (CMakeLists.txt).
# ccache: the test command (packaging/test.sh) keeps compiled objects in the
# test cache, so that a second run on the same machine rebuilds little.
build_deps=(
  cmake g++ make pkg-config lld ccache
  libseccomp-dev libcap-dev libyaml-cpp-dev nlohmann-json3-dev
  libboost-test-dev libsubid-dev libsystemd-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev
  clang-14 libclang-rt-14-dev
)
# uidmap: newuidmap/newgidmap; busybox-static: the test and demo rootfs;
# util-linux: unshare, setpriv, runuser, flock; procps: ps/pgrep in tests;
# libc6-dev: the static test probe; jq: config.json edits in tests and demo;
# passwd: useradd for the rootless test user; fuse-overlayfs: the overlay
# fallback when the kernel refuses overlayfs in a user namespace (rrun mounts
# /dev/fuse itself; fuse3 brings fusermount3 and /etc/fuse.conf for using
# fuse-overlayfs by hand outside rrun); mmdebstrap: the Debian rootfs of
# test_debian.sh (test/integration/debian-rootfs.sh).
runtime_deps=(
  uidmap fuse-overlayfs fuse3 busybox-static util-linux procps libc6-dev jq passwd mmdebstrap
)
# The images (rootfs/image/, label `image`): rrun loads libcurl, libarchive
# and libcrypto with dlopen (their -dev packages above); the tests build OCI
# layouts offline with umoci, serve them from Debian's docker-registry on
# 127.0.0.1 (pushed with skopeo), with TLS from openssl and htpasswd (bcrypt)
# from apache2-utils; python3's tarfile writes their layers
# (test/integration/image-fixtures.sh).
image_deps=(libcurl4 libarchive13 libssl3 docker-registry skopeo umoci openssl apache2-utils python3)
# The Debian package (packaging/debian, label `packaging`): dpkg-buildpackage
# (dpkg-dev) with debhelper under fakeroot, lintian on the result; the test
# installs it into a chroot made with mmdebstrap (above), where man-db and
# groff-base render its man pages; bash-completion loads its completion;
# it.*.help loads the zsh and fish completions in zsh and fish.
packaging_deps=(dpkg-dev debhelper fakeroot lintian man-db groff-base bash-completion zsh fish)
# crun, runc: the runtimes the benchmark measures rrun against.
bench_deps=(crun runc)
# The cgroup v2 test VM (test/vm/): QEMU under TCG (never KVM here), cpio and
# xz for its initramfs and kernel. --no-install-recommends below keeps udev
# and the GUI out; the kernel is fetched by test/vm/build-image.sh with
# `apt-get download`, never installed (its udev would change /dev permissions).
vm_deps=(qemu-system-x86 cpio xz-utils)
# The clients of test/clients/ (issue 12), with runc for the latency side by
# side and umoci + skopeo to build their image without a registry. Their
# daemons are started by the tests, privately; see below for the install.
client_deps=(
  podman conmon containerd docker.io rootlesskit slurmctld slurmd slurm-client munge
  skopeo umoci runc
)
packages=("${build_deps[@]}" "${runtime_deps[@]}" "${image_deps[@]}" "${vm_deps[@]}" "${packaging_deps[@]}")
if ((bench)); then packages+=("${bench_deps[@]}"); fi
if ((clients)); then packages+=("${client_deps[@]}"); fi

# One dpkg-query call: print "<status> <name>" for every known package.
declare -A installed=()
while read -r status name; do
  [[ "$status" == ii ]] && installed[$name]=1
done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for pkg in "${packages[@]}"; do
  [[ -n "${installed[$pkg]:-}" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: need root to install ${missing[*]}: run this script as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Daemons (dockerd, containerd, munge, slurmd) must not start on install: the
# tests start their own, privately. Debian's way is a policy-rc.d that denies
# every start; one is put in place for the install when the host has none.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\n# install-deps.sh (rrun): no service starts during the install\nexit 101\n' |
    "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
  trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
