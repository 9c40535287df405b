#!/usr/bin/env bash
# shellcheck shell=bash
# The test images (issue 14), built offline with umoci and skopeo from
# Debian's busybox-static, once per machine, into the test cache:
#   ${RRUN_TEST_CACHE:-/var/cache/rrun-test}/images-N     (N: IMAGES_VERSION)
# world-readable, so the rootless tests read them too. What a test must see
# inside each image is in images-N/EXPECT (written below; the build checks
# every line of it with umoci unpack and skopeo inspect).
#
#   busybox/          OCI layout, one layer: /bin/busybox and its applet links
#                     (symlinks) in /bin, /etc/passwd (root, app = 2000:2000,
#                     nobody), /work owned by 1000:1000, /tmp 1777. Tags:
#                       plain       Cmd ["/bin/sh"], Env [PATH=...]
#                       configured  Entrypoint ["/bin/sh","-c"],
#                                   Cmd ["echo hello from the image"],
#                                   Env += FOO=bar, WorkingDir /work,
#                                   User 1000:1000, StopSignal SIGUSR1
#                       named       configured with User "app" (2000:2000
#                                   through the image's /etc/passwd)
#   multi/            OCI layout, tag latest: busybox's layer + 2 layers with
#                     owners 0, 42, 1000, a setuid file, a hard link, a
#                     symlink, an xattr (user.rrun=test, PAX SCHILY.xattr),
#                     a file and a directory deleted by `.wh.` whiteouts, a
#                     directory made opaque (`.wh..wh..opq`) with new contents
#   multiarch/        OCI layout, tag latest: an image index with two
#                     manifests, linux/amd64 and linux/arm64 (busybox's layer
#                     + /arch saying "amd64" or "arm64"); push it with
#                     `skopeo copy --all oci:DIR:latest docker://...`
#   mixed/            OCI layout, tag latest: busybox's layer (gzip), a zstd
#                     layer (/layers/zstd) and an uncompressed one
#                     (/layers/plain); registry.sh's registry_push keeps
#                     them so (skopeo --preserve-digests)
#   busybox.oci-archive.tar      busybox:configured as an oci-archive (tag latest)
#   busybox.docker-archive.tar   busybox:configured as a docker-archive
#                                (busybox:latest)
#   big/              only with --big (the image benchmark): tag latest,
#                     busybox's layer + 5 layers of 20 MiB random data each
#
# Run as root (run.sh does, before a script marked "# rrun-test:
# image-fixtures", and passes RRUN_TEST_IMAGES to the root and rootless runs):
#   bash test/integration/image-fixtures.sh [--big]   builds what is missing
#                                                     under a lock (concurrent
#                                                     callers wait), prints the dir
#   bash test/integration/image-fixtures.sh --check   checks an existing build
# Sourced by a test (after lib.sh):
#   images_require [big]   skips the test when the images are not built
#   $IMAGES                the directory (RRUN_TEST_IMAGES, else the cache's)
# Bump IMAGES_VERSION when the recipe changes: the build goes to a new
# directory and the older ones are removed.
set -euo pipefail

IMAGES_VERSION=2
IMAGES_CACHE=${RRUN_TEST_CACHE:-/var/cache/rrun-test}
IMAGES=${RRUN_TEST_IMAGES:-$IMAGES_CACHE/images-$IMAGES_VERSION}
IMAGES_BUSYBOX=${RRUN_TEST_BUSYBOX:-/bin/busybox}
# A fixed mtime for every tar entry: the same recipe gives the same layers.
IMAGES_MTIME=1700000000

_images_skip() {
  if declare -F skip >/dev/null; then skip "$*"; fi
  echo "SKIP: $*"
  exit 77
}

