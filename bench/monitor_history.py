#!/usr/bin/env python
"""Benchmark (not a test): charts, uptime and the monitor page over a day of history and over a
year of it, side by side, on PostgreSQL.

    .venv/bin/python bench/monitor_history.py                  # 100 background monitors
    .venv/bin/python bench/monitor_history.py --background 20 --repeat 10

It makes a scratch database `bench_monitor_history`, then loads (one SQL statement per table):
"short", a monitor with one day of history; "long", one with a year of it — raw checks at one a
minute for the 30 days they are kept, minute rollups for 14 days, hour rollups for 400, day
rollups for 365 — and `--background` more monitors with the long one's history, so the tables
are big. It then asks, for both monitors, for the chart JSON and SVG of every range, the uptime
figures and the monitor page, and prints p50 / p95 server time (Django's test client in-process),
the queries and the points, and the long/short ratio. Last, it folds batches of 500 new results
into their rollups, the work each check batch now does, and prints the time per batch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "bench_monitor_history"


def setup_django(scratch: Path, database: str = DATABASE) -> None:
    """Django on a new, empty PostgreSQL database `database` (dropped first if it exists)."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {database}")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        VAR_DIR=str(scratch),
        DEBUG="true",
        LOG_LEVEL="WARNING",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
    )
    import django

    django.setup()


def migrate_and_make_tenant() -> tuple:
    """Migrate, then the organization, customer, read-only user and location every history
    benchmark uses: (customer, user, location)."""
    from django.core.management import call_command

    from monitors.models import Location
    from portal.models import Customer, Membership, Organization, Role, User

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Bench", slug="bench")
    customer = Customer.objects.create(organization=org, name="Bench customer")
    user = User.objects.create_user("bench", "b@example.test", "bench-password")
    Membership.objects.create(user=user, organization=org, role=Role.READONLY)
    return customer, user, Location.default()


def load(background: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from monitors.models import Monitor

    customer, user, location = migrate_and_make_tenant()

    def monitor(name: str) -> Monitor:
        return Monitor.objects.create(
            customer=customer, name=name, hostname="127.0.0.1", check_interval_seconds=60
        )

    short, long = monitor("short"), monitor("long")
    others = [monitor(f"background {i}") for i in range(background)]
    now = timezone.now().replace(second=0, microsecond=0)
    started = time.monotonic()
    with connection.cursor() as cursor:
        for m, days in [(short, 1), (long, 365)] + [(o, 365) for o in others]:
            load_one(cursor, m.pk, location.pk, now, days)
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT (SELECT count(*) FROM monitors_checkresult), "
            "(SELECT count(*) FROM monitors_rollup)"
        )
        checks, rollups = cursor.fetchone()
    return {
        "user": user,
        "short": short,
        "long": long,
        "checks": checks,
        "rollups": rollups,
        "load_s": time.monotonic() - started,
    }


def load_one(
    cursor, monitor_id: int, location_id: int, now, days: int, raw_days: int | None = None
) -> None:
    """`days` of history ending now, as the retention would have left it (raw checks for
    `raw_days` when given, else for as much of the 30 kept days as `days` covers)."""
    raw_minutes = (raw_days or min(days, 30)) * 1440
    cursor.execute(
        """
        INSERT INTO monitors_checkresult (monitor_id, location_id, due_at, sent_at, sent,
            received, loss_percent, rtt_min, rtt_avg, rtt_max, rtt_stddev, rtts, status,
            retrying, missed_slots, error, maintenance)
        SELECT %s, %s, %s - g * interval '1 minute', %s - g * interval '1 minute', 3,
            CASE WHEN g %% 997 = 0 THEN 0 ELSE 3 END, CASE WHEN g %% 997 = 0 THEN 100 ELSE 0 END,
            10, 11, 13, 1, '[10.0, 11.0, 13.0]'::jsonb,
            CASE WHEN g %% 997 = 0 THEN 'down' ELSE 'up' END, false, 0, '', false
        FROM generate_series(1, %s) AS g
        """,
        [monitor_id, location_id, now, now, raw_minutes],
    )
    for period, count in ((60, min(days, 14) * 1440), (3600, min(days, 400) * 24), (86400, days)):
        cursor.execute(
            """
            INSERT INTO monitors_rollup (monitor_id, period, start, checks, sent, received,
                errors, rtt_min, rtt_max, rtt_sum, rtt_p50, rtt_p90, histogram, up_seconds,
                degraded_seconds, down_seconds, maintenance_seconds)
            SELECT %(m)s, %(p)s,
                date_bin(%(p)s * interval '1 second', %(now)s, 'epoch')
                    - g * %(p)s * interval '1 second',
                %(p)s / 60, %(p)s / 20, %(p)s / 20 - CASE WHEN g %% 7 = 0 THEN 1 ELSE 0 END, 0,
                9.5 + random(), 14 + 3 * random(), (%(p)s / 20) * 11.0, 11 + random(),
                12.5 + random(), '{"282": 3}'::jsonb,
                %(p)s - CASE WHEN g %% 997 = 0 THEN 60 ELSE 0 END, 0,
                CASE WHEN g %% 997 = 0 THEN 60 ELSE 0 END, 0
            FROM generate_series(1, %(n)s) AS g
            """,
            {"m": monitor_id, "p": period, "now": now, "n": count},
        )


