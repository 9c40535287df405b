#!/usr/bin/env bash
# Hostile sandbox files (issue 15, "Bad input"): every file a sandbox names
# or the user passes (the sandbox file, `seccomp: FILE`, --env-file) is read
# only if it is a regular file under a size limit, so /dev/zero, a FIFO or a
# directory is one error line naming the file, at once; what create refuses
# (`persistent:/`, a `,` in its directory, a mount over `/`) `spec --from`
# refuses too, at the value's line; a second YAML document, a NUL byte and
# 100k levels of nesting are errors saying so; per-entry lookups are linear
# (a 40k-entry `env:` in well under a second). Each bad file: exit 1, one
# line "rrun: ...", nothing left, with `run -f` and `spec --from`.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

S=$WORK/sb
sandbox_dir "$S"
printf 'rootfs: rootfs\ncommand: [/bin/true]\n' >"$S/ok.yaml"
mkfifo "$S/fifo"
mkdir "$S/dir"

# rrun with a deadline: a FIFO must never block it.
rr_t() { timeout 20 "$RRUN_BIN" --root "$STATE_ROOT" "$@"; }

# bad_both MSG FILE.yaml [ARGS...]: `run -f` and `spec --from` of FILE.yaml
# (with ARGS) fail with MSG, and leave nothing (no config.json either).
n=0
bad_both() {
  local msg=$1 file=$2
  shift 2
  expect_fail_with "$msg" -- rr_t run -f "$file" "$@"
  assert_no_leftovers
  n=$((n + 1))
  mkdir "$WORK/spec$n"
  expect_fail_with "$msg" -- rr_t spec --from "$file" -b "$WORK/spec$n" "$@"
  expect_eq "$(ls -A "$WORK/spec$n")" "" "spec --from wrote nothing"
}

step "the sandbox file: not a regular file, or too large"
bad_both "cannot read the sandbox file: \`$S/fifo\` is a FIFO, not a regular file" "$S/fifo"
bad_both "cannot read the sandbox file: \`$S/dir\` is a directory, not a regular file" "$S/dir"
bad_both "cannot read the sandbox file: \`/dev/zero\` is a character device, not a regular file" /dev/zero
cp "$S/ok.yaml" "$S/huge.yaml"
truncate -s 5M "$S/huge.yaml"
bad_both "cannot read the sandbox file: \`$S/huge.yaml\` is larger than 4 MiB" "$S/huge.yaml"

