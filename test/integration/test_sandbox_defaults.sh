#!/usr/bin/env bash
# The defaults that make a distribution rootfs work in a YAML sandbox
# (README "YAML sandboxes"): a generated /etc/hosts in which the sandbox's
# hostname resolves, /etc/hostname, and with `network: host` the host's
# resolv.conf, each bound read-only from the generated bundle unless the
# sandbox mounts its own; a symbolic link in the rootfs can't carry a bind
# outside it; `user: keep` has the caller's name, HOME and USER (a passwd
# and group entry added to copies of the rootfs's files); RLIMIT_NOFILE is
# rrun's own hard limit unless `limits.nofile` says otherwise.
# With `overlay:`, `user: keep` shows the rootfs owned by root where
# fuse-overlayfs can run, shifted where not (test_overlay.sh, which has
# /dev/fuse opened to rrun-test, checks the fuse side rootless).
# rrun-test: nosub
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

S=$WORK/sb
sandbox_dir "$S"
sandbox() { # NAME LINES...: $S/NAME.yaml
  local name=$1
  shift
  printf '%s\n' "rootfs: rootfs" "$@" >"$S/$name.yaml"
}
snapshot() { (cd "$S/rootfs" && find . -printf '%p %s %m %l\n' | sort); }

step "network: host: /etc/hosts resolves the hostname, /etc/hostname, the host's resolv.conf"
before=$(snapshot)
sandbox net-host "overlay: ephemeral" "hostname: dns-box" \
  "command: [/bin/sh, -c, 'hostname -i; cat /etc/hostname; grep -c localhost /etc/hosts; cat /etc/resolv.conf']"
expect_ok rr run -f "$S/net-host.yaml"
host_resolv=$(cat /etc/resolv.conf 2>/dev/null || true)
want=$'127.0.1.1\ndns-box\n'"$(grep -c localhost <(printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n'; cat /etc/hosts 2>/dev/null))"
[[ -n "$host_resolv" ]] && want+=$'\n'"$host_resolv"
expect_eq "$out" "$want" "hostname -i, /etc/hostname, localhost lines, resolv.conf"
expect_eq "$(snapshot)" "$before" "the rootfs under an ephemeral overlay"

step "the files are read-only binds; the host's /etc/hosts entries follow"
sandbox ro "overlay: ephemeral" \
  "command: [/bin/sh, -c, 'echo x >>/etc/hosts 2>/dev/null || echo read-only; tail -n +4 /etc/hosts']"
expect_ok rr run -f "$S/ro.yaml"
expect_eq "$out" "read-only"$'\n'"# the host's /etc/hosts"$'\n'"$(cat /etc/hosts)" "append to /etc/hosts; its host part"

step "network: none: /etc/hosts and /etc/hostname, no resolv.conf"
sandbox offline "overlay: ephemeral" "network: none" \
  "command: [/bin/sh, -c, 'hostname -i; cat /etc/hostname; test -e /etc/resolv.conf || echo no-resolv; wc -l </etc/hosts']"
expect_ok rr run -f "$S/offline.yaml"
expect_eq "$out" $'127.0.1.1\noffline\nno-resolv\n3' "the offline sandbox"

step "a sandbox's own /etc/hosts (or a mount above it) is kept"
printf '10.1.2.3 mine\n' >"$S/my-hosts"
mkdir -p "$S/my-etc"
printf 'own\n' >"$S/my-etc/hostname"
sandbox own-hosts "overlay: ephemeral" \
  "mounts: [{source: my-hosts, target: /etc/hosts, readonly: true}]" \
  "command: [/bin/sh, -c, 'cat /etc/hosts; cat /etc/hostname']"
expect_ok rr run -f "$S/own-hosts.yaml"
expect_eq "$out" $'10.1.2.3 mine\nown-hosts' "the sandbox's /etc/hosts, the generated /etc/hostname"
sandbox own-etc "overlay: ephemeral" "mounts: [{source: my-etc, target: /etc}]" \
  "command: [/bin/sh, -c, 'ls /etc']"
expect_ok rr run -f "$S/own-etc.yaml"
expect_eq "$out" "hostname" "a bind of /etc gets no generated files"
expect_eq "$(cat "$S/my-etc/hostname")" "own" "the bound /etc/hostname"

step "spec --from -b DIR writes the files next to config.json; the bundle runs"
mkdir "$WORK/spec"
expect_ok "$RRUN_BIN" spec --from "$S/offline.yaml" -b "$WORK/spec"
expect_eq "$(ls "$WORK/spec" | tr '\n' ' ')" "config.json etc-hostname etc-hosts " "files of spec --from"
expect_eq "$(jq -r '.mounts[] | select(.destination == "/etc/hosts") | .source' "$WORK/spec/config.json")" \
  "etc-hosts" "the relative source"
config_set "$WORK/spec" '.process.args = ["/bin/sh", "-c", "hostname -i"] | .process.terminal = false'
expect_ok rr run -b "$WORK/spec" from-spec
expect_eq "$out" "127.0.1.1" "hostname -i in the spec --from bundle"
rm "$WORK/spec/config.json"
expect_fail_with "etc-hosts already exists" -- "$RRUN_BIN" spec --from "$S/net-host.yaml" -b "$WORK/spec"
[[ ! -e "$WORK/spec/config.json" ]] || fail "spec --from wrote config.json next to an old etc-hosts"

