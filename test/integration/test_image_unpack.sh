#!/usr/bin/env bash
# Image layers unpacked into the store (rootfs/image/layer.hpp), driven by
# test/probe/layer_tool.cpp on the test image multi (image-fixtures.sh):
# owners as the caller's user namespace maps them (root: as they are;
# rrun-test: through its subordinate range, newuidmap; rrun-nosub and a host
# without the helpers: all the caller's, with one warning), whiteouts in the
# form the overlay reads (real kernel and fuse-overlayfs mounts hide what the
# image deletes), layers reused, a flattened rootfs, bad layers refused with
# nothing left, and trees of subordinate ids removed.
# rrun-test: nosub
# rrun-test: nohelpers
# rrun-test: devfuse
# rrun-test: image-fixtures
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-fixtures.sh"

images_require
TOOL=$(dirname "$RRUN_PROBE")/rrun-layer-tool
[[ -x "$TOOL" ]] || skip "rrun-layer-tool is not built next to $RRUN_PROBE"
export XDG_DATA_HOME=$WORK/data  # the kernel probe's cache goes there too
STORE=$XDG_DATA_HOME/rrun
KIND=${RRUN_TEST_USER_KIND:-root}
[[ "$RRUN_TEST_MODE" == root ]] && KIND=root
lt() { "$TOOL" "$STORE" "$@"; }
# expect_refused MSG -- CMD...: exit 1 and one error line containing MSG
# (with a single mapping, the squash warning comes first).
expect_refused() {
  local msg=$1
  shift 2
  run "$@"
  local errors
  errors=$(grep -v '^rrun: warning: ' <<<"$err" || true)
  [[ "$rc" == 1 && "$(wc -l <<<"$errors")" == 1 && "$errors" == "rrun: "* && "$errors" == *"$msg"* ]] ||
    fail "expected exit 1 and one line \"rrun: ...$msg...\"; got $rc: $err"
  err=$errors
}

# multi's layer blobs, bottom first, each with its diff_id.
layout=$IMAGES/multi
manifest=$layout/blobs/sha256/$(jq -r '.manifests[0].digest | ltrimstr("sha256:")' "$layout/index.json")
config=$layout/blobs/sha256/$(jq -r '.config.digest | ltrimstr("sha256:")' "$manifest")
mapfile -t digests < <(jq -r '.layers[].digest | ltrimstr("sha256:")' "$manifest")
mapfile -t diff_ids < <(jq -r '.rootfs.diff_ids[]' "$config")
LAYERS=()
for i in "${!digests[@]}"; do LAYERS+=("$layout/blobs/sha256/${digests[$i]}=${diff_ids[$i]}"); done

uid=$(id -u)
gid=$(id -g)
read -r ustart ucount <<<"$(subid_range /etc/subuid)"
read -r gstart gcount <<<"$(subid_range /etc/subgid)"
# The host owner of an image's id N, as the layers are written.
host_id() { # N START
  case $KIND in
    root) echo "$1" ;;
    subid) if (($1 == 0)); then echo "$3"; else echo $(($2 + $1 - 1)); fi ;;
    *) echo "$3" ;;
  esac
}
host_owner() { # U:G
  echo "$(host_id "${1%:*}" "$ustart" "$uid"):$(host_id "${1#*:}" "$gstart" "$gid")"
}
# The owner seen inside a namespace mapped as a default rootless container.
seen_owner() {
  case $KIND in
    root | subid) echo "$1" ;;
    *) echo 0:0 ;;
  esac
}

# check_tree ROOT OWNERS: multi's EXPECT lines against ROOT, the owners as
# OWNERS (host_owner or seen_owner) gives them; prints what differs.
check_tree() {
  local root=$1 owners=$2 kind image a rest want got
  while read -r kind image a rest; do
    [[ "$image" == multi:latest ]] || continue
    case $kind in
      stat)
        want="$($owners "${rest% *}") ${rest#* }"
        got=$(stat -c '%u:%g %a' "$root$a")
        [[ "$got" == "$want" ]] || echo "$a: $got, expected $want" ;;
      content) [[ "$(cat "$root$a")" == "$rest" ]] || echo "$a: not [$rest]" ;;
      absent) [[ ! -e "$root$a" && ! -L "$root$a" ]] || echo "$a: present" ;;
      symlink) [[ "$(readlink "$root$a")" == "$rest" ]] || echo "$a: not a symlink to $rest" ;;
      hardlink) [[ "$root$a" -ef "$root$rest" ]] || echo "$a: not a hard link of $rest" ;;
      xattr)
        got=$(/usr/bin/python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())' \
          "$root$a" "${rest%% *}" 2>/dev/null || true)
        [[ "$got" == "${rest#* }" ]] || echo "$a: xattr ${rest%% *} is [$got], expected [${rest#* }]" ;;
    esac
  done <"$IMAGES/EXPECT"
}

