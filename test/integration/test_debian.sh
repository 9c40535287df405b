#!/usr/bin/env bash
# A real distribution in a YAML sandbox (issue 13, points 4 and 12): a
# busybox-free Debian 12 rootfs made with mmdebstrap (debian-rootfs.sh:
# cached, unpacked per run; skipped with the reason when the Debian mirror is
# unreachable), `overlay: ephemeral`, `network: host`, the default
# capabilities. Root is root inside and owns the rootfs; `su` drops to nobody
# (setuid/setgid); `apt-get update` and `apt-get install hello` work (apt
# drops to _apt, dpkg chowns) and leave the rootfs as it was.
# Rootless, a rootfs owned by the caller's first subordinate ids (what
# `mmdebstrap --mode=unshare` makes; issue 13 point 12) is root's inside too:
# root writes /etc without DAC_OVERRIDE, as its owner.
# The rootfs has no /etc/resolv.conf, as Debian's container images: apt
# resolves the mirror through the one rrun generates (the host's, network:
# host).
# rrun-test: debian-rootfs
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/debian-rootfs.sh"

((MANY_IDS)) || skip "apt and su need the ids of _apt (42) and nobody (65534) mapped: a subordinate range"
D=$WORK/debian
debian_rootfs "$D/rootfs"
[[ ! -e "$D/rootfs/bin/busybox" && -x "$D/rootfs/usr/bin/apt-get" ]] || fail "the Debian rootfs has busybox or lacks apt-get"

# sandbox FILE ROOTFS SCRIPT [YAML LINE...]: a sandbox running `sh -c SCRIPT`.
sandbox() {
  local file=$1 rootfs=$2 script=$3
  shift 3
  {
    echo "rootfs: $rootfs"
    echo "overlay: ephemeral"
    echo "network: host"
    [[ -n "$DEBIAN_PROXY" ]] && echo "env: $(jq -cn --arg p "$DEBIAN_PROXY" '{http_proxy: $p}')"
    echo "command: $(jq -cn --arg s "$script" '["/bin/sh", "-c", $s]')"
    if (($#)); then printf '%s\n' "$@"; fi
  } >"$file"
}

step "root inside: id, the rootfs owned by 0:0, su to nobody"
sandbox "$D/id.yaml" rootfs 'id; stat -c "%n %u:%g" / /etc /etc/shadow /usr/bin/su; su nobody -s /bin/sh -c id'
expect_ok rr run -f "$D/id.yaml"
expect_eq "$out" "uid=0(root) gid=0(root) groups=0(root)
/ 0:0
/etc 0:0
/etc/shadow 0:42
/usr/bin/su 0:0
uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)" "id, owners and su in the Debian sandbox"

if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  step "a rootfs owned by the first subordinate ids (mmdebstrap --mode=unshare) is root's inside"
  read -r uid_start uid_count < <(subid_range /etc/subuid)
  read -r gid_start gid_count < <(subid_range /etc/subgid)
  U=$WORK/unshare
  debian_rootfs "$U/rootfs" subid
  expect_eq "$(stat -c %u:%g "$U/rootfs" "$U/rootfs/etc")" "$uid_start:$gid_start"$'\n'"$uid_start:$gid_start" \
    "the layout on the host"
  sandbox "$U/owners.yaml" rootfs \
    'stat -c "%n %u:%g" / /etc /etc/shadow /usr/bin/su; touch /etc/written && stat -c "%n %u:%g" /etc/written' \
    "capabilities: {drop: [ALL]}"
  expect_ok rr run -f "$U/owners.yaml"
  expect_eq "$out" "/ 0:0
/etc 0:0
/etc/shadow 0:42
/usr/bin/su 0:0
/etc/written 0:0" "owners inside, and root writing /etc as its owner"
  # The caller is mapped too (after the range): its files are not nobody's.
  mkdir "$U/mine"
  sandbox "$U/mine.yaml" rootfs 'stat -c %u:%g /mine; su nobody -s /bin/sh -c "id -u"' \
    "mounts:" "  - {source: ./mine, target: /mine}"
  expect_ok rr run -f "$U/mine.yaml"
  expect_eq "$out" "$uid_count:$gid_count"$'\n'"65534" "the caller's directory inside, and su"
fi


step "apt-get update and apt-get install hello"
debian_require_mirror
sandbox "$D/apt.yaml" rootfs 'apt-get update -q && apt-get install -y -q --no-install-recommends hello && hello'
t0=$(date +%s%N)
expect_ok rr run -f "$D/apt.yaml"
echo "apt-get update + install hello: $((($(date +%s%N) - t0) / 1000000)) ms"
expect_contains "$out" "Setting up hello" "apt-get install"
expect_eq "$(tail -n 1 <<<"$out")" "Hello, world!" "hello's output"
expect_not_contains "$err" "E: " "apt's errors"
[[ ! -e "$D/rootfs/usr/bin/hello" ]] || fail "overlay: ephemeral: hello landed in the rootfs"
expect_eq "$(state_ids)" "" "run -f removed the container"

assert_no_leftovers
