#!/usr/bin/env python3
"""Runs the seal/open benchmark several times and prints the median paired ratios.

The machine is shared, so load changes between criterion cases. The benchmark therefore
interleaves the reference and ours in small blocks and prints, per group, a line
`paired <group>: keyring <r>, subject <r>`: our throughput as a fraction of raw
XChaCha20-Poly1305's over the same interleaved blocks. This script repeats the run and
reports those ratios per run, their median, and criterion's median time of each case.

Usage, from the workspace root: python3 bee-crypto/benches/ratios.py [runs]
"""

import json
import pathlib
import re
import statistics
import subprocess
import sys

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
COMMAND = [
    "cargo", "bench", "-p", "bee-crypto", "--bench", "seal", "--",
    "--warm-up-time", "1", "--measurement-time", "3",
]
ROOT = pathlib.Path("target/criterion")
PAIRED = re.compile(r"^paired (\S+) (\S+): keyring ([0-9.]+), subject ([0-9.]+)$")


def median_ns(group: str, function: str) -> float:
    path = ROOT / group.replace("/", "_") / function / "new" / "estimates.json"
    return json.loads(path.read_text())["median"]["point_estimate"]


def main() -> None:
    ratios: dict[tuple[str, str], list[float]] = {}
    times: dict[tuple[str, str], list[float]] = {}
    for run in range(RUNS):
        print(f"run {run + 1} of {RUNS}: {' '.join(COMMAND)}", flush=True)
        out = subprocess.run(COMMAND, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            match = PAIRED.match(line.strip())
            if not match:
                continue
            group = f"{match[1]} {match[2]}"
            for name, value in (("keyring", match[3]), ("subject, cached key", match[4])):
                ratios.setdefault((group, name), []).append(float(value))
            for function in ("raw xchacha20poly1305", "keyring", "subject, cached key"):
                ns = median_ns(group, function)
                times.setdefault((group, function), []).append(ns)
    print("| case | criterion median time (median of runs) | paired ratio per run | median |")
    print("|---|---|---|---|")
    for (group, function), values in sorted(ratios.items()):
        runs = ", ".join(f"{v:.2f}" for v in values)
        ours = statistics.median(times[(group, function)])
        raw = statistics.median(times[(group, "raw xchacha20poly1305")])
        print(f"| {group} {function} | {ours:.0f} ns (raw {raw:.0f} ns) | {runs} "
              f"| {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main()
