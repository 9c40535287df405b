#!/usr/bin/env bash
# tmpcopyup, which Podman's --read-only puts on the tmpfs of /run, /tmp and
# /var/tmp: the tmpfs starts with a copy of the directory it covers in the
# rootfs (files, directories, symlinks and fifos with their owners as the
# container sees them, modes, times and user xattrs), it stays writable
# under root.readonly, the rootfs itself is not changed, and a symlink in the
# rootfs never leads the copy out of it. Root and rootless.
# rrun-test: nosub
source "$(dirname "$0")/lib.sh"

b=$WORK/b
make_bundle "$b"
config_set "$b" '.root.readonly = true'
r=$b/rootfs

step "a rootfs with content in /run/x"
mkdir -p "$r/run/x/sub/deeper" "$r/opt/ro"
echo a-content >"$r/run/x/a"
echo w-content >"$r/run/x/w"
echo secret >"$r/run/x/secret"
printf 'no-newline' >"$r/run/x/sub/f"
echo deep >"$r/run/x/sub/deeper/g"
echo ro-content >"$r/opt/ro/f"
ln -s a "$r/run/x/l"
ln -s /etc/passwd "$r/run/x/abs"
ln -s ../../../../../../../../etc "$r/run/x/escape"
mkfifo "$r/run/x/fifo"
chmod 0644 "$r/run/x/a"
chmod 0600 "$r/run/x/secret"
chmod 4755 "$r/run/x/sub/f"
chmod 0750 "$r/run/x/sub"
chmod 0555 "$r/run/x/sub/deeper" # its mode can only be set after its content is in
chmod 0751 "$r/run"
touch -h -d '2001-02-03 04:05:06' "$r/run/x/a" "$r/run/x/l" "$r/run/x/sub/deeper"
# The destination of a mount is a symlink that climbs out of the rootfs: it
# is resolved inside it (the rootfs's /etc, not the host's).
ln -s ../../../../../../../../etc "$r/linkrun"
xattrs=0
if command -v python3 >/dev/null && python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.rrun", b"hello")' "$r/run/x/a" 2>/dev/null; then
  xattrs=1
fi
if [[ "$RRUN_TEST_MODE" == root ]]; then
  chown 1000:1000 "$r/run/x/a"
  chown -h 1234:1234 "$r/run/x/l"
  chown 65534:65534 "$r/run/x/sub/deeper"
fi
# What the host has, to compare after the run.
host_view() { (cd "$r" && find run opt etc -printf '%p %y %m %U %G %s %T@ %l\n' | sort && find run opt etc -type f -exec md5sum {} + | sort); }
host_view >"$WORK/before"

# Podman's options; the rootfs's /run and /etc bound first, to compare with.
config_set "$b" '.mounts += [
  {destination: "/orig-run", type: "bind", source: "rootfs/run", options: ["rbind", "ro"]},
  {destination: "/orig-etc", type: "bind", source: "rootfs/etc", options: ["rbind", "ro"]},
  {destination: "/run", type: "tmpfs", source: "tmpfs", options: ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]},
  {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]},
  {destination: "/var/tmp", type: "tmpfs", source: "tmpfs", options: ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]},
  {destination: "/opt/ro", type: "tmpfs", source: "tmpfs", options: ["ro", "tmpcopyup"]},
  {destination: "/linkrun", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "size=1m"]}
]'

