#!/usr/bin/env python3
"""order-symbols.py BINARY TRACE... : the functions of BINARY that the traces
(steptrace output: `P OFFSET` or `C OFFSET`, hex, in order of first
execution by the process started or by a process it created) executed, one
mangled name per line: first those the started process executed, in order of
first execution across the traces given, then those only its children (the
container's init, exec's child) executed. Each process maps the pages of the
code it runs: kept apart, the long-lived rrun parent, whose peak RSS the
benchmark measures, does not map the init's code.
BINARY must have its symbol table (not stripped) and be the binary traced."""
import bisect
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: order-symbols.py BINARY TRACE...")
    nm = subprocess.run(["nm", "--defined-only", "-S", sys.argv[1]],
                        check=True, capture_output=True, text=True).stdout
    syms = []
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    syms.sort()
    starts = [s[0] for s in syms]
    order = {"P": [], "C": []}
    seen = set()
    for who in "PC":
        for trace in sys.argv[2:]:
            with open(trace) as f:
                for line in f:
                    kind, off = line.split()
                    if kind != who:
                        continue
                    ip = int(off, 16)
                    i = bisect.bisect_right(starts, ip) - 1
                    if i < 0 or ip >= syms[i][0] + syms[i][1]:
                        continue
                    name = syms[i][2]
                    if name not in seen:
                        seen.add(name)
                        order[who].append(name)
    print("\n".join(order["P"] + order["C"]))


main()
