#!/usr/bin/env bash
# load-criu-modules.sh DIR — in a test VM, as root: loads the kernel modules
# `criu check` probes for, kept by build-image.sh in DIR (criu-modules/:
# the .ko files and modules.order), with busybox insmod in their order (the
# guests' kernel is build-image.sh's; its modules are in no guest's
# /lib/modules). A module that does not load and is not loaded already is
# named on stderr. Used by criu-suite.sh and systemd-suite.sh.
# Exit status: 1 when DIR has no modules.order, else 0.
set -uo pipefail
mods=${1:?usage: load-criu-modules.sh DIR}
[[ -f "$mods/modules.order" ]] || exit 1
while read -r m; do
  [[ -n "$m" ]] || continue
  /bin/busybox insmod "$mods/$m.ko" 2>/dev/null || grep -q "^$m " /proc/modules ||
    echo "load-criu-modules: could not load the module $m" >&2
done <"$mods/modules.order"
exit 0
