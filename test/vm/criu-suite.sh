#!/usr/bin/env bash
# criu-suite.sh VMDIR — in the test VM, as root: makes CRIU work (Debian's
# criu unpacked by build-criu.sh into VMDIR/criu/root, copied over the
# guest's /, which is a tmpfs overlay of the host's; the kernel modules
# `criu check` needs, from VMDIR/image/criu-modules, loaded with busybox
# insmod in their order), checks `criu check`, and runs
# test/integration/criu_scenarios.sh as root. Started on the host by
# test/vm/criu-vm.sh (CTest: vm.criu). CRIU 3.17 cannot start on the hosts'
# newer kernels (`criu check`: vdso), hence the VM with Debian 12's 6.1.
# Exit status: the scenarios'; 77 when criu cannot run in the guest.
set -uo pipefail

vmdir=${1:?usage: criu-suite.sh VMDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
it=$(cd "$here/../integration" && pwd)
((EUID == 0)) || {
  echo "criu-suite: must run as root (inside the VM)" >&2
  exit 1
}
[[ -x "$vmdir/criu/root/usr/sbin/criu" ]] || {
  echo "SKIP: criu-suite: no $vmdir/criu/root/usr/sbin/criu (test/vm/build-criu.sh makes it)"
  exit 77
}
t0=$(date +%s.%N)
cp -a "$vmdir/criu/root/." / || exit 1
bash "$here/load-criu-modules.sh" "$vmdir/image/criu-modules"
if ! criu --version >/dev/null 2>&1; then
  echo "SKIP: criu-suite: criu does not start in the guest: $(criu --version 2>&1 | head -n 1)"
  exit 77
fi
check=$(criu check 2>&1)
if [[ "$check" != *"Looks good"* ]]; then
  echo "criu-suite: criu check fails in the guest:" >&2
  echo "$check" >&2
  exit 1
fi
t1=$(date +%s.%N)
status=0
RRUN_TEST_MODE=root bash "$it/criu_scenarios.sh" || status=$?
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "criu-suite: criu set up and checked in %.1f s; scenarios %.1f s\n", b - a, c - b }'
exit "$status"
