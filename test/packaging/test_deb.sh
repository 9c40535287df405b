#!/usr/bin/env bash
# test_deb.sh OUTDIR: the Debian package from build to purge (issue 17).
# As root:
#  1. packaging/build-deb.sh OUTDIR builds the .deb from this tree (lintian
#     errors fail it; its warnings are printed);
#  2. a clean Debian 12 root: a tarball made once with mmdebstrap (variant
#     apt + uidmap, passwd, man-db, bash-completion; cached in the test cache
#     as debian-rootfs.sh's), unpacked into a temp dir;
#  3. in a private mount namespace (its /proc, /dev, /sys, /run and /tmp
#     mounts die with it, the host sees none): `dpkg -i` the .deb in the
#     chroot (the users' commands in a pivot_root of it: see as() below), then `rrun --version`, `rrun spec` and one container as root,
#     as a user with a subordinate range in the chroot's /etc/subuid and as
#     a user without one (rrun maps only the user's own id); `man -l` renders
#     each installed man page without a warning; the bash completion loads
#     (zsh's and fish's are installed);
#  4. `dpkg --purge rrun` leaves none of the package's files (dpkg -L
#     before the purge) and no directory of its own.
# Exit 77 (skipped) without root or when the Debian mirror is unreachable
# and no root is cached. CTest: packaging.deb (label `packaging`).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