images_require() {
  local what=${1:-}
  [[ -r "$IMAGES/EXPECT" ]] ||
    _images_skip "no test images in $IMAGES: build them as root with test/integration/image-fixtures.sh (run.sh does for scripts marked \"# rrun-test: image-fixtures\")"
  if [[ "$what" == big && ! -r "$IMAGES/big/index.json" ]]; then
    _images_skip "no big test image in $IMAGES: build it as root with test/integration/image-fixtures.sh --big"
  fi
}

# ---------------------------------------------------------------------------
# Layer tars, written with python3's tarfile so that owners, modes, links,
# whiteouts and PAX xattrs are exactly as listed, whatever the host's files.
#   _images_layer KIND OUT [ARG...]
# KIND: base (busybox), owners, whiteouts (multi's two layers), arch NAME,
# zstd, plain (mixed's two layers), random SEED (20 MiB of incompressible data).
_images_layer() {
  /usr/bin/python3 - "$IMAGES_MTIME" "$IMAGES_BUSYBOX" "$@" <<'EOF'
import hashlib, io, subprocess, sys, tarfile

mtime, busybox, kind, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
args = sys.argv[5:]
tar = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)

def entry(name, type_, mode, owner=(0, 0), data=b"", link="", xattrs=None):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = type_, mode, mtime
    info.uid, info.gid = owner
    info.uname = info.gname = ""
    info.linkname = link
    if xattrs:
        info.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
    if type_ == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)

def d(name, mode=0o755, owner=(0, 0)): entry(name, tarfile.DIRTYPE, mode, owner)
def f(name, data, mode=0o644, owner=(0, 0), **kw): entry(name, tarfile.REGTYPE, mode, owner, data.encode() if isinstance(data, str) else data, **kw)
def symlink(name, target): entry(name, tarfile.SYMTYPE, 0o777, link=target)
def hardlink(name, target): entry(name, tarfile.LNKTYPE, 0o644, link=target)

