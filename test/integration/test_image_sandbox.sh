#!/usr/bin/env bash
# Sandboxes from images (README "Images"): `image: REF` in a YAML sandbox and
# `rrun run --image REF`, from the OCI layouts of image-fixtures.sh (no
# registry: the registry half is test_image_pull.sh's). The layers are the
# overlay's lower directories: the image's owners seen inside (0, 42, 1000
# as they are with a subordinate range and as root; squashed to 0 with a
# warning without one), whiteouts and opaque directories honoured, setuid,
# hard link, symlink, xattr kept. The image's Entrypoint, Cmd, Env,
# WorkingDir, User and StopSignal apply unless the sandbox (or `-- CMD`)
# says otherwise. A cached image starts without libcurl, libarchive or
# libcrypto.
# rrun-test: nosub
# rrun-test: image-fixtures
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/image-fixtures.sh"
images_require

export XDG_DATA_HOME=$WORK/data
S=$WORK/s
mkdir -p "$S/shared"
chmod 777 "$S/shared"
BB=oci:$IMAGES/busybox
MULTI=oci:$IMAGES/multi:latest

# sandbox NAME LINES...: writes $S/NAME.yaml
sandbox() {
  local name=$1
  shift
  printf '%s\n' "$@" >"$S/$name.yaml"
}

step "the image's files as the layers make them: owners, modes, links, xattr, whiteouts"
sandbox multi "image: $MULTI" "mounts: [{source: $RRUN_PROBE, target: /probe, readonly: true}]"
script='cd /data
stat -c "%n %u:%g %a" root-file user42 dir42 user1000 setuid
echo links $(stat -c %i linked) $(stat -c %i hardlink) $(stat -c %h linked) $(readlink symlink) $(cat symlink)
/probe xattr /data/xattr user.rrun
echo changed $(cat changed) new $(cat opaque/new)
for f in gone-file gone-dir opaque/old opaque/old-dir .wh.gone-file opaque/.wh..wh..opq; do test -e $f && echo present $f; done
ls -a /data /data/opaque | grep "^\.wh\." || true'
expect_ok rr run -f "$S/multi.yaml" -- /bin/sh -c "$script"
if ((MANY_IDS)); then
  expect_contains "$out" "root-file 0:0 644"$'\n'"user42 42:42 640"$'\n'"dir42 42:42 750"$'\n'"user1000 1000:1000 600" \
    "owners inside"
  expect_not_contains "$err" "owned by you" "a range: no squash warning"
else
  expect_contains "$out" "root-file 0:0 644"$'\n'"user42 0:0 640"$'\n'"dir42 0:0 750"$'\n'"user1000 0:0 600" \
    "owners inside without a range: squashed to root"
  expect_contains "$err" "files of ids other than 0 are owned by you" "the squash warning"
fi
expect_contains "$out" "setuid 0:0 4755" "the setuid bit"
read -r _ ino1 ino2 nlink target content <<<"$(grep '^links ' <<<"$out")"
expect_eq "$ino1" "$ino2" "the hard link's inode"
expect_eq "$nlink:$target:$content" "2:linked:linked" "link count, symlink target and what it reads"
expect_contains "$out" "xattr=test" "the xattr user.rrun"
expect_contains "$out" "changed v2 new new" "files of the upper layers"
expect_not_contains "$out" "present" "whited-out files and the opaque directory's old contents"
expect_not_contains "$out" ".wh." "whiteout files shown"
expect_eq "$(state_ids)" "" "run -f removed the container"

step "Entrypoint, Cmd, Env, WorkingDir and User of the image"
sandbox configured "image: $BB:configured"
if ((MANY_IDS)); then
  expect_ok rr run -f "$S/configured.yaml"
  expect_eq "$out" "hello from the image" "Entrypoint + Cmd"
  # `-- CMD` replaces the Cmd and keeps the Entrypoint (sh -c).
  expect_ok rr run -f "$S/configured.yaml" -- 'echo $FOO $(pwd) $(id -u):$(id -g) $HOME'
  expect_eq "$out" "bar /work 1000:1000 /" "Env, WorkingDir, User"
  sandbox named "image: $BB:named" "entrypoint: [/bin/sh, -c]"
  expect_ok rr run -f "$S/named.yaml" -- 'echo $(id -u):$(id -g) $HOME'
  expect_eq "$out" "2000:2000 /home/app" "User app through the image's /etc/passwd, HOME from it"
else
  # Only root is mapped: the image's User can't be.
  expect_fail_with "config User \"1000:1000\": uid 1000" -- rr run -f "$S/configured.yaml"
fi

step "the sandbox wins over the image: env:, workdir:, user:, command:, entrypoint:"
sandbox mine "image: $BB:configured" "env: {FOO: mine}" "workdir: /tmp" "user: root"
expect_ok rr run -f "$S/mine.yaml" -- 'echo $FOO $(pwd) $(id -u):$(id -g) $HOME'
expect_eq "$out" "mine /tmp 0:0 /root" "the sandbox's env, workdir and user"
sandbox entry "image: $BB:configured" "user: root" "entrypoint: [/bin/echo, from]" "command: [entrypoint]"
expect_ok rr run -f "$S/entry.yaml"
expect_eq "$out" "from entrypoint" "entrypoint: and command: replace both"
expect_ok rr run -f "$S/entry.yaml" -- dashdash
expect_eq "$out" "from dashdash" "-- CMD replaces command:"
expect_ok rr run -f "$S/mine.yaml" -e FOO=cli -- 'echo $FOO'
expect_eq "$out" "cli" "-e over env: over the image's Env"