# The part in the private mount namespace (the script runs itself there).
if [[ "${1:-}" == --in-namespace ]]; then
  root=$2 deb=$3
  inroot() { chroot "$root" "$@"; }
  # as USER CMD...: CMD in the root as USER, with a login-like environment.
  # Not through chroot: the kernel refuses a user namespace to a chrooted
  # process (clone(2), EPERM), so CMD runs in a mount namespace of its own
  # whose root is the chroot's (pivot_root; the old root at /mnt there).
  as() {
    local user=$1 uid
    shift
    uid=$(inroot id -u "$user")
    # shellcheck disable=SC2016 # the inner shell's arguments
    unshare --mount --propagation private sh -c 'cd "$1" && pivot_root . mnt && shift && exec "$@"' sh "$root" \
      /usr/sbin/chroot --userspec="$user:$user" . /usr/bin/env -i PATH=/usr/bin:/bin HOME="/home/$user" \
      XDG_RUNTIME_DIR="/run/user/$uid" USER="$user" "$@"
  }
  # The root a mount point of its own, as / is on a host (rrun makes / a
  # slave mount in the container's mount namespace: EINVAL on a plain
  # directory).
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --rbind /sys "$root/sys"
  mount -t tmpfs -o mode=755 tmpfs "$root/run"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"

  step "dpkg -i $(basename "$deb")"
  cp -- "$deb" "$root/tmp/"
  inroot dpkg -i "/tmp/$(basename "$deb")"
  inroot dpkg -L rrun >"$root/tmp/files"
  # The chroot has no rrun but the package's: the test runs what it installed.
  [[ "$(inroot sh -c 'command -v rrun')" == /usr/bin/rrun ]] || fail "rrun is not /usr/bin/rrun in the chroot"

  step "rrun --version"
  version=$(inroot rrun --version)
  echo "$version"
  want=$(sed -n 's/^project(rrun VERSION \([0-9.]*\) .*/\1/p' "$src/CMakeLists.txt")
  grep -q "$want" <<<"$version" || fail "rrun --version does not say $want"
  # The commit of the tree the package was built from (build-deb.sh).
  if [[ -e "$src/.git" ]] && commit=$(git -C "$src" describe --tags --always --dirty 2>/dev/null); then
    grep -qF "$commit" <<<"$version" || fail "rrun --version does not name the commit $commit"
  fi

  # A busybox bundle made with the installed `rrun spec`, its process
  # printing a greeting and its uid map, without a terminal.
  # BUNDLE OWNER [--rootless]
  bundle() {
    local dir=$1 owner=$2 ids
    shift 2
    ids=$(inroot id -u "$owner"):$(inroot id -g "$owner") # the chroot's user
    install -d -m 755 "$root$dir/rootfs/bin"
    cp /bin/busybox "$root$dir/rootfs/bin/busybox"
    ln -s busybox "$root$dir/rootfs/bin/sh"
    chown -R "$ids" "$root$dir"
    if [[ "$owner" == root ]]; then inroot rrun spec -b "$dir" "$@"; else as "$owner" rrun spec -b "$dir" "$@"; fi
    [[ -s "$root$dir/config.json" ]] || fail "rrun spec wrote no $dir/config.json"
    jq '.process.terminal = false | .process.args = ["/bin/sh", "-c", "echo hello from the package; cat /proc/self/uid_map"]' \
      "$root$dir/config.json" >"$root$dir/config.json.new"
    mv -- "$root$dir/config.json.new" "$root$dir/config.json"
    chown "$ids" "$root$dir/config.json"
  }
  # run_container WHO MAP CMD...: the container greets, and its uid map is
  # MAP (its lines' fields joined by spaces, lines by ";").
  run_container() {
    local who=$1 map=$2 out
    shift 2
    out=$("$@" 2>&1) || { echo "$out" >&2; fail "rrun run as $who failed"; }
    [[ "$(head -n 1 <<<"$out")" == "hello from the package" ]] ||
      { echo "$out" >&2; fail "rrun run as $who printed something else"; }
    [[ "$(tail -n +2 <<<"$out" | awk '{ $1 = $1; print }' | paste -sd ';')" == "$map" ]] ||
      { echo "$out" >&2; fail "the container of $who has not the uid map $map"; }
    echo "ok: a container ran as $who, uid map $map"
  }

  step "rrun spec and a container as root"
  bundle /tmp/b-root root
  run_container root "0 0 4294967295" inroot rrun run -b /tmp/b-root pkg-root
  [[ -z "$(inroot rrun list -q)" ]] || fail "rrun list as root still shows a container"

  step "rrun spec --rootless and a container as a user with a subordinate range"
  inroot useradd -m -s /bin/bash -u 2001 rrunsub
  inroot useradd -m -s /bin/bash -u 2002 rrunone
  # useradd gives each new user a range: only rrunsub keeps one.
  echo "rrunsub:200000:65536" >"$root/etc/subuid"
  echo "rrunsub:200000:65536" >"$root/etc/subgid"
  install -d -m 700 -o 2001 -g 2001 "$root/run/user/2001"
  install -d -m 700 -o 2002 -g 2002 "$root/run/user/2002"
  bundle /tmp/b-sub rrunsub --rootless
  run_container "a user with a range (rrunsub)" "0 2001 1;1 200000 65536" as rrunsub rrun run -b /tmp/b-sub pkg-sub
  step "a container as a user without one (one id mapped)"
  bundle /tmp/b-one rrunone --rootless
  run_container "a user without a range (rrunone)" "0 2002 1" as rrunone rrun run -b /tmp/b-one pkg-one

  step "man -l renders each installed page"
  mapfile -t pages < <(grep -E '^/usr/share/man/man[0-9]/.+\.[0-9](\.gz)?$' "$root/tmp/files" || true)
  ((${#pages[@]} > 0)) || fail "the package installs no man page"
  grep -qx /usr/share/man/man5/rrun-sandbox.5.gz "$root/tmp/files" || fail "the package lacks rrun-sandbox(5)"
  for page in "${pages[@]}"; do
    # man -l formats with groff; any warning of groff or man fails the page.
    if ! inroot env MANWIDTH=80 LANG=C.UTF-8 man -l "$page" >"$root/tmp/man.out" 2>"$root/tmp/man.err" ||
      [[ -s "$root/tmp/man.err" ]] || [[ ! -s "$root/tmp/man.out" ]]; then
      cat "$root/tmp/man.err" >&2
      fail "man -l $page did not render cleanly"
    fi
  done
  echo "ok: ${#pages[@]} man pages render"
  inroot man -w rrun-run >/dev/null || fail "man -w rrun-run does not find the installed page"

  step "the bash completion loads"
  for f in /usr/share/bash-completion/completions/rrun /usr/share/zsh/vendor-completions/_rrun \
    /usr/share/fish/vendor_completions.d/rrun.fish; do
    grep -qx "$f" "$root/tmp/files" || fail "the package lacks $f"
  done
  # shellcheck disable=SC2016
  out=$(inroot bash -c '. /usr/share/bash-completion/bash_completion && . /usr/share/bash-completion/completions/rrun && complete -p rrun' 2>&1) ||
    { echo "$out" >&2; fail "the bash completion of rrun does not load"; }
  grep -q 'complete .* rrun$' <<<"$out" || { echo "$out" >&2; fail "the bash completion defines no completion for rrun"; }
  echo "ok: $out"

  step "dpkg --purge rrun leaves nothing of the package"
  inroot dpkg --purge rrun
  # shellcheck disable=SC2016 # dpkg-query's format
  status=$(inroot dpkg-query -W -f='${db:Status-Abbrev}' rrun 2>/dev/null || true)
  [[ -z "$status" || "$status" == n* || "$status" == u* ]] ||
    fail "dpkg still has rrun as '$status' after the purge"
  left=()
  while read -r path; do
    [[ -n "$path" && "$path" != /. ]] || continue
    if [[ -L "$root$path" || -f "$root$path" ]]; then
      left+=("$path")
    elif [[ -d "$root$path" ]] && ! inroot dpkg-query -S "$path" >/dev/null 2>&1; then
      left+=("$path/") # a directory only rrun had
    fi
  done <"$root/tmp/files"
  ((${#left[@]} == 0)) || fail "the purge left ${left[*]}"
  echo "ok: none of the $(wc -l <"$root/tmp/files") paths of the package is left"
  exit 0
fi

out=${1:?usage: test_deb.sh OUTDIR}
((EUID == 0)) || skip "the package test runs as root (dpkg-buildpackage, chroot)"
command -v mmdebstrap >/dev/null || skip "mmdebstrap is missing: run packaging/install-deps.sh"
t0=$SECONDS

step "build the .deb (packaging/build-deb.sh $out)"
bash "$src/packaging/build-deb.sh" "$out" >"$out.log" 2>&1 ||
  { tail -n 60 "$out.log" >&2; fail "packaging/build-deb.sh failed (log: $out.log)"; }
sed -n '/^== lintian/,$p' "$out.log"
deb=$(ls "$out"/rrun_*_"$(dpkg --print-architecture)".deb)
echo "built $deb in $((SECONDS - t0)) s"

# The clean root: Debian 12 with what the test needs (debian-rootfs.sh's
# mirror, proxy and build). Nothing of rrun's Recommends: rrun must run
# without them.
# shellcheck source=../integration/debian-rootfs.sh
# shellcheck disable=SC1091
source "$src/test/integration/debian-rootfs.sh"
tarball=$DEBIAN_CACHE/debian-$DEBIAN_SUITE-pkg-1.tar
if [[ ! -e "$tarball" ]]; then
  debian_mirror_reachable || skip "the Debian mirror $DEBIAN_MIRROR is unreachable and no $tarball is cached"
  install -d -m 755 "$DEBIAN_CACHE"
  (
    exec 8>"$DEBIAN_CACHE/.debian.lock"
    flock 8
    # shellcheck disable=SC2016 # mmdebstrap's hook gets the rootfs as $1
    debian_build_tarball "$tarball" --variant=apt --include=uidmap,passwd,man-db,bash-completion \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
  )
fi
work=$(mktemp -d /tmp/rrun-deb-test-XXXXXX)
trap 'rm -rf --one-file-system -- "$work"' EXIT
root=$work/root
mkdir "$root"
tar --numeric-owner --exclude='./dev/*' -xpf "$tarball" -C "$root"

unshare --mount --propagation private bash "$here/test_deb.sh" --in-namespace "$root" "$deb"
echo "PASS: the package built, installed, ran and purged in $((SECONDS - t0)) s"