def timed(client, url: str, repeat: int) -> tuple[float, float, int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(queries), response


def measure(context: dict, repeat: int) -> None:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(context["user"])
    print(
        f"{'request':34} {'short p50/p95 ms':>18} {'long p50/p95 ms':>18} "
        f"{'queries':>8} {'points':>7} {'ratio p95':>9}"
    )
    rows = []
    for rng in ("1h", "24h", "7d", "30d", "1y"):
        rows.append((f"chart JSON {rng}", "/api/icmp-monitors/{}/chart?range=" + rng, True))
        rows.append((f"chart SVG {rng}", "/monitors/{}/chart.svg?range=" + rng, False))
    rows.append(("uptime (24h, 7d, 30d, 90d)", "/api/icmp-monitors/{}/uptime", False))
    rows.append(("monitor page (24h chart, uptime)", "/monitors/{}/", False))
    long_by_name = {}
    for name, url, is_json in rows:
        short = timed(client, url.format(context["short"].public_id), repeat)
        long = timed(client, url.format(context["long"].public_id), repeat)
        points = len(long[3].json()["points"]) if is_json else ""
        long_by_name[name] = long
        print(
            f"{name:34} {short[0]:8.1f} / {short[1]:6.1f}  {long[0]:8.1f} / {long[1]:6.1f}  "
            f"{long[2]:>7} {points:>7} {long[1] / short[1]:>9.2f}"
        )
    year, hour = long_by_name["chart SVG 1y"], long_by_name["chart SVG 1h"]
    print(f"\nlong monitor: 1-year SVG p95 / 1-hour SVG p95 = {year[1] / hour[1]:.2f}")


def fold_batches(context: dict, batches: int = 20, size: int = 500) -> None:
    """What rollups add to each check batch: 500 results folded into minute/hour/day rows."""
    from django.utils import timezone

    from monitors import rollups
    from monitors.models import CheckResult, Location, Monitor

    monitors = list(Monitor.objects.order_by("pk")[:size])
    if len(monitors) < size:  # fewer monitors than a batch: reuse them at other minutes
        monitors = (monitors * (size // len(monitors) + 1))[:size]
    location = Location.default()
    by_id = {m.pk: m for m in monitors}
    times = []
    base = timezone.now() + timedelta(days=1)
    for b in range(batches):
        results = [
            CheckResult(
                monitor=m,
                location=location,
                due_at=base + timedelta(minutes=b, seconds=i % 60),
                sent=3,
                received=3,
                rtts=[10.0, 11.0, 12.5],
                status="up",
            )
            for i, m in enumerate(monitors)
        ]
        started = time.perf_counter()
        rollups.absorb(results, by_id)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(
        f"\nrollups.absorb of {size} results: p50 {statistics.median(times):.1f} ms, "
        f"max {times[-1]:.1f} ms per batch ({statistics.median(times) / size * 1000:.0f} µs "
        "per check)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--background", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        setup_django(Path(scratch))
        context = load(args.background)
        print(
            f"loaded {context['checks']:,} raw checks and {context['rollups']:,} rollup rows "
            f"({2 + args.background} monitors) in {context['load_s']:.0f} s"
        )
        measure(context, args.repeat)
        fold_batches(context)


if __name__ == "__main__":
    main()