step "the variant: whiteout format and mapping ($KIND)"
run lt variant auto
expect_eq "$rc" 0 "variant"
case $KIND in
  root) expect_eq "$out" trusted "variant as root" ;;
  subid) expect_eq "$out" "user-0.$uid.1-1.$ustart.$ucount" "variant with a range" ;;
  *) expect_eq "$out" "user-0.$uid.1" "variant with a single mapping" ;;
esac

step "prepare: the layers unpacked once, top first"
run lt prepare auto "${LAYERS[@]}"
expect_eq "$rc" 0 "prepare: $err"
mapfile -t DIRS <<<"$out"
expect_eq "${#DIRS[@]}" 3 "three layer directories"
expect_eq "${DIRS[0]##*/}" "${digests[2]}" "the top layer first"
case $KIND in
  nosub)
    expect_eq "$err" "rrun: warning: image localhost/layer-tool:latest: no subordinate ids for $(id -un): files of ids other than 0 are owned by you (add a range to /etc/subuid and /etc/subgid)" "the squash warning" ;;
  nohelpers) expect_contains "$err" "install the \"uidmap\" package" "the squash warning without helpers" ;;
  *) expect_eq "$err" "" "no warning" ;;
esac
expect_eq "$(find "$STORE/tmp" -mindepth 1 | wc -l)" 0 "nothing left in tmp/"
stamp=$(stat -c %i "${DIRS[1]}")
run lt prepare auto "${LAYERS[@]}"
expect_eq "$out" "$(printf '%s\n' "${DIRS[@]}")" "the same directories again"
expect_eq "$(stat -c %i "${DIRS[1]}")" "$stamp" "not unpacked again"
expect_eq "$err" "" "no second warning: nothing was unpacked"
owners=$(stat -c '%u:%g' "${DIRS[1]}/data/user42" "${DIRS[1]}/data/user1000" | paste -sd' ')
expect_eq "$owners" "$(host_owner 42:42) $(host_owner 1000:1000)" "owners of the owners layer on the host"
expect_eq "$(stat -c %a "${DIRS[1]}/data/setuid")" 4755 "setuid kept"

step "flatten: one rootfs, whiteouts applied"
run lt flatten "$WORK/rootfs" "${LAYERS[@]}"
expect_eq "$rc" 0 "flatten: $err"
problems=$(check_tree "$WORK/rootfs" host_owner)
expect_eq "$problems" "" "the flattened rootfs against EXPECT"

# mount_view FORMAT DIRS...: the layers as one read-only overlay in a child
# with its own mount namespace (and user namespace rootless, mapped as a
# default rootless container); prints check_tree's findings inside it.
mount_view() {
  local format=$1 lower mnt=$WORK/merged-$1 ns=() opts=""
  shift
  lower=$(IFS=:; echo "$*")
  mkdir -p "$mnt"
  case $KIND in
    root) ns=(unshare --mount --propagation private) ;;
    subid) ns=(unshare --map-root-user --map-users="$ustart,1,$ucount" --map-groups="$gstart,1,$gcount" --mount) ;;
    *) ns=(unshare --map-root-user --mount) ;;
  esac
  [[ "$KIND" != root ]] && opts=,userxattr
  local mount_cmd="mount -t overlay overlay -o lowerdir=$lower$opts $mnt"
  [[ "$format" == fuse ]] && mount_cmd="fuse-overlayfs -o lowerdir=$lower $mnt"
  # shellcheck disable=SC2016
  "${ns[@]}" bash -c "$(declare -f check_tree seen_owner); IMAGES=$IMAGES KIND=$KIND
    $mount_cmd || exit 1
    # Listed first: fuse-overlayfs 1.10 answered lookups in a listed
    # directory with a .wh..wh..opq file differently.
    ls -a $mnt/data $mnt/data/opaque | grep '^\.wh\.' && echo 'a .wh. file shows'
    check_tree $mnt seen_owner
    umount $mnt"
}

step "the kernel overlay hides what the image deletes"
run mount_view kernel "${DIRS[@]}"
expect_eq "$rc" 0 "kernel mount: $err"
expect_eq "$out" "" "the kernel overlay's view against EXPECT"

