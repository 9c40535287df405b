#!/usr/bin/env bash
# criu-vm.sh — `checkpoint` and `restore` as root in the test VM (CTest:
# vm.criu, label criu): fetches and unpacks Debian's criu once
# (build-criu.sh, cached in RRUN_VM_DIR/criu), then boots the VM of
# run-in-vm.sh (its kernel image and the modules CRIU needs are cached by
# build-image.sh) with test/vm/criu-suite.sh. RRUN_BIN and RRUN_PROBE as for
# run-in-vm.sh; RRUN_RECVTTY, the console-socket receiver of the terminal
# scenario. Exit status: the suite's; 77 when something cannot be had.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
vmdir=${RRUN_VM_DIR:-$src/build/vm}
mkdir -p "$vmdir"
vmdir=$(cd "$vmdir" && pwd)
export RRUN_VM_DIR=$vmdir
"$here/build-criu.sh" "$vmdir/criu"
exec "$here/run-in-vm.sh" "$here/criu-suite.sh" "$vmdir"
