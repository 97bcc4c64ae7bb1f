#!/usr/bin/env python3
"""Runs the seal/open benchmark several times and prints median throughput ratios.

The machine is shared, so one run can be skewed by whatever else runs at that moment.
Each run measures ours and the reference in the same criterion group; this script repeats
the run and reports, per case, the median over runs of (reference time / our time), which
is our throughput as a fraction of the reference's.

Usage, from the workspace root: python3 bee-crypto/benches/ratios.py [runs]
"""

import json
import pathlib
import statistics
import subprocess
import sys

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
COMMAND = [
    "cargo", "bench", "-p", "bee-crypto", "--bench", "seal", "--",
    "--warm-up-time", "1", "--measurement-time", "3",
]
ROOT = pathlib.Path("target/criterion")
REFERENCE = "raw xchacha20poly1305"


def median_time(group: str, function: str) -> float:
    path = ROOT / group / function / "new" / "estimates.json"
    return json.loads(path.read_text())["median"]["point_estimate"]


def main() -> None:
    ratios: dict[tuple[str, str], list[float]] = {}
    times: dict[tuple[str, str], list[float]] = {}
    for run in range(RUNS):
        print(f"run {run + 1} of {RUNS}: {' '.join(COMMAND)}", flush=True)
        subprocess.run(COMMAND, check=True, stdout=subprocess.DEVNULL)
        for group_dir in sorted(ROOT.glob("*_*")):
            group = group_dir.name
            functions = [p.name for p in group_dir.iterdir() if (p / "new").is_dir()]
            if REFERENCE not in functions:
                continue
            reference = median_time(group, REFERENCE)
            for function in functions:
                ours = median_time(group, function)
                ratios.setdefault((group, function), []).append(reference / ours)
                times.setdefault((group, function), []).append(ours)
    print("| case | ours (median ns) | ratio runs | median ratio |")
    print("|---|---|---|---|")
    for (group, function), values in sorted(ratios.items()):
        runs = ", ".join(f"{v:.2f}" for v in values)
        ns = statistics.median(times[(group, function)])
        print(f"| {group} {function} | {ns:.0f} | {runs} | {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main()
