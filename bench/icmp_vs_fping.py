#!/usr/bin/env python
"""Benchmark (not a test): the portal's ICMP engine against fping on the same targets.

    .venv/bin/python bench/icmp_vs_fping.py                    # 10,000 addresses, 5 rounds
    .venv/bin/python bench/icmp_vs_fping.py --targets 20000 --rounds 3

Both send one echo to each of N distinct 127.x.y.z addresses (all answered by the loopback
interface, so nothing leaves the machine): the engine as a monitor batch runs it (one socket,
select-driven receive) in this process, fping as `fping -c1 -q -i0 -f <file>`. fping's `-i0`
turns its pacing off (by default it waits 10 ms between targets), so the engine runs with its
pacing off too (`max_send_rate=0`): that is the ratio. The engine at its default pacing (at
most 100,000 echoes a second, a cap no monitor batch comes near) is measured alongside, since
on a machine where both are faster than that the cap, not the engine, sets its figure.
They alternate for `--rounds` rounds; printed per tool: the median wall time, pings per second,
CPU seconds (this process's for the engine, the child's for fping) and echoes lost, then the
ratios. Needs root (raw sockets) and Debian's fping.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def addresses(count: int) -> list[str]:
    """`count` distinct loopback addresses, 127.1.0.1 onwards (never 127.0.0.x)."""
    return [f"127.{1 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}" for i in range(count)]


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_engine(targets: list[str], max_send_rate: float = 0) -> tuple[float, float, int, int]:
    from monitors.engine import Engine, Probe

    engine = Engine(max_send_rate=max_send_rate)
    try:
        probes = [Probe(key=i, host=a, count=1, timeout=2.0) for i, a in enumerate(targets)]
        cpu0, t0 = cpu(resource.RUSAGE_SELF), time.perf_counter()
        results = engine.run(probes)
        wall, used = time.perf_counter() - t0, cpu(resource.RUSAGE_SELF) - cpu0
    finally:
        engine.close()
    sent = sum(r.sent for r in results.values())
    lost = sum(r.sent - r.received for r in results.values())
    errors = sum(bool(r.error) for r in results.values())
    assert sent == len(targets) and not errors, (sent, errors)
    return wall, used, lost, sent


def run_fping(targets: list[str], fping: str, listing: Path) -> tuple[float, float, int, int]:
    cpu0, t0 = cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(
        [fping, "-c1", "-q", "-i0", "-f", str(listing)], capture_output=True, text=True
    )
    wall, used = time.perf_counter() - t0, cpu(resource.RUSAGE_CHILDREN) - cpu0
    # -q -c: one summary line per target on stderr, "addr : xmt/rcv/%loss = 1/1/0%, ..."
    counts = re.findall(r"xmt/rcv/%loss = (\d+)/(\d+)/", done.stderr)
    sent = sum(int(x) for x, _ in counts)
    lost = sum(int(x) - int(r) for x, r in counts)
    assert len(counts) == len(targets), done.stderr[-500:]
    return wall, used, lost, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    fping = shutil.which("fping")
    if fping is None:
        sys.exit("fping is not installed: apt-get install fping")
    if os.geteuid() != 0:
        sys.exit("run as root: both tools need raw ICMP sockets for this comparison")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    targets = addresses(args.targets)
    runs: dict[str, list[tuple[float, float, int, int]]] = {
        "engine": [],
        "fping": [],
        "engine, paced": [],
    }
    from monitors.engine import Engine

    default_rate = inspect.signature(Engine).parameters["max_send_rate"].default
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(targets) + "\n")
        listing.flush()
        run_engine(targets[:500])  # warm-up: imports, sockets
        for _ in range(args.rounds):
            runs["engine"].append(run_engine(targets))
            runs["fping"].append(run_fping(targets, fping, Path(listing.name)))
            runs["engine, paced"].append(run_engine(targets, default_rate))
    print(f"{args.targets:,} distinct 127.x.y.z addresses, one echo each, {args.rounds} rounds")
    print(f"{'tool':14} {'wall s (median)':>16} {'pings/s':>10} {'CPU s':>8} {'lost':>6}")
    summary = {}
    for tool, rows in runs.items():
        wall = statistics.median(r[0] for r in rows)
        used = statistics.median(r[1] for r in rows)
        lost = sum(r[2] for r in rows)
        rate = args.targets / wall
        summary[tool] = (rate, used)
        print(f"{tool:14} {wall:16.3f} {rate:10,.0f} {used:8.3f} {lost:6}")
    for tool in ("engine", "engine, paced"):
        ratio = summary[tool][0] / summary["fping"][0]
        cpu_ratio = summary[tool][1] / summary["fping"][1] if summary["fping"][1] else 0
        how = "unpaced, as fping -i0" if tool == "engine" else f"paced at {default_rate:,.0f}/s"
        print(f"engine ({how}) / fping: throughput {ratio:.2f} x, CPU {cpu_ratio:.2f} x")


if __name__ == "__main__":
    main()