if [[ "$KIND" == root || (-r /dev/fuse && -w /dev/fuse) ]] && command -v fuse-overlayfs >/dev/null; then
  step "fuse-overlayfs hides what the image deletes (its .wh. files)"
  run lt prepare fuse "${LAYERS[@]}"
  expect_eq "$rc" 0 "prepare fuse: $err"
  mapfile -t FUSE_DIRS <<<"$out"
  [[ -e "${FUSE_DIRS[0]}/data/.wh.gone-file" ]] || fail "no .wh.gone-file in the fuse variant"
  run mount_view fuse "${FUSE_DIRS[@]}"
  expect_eq "$rc" 0 "fuse mount: $err"
  expect_eq "$out" "" "fuse-overlayfs's view against EXPECT"
  run lt remove "$(dirname "${FUSE_DIRS[0]}")"
  expect_eq "$rc" 0 "remove the fuse variant"
else
  step "(no fuse-overlayfs or no access to /dev/fuse: its view not checked)"
fi

step "bad layers: one error line, nothing left"
/usr/bin/python3 - "$WORK" <<'EOF'
import io, sys, tarfile
def layer(path, entries):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, arg in entries:
            i = tarfile.TarInfo(name)
            if kind == "file":
                i.size = len(arg)
                t.addfile(i, io.BytesIO(arg))
            else:
                i.type = kind
                i.linkname = arg
                t.addfile(i)
work = sys.argv[1]
layer(work + "/dotdot.tar", [("ok", "file", b"x"), ("../escape", "file", b"x")])
layer(work + "/through-symlink.tar", [("link", tarfile.SYMTYPE, work), ("link/escape", "file", b"x")])
layer(work + "/hardlink.tar", [("passwd", tarfile.LNKTYPE, "/etc/passwd")])
layer(work + "/good.tar", [("fine", "file", b"x")])
with tarfile.open(work + "/root-entry.tar", "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("./")
    i.type, i.mode, i.uid, i.gid = tarfile.DIRTYPE, 0o555, 1000, 1000
    t.addfile(i)
    i = tarfile.TarInfo("sub/f")
    i.uid = i.gid = 1000
    t.addfile(i, io.BytesIO(b""))
EOF
for bad in dotdot:../escape:"refusing a name with \`..\`" through-symlink:link/escape:"refusing a path through the symlink \`link\`" \
  hardlink:passwd:"refusing an absolute name"; do
  IFS=: read -r name entry words <<<"$bad"
  digest=$(sha256sum "$WORK/$name.tar" | cut -d' ' -f1)
  expect_refused "layer sha256:$digest: entry \`$entry\`: " -- lt prepare auto "${LAYERS[0]}" "$WORK/$name.tar"
  expect_contains "$err" "$words" "$name"
  [[ ! -e "$WORK/escape" ]] || fail "$name: $WORK/escape was written"
  expect_eq "$(find "$STORE/tmp" -mindepth 1 | wc -l)" 0 "$name: nothing left in tmp/"
  [[ ! -e "$(dirname "${DIRS[0]}")/$digest" ]] || fail "$name: the bad layer is in the store"
done
expect_refused "the image config says sha256:$(printf '0%.0s' {1..64}) (diff_id)" -- \
  lt prepare auto "${LAYERS[0]}" "$WORK/good.tar=sha256:$(printf '0%.0s' {1..64})"
expect_eq "$(find "$STORE/tmp" -mindepth 1 | wc -l)" 0 "diff_id: nothing left in tmp/"
expect_refused "layer sha256:" -- lt flatten "$WORK/rootfs2" "${LAYERS[0]}" "$WORK/dotdot.tar"
[[ ! -e "$WORK/rootfs2" ]] || fail "a failed flatten left $WORK/rootfs2"

step "a layer whose root entry belongs to another id stays movable (prune moves layers into tmp/)"
run lt prepare auto "$WORK/root-entry.tar"
expect_eq "$rc" 0 "prepare: $err"
expect_eq "$(stat -c '%u:%g' "$out/sub/f")" "$(host_owner 1000:1000)" "its file's owner"
expect_eq "$(stat -c '%u %a' "$out")" "$uid 755" "the layer's root: the caller's, writable"
mv -- "$out" "$STORE/tmp/moved" || fail "the layer cannot be moved"
run lt remove "$STORE/tmp/moved"
expect_eq "$rc" 0 "remove the moved layer: $err"

step "remove: trees of subordinate ids and read-only directories go"
chmod 0555 "$WORK/rootfs/data" 2>/dev/null || true
run lt remove "$WORK/rootfs"
expect_eq "$rc" 0 "remove the rootfs: $err"
[[ ! -e "$WORK/rootfs" ]] || fail "the flattened rootfs is still there"
run lt remove "${DIRS[1]}"
expect_eq "$rc" 0 "remove a layer: $err"
[[ ! -e "${DIRS[1]}" ]] || fail "the layer is still there"
run lt remove "$STORE"
expect_eq "$rc" 0 "remove the store: $err"
[[ ! -e "$STORE" ]] || fail "the store is still there"
assert_no_leftovers