if kind == "base":
    for name in ["bin", "dev", "etc", "home", "proc", "sys", "usr", "var"]:
        d(name)
    d("root", 0o700)
    d("tmp", 0o1777)
    d("home/app", 0o755, (2000, 2000))
    d("work", 0o755, (1000, 1000))
    with open(busybox, "rb") as fh:
        f("bin/busybox", fh.read(), 0o755)
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in sorted(set(applets) - {"busybox"}):
        symlink("bin/" + applet, "busybox")
    f("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:2000:2000:app:/home/app:/bin/sh\n"
      "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    f("etc/group", "root:x:0:\napp:x:2000:\nnogroup:x:65534:\n")
elif kind == "owners":
    d("data")
    f("data/root-file", "root\n")
    f("data/user42", "forty-two\n", 0o640, (42, 42))
    d("data/dir42", 0o750, (42, 42))
    f("data/user1000", "thousand\n", 0o600, (1000, 1000))
    f("data/setuid", "#!/bin/sh\nid -u\n", 0o4755)
    f("data/linked", "linked\n")
    hardlink("data/hardlink", "data/linked")
    symlink("data/symlink", "linked")
    f("data/xattr", "xattr\n", xattrs={"user.rrun": "test"})
    f("data/changed", "v1\n")
    f("data/gone-file", "deleted in the next layer\n")
    d("data/gone-dir")
    f("data/gone-dir/inside", "deleted with its directory\n")
    d("data/opaque")
    f("data/opaque/old", "hidden by the opaque marker\n")
    d("data/opaque/old-dir")
    f("data/opaque/old-dir/inside", "hidden by the opaque marker\n")
elif kind == "whiteouts":
    d("data")
    f("data/.wh.gone-file", "")
    f("data/.wh.gone-dir", "")
    f("data/changed", "v2\n")
    d("data/opaque")
    f("data/opaque/.wh..wh..opq", "")
    f("data/opaque/new", "new\n")
elif kind == "arch":
    f("arch", args[0] + "\n")
elif kind == "zstd":
    d("layers")
    f("layers/zstd", "zstd\n")
elif kind == "plain":
    d("layers")
    f("layers/plain", "uncompressed\n")
elif kind == "random":
    # 20 MiB that gzip can't shrink, the same for the same seed.
    chunks, seed = [], args[0].encode()
    for i in range(20 * 1024 * 1024 // 32):
        chunks.append(hashlib.sha256(seed + i.to_bytes(8, "little")).digest())
    d("big")
    f("big/" + args[0], b"".join(chunks))
else:
    sys.exit("image-fixtures: unknown layer kind " + kind)
tar.close()
EOF
}

# What the tests must see (and the build checks). One fact a line:
#   config IMAGE KEY JSON        .config.KEY of the image config, as jq -c prints it
#   stat IMAGE PATH UID:GID MODE `stat -c '%u:%g %a'` inside (owners as the
#                                image says: the container's ids)
#   content IMAGE PATH TEXT      the file's content (one line)
#   absent IMAGE PATH            deleted by a whiteout / hidden by an opaque dir
#   symlink IMAGE PATH TARGET    readlink
#   hardlink IMAGE PATH OTHER    same inode
#   xattr IMAGE PATH NAME VALUE  the extended attribute's value
#   arch IMAGE PLATFORM TEXT     the platform's manifest's /arch
#   media IMAGE N MEDIATYPE      the manifest's layer N (from 0) is of MEDIATYPE
# IMAGE is a directory of images-N and its tag.
_images_expect() {
  cat <<'EOF'
# image-fixtures EXPECT: what a test must see inside each image.
config busybox:plain Cmd ["/bin/sh"]
config busybox:plain Env ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
config busybox:plain Entrypoint null
config busybox:plain User null
config busybox:configured Entrypoint ["/bin/sh","-c"]
config busybox:configured Cmd ["echo hello from the image"]
config busybox:configured Env ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","FOO=bar"]
config busybox:configured WorkingDir "/work"
config busybox:configured User "1000:1000"
config busybox:configured StopSignal "SIGUSR1"
config busybox:named User "app"
config busybox:named Cmd ["echo hello from the image"]
stat busybox:plain /bin/busybox 0:0 755
stat busybox:plain /tmp 0:0 1777
stat busybox:plain /root 0:0 700
stat busybox:plain /work 1000:1000 755
stat busybox:plain /home/app 2000:2000 755
symlink busybox:plain /bin/sh busybox
config multi:latest Cmd ["/bin/sh"]
stat multi:latest /data/root-file 0:0 644
stat multi:latest /data/user42 42:42 640
stat multi:latest /data/dir42 42:42 750
stat multi:latest /data/user1000 1000:1000 600
stat multi:latest /data/setuid 0:0 4755
stat multi:latest /data/opaque 0:0 755
content multi:latest /data/linked linked
hardlink multi:latest /data/hardlink /data/linked
symlink multi:latest /data/symlink linked
content multi:latest /data/symlink linked
xattr multi:latest /data/xattr user.rrun test
content multi:latest /data/changed v2
absent multi:latest /data/gone-file
absent multi:latest /data/gone-dir
absent multi:latest /data/opaque/old
absent multi:latest /data/opaque/old-dir
absent multi:latest /data/opaque/.wh..wh..opq
absent multi:latest /data/.wh.gone-file
content multi:latest /data/opaque/new new
arch multiarch:latest linux/amd64 amd64
arch multiarch:latest linux/arm64 arm64
media mixed:latest 0 application/vnd.oci.image.layer.v1.tar+gzip
media mixed:latest 1 application/vnd.oci.image.layer.v1.tar+zstd
media mixed:latest 2 application/vnd.oci.image.layer.v1.tar
content mixed:latest /layers/zstd zstd
content mixed:latest /layers/plain uncompressed
stat mixed:latest /bin/busybox 0:0 755
EOF
}

# _images_new LAYOUT TAG LAYER... : a new image of the layers, Cmd /bin/sh.
_images_new() {
  local layout=$1 tag=$2 layer
  shift 2
  [[ -e "$layout/index.json" ]] || umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  for layer in "$@"; do
    umoci raw add-layer --image "$layout:$tag" --history.created_by "image-fixtures.sh: $(basename "$layer")" "$layer"
  done
  umoci config --image "$layout:$tag" --config.cmd /bin/sh \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
}

_images_busybox() {
  local dir=$1 l=$1/busybox
  _images_new "$l" plain "$dir/layers/base.tar"
  umoci config --image "$l:plain" --tag configured \
    --config.entrypoint /bin/sh --config.entrypoint -c --config.cmd "echo hello from the image" \
    --config.env FOO=bar --config.workingdir /work --config.user 1000:1000 --config.stopsignal SIGUSR1
  umoci config --image "$l:configured" --tag named --config.user app
  umoci gc --layout "$l"
  skopeo copy -q "oci:$l:configured" "oci-archive:$dir/busybox.oci-archive.tar:latest"
  skopeo copy -q "oci:$l:configured" "docker-archive:$dir/busybox.docker-archive.tar:busybox:latest"
}

_images_multi() {
  local dir=$1
  _images_new "$dir/multi" latest "$dir/layers/base.tar" "$dir/layers/owners.tar" "$dir/layers/whiteouts.tar"
  umoci gc --layout "$dir/multi"
}

# _images_put_blob LAYOUT FILE: moves FILE into LAYOUT's blobs; prints its
# descriptor's "digest" and "size" as JSON members ("digest": ..., "size": ...).
_images_put_blob() {
  local layout=$1 file=$2 digest size
  digest=$(sha256sum "$file" | cut -d' ' -f1)
  size=$(stat -c %s "$file")
  mv -- "$file" "$layout/blobs/sha256/$digest"
  printf '"digest": "sha256:%s", "size": %s' "$digest" "$size"
}

# Two images in one layout, then index.json holds one image index (tag
# latest) that lists both manifests with their platforms.
_images_multiarch() {
  local dir=$1 l=$1/multiarch arch descs=() desc
  for arch in amd64 arm64; do
    _images_new "$l" "$arch" "$dir/layers/base.tar" "$dir/layers/arch-$arch.tar"
    umoci config --image "$l:$arch" --architecture "$arch" --os linux
  done
  umoci gc --layout "$l"
  for arch in amd64 arm64; do
    descs+=("$(jq -c --arg a "$arch" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $a)
      | del(.annotations) | .platform = {architecture: $a, os: "linux"}' "$l/index.json")")
  done
  printf '%s\n' "${descs[@]}" |
    jq -c -j -s '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}' >"$l/index.tmp"
  desc=$(_images_put_blob "$l" "$l/index.tmp")
  jq -c --argjson d "{$desc}" '.manifests = [{mediaType: "application/vnd.oci.image.index.v1+json"} + $d
    + {annotations: {"org.opencontainers.image.ref.name": "latest"}}]' "$l/index.json" >"$l/index.json.new"
  mv -- "$l/index.json.new" "$l/index.json"
}

# busybox's layer (gzip, as umoci writes it), then a zstd layer and an
# uncompressed one: umoci writes gzip only, so the manifest is rewritten
# with the other two blobs of the same tars (the diff_ids stay).
_images_mixed() {
  local dir=$1 l=$1/mixed manifest zstd plain
  _images_new "$l" latest "$dir/layers/base.tar" "$dir/layers/zstd.tar" "$dir/layers/plain.tar"
  manifest=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$l/index.json")
  zstd -q -c "$dir/layers/zstd.tar" >"$l/zstd.tmp"
  zstd=$(_images_put_blob "$l" "$l/zstd.tmp")
  cp -- "$dir/layers/plain.tar" "$l/plain.tmp"
  plain=$(_images_put_blob "$l" "$l/plain.tmp")
  jq -c -j --argjson z "{$zstd}" --argjson p "{$plain}" '
      .layers[1] = {mediaType: "application/vnd.oci.image.layer.v1.tar+zstd"} + $z
    | .layers[2] = {mediaType: "application/vnd.oci.image.layer.v1.tar"} + $p' \
    "$l/blobs/sha256/$manifest" >"$l/manifest.tmp"
  manifest=$(_images_put_blob "$l" "$l/manifest.tmp")
  jq -c --argjson d "{$manifest}" '.manifests[0] += $d' "$l/index.json" >"$l/index.json.new"
  mv -- "$l/index.json.new" "$l/index.json"
  umoci gc --layout "$l"
}

_images_big() {
  local dir=$1 i layers=("$IMAGES/layers/base.tar")
  for i in 1 2 3 4 5; do
    _images_layer random "$dir/random-$i.tar" "layer$i"
    layers+=("$dir/random-$i.tar")
  done
  _images_new "$dir/big" latest "${layers[@]}"
  rm -f -- "$dir"/random-*.tar
}

# ---------------------------------------------------------------------------
# The check: every EXPECT line against umoci unpack (as root: the tar's
# owners) and skopeo inspect, the archives and the index readable by skopeo.
_images_fail() {
  echo "image-fixtures: check: $*" >&2
  return 1
}

# _images_check_line ROOT KIND IMAGE A REST: one EXPECT line (REST: the
# rest of the line after A) against the image unpacked in ROOT.
_images_check_line() {
  local root=$1 kind=$2 image=$3 a=$4 rest=$5 got
  case $kind in
    config)
      got=$(skopeo inspect --config "oci:$IMAGES/${image%%:*}:${image#*:}" | jq -c ".config.$a")
      [[ "$got" == "$rest" ]] || _images_fail "$image config $a: expected $rest, got $got" ;;
    stat)
      got=$(stat -c '%u:%g %a' "$root$a")
      [[ "$got" == "$rest" ]] || _images_fail "$image $a: expected $rest, got $got" ;;
    content)
      got=$(cat "$root$a")
      [[ "$got" == "$rest" ]] || _images_fail "$image $a: expected content [$rest], got [$got]" ;;
    absent)
      [[ ! -e "$root$a" && ! -L "$root$a" ]] || _images_fail "$image $a: expected absent" ;;
    symlink)
      got=$(readlink "$root$a")
      [[ "$got" == "$rest" ]] || _images_fail "$image $a: expected a symlink to $rest, got [$got]" ;;
    hardlink)
      [[ "$root$a" -ef "$root$rest" ]] || _images_fail "$image $a: expected a hard link of $rest" ;;
    xattr)
      got=$(/usr/bin/python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())' \
        "$root$a" "${rest%% *}" 2>/dev/null || true)
      [[ "$got" == "${rest#* }" ]] || _images_fail "$image $a: expected xattr $rest, got [$got]" ;;
    arch) ;; # _images_check_multiarch
    media)
      got=$(skopeo inspect --raw "oci:$IMAGES/${image%%:*}:${image#*:}" | jq -r ".layers[$a].mediaType")
      [[ "$got" == "$rest" ]] || _images_fail "$image layer $a: expected $rest, got $got" ;;
    *) _images_fail "unknown EXPECT line kind $kind" ;;
  esac
}

