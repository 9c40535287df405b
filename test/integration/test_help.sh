#!/usr/bin/env bash
# rrun about itself (issue 17): `rrun help [COMMAND]`, `help --man`,
# `completion bash|zsh|fish` (bash completes a command, a flag and a
# container ID of the --root on the line), `--version`, and commands that
# are not implemented saying so.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

step "help and help COMMAND are --help and COMMAND --help"
expect_ok rr --help
global_help=$out
expect_ok rr help
expect_eq "$out" "$global_help" "rrun help"
expect_contains "$out" "   completion   print a shell completion script"
expect_ok rr run --help
run_help=$out
expect_ok rr help run
expect_eq "$out" "$run_help" "rrun help run"
for section in NAME: USAGE: DESCRIPTION: OPTIONS: EXAMPLES: "EXIT STATUS:" "--bundle, -b value"; do
  expect_contains "$out" "$section" "rrun help run"
done
expect_fail_with 'help: unknown command "frobnicate"; see `rrun help`' -- rr help frobnicate
expect_fail_with 'help: expected at most 1 argument, got 2; usage: rrun help [flags] [command]' -- rr help run start

step "a command that is not implemented says so in help (and one that is does not)"
for cmd in checkpoint restore state; do
  run rr "$cmd" x
  cmd_err=$err
  expect_ok rr help "$cmd"
  if [[ "$cmd_err" == "rrun: $cmd: not implemented yet" ]]; then
    expect_contains "$out" "(not implemented yet)" "rrun help $cmd"
    expect_contains "$global_help" "(not implemented yet)" "rrun --help"
  else
    expect_not_contains "$out" "not implemented" "rrun help $cmd"
  fi
done

step "help --man DIR: one page per command, each renders"
expect_ok rr help --man "$WORK/man"
expect_eq "$out" "" "help --man output"
commands=$(sed -n '/^COMMANDS:/,/^$/p' <<<"$global_help" | awk 'NF {print $1}' | grep -v COMMANDS:)
for cmd in $commands; do
  [[ -f "$WORK/man/man1/rrun-$cmd.1" ]] || fail "no page for $cmd"
done
expect_eq "$(find "$WORK/man" -type f | wc -l)" "$(($(wc -w <<<"$commands") + 2))" "number of pages"
[[ -f "$WORK/man/man1/rrun.1" && -f "$WORK/man/man5/rrun-sandbox.5" ]] || fail "rrun.1 or rrun-sandbox.5 missing"
if command -v man >/dev/null; then
  text=$(MANWIDTH=80 man -l "$WORK/man/man1/rrun-run.1" 2>&1)
  expect_contains "$text" "--bundle" "man rrun-run"
  expect_contains "$(MANWIDTH=80 man -l "$WORK/man/man5/rrun-sandbox.5" 2>&1)" "capabilities" "man rrun-sandbox"
fi
expect_fail_with 'help: --man writes every page; leave out "run"' -- rr help --man "$WORK/man2" run
touch "$WORK/file"
expect_fail_with "help: write the man pages: create directory \`$WORK/file/man1\`: Not a directory" -- \
  rr help --man "$WORK/file"

step "completion: bash loads it and completes a command, a flag and a container ID"
expect_ok rr completion bash
printf '%s\n' "$out" >"$WORK/rrun.bash"
expect_eq "$(bash --norc -c 'source "$1" && complete -p rrun' bash "$WORK/rrun.bash")" "complete -F _rrun rrun" \
  "complete -p rrun"
