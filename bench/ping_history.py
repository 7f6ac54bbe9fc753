#!/usr/bin/env python
"""Benchmark (not a test): the ping history page on a small and on a large table, side by side.

    .venv/bin/python bench/ping_history.py                         # PostgreSQL, 10,000 vs 2,000,000
    .venv/bin/python bench/ping_history.py --large 500000 --database sqlite

For each size it makes a scratch database (PostgreSQL `bench_pings`, or a SQLite file), loads
that many finished ping jobs spread over 200 devices of 20 customers and 90 days (one SQL
statement), then asks the history page for: the first page, a page deep in the table (keyset
cursor half-way down), and the filters a user would use. Printed per request: server time p50
and p95 over `--repeat` runs (Django's test client in-process, so no network), the rows read, and
the large/small ratio. CSV export time per 10,000 rows is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(database: str, scratch: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["VAR_DIR"] = str(scratch)
    os.environ["DEBUG"] = "true"
    os.environ["LOG_LEVEL"] = "WARNING"
    if database == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    else:
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/bench_pings"
    import django

    django.setup()


def recreate_postgres() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS bench_pings WITH (FORCE)")
        c.execute("CREATE DATABASE bench_pings")


def load(rows: int) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from portal.models import Customer, Membership, Organization, Role, User
    from vendors.models import Device

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Bench", slug="bench")
    customers = [Customer.objects.create(organization=org, name=f"C{i:02}") for i in range(20)]
    devices = Device.objects.bulk_create(
        Device(
            organization=org,
            customer=customers[i % 20],
            kind="host",
            name=f"host-{i}",
            host=f"127.0.{i // 250}.{i % 250 + 1}",
        )
        for i in range(200)
    )
    user = User.objects.create_user("bench", "b@example.test", "bench-password")
    Membership.objects.create(user=user, organization=org, role=Role.OPERATOR)
    alice = User.objects.create_user("alice", "a@example.test", "bench-password")
    Membership.objects.create(user=alice, organization=org, role=Role.OPERATOR)
    nobody = User.objects.create_user("nobody", "n@example.test", "bench-password")
    Membership.objects.create(user=nobody, organization=org, role=Role.OPERATOR)
    first_device, first_customer = devices[0].pk, customers[0].pk
    # One statement: device i belongs to customer i % 20; 1 in 50 jobs failed; 1 in 400
    # launched by alice in bulk, the rest by bench; created_at spread over the last 90 days.
    sql = f"""
        INSERT INTO pings_pingjob (
            public_id, organization_id, customer_id, device_id, vendor, launched_by_id,
            launched_by_label, via,
            target, count, status, created_at, started_at, finished_at, deadline_at, sent,
            received, loss_percent, rtt_min, rtt_avg, rtt_max, rtt_stddev, source, raw,
            vendor_reference, error, error_kind, callback_url, callback_secret_encrypted,
            callback_status, callback_attempts)
        SELECT {uuid_sql()}, {org.pk}, {first_customer} + (g % 200) % 20, {first_device} + g % 200,
            'local', CASE WHEN g % 400 = 0 THEN {alice.pk} ELSE {user.pk} END,
            CASE WHEN g % 400 = 0 THEN 'alice' ELSE 'bench' END,
            CASE WHEN g % 400 = 0 THEN 'bulk' ELSE 'page' END, '', 4,
            CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'complete' END,
            {ago_sql(rows)}, {ago_sql(rows)}, {ago_sql(rows)}, {ago_sql(rows)},
            4, 4, 0.0, 0.05, 0.06, 0.08, 0.01, 'portal', NULL, '', '', '', '', '', '', 0
        FROM {series_sql(rows)}
    """
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE pings_pingjob")
        else:
            cursor.execute("ANALYZE")
    return {
        "user": user,
        "alice": alice.pk,
        "nobody": nobody.pk,
        "customer": customers[3].public_id,
        "device": devices[7].public_id,
        "load_s": time.monotonic() - started,
    }


def uuid_sql() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return "gen_random_uuid()"
    return "lower(hex(randomblob(16)))"


def series_sql(rows: int) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"generate_series(1, {rows}) AS g"
    return (
        f"(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows}) "
        "SELECT g FROM s)"
    )


def ago_sql(rows: int) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"now() - interval '90 days' * (1 - g::float / {rows})"
    return f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (7776000 * (1 - g * 1.0 / {rows})) || ' seconds')"


def measure(context: dict, repeat: int) -> dict[str, tuple[float, float, int]]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from pings.models import PingJob

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(context["user"])
    client.get("/pings/")
    top = PingJob.objects.order_by("-pk").values_list("pk", flat=True).first()
    middle = top // 2
    today = timezone.now().date()
    requests = {
        "first page": "/pings/",
        "deep page (keyset)": f"/pings/?before={middle}",
        "customer": f"/pings/?customer={context['customer']}",
        "device": f"/pings/?device={context['device']}",
        "status=failed": "/pings/?status=failed",
        "status=timed_out (none)": "/pings/?status=timed_out",
        "vendor=meraki (none)": "/pings/?vendor=meraki",
        "who=alice": f"/pings/?who=user:{context['alice']}",
        "who=nobody (none)": f"/pings/?who=user:{context['nobody']}",
        "last 7 days": f"/pings/?since={(today - timezone.timedelta(days=7)).isoformat()}",
        "a day 60 days ago": "/pings/?since={d}&until={d}".format(
            d=(today - timezone.timedelta(days=60)).isoformat()
        ),
    }
    from portal.models import ApiKey, Organization

    _key, plaintext = ApiKey.issue(
        organization=Organization.objects.get(slug="bench"), name="bench", read_only=True
    )
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    requests["API /api/pings (COUNT)"] = "api:/api/pings?perPage=50"
    requests["API customer + status"] = (
        f"api:/api/pings?perPage=50&customerId={context['customer']}&status=failed"
    )
    results = {}
    for name, url in requests.items():
        times = []
        for _ in range(repeat):
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = api.get(url[4:]) if url.startswith("api:") else client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        results[name] = (statistics.median(times), p95, len(queries))
    return results


def csv_rate(context: dict) -> float:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(context["user"])
    started = time.perf_counter()
    response = client.get(f"/pings/export.csv?customer={context['customer']}")
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    return (time.perf_counter() - started) / max(lines, 1) * 10_000, lines


def run_size(database: str, rows: int, repeat: int) -> tuple[dict, dict]:
    """Each size in its own process: Django is set up once per process."""
    import json
    import subprocess

    code = (
        "import json, sys; sys.argv = ['x'];"
        f"from bench.ping_history import child; print(json.dumps(child({database!r}, {rows}, {repeat})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["times"], out["meta"]


def child(database: str, rows: int, repeat: int) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="bench-pings-"))
    if database == "postgres":
        recreate_postgres()
    setup_django(database, scratch)
    context = load(rows)
    times = measure(context, repeat)
    per_10k, lines = csv_rate(context)
    from django.db import connection

    size = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('pings_pingjob')")
            size = cursor.fetchone()[0]
    return {
        "times": times,
        "meta": {
            "load_s": context["load_s"],
            "csv_s_per_10k": per_10k,
            "csv_rows": lines,
            "bytes_per_job": size / rows if size else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    small, small_meta = run_size(args.database, args.small, args.repeat)
    large, large_meta = run_size(args.database, args.large, args.repeat)
    print(f"ping history on {args.database}: {args.small:,} vs {args.large:,} jobs")
    print(f"load: {small_meta['load_s']:.1f} s vs {large_meta['load_s']:.1f} s", end="")
    if large_meta["bytes_per_job"]:
        print(f"; {large_meta['bytes_per_job']:.0f} bytes per job with indexes")
    else:
        print()
    print(
        f"{'request':22} {'small p50/p95 ms':>18} {'large p50/p95 ms':>18} {'ratio p95':>10} queries"
    )
    for name in small:
        s50, s95, queries = small[name]
        l50, l95, _ = large[name]
        print(
            f"{name:22} {s50:8.1f} / {s95:6.1f} {l50:8.1f} / {l95:6.1f} {l95 / s95:10.2f} {queries}"
        )
    print(
        f"CSV export: {small_meta['csv_s_per_10k']:.2f} s vs {large_meta['csv_s_per_10k']:.2f} s "
        f"per 10,000 rows ({small_meta['csv_rows']:,} and {large_meta['csv_rows']:,} rows)"
    )


if __name__ == "__main__":
    main()