step "seccomp: FILE: not a regular file, or too large"
for target in /dev/zero fifo dir; do
  printf 'rootfs: rootfs\nseccomp: %s\n' "$target" >"$S/seccomp.yaml"
  [[ "$target" == /* ]] || target=$S/$target
  bad_both "$S/seccomp.yaml:2:10: seccomp: \`$target\` is a" "$S/seccomp.yaml"
done
printf '{"defaultAction": "SCMP_ACT_ALLOW"}' >"$S/big.json"
truncate -s 5M "$S/big.json"
printf 'rootfs: rootfs\nseccomp: big.json\n' >"$S/seccomp.yaml"
bad_both "$S/seccomp.yaml:2:10: seccomp: \`$S/big.json\` is larger than 4 MiB" "$S/seccomp.yaml"

step "--env-file: not a regular file"
bad_both "--env-file $S/fifo: \`$S/fifo\` is a FIFO, not a regular file" "$S/ok.yaml" --env-file "$S/fifo"
bad_both "--env-file /dev/zero: \`/dev/zero\` is a character device" "$S/ok.yaml" --env-file /dev/zero

step "values create refuses are refused by spec --from too, at their line"
mkdir "$S/a,b" "$S/c:d"
for v in / a,b/p c:d/p; do
  printf 'rootfs: rootfs\noverlay: "persistent:%s"\n' "$v" >"$S/overlay.yaml"
  shown=$S/$v
  [[ "$v" == / ]] && shown=/
  bad_both "$S/overlay.yaml:2:10: overlay: \`persistent:${shown%/}" "$S/overlay.yaml"
done
expect_contains "$err" "must not contain \`,\` or \`:\`" "the reason"
for t in / // /x/..; do
  printf 'rootfs: rootfs\nmounts: [{type: tmpfs, target: "%s"}]\n' "$t" >"$S/target.yaml"
  bad_both "$S/target.yaml:2:32: mounts[0].target: cannot mount over the container's root \`/\`" "$S/target.yaml"
done
bad_both "-v .:/x/..: cannot mount over the container's root" "$S/ok.yaml" -v .:/x/..

step "a second YAML document is an error naming its line"
printf 'rootfs: rootfs\ncommand: [/bin/true]\n---\nrootfs: other\n' >"$S/two.yaml"
bad_both "$S/two.yaml:4:1: a second YAML document (after a \`---\` line)" "$S/two.yaml"

step "a NUL byte in args or env is an error naming the key"
printf 'rootfs: rootfs\ncommand: [/bin/echo, "a\\0b"]\n' >"$S/nul-arg.yaml"
bad_both "$S/nul-arg.yaml:2:22: command[1]: contains a NUL byte (\\0)" "$S/nul-arg.yaml"
printf 'rootfs: rootfs\nenv: {GREETING: "hi\\0there"}\n' >"$S/nul-env.yaml"
bad_both "$S/nul-env.yaml:2:17: env.GREETING: contains a NUL byte (\\0)" "$S/nul-env.yaml"
printf 'A=1\nB=x\0y\n' >"$S/nul.env"
bad_both "--env-file $S/nul.env:2: contains a NUL byte (\\0)" "$S/ok.yaml" --env-file "$S/nul.env"

step "100k levels of nesting: one line saying so, no crash"
n=100000
printf 'rootfs: rootfs\nenv: %s%s\n' "$(printf '%*s' $n '' | tr ' ' '[')" "$(printf '%*s' $n '' | tr ' ' ']')" >"$S/deep.yaml"
bad_both "$S/deep.yaml:2:" "$S/deep.yaml"
expect_contains "$err" "invalid YAML: lists and mappings nested too deeply" "the reason"
printf 'rootfs: rootfs\nenv: %s1%s\n' "$(printf '%*s' $n '' | sed 's/ /{a: /g')" "$(printf '%*s' $n '' | tr ' ' '}')" \
  >"$S/deep.yaml"
bad_both "invalid YAML: lists and mappings nested too deeply" "$S/deep.yaml"

step "control bytes from the file are shown escaped, not sent to the terminal"
printf 'rootfs: rootfs\n"\\e]0;pwned\\a": 1\n' >"$S/esc-key.yaml"
bad_both "$S/esc-key.yaml:2:1: \\x1b]0;pwned\\x07: unknown key" "$S/esc-key.yaml"
printf 'rootfs: rootfs\nnetwork: "\\e[31mred"\n' >"$S/esc-value.yaml"
bad_both "network: invalid value \"\\x1b[31mred\"" "$S/esc-value.yaml"
[[ "$err" != *$'\e'* ]] || fail "a raw ESC on stderr: $err"

step "a 40k-entry env: translates in linear time"
{
  echo "rootfs: rootfs"
  echo "env:"
  for ((i = 0; i < 40000; i++)); do echo "  V$i: x$i"; done
} >"$S/env.yaml"
mkdir "$WORK/spec-env"
start=$(date +%s%N)
expect_ok timeout 20 "$RRUN_BIN" spec --from "$S/env.yaml" -b "$WORK/spec-env" -e V7=last
ms=$((($(date +%s%N) - start) / 1000000))
echo "spec --from of 40000 env entries: $ms ms"
((ms < 5000)) || fail "spec --from of 40000 env entries took $ms ms (quadratic?)"
expect_eq "$(jq '.process.env | length' "$WORK/spec-env/config.json")" 40002 "PATH, TERM and 40000 entries"
expect_eq "$(jq -r '.process.env[] | select(startswith("V7="))' "$WORK/spec-env/config.json")" "V7=last" \
  "the later entry of a name wins, in place"

assert_no_leftovers
echo "PASS"