# _images_unpack_by_hand LAYOUT ROOT: the image tagged latest unpacked into
# ROOT with tar (umoci knows no zstd), each blob's digest and each layer's
# diff_id checked; for images without whiteouts.
_images_unpack_by_hand() {
  local layout=$1 root=$2 manifest config i media digest diff_ids decompress
  manifest=$layout/blobs/sha256/$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$layout/index.json")
  config=$layout/blobs/sha256/$(jq -r '.config.digest | sub("sha256:"; "")' "$manifest")
  mapfile -t diff_ids < <(jq -r '.rootfs.diff_ids[]' "$config")
  mkdir -p "$root"
  i=0
  while read -r media digest; do
    [[ "sha256:$(sha256sum <"$layout/blobs/sha256/${digest#sha256:}" | cut -d' ' -f1)" == "$digest" ]] ||
      _images_fail "${layout##*/}: blob $digest does not match its digest"
    case $media in
      *+gzip) decompress=(gzip -dc) ;;
      *+zstd) decompress=(zstd -q -dc) ;;
      *) decompress=(cat) ;;
    esac
    [[ "sha256:$("${decompress[@]}" <"$layout/blobs/sha256/${digest#sha256:}" | sha256sum | cut -d' ' -f1)" == "${diff_ids[$i]}" ]] ||
      _images_fail "${layout##*/}: layer $i does not match its diff_id ${diff_ids[$i]}"
    "${decompress[@]}" <"$layout/blobs/sha256/${digest#sha256:}" | tar --numeric-owner -xpf - -C "$root"
    i=$((i + 1))
  done < <(jq -r '.layers[] | "\(.mediaType) \(.digest)"' "$manifest")
}

_images_check_multiarch() {
  local tmp=$1 raw platform arch
  raw=$(skopeo inspect --raw "oci:$IMAGES/multiarch:latest")
  while read -r _ _ platform arch; do
    jq -e --arg os "${platform%/*}" --arg a "${platform#*/}" \
      '[.manifests[].platform | select(.os == $os and .architecture == $a)] | length == 1' <<<"$raw" >/dev/null ||
      _images_fail "multiarch: no single $platform manifest in $raw"
    skopeo --override-arch "${platform#*/}" copy -q "oci:$IMAGES/multiarch:latest" "oci:$tmp/arch:$arch"
    umoci unpack --image "$tmp/arch:$arch" "$tmp/arch-$arch" >/dev/null
    [[ "$(cat "$tmp/arch-$arch/rootfs/arch")" == "$arch" ]] || _images_fail "multiarch $platform: /arch is not $arch"
  done < <(grep '^arch ' "$IMAGES/EXPECT")
  skopeo copy -q --all "oci:$IMAGES/multiarch:latest" "oci:$tmp/all:latest"
  [[ "$(skopeo inspect --raw "oci:$tmp/all:latest" | jq '.manifests | length')" == 2 ]] ||
    _images_fail "multiarch: skopeo copy --all did not copy both manifests"
}

_images_check_big() {
  skopeo inspect --raw "oci:$1:latest" | jq -e '(.layers | length == 6) and ([.layers[].size] | add > 100000000)' >/dev/null ||
    _images_fail "big: expected 6 layers over 100 MB"
}

images_check() {
  local tmp image kind a rest root status=0
  ((EUID == 0)) || { echo "image-fixtures: --check needs root (umoci unpack keeps the owners)" >&2; return 1; }
  tmp=$(mktemp -d)
  # Not `( ... ) || status=$?`: errexit is off in a subshell tested so.
  set +e
  (
    set -e
    for image in busybox:plain multi:latest; do
      umoci unpack --image "$IMAGES/$image" "$tmp/${image%%:*}" >/dev/null
    done
    _images_unpack_by_hand "$IMAGES/mixed" "$tmp/mixed/rootfs"
    while read -r kind image a rest; do
      [[ -z "$kind" || "$kind" == '#'* ]] && continue
      root=$tmp/${image%%:*}/rootfs
      _images_check_line "$root" "$kind" "$image" "$a" "$rest"
    done <"$IMAGES/EXPECT"
    _images_check_multiarch "$tmp"
    skopeo inspect "oci-archive:$IMAGES/busybox.oci-archive.tar:latest" | jq -e '.Layers | length == 1' >/dev/null ||
      _images_fail "the oci-archive does not hold busybox's one layer"
    skopeo inspect --config "docker-archive:$IMAGES/busybox.docker-archive.tar" |
      jq -e '.config.Cmd == ["echo hello from the image"]' >/dev/null ||
      _images_fail "the docker-archive does not hold busybox:configured"
    if [[ -e "$IMAGES/big/index.json" ]]; then _images_check_big "$IMAGES/big"; fi
  )
  status=$?
  set -e
  rm -rf --one-file-system -- "$tmp"
  return "$status"
}

# ---------------------------------------------------------------------------
# The build, as root, under the cache's lock: into a temp dir renamed when
# complete and checked, so a reader sees all of it or nothing.
_images_build_small() {
  local tmp arch status
  [[ -e "$IMAGES/EXPECT" ]] && return 0
  echo "image-fixtures: building $IMAGES (a few seconds, once)" >&2
  tmp=$(mktemp -d "$IMAGES_CACHE/.images-$IMAGES_VERSION.XXXXXX")
  set +e
  (
    set -e
    mkdir "$tmp/layers"
    _images_layer base "$tmp/layers/base.tar"
    _images_layer owners "$tmp/layers/owners.tar"
    _images_layer whiteouts "$tmp/layers/whiteouts.tar"
    for arch in amd64 arm64; do _images_layer arch "$tmp/layers/arch-$arch.tar" "$arch"; done
    _images_layer zstd "$tmp/layers/zstd.tar"
    _images_layer plain "$tmp/layers/plain.tar"
    _images_busybox "$tmp"
    _images_multi "$tmp"
    _images_multiarch "$tmp"
    _images_mixed "$tmp"
    rm -f -- "$tmp"/layers/{owners,whiteouts,arch-*,zstd,plain}.tar # base.tar stays for big
    _images_expect >"$tmp/EXPECT"
    chmod -R a+rX,go-w "$tmp"
    IMAGES=$tmp images_check
  )
  status=$?
  set -e
  if ((status != 0)); then
    rm -rf --one-file-system -- "$tmp"
    echo "image-fixtures: building the test images failed" >&2
    return 1
  fi
  mv -T -- "$tmp" "$IMAGES"
  local old
  for old in "$IMAGES_CACHE"/images-*; do
    [[ "$old" == "$IMAGES" ]] || rm -rf --one-file-system -- "$old" # an older recipe's
  done
}

_images_build_big() {
  local tmp status
  [[ -e "$IMAGES/big/index.json" ]] && return 0
  echo "image-fixtures: building $IMAGES/big (100 MB, once)" >&2
  tmp=$(mktemp -d "$IMAGES/.big.XXXXXX")
  set +e
  (
    set -e
    _images_big "$tmp"
    chmod -R a+rX,go-w "$tmp/big"
    _images_check_big "$tmp/big"
  )
  status=$?
  set -e
  if ((status != 0)); then
    rm -rf --one-file-system -- "$tmp"
    echo "image-fixtures: building the big image failed" >&2
    return 1
  fi
  mv -T -- "$tmp/big" "$IMAGES/big"
  rmdir -- "$tmp"
}

images_build() {
  local big=$1
  ((EUID == 0)) || { echo "image-fixtures.sh: run it as root (the layers hold files of several owners)" >&2; return 1; }
  local tool
  for tool in umoci skopeo jq zstd /usr/bin/python3 "$IMAGES_BUSYBOX"; do
    command -v "$tool" >/dev/null || { echo "image-fixtures: $tool is missing: run packaging/install-deps.sh" >&2; return 77; }
  done
  install -d -m 755 "$IMAGES_CACHE"
  (
    exec 8>"$IMAGES_CACHE/.images.lock"
    flock 8
    _images_build_small
    if ((big)); then _images_build_big; fi
  )
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    "") images_build 0 && echo "$IMAGES" ;;
    --big) images_build 1 && echo "$IMAGES" ;;
    --check) images_check ;;
    *)
      echo "usage: image-fixtures.sh [--big | --check]" >&2
      exit 2
      ;;
  esac
fi