step "StopSignal: rrun kill without a signal and a foreground run's SIGTERM send SIGUSR1"
sandbox stop "image: $BB:configured" "user: root" "entrypoint: [/probe]" \
  "mounts: [{source: $RRUN_PROBE, target: /probe, readonly: true}]"
rr run -d -f "$S/stop.yaml" stopper -- wait-signal >"$WORK/stop.out" 2>&1 || fail "run -d: $(cat "$WORK/stop.out")"
wait_until 10 grep -q ready "$WORK/stop.out" || fail "the probe did not start: $(cat "$WORK/stop.out")"
expect_ok rr state stopper
expect_eq "$(jq -r '.annotations["org.opencontainers.image.stopSignal"]' <<<"$out")" SIGUSR1 "the annotation"
expect_ok rr kill stopper
wait_until 10 grep -q signal= "$WORK/stop.out" || fail "no signal reached the probe"
expect_contains "$(cat "$WORK/stop.out")" "signal=SIGUSR1" "rrun kill ID"
expect_ok rr delete -f stopper
# rrun itself in the background (not the function rr: its subshell would get the signal).
"$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/stop.yaml" fg -- wait-signal >"$WORK/fg.out" 2>&1 &
fg_pid=$!
wait_until 10 grep -q ready "$WORK/fg.out" || fail "the probe did not start: $(cat "$WORK/fg.out")"
kill -TERM "$fg_pid"
wait "$fg_pid" || true
expect_contains "$(cat "$WORK/fg.out")" "signal=SIGUSR1" "SIGTERM to a foreground run"

step "overlay: persistent:DIR keeps the changes, the layers stay as they were"
sandbox pers "image: $BB:plain" "overlay: persistent:$S/pers"
expect_ok rr run -f "$S/pers.yaml" -- /bin/sh -c 'echo kept >/root/f; rm /bin/ls'
expect_ok rr run -f "$S/pers.yaml" -- /bin/sh -c 'cat /root/f; test -e /bin/ls || echo ls gone'
expect_eq "$out" "kept"$'\n'"ls gone" "the second run sees the first's changes"
expect_ok rr run -f "$S/mine.yaml" -- 'test -e /bin/ls && test ! -e /root/f && echo clean'
expect_eq "$out" "clean" "another sandbox of the image"

step "a local layout relative to the file; run --image"
cp -r "$IMAGES/busybox" "$S/bb"
sandbox rel "image: oci:bb:plain"
(cd / && expect_ok rr run -f "$S/rel.yaml" -- echo relative && expect_eq "$out" relative "oci:bb relative to the file")
expect_ok rr run --image "$BB:plain" -e A=1 -- /bin/sh -c 'echo $A $(hostname)'
expect_eq "$out" "1 busybox" "run --image: -e, the ID (and hostname) from the image's name"
rr run -d --image "$BB:plain" -- sleep 30 >/dev/null 2>&1 || fail "run -d --image"
expect_eq "$(state_ids)" "busybox" "run -d --image: the ID"
expect_ok rr delete -f busybox

step "errors: image: with rootfs:, overlay: none, an unknown image; nothing left behind"
sandbox both "image: $BB:plain" "rootfs: ./rootfs"
expect_fail_with "\`rootfs:\` and \`image:\` can't be used together" -- rr run -f "$S/both.yaml"
sandbox none "image: $BB:plain" "overlay: none"
expect_fail_with "overlay: \`none\` can't be used with \`image:\`" -- rr run -f "$S/none.yaml"
sandbox missing "image: oci:$WORK/nothing:x"
expect_fail_with "missing.yaml:1:8: image:" -- rr run -f "$S/missing.yaml"
expect_eq "$(state_ids)" "" "no container"
expect_eq "$(find "$XDG_DATA_HOME/rrun/tmp" -mindepth 1 | wc -l)" 0 "nothing half-written in the store"

step "a cached image starts without libcurl, libarchive or libcrypto"
command -v strace >/dev/null || skip "strace is missing"
# Rootless: -f would run newuidmap traced, without its privileges; the
# libraries would be loaded by rrun itself, which is traced.
follow=()
[[ "$RRUN_TEST_MODE" == root ]] && follow=(-f)
expect_ok strace "${follow[@]}" -e trace=openat -o "$WORK/trace" "$RRUN_BIN" --root "$STATE_ROOT" run -f "$S/mine.yaml" \
  -- true
expect_contains "$(cat "$WORK/trace")" "images.json" "the store was read"
if grep -E 'libcurl|libarchive|libcrypto' "$WORK/trace"; then fail "a cached start opened an image library"; fi

assert_no_leftovers
