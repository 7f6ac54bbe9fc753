#!/usr/bin/env python
"""Benchmark (not a test): where a check batch's time goes, in-process, on PostgreSQL.

    .venv/bin/python bench/batch_profile.py                  # 20 batches of 500 checks
    .venv/bin/python bench/batch_profile.py --profile 25     # and cProfile's costliest calls

It makes a scratch database `bench_batch_profile` with `--monitors` monitors on their own
127.x.y.z addresses (one echo per check, as bench/monitors_scale.py), then runs the task a
worker runs for a batch (`monitors.tasks.run_checks`, the real engine, slots due now) on
consecutive slices of them, one minute apart as the scheduler would hand them out, and prints
per batch: wall time, this process's CPU and the PostgreSQL backend's CPU (from /proc),
median over the batches, per check.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "bench_batch_profile"


def setup_django(scratch: Path) -> None:
    from bench.monitor_history import setup_django as on_new_database

    on_new_database(scratch, DATABASE)
    from django.conf import settings

    settings.DEBUG = False  # as in production: no query log


def load(count: int) -> list[int]:
    from django.core.management import call_command

    from bench.monitors_scale import host_of
    from monitors.models import Location, Monitor
    from portal.models import Customer, Organization

    call_command("migrate", verbosity=0)
    Location.default()
    org = Organization.objects.create(name="Bench", slug="bench")
    customer = Customer.objects.create(organization=org, name="Bench customer")
    Monitor.objects.bulk_create(
        [
            Monitor(
                customer=customer,
                organization=org,
                name=f"m{i}",
                hostname=host_of(i + 1),
                check_interval_seconds=60,
                timeout_seconds=5,
                config={"packetSize": 56, "count": 1},
            )
            for i in range(count)
        ],
        batch_size=5000,
    )
    return list(Monitor.objects.order_by("pk").values_list("pk", flat=True))


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend."""
    from django.db import connection

    from bench.monitors_scale import process_cpu_seconds

    connection.ensure_connection()
    return process_cpu_seconds(connection.connection.info.backend_pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--profile", type=int, default=0, help="print N costliest calls")
    args = parser.parse_args()
    setup_django(Path(tempfile.mkdtemp(prefix="bench-batch-")))
    ids = load(args.monitors)
    from django.utils import timezone

    from monitors.models import Location
    from monitors.tasks import run_checks

    location = Location.default()
    profiler = cProfile.Profile() if args.profile else None
    figures = []
    # Rounds over the monitors are a minute apart, the last one due now (slots in the past:
    # the engine would wait for a slot still to come).
    per_round = max(1, len(ids) // args.size)
    start = timezone.now() - timedelta(minutes=(args.batches - 1) // per_round)
    for n in range(args.batches):
        first = (n * args.size) % len(ids)
        chunk = ids[first : first + args.size]
        due = (start + timedelta(minutes=n // per_round)).isoformat()
        batch = [(m, due, 0) for m in chunk]
        backend, cpu, wall = backend_cpu(), time.process_time(), time.perf_counter()
        if profiler and n:  # the first batch pays for imports and the engine's sockets
            profiler.enable()
        run_checks(location.pk, batch)
        if profiler:
            profiler.disable()
        figures.append(
            (
                time.perf_counter() - wall,
                time.process_time() - cpu,
                backend_cpu() - backend,
            )
        )
    steady = figures[1:] or figures
    wall, cpu, pg = (statistics.median(f[i] for f in steady) for i in range(3))
    print(
        f"{args.size}-check batch (median of {len(steady)}): wall {wall * 1000:.0f} ms, "
        f"CPU {cpu * 1000:.0f} ms here + {pg * 1000:.0f} ms PostgreSQL; per check "
        f"{wall / args.size * 1e6:.0f} us wall, {cpu / args.size * 1e6:.0f} us CPU, "
        f"{pg / args.size * 1e6:.0f} us PostgreSQL"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