# complete WORD...: the candidates bash offers for the last word.
complete_line() {
  bash --norc -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _rrun
    printf "%s\n" "${COMPREPLY[@]}"' bash "$WORK/rrun.bash" "$@"
}
expect_eq "$(complete_line "$RRUN_BIN" ru)" "run" "command"
expect_eq "$(complete_line "$RRUN_BIN" --root "$STATE_ROOT" comp)" "completion" "command after --root"
expect_eq "$(complete_line "$RRUN_BIN" run --bun)" "--bundle" "flag"
expect_eq "$(complete_line "$RRUN_BIN" --log-f)" "--log-format" "global flag"
expect_eq "$(complete_line "$RRUN_BIN" list --format "" | sort | tr '\n' ' ')" "json table " "flag values"
expect_eq "$(complete_line "$RRUN_BIN" completion "" | tr '\n' ' ')" "bash zsh fish " "shells"
expect_eq "$(complete_line "$RRUN_BIN" --log-format = "" | tr "\n" " ")" "text json " "global flag values after ="
B=$WORK/b
make_bundle "$B" true
expect_ok rr create -b "$B" help-c1 </dev/null
expect_eq "$(complete_line "$RRUN_BIN" --root "$STATE_ROOT" start help-)" "help-c1" "ID"
expect_eq "$(complete_line "$RRUN_BIN" --root "$STATE_ROOT" kill -a "")" "help-c1" "ID after a flag"
expect_eq "$(complete_line "$RRUN_BIN" --root = "$STATE_ROOT" state "")" "help-c1" "ID with --root=DIR"
expect_eq "$(complete_line "$RRUN_BIN" --root "$WORK/none" start "")" "" "ID of another root"

step "completion: zsh and fish scripts parse and complete an ID (where installed)"
# Both run `rrun` by the name typed: a PATH entry for it.
mkdir "$WORK/bin"
ln -s "$RRUN_BIN" "$WORK/bin/rrun"
# zsh outside a completion widget: words and CURRENT set by hand, compadd
# and _describe replaced by functions that print the candidates.
cat >"$WORK/complete.zsh" <<'EOF'
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }
_describe() { local -a arr; arr=("${(@P)4}"); print -l -- "${arr[@]%%:*}" }
_files() { print FILES }
source "$1" >/dev/null 2>&1
shift
words=("$@"); CURRENT=$#
_rrun
EOF
for shell in zsh fish; do
  expect_ok rr completion "$shell"
  printf '%s\n' "$out" >"$WORK/rrun.$shell"
  if ! command -v "$shell" >/dev/null; then
    echo "$shell is not installed; not checked"
    continue
  fi
  "$shell" -n "$WORK/rrun.$shell" || fail "$shell -n rejects the $shell completion"
  if [[ $shell == zsh ]]; then
    zsh_complete() { PATH=$WORK/bin:$PATH zsh -f "$WORK/complete.zsh" "$WORK/rrun.zsh" "$@"; }
    expect_eq "$(zsh_complete rrun ru | grep '^ru')" "run" "zsh command"
    expect_eq "$(zsh_complete rrun run --bu | grep -- '^--bu')" "--bundle" "zsh flag"
    got=$(zsh_complete rrun --root "$STATE_ROOT" start "")
  else
    fish_complete() { PATH=$WORK/bin:$PATH fish --no-config -c "source $WORK/rrun.fish; complete -C'$1'" | cut -f1; }
    expect_eq "$(fish_complete "rrun ru" | grep '^ru')" "run" "fish command"
    expect_eq "$(fish_complete "rrun run --bun")" "--bundle" "fish flag"
    got=$(fish_complete "rrun --root $STATE_ROOT start ")
  fi
  expect_eq "$got" "help-c1" "$shell ID"
done
expect_ok rr delete -f help-c1
expect_fail_with 'completion: unknown shell "tcsh"; use bash, zsh or fish' -- rr completion tcsh

step "--version: version, commit, spec, libseccomp, and what this build finds"
expect_ok rr --version
version=$out
expect_contains "$(head -1 <<<"$version")" "rrun version " "first line"
for key in commit spec libseccomp libsubid libsystemd criu; do
  grep -q "^$key: ." <<<"$version" || fail "--version has no '$key:' line: $version"
done
# ldconfig's listing is read whole first: `ldconfig -p | grep -q` under
# pipefail fails when grep stops reading at the match and ldconfig, still
# writing, dies of SIGPIPE (seen in CI: "found" read as "not found").
ld_cache=$(/sbin/ldconfig -p 2>/dev/null || true)
if [[ "$ld_cache" == *$'\t'"libsubid.so.4 "* ]]; then
  expect_contains "$version" "libsubid: found" "--version"
else
  expect_contains "$version" "libsubid: not found" "--version"
fi
if criu=$(PATH=$PATH:/usr/sbin command -v criu); then
  expect_contains "$version" "criu: $criu" "--version"
else
  expect_contains "$version" "criu: not found" "--version"
fi
expect_ok rr --criu /opt/criu/criu --version
expect_contains "$out" "criu: /opt/criu/criu" "--version with --criu"

assert_no_leftovers
