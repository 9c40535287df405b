#!/usr/bin/env bash
# `rrun features`: the runtime-spec features.md document, as runc prints it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

step "valid JSON, pretty-printed with runc's four-space indent"
expect_ok rr features
doc=$out
jq -e . <<<"$doc" >/dev/null || fail "features is not JSON: $doc"
expect_eq "$(sed -n 2p <<<"$doc")" '    "ociVersionMin": "1.0.0",' "second line"

# check FILTER WHAT: FILTER must be true on the document.
check() { jq -e "$1" <<<"$doc" >/dev/null || fail "features: not true: $2 (jq: $1)"; }

step "versions, hooks, mount options"
spec_version=$("$RRUN_BIN" --version | sed -n 's/^spec: //p')
check ".ociVersionMax == \"$spec_version\"" "ociVersionMax is rrun's spec version"
check '.hooks == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]' "hooks"
check '.mountOptions | (index("rro") != null) and (index("rbind") != null) and (index("rnosymfollow") != null) and (index("idmap") != null)' "mount options"
check '.mountOptions | index("tmpcopyup") != null' "tmpcopyup is listed"
check '.mountOptions == (.mountOptions | sort)' "mount options sorted"

step "linux"
check '.linux.namespaces == ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]' "namespaces"
check '.linux.capabilities | (.[0] == "CAP_CHOWN") and (index("CAP_SYS_ADMIN") != null) and (length >= 38)' "capabilities"
check '.linux.cgroup == {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true}' "cgroup"
check '.linux.seccomp.enabled and (.linux.seccomp.actions | index("SCMP_ACT_NOTIFY") != null)' "seccomp actions"
check '.linux.seccomp.operators | length == 7' "seccomp operators"
check '.linux.seccomp as $s | all($s.supportedFlags[]; . as $f | $s.knownFlags | index($f) != null)' "supportedFlags within knownFlags"
if [[ "$(uname -m)" == x86_64 ]]; then check '.linux.seccomp.archs | index("SCMP_ARCH_X86_64") != null' "archs"; fi
check '.linux.apparmor.enabled == false and .linux.selinux.enabled == false and .linux.intelRdt.enabled == false' "LSMs and RDT"
check '.annotations["io.github.seccomp.libseccomp.version"] | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")' "libseccomp version"

step "mountExtensions.idmap is what the probe found ($RRUN_TEST_MODE)"
idmap=$(jq -r '.linux.mountExtensions.idmap.enabled' <<<"$doc")
expect_ok rr doctor --format json
doctor_idmap=$(jq -r '.checks[] | select(.name == "idmapped_mounts") | .detail | startswith("mount_setattr(MOUNT_ATTR_IDMAP) works")' <<<"$out")
expect_eq "$idmap" "$doctor_idmap" "features idmap vs doctor"
if [[ "$RRUN_TEST_MODE" == rootless ]]; then
  # The kernel lets only root idmap a host file system.
  expect_eq "$idmap" false "idmap enabled rootless"
fi

step "every key runc's features prints, rrun prints too (where runc is installed)"
if command -v runc >/dev/null; then
  runc_doc=$(runc features)
  keys='[paths | select(all(.[]; type == "string")) | join(".") | select(startswith("annotations.") | not)]'
  missing=$(jq -nc --argjson a "$(jq -c "$keys" <<<"$doc")" --argjson b "$(jq -c "$keys" <<<"$runc_doc")" '$b - $a')
  expect_eq "$missing" "[]" "keys of runc's features missing from rrun's"
  expect_eq "$(jq -c .hooks <<<"$doc")" "$(jq -c .hooks <<<"$runc_doc")" "hooks as runc"
  expect_eq "$(jq -c .linux.seccomp.operators <<<"$doc")" "$(jq -c .linux.seccomp.operators <<<"$runc_doc")" "operators as runc"
else
  echo "runc is not installed; comparison skipped"
fi

step "no arguments"
expect_fail_with 'features: takes no arguments, got "x"' -- rr features x
assert_no_leftovers
