#!/usr/bin/env python
"""Benchmark (not a test): is a monitor's history as fast with 20,000,000 stored checks as with
100,000? Two PostgreSQL databases side by side, the same requests, p95 server time and ratio.

    .venv/bin/python bench/history_scale.py                    # loads both, then measures
    .venv/bin/python bench/history_scale.py --reuse            # measure databases loaded before
    .venv/bin/python bench/history_scale.py --big 2000000      # a smaller "big" database

The loader fills `bench_history_small` (--small raw checks, 100,000 by default) and
`bench_history_big` (--big, 20,000,000). Each holds a "target" monitor with a year of history as
retention leaves it (raw checks at one a minute for 30 days, minute rollups for 14 days, hour
rollups for 400, day rollups for the year) and as many background monitors with the same kind of
history as it takes to reach the raw total, all through the schema the migrations make (every
index and constraint in place). Then, for the target monitor in each database, in a process of
its own, Django's test client asks for the monitor page, the chart JSON for 24 h, 30 d and 1 y,
and check-history, and the script prints p50 / p95 server time, big / small ratio of p95s, and
bytes per stored check (table plus indexes divided by rows).
Bars (issue 7): p95 ≤ 150 ms on the big database and ≤ 1.5 times the small database's p95.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RAW_PER_MONITOR = 30 * 1440  # what 30 days of retention keeps at one check a minute
REQUESTS = {
    "monitor page (24h chart, uptime)": "/monitors/{}/",
    "chart JSON 24h": "/api/icmp-monitors/{}/chart?range=24h",
    "chart JSON 30d": "/api/icmp-monitors/{}/chart?range=30d",
    "chart JSON 1y": "/api/icmp-monitors/{}/chart?range=1y",
    "check-history (limit 50)": "/api/icmp-monitors/{}/check-history?limit=50",
}


def use_database(name: str, scratch: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        VAR_DIR=scratch,
        DEBUG="true",
        LOG_LEVEL="WARNING",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}",
    )
    import django

    django.setup()


def load(name: str, raw_total: int, scratch: str) -> None:
    """A fresh database `name` with about `raw_total` raw checks, printed as it goes."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    use_database(name, scratch)
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.monitor_history import load_one, migrate_and_make_tenant
    from monitors.models import Monitor

    customer, _user, location = migrate_and_make_tenant()
    now = timezone.now().replace(second=0, microsecond=0)
    started = time.monotonic()
    loaded, index = 0, 0
    while loaded < raw_total:
        # The target first, then background monitors, each with a year of rollups; the last
        # one's raw checks are cut short to land near the total.
        raw_days = max(1, min(30, (raw_total - loaded) // 1440))
        monitor = Monitor.objects.create(
            customer=customer,
            name="target" if index == 0 else f"background {index}",
            hostname="127.0.0.1",
            check_interval_seconds=60,
        )
        with transaction.atomic(), connection.cursor() as cursor:
            load_one(cursor, monitor.pk, location.pk, now, 365, raw_days=raw_days)
        loaded += raw_days * 1440
        index += 1
        if index % 25 == 0:
            rate = loaded / (time.monotonic() - started)
            print(f"  {name}: {loaded:,} raw checks ({rate:,.0f}/s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"  {name}: {loaded:,} raw checks, {index} monitors in {time.monotonic() - started:.0f} s"
    )


def measure(name: str, repeat: int, scratch: str) -> dict:
    use_database(name, scratch)
    from django.db import connection
    from django.test import Client

    from bench.monitor_history import timed
    from monitors.models import Monitor
    from portal.models import User

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM monitors_checkresult), "
            "(SELECT count(*) FROM monitors_rollup), "
            "pg_total_relation_size('monitors_checkresult'), "
            "pg_total_relation_size('monitors_rollup')"
        )
        checks, rollups, check_bytes, rollup_bytes = cursor.fetchone()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench"))
    target = Monitor.objects.get(name="target").public_id
    times = {}
    for label, url in REQUESTS.items():
        timed(client, url.format(target), 3)  # warm caches and connections
        p50, p95, queries, _response = timed(client, url.format(target), repeat)
        times[label] = {"p50": p50, "p95": p95, "queries": queries}
    return {
        "checks": checks,
        "rollups": rollups,
        "bytes_per_check": check_bytes / max(checks, 1),
        "rollup_bytes_per_check": rollup_bytes / max(checks, 1),
        "times": times,
    }


def child(args: list[str]) -> dict | None:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    last = out.strip().splitlines()[-1] if out.strip() else ""
    return json.loads(last) if last.startswith("{") else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=20_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure databases already loaded")
    parser.add_argument("--load", nargs=2, metavar=("DB", "RAW"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp()
    if args.load:  # a child process: one database per process, as Django wants
        load(args.load[0], int(args.load[1]), scratch)
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat, scratch)))
        return
    if not args.reuse:
        for name, raw in (("bench_history_small", args.small), ("bench_history_big", args.big)):
            print(f"loading {name} ({raw:,} raw checks)...", flush=True)
            subprocess.run([sys.executable, __file__, "--load", name, str(raw)], check=True)
    small = child(["--measure", "bench_history_small", "--repeat", str(args.repeat)])
    big = child(["--measure", "bench_history_big", "--repeat", str(args.repeat)])
    print(
        f"\nsmall: {small['checks']:,} raw checks, {small['rollups']:,} rollup rows; "
        f"big: {big['checks']:,} raw checks, {big['rollups']:,} rollup rows"
    )
    print(
        f"storage per stored check (table + indexes): {big['bytes_per_check']:.0f} bytes raw, "
        f"plus {big['rollup_bytes_per_check']:.0f} bytes of rollups per check (big database)"
    )
    print(
        f"\n{'request (target monitor)':34} {'small p50/p95 ms':>17} {'big p50/p95 ms':>17} "
        f"{'queries':>8} {'ratio p95':>9}  bar"
    )
    for label in REQUESTS:
        s, b = small["times"][label], big["times"][label]
        ratio = b["p95"] / s["p95"]
        ok = b["p95"] <= 150 and ratio <= 1.5
        print(
            f"{label:34} {s['p50']:7.1f} / {s['p95']:6.1f}  {b['p50']:7.1f} / {b['p95']:6.1f}  "
            f"{b['queries']:>7} {ratio:>9.2f}  {'met' if ok else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
