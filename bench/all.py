#!/usr/bin/env python
"""Run every benchmark, one after another, as BENCHMARKS.md describes (about 2 hours with
the defaults, most of it loading 20,000,000 checks and the 10-minute scale run with fping's
after it; --quick for a smaller, faster pass). Each prints its own figures.

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
    # Issue 7's scale bar: 100,000 monitors at 60 s (+ 1,000 at 5 s) for 10 minutes on
    # PostgreSQL, then fping over the same targets for as long; SQLite's own bar, 20,000.
    ["monitors_scale.py", "--database", "postgres", "--monitors", "100000", "--seconds", "600"],
    ["monitors_scale.py", "--database", "sqlite", "--monitors", "20000", "--seconds", "120"],
    ["batch_profile.py"],
    ["ping_history.py"],
    ["monitor_history.py"],
    ["history_scale.py"],
    ["api_load.py"],
    ["api_load.py", "--churn", "200"],
    ["api_load.py", "--redis"],
    ["api_profile.py"],
    ["soak.py"],
]
QUICK = [
    ["icmp_vs_fping.py", "--rounds", "3"],
    ["monitors_scale.py", "--database", "postgres", "--monitors", "2000", "--seconds", "60"],
    ["batch_profile.py", "--monitors", "2000", "--batches", "5"],
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
