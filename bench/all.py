#!/usr/bin/env python
"""Run every benchmark, one after another, as BENCHMARKS.md describes (about 45 minutes with
the defaults; --quick for a smaller, faster pass). Each prints its own figures.

    .venv/bin/python bench/all.py
    .venv/bin/python bench/all.py --quick
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

FULL = [
    ["icmp_vs_fping.py", "--rounds", "9"],
    ["monitors_scale.py", "--database", "sqlite", "--monitors", "10000", "--seconds", "300"],
    ["monitors_scale.py", "--database", "postgres", "--monitors", "10000", "--seconds", "300"],
    ["ping_history.py"],
    ["monitor_history.py"],
    ["api_load.py"],
    ["api_profile.py"],
    ["soak.py"],
]
QUICK = [
    ["icmp_vs_fping.py", "--rounds", "3"],
    ["monitors_scale.py", "--database", "postgres", "--monitors", "2000", "--seconds", "60"],
    ["ping_history.py", "--large", "200000", "--repeat", "5"],
    ["monitor_history.py", "--background", "10", "--repeat", "5"],
    ["api_load.py", "--seconds", "5"],
    ["api_profile.py", "--requests", "200", "--rounds", "3"],
    ["soak.py", "--minutes", "2"],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    for command in QUICK if args.quick else FULL:
        print(f"\n=== bench/{' '.join(command)} ===", flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(BENCH / command[0]), *command[1:]])
        print(f"--- {time.monotonic() - started:.0f} s, exit {done.returncode}", flush=True)
        if done.returncode:
            failed.append(command[0])
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