step "symbolic links in the rootfs: a dangling one gets its target, an escaping one stays inside"
outside=$WORK/outside-hosts
printf 'host file\n' >"$outside"
ln -s ../run/systemd/resolve/stub-resolv.conf "$S/rootfs/etc/resolv.conf"
ln -s "../../../../../../../../$outside" "$S/rootfs/etc/hosts"
before=$(snapshot)
sandbox links "overlay: ephemeral" "hostname: linked" \
  "command: [/bin/sh, -c, 'hostname -i; cat /etc/resolv.conf']"
expect_ok rr run -f "$S/links.yaml"
expect_eq "$out" "127.0.1.1${host_resolv:+$'\n'$host_resolv}" "through the links"
expect_eq "$(cat "$outside")" "host file" "the host file the escaping link names"
expect_eq "$(snapshot)" "$before" "the rootfs with its links"
rm "$S/rootfs/etc/resolv.conf" "$S/rootfs/etc/hosts"
assert_no_leftovers

step "without an overlay the missing files are made in the rootfs, empty"
sandbox plain "command: [/bin/sh, -c, 'hostname -i']"
expect_ok rr run -f "$S/plain.yaml"
expect_eq "$out" "127.0.1.1" "hostname -i without overlay"
expect_eq "$(stat -c %s "$S/rootfs/etc/hosts" "$S/rootfs/etc/hostname" | tr '\n' ' ')" "0 0 " "the mount points"

step "user: keep: your name, HOME and USER; your group"
me=$(id -un)
my_home=$(getent passwd "$(id -u)" | cut -d: -f6)
sandbox keep "user: keep" "overlay: ephemeral" \
  "command: [/bin/sh, -c, 'id -un; id -gn; echo \"\$HOME \$USER\"; grep -c ^root: /etc/passwd']"
expect_ok rr run -f "$S/keep.yaml"
if ((EUID == 0)); then
  expect_eq "$out" $'root\nroot\n/root root\n1' "user: keep as root"
else
  expect_eq "$out" "$me"$'\n'"$(id -gn)"$'\n'"$my_home $me"$'\n1' "user: keep"
fi
sandbox keep-env "user: keep" "env: {HOME: /tmp, USER: someone}" "command: [/bin/sh, -c, 'echo \"\$HOME \$USER\"']"
expect_ok rr run -f "$S/keep-env.yaml"
expect_eq "$out" "/tmp someone" "env: wins over the entry"

step "user: keep with an overlay: the rootfs owned by root where fuse-overlayfs can show it so"
# /etc/shadow as a Debian rootfs has it (root:shadow), made as the usual mapping makes it.
if ((MANY_IDS)); then
  sandbox shadow "command: [/bin/sh, -c, 'touch /etc/shadow && chown 0:42 /etc/shadow']"
  expect_ok rr run -f "$S/shadow.yaml"
fi
before=$(snapshot)
sandbox keep-owner "user: keep" "overlay: ephemeral" "command: [/bin/sh, -c, 'stat -c %u:%g / /etc /bin/busybox; \
  test ! -e /etc/shadow || stat -c %u:%g /etc/shadow; touch /tmp/mine; stat -c %u:%g /tmp/mine']"
expect_ok rr run -f "$S/keep-owner.yaml"
mine="$(id -u):$(id -g)"
if ((EUID == 0)) || { ((MANY_IDS)) && command -v fuse-overlayfs >/dev/null && [[ -r /dev/fuse && -w /dev/fuse ]]; }; then
  want=$'0:0\n0:0\n0:0\n0:42'
elif ((MANY_IDS)); then
  want="$mine"$'\n'"$mine"$'\n'"$mine"$'\n'"$(id -u):41" # the keep mapping shifts the rest by one
else
  want="$mine"$'\n'"$mine"$'\n'"$mine"
fi
expect_eq "$out" "$want"$'\n'"$mine" "owners of /, /etc, /bin/busybox, /etc/shadow, a new file"
expect_eq "$(snapshot)" "$before" "the rootfs under the keep overlay"

step "user: keep: a rootfs /etc/passwd that is not a regular file is refused"
mv "$S/rootfs/etc/passwd" "$S/rootfs/etc/passwd.real"
mkfifo "$S/rootfs/etc/passwd"
expect_fail_with "is not a regular file" -- rr run -f "$S/keep.yaml"
assert_no_leftovers
rm "$S/rootfs/etc/passwd"
mv "$S/rootfs/etc/passwd.real" "$S/rootfs/etc/passwd"

step "RLIMIT_NOFILE: rrun's hard limit by default; limits.nofile wins"
hard=$(ulimit -Hn)
[[ "$hard" == unlimited || "$hard" -gt 1048576 ]] && hard=1048576
sandbox nofile "command: [/bin/sh, -c, 'ulimit -n; ulimit -Hn']"
expect_ok rr run -f "$S/nofile.yaml"
expect_eq "$out" "$hard"$'\n'"$hard" "soft and hard nofile"
sandbox nofile-set "limits: {nofile: 4096}" "command: [/bin/sh, -c, 'ulimit -n; ulimit -Hn']"
expect_ok rr run -f "$S/nofile-set.yaml"
expect_eq "$out" $'4096\n4096' "limits.nofile"
assert_no_leftovers