# walk DIR TAG: one line per entry below DIR (name relative to DIR).
cat >"$r/check.sh" <<'EOF'
walk() {
  for e in "$1"/* "$1"/.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    n=${e#"$3"}
    if [ -L "$e" ]; then echo "$2|$n link $(stat -c '%u:%g %Y' "$e") $(readlink "$e")"
    elif [ -d "$e" ]; then echo "$2|$n dir $(stat -c '%a %u:%g %Y' "$e")"; walk "$e" "$2" "$3"
    elif [ -p "$e" ]; then echo "$2|$n fifo $(stat -c '%a %u:%g %Y' "$e")"
    else echo "$2|$n file $(stat -c '%a %u:%g %s %Y' "$e") $(cat "$e")"; fi
  done
}
w() { if sh -c "echo x > $1" 2>/dev/null; then echo ok; else echo fail; fi; }
walk /run run /run
walk /orig-run orig /orig-run
echo "run_root=$(stat -c '%a %u:%g' /run)"
echo "orig_root=$(stat -c '%a %u:%g' /orig-run)"
echo "run_mount=$(grep ' /run ' /proc/mounts)"
echo "tmp=$(stat -c '%a' /tmp) [$(ls -A /tmp)] $(stat -f -c %T /tmp)"
echo "vartmp=$(stat -c '%a' /var/tmp) [$(ls -A /var/tmp)] $(stat -f -c %T /var/tmp)"
echo "etc="$(ls -A /etc)
echo "orig_etc="$(ls -A /orig-etc)
echo "etc_fs=$(stat -f -c %T /etc)"
echo "ro=$(cat /opt/ro/f) $(w /opt/ro/new) $(grep ' /opt/ro ' /proc/mounts | sed 's/^[^ ]* [^ ]* [^ ]* \([^,]*\).*/\1/')"
echo "escape=$(readlink /run/x/escape)"
echo "write_new=$(w /run/new)"
echo "write_copy=$(w /run/x/w) $(cat /run/x/w)"
echo "write_root=$(w /rootfile)"
/bin/probe xattr /run/x/a user.rrun
EOF
set_args "$b" sh /check.sh

step "run: the tmpfs on /run holds the copy, writable under root.readonly"
expect_ok rr run -b "$b" cu1 </dev/null
copy=$(grep '^run|' <<<"$out" | sed 's/^run|//')
orig=$(grep '^orig|' <<<"$out" | sed 's/^orig|//')
expect_contains "$orig" "/x/sub/deeper/g file" "the rootfs's /run as the container sees it"
expect_eq "$copy" "$orig" "the tmpfs on /run against the rootfs's /run"
expect_eq "$(val run_root)" "$(val orig_root)" "mode and owner of /run (the covered directory's)"
expect_eq "$(val run_root)" "751 0:0" "mode and owner of /run"
expect_contains "$orig" "/x/sub/f file 4755" "a set-id file"
expect_contains "$orig" "/x/l link" "a symlink"
expect_contains "$orig" "/x/fifo fifo" "a fifo"
if [[ "$RRUN_TEST_MODE" == root ]]; then
  expect_contains "$orig" "/x/a file 644 1000:1000 10 $(date -d '2001-02-03 04:05:06' +%s) a-content" "the owner of a file"
  expect_contains "$orig" "/x/l link 1234:1234" "the owner of a symlink"
  expect_contains "$orig" "/x/sub/deeper dir 555 65534:65534" "the owner of a directory"
fi
expect_contains "$(val run_mount)" "tmpfs /run tmpfs rw,nosuid,nodev" "/run in /proc/mounts"
expect_eq "$(val tmp)" "1777 [] tmpfs" "tmpcopyup onto an empty /tmp (mode 1777)"
expect_eq "$(val vartmp)" "755 [] tmpfs" "tmpcopyup onto a /var/tmp the rootfs does not have"
expect_eq "$(val etc)" "$(val orig_etc)" "tmpcopyup through a symlink out of the rootfs: the rootfs's /etc"
expect_eq "$(val etc_fs)" tmpfs "the tmpfs the symlink led to"
expect_eq "$(val ro)" "ro-content fail ro" "a read-only tmpfs with tmpcopyup"
expect_eq "$(val escape)" ../../../../../../../../etc "a symlink is copied as a symlink"
expect_eq "$(val write_new)" ok "a new file in the tmpfs on /run"
expect_eq "$(val write_copy)" "ok x" "writing a copied file"
expect_eq "$(val write_root)" fail "writing / under root.readonly"
if ((xattrs)); then expect_eq "$(val xattr)" hello "the user.rrun xattr of a copied file"; fi

step "the rootfs is unchanged"
host_view >"$WORK/after"
diff "$WORK/before" "$WORK/after" >&2 || fail "the rootfs changed under the copy"
expect_eq "$(cat "$r/run/x/w")" w-content "the rootfs's /run/x/w"
[[ ! -e "$r/run/new" ]] || fail "a file written to the tmpfs landed in the rootfs"
assert_no_leftovers

step "tmpcopyup on a bind mount or another file system fails create, nothing left"
config_set "$b" '.mounts += [{destination: "/mnt", type: "bind", source: "rootfs/opt", options: ["rbind", "tmpcopyup"]}]'
expect_fail_with "\`tmpcopyup\` is only for tmpfs mounts, not bind mounts" -- rr create -b "$b" cu2
assert_no_leftovers
echo "PASS"
