#!/usr/bin/env python
"""Benchmark (not a test): the API under load, served as in production.

    .venv/bin/python bench/api_load.py                       # 30 s per URL, 64 connections
    .venv/bin/python bench/api_load.py --seconds 10 --workers 4 --rounds 5
    .venv/bin/python bench/api_load.py --churn 200     # 200 monitors written a second meanwhile
    .venv/bin/python bench/api_load.py --redis         # finished jobs cached in Redis

It makes a scratch PostgreSQL database `bench_api` (200 monitors of 20 customers, 20 finished
ping jobs with their replies, a read-only API key), starts gunicorn with the production
settings (DEBUG off, whitenoise, `--workers` sync workers as README's production command, or
gthread workers with `--threads`), and runs Debian's `wrk` against three URLs:
`GET /api/icmp-monitors?perPage=50`, the Meraki-dialect ping GET
(`/api/devices/{serial}/liveTools/ping/{pingId}`) and `/healthz` (a JSON answer with no work
in it: the cost of the stack itself), taking turns in `--rounds` slices of `--seconds` per URL
in all. Printed: requests per second, latency p50 / p99 (the median slice's p50, the worst
slice's p99), errors (socket errors and non-2xx answers), each URL's rate over /healthz's, and
the CPU milliseconds per request of gunicorn (master and workers), of its PostgreSQL backends
and of wrk.

The list keeps each row's JSON per worker by its row version (portal.rowcache), so with no
writes it meets only rows it has written before; `--churn N` writes N monitors a second
meanwhile as check results do (200 monitors at the shortest check interval, 5 s, are 40 a
second), and each row written is read and written anew by the next request that lists it.
The database is ANALYZEd after loading, as autovacuum would have done within a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from monitors_scale import pids_named, process_cpu_seconds  # noqa: E402  (needs the path above)

DATABASE = "bench_api"
PORT = 8765
CPU_KEYS = ("web_cpu", "db_cpu", "wrk_cpu")
# A database number of its own on the machine's Redis (emptied by --redis).
REDIS_URL = "redis://127.0.0.1:6379/13"


def production_env(scratch: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 50,
        "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        # Plain HTTP on loopback: no TLS proxy in front of this gunicorn.
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(scratch),
        # collectstatic into the scratch folder, not the checkout a test run may be reading.
        "STATIC_ROOT": str(scratch / "static"),
    }


def recreate_database(name: str) -> None:
    """An empty PostgreSQL database `name`, dropped first (connections to it closed)."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")


def load(env: dict[str, str]) -> dict[str, str]:
    recreate_database(DATABASE)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from monitors.models import Monitor
    from pings.models import PingJob, PingReply
    from portal.models import ApiKey, Customer, Organization
    from vendors.models import Device

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)
    org = Organization.objects.create(name="Bench", slug="bench")
    customers = [Customer.objects.create(organization=org, name=f"C{i:02}") for i in range(20)]
    Monitor.objects.bulk_create(
        Monitor(
            organization=org,
            customer=customers[i % 20],
            name=f"monitor {i}",
            hostname=f"127.0.{i // 250}.{i % 250 + 1}",
        )
        for i in range(200)
    )
    device = Device.objects.create(
        organization=org, customer=customers[0], kind="host", name="host", host="127.0.0.1"
    )
    now = timezone.now()
    jobs = []
    for _ in range(20):
        job = PingJob.objects.create(
            organization=org,
            customer=customers[0],
            device=device,
            vendor="local",
            launched_by_label="bench",
            via="api",
            count=4,
            status="complete",
            created_at=now,
            started_at=now,
            finished_at=now,
            deadline_at=now,
            sent=4,
            received=4,
            loss_percent=0.0,
            rtt_min=0.05,
            rtt_avg=0.06,
            rtt_max=0.08,
            rtt_stddev=0.01,
        )
        PingReply.objects.bulk_create(
            PingReply(job=job, sequence=s, rtt_ms=0.05 + s / 100, size=64) for s in range(1, 5)
        )
        jobs.append(job)
    _key, plaintext = ApiKey.issue(organization=org, name="bench", read_only=True)
    # Planner statistics, as autovacuum gives a production database within a minute of such
    # a load: without them PostgreSQL plans these small tables as one-row ones.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"key": plaintext, "serial": str(device.pk), "ping": str(jobs[-1].pk)}


class Churn(threading.Thread):
    """Writes `rate` monitors a second as check results do (last check, health, RTT, loss),
    on its own connection, so that the list meets rows changed since it last served them.
    Its PostgreSQL backend is not counted with gunicorn's."""

    def __init__(self, rate: float) -> None:
        super().__init__(daemon=True)
        self.rate = rate
        self.stop = threading.Event()
        self.written = 0
        import psycopg

        self.connection = psycopg.connect(
            f"postgresql://postgres@127.0.0.1:5432/{DATABASE}", autocommit=True
        )
        self.pid = self.connection.info.backend_pid

    def run(self) -> None:
        ids = [pk for (pk,) in self.connection.execute("SELECT id FROM monitors_monitor")]
        chooser = random.Random(7)  # noqa: S311 - which monitors to write, not a secret
        tick, started = 0.05, time.monotonic()
        while not self.stop.wait(tick):
            due = int((time.monotonic() - started) * self.rate) - self.written
            if due <= 0:
                continue
            self.connection.execute(
                "UPDATE monitors_monitor SET last_checked_at = now(), health = 'up', "
                "last_rtt_ms = random() * 10, last_loss_percent = 0 WHERE id = ANY(%s)",
                [chooser.sample(ids, min(due, len(ids)))],
            )
            self.written += due
        self.connection.close()


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"gunicorn did not answer {url} within {seconds:g} s")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of these processes that is still there."""
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # ended meanwhile
            found[pid] = process_cpu_seconds(pid)
    return found


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between the two readings by the processes alive at the second (one
    started meanwhile counts from its start; one that ended meanwhile is not counted)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def web_pids(master: int) -> list[int]:
    """gunicorn's master and its workers."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def backend_pids(leave_out: tuple[int, ...] = ()) -> list[int]:
    """The PostgreSQL backends connected to the benchmark's database (gunicorn's), but those
    in `leave_out`."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        rows = c.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [DATABASE]
        ).fetchall()
    return [pid for (pid,) in rows if pid not in leave_out]


def run_wrk(url: str, key: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {key}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(found.group(1)), found.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    return {
        "requests": int(done.group(1)),
        "seconds": float(done.group(2))
        * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)],
        "p50": latency("50%"),
        "p99": latency("99%"),
        "errors": (sum(int(g) for g in errors.groups()) if errors else 0)
        + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def children_cpu() -> float:
    """CPU seconds of this process's finished children (each wrk run, once it has ended)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def combine(runs: list[dict[str, float]]) -> dict[str, float]:
    """One URL's slices as one run: requests over time, the median p50, the worst p99, and
    the CPU ms per request of gunicorn, of its PostgreSQL backends and of wrk."""
    requests = sum(r["requests"] for r in runs)
    return {
        **{key: sum(r[key] for r in runs) / requests * 1000 for key in CPU_KEYS},
        "rps": requests / sum(r["seconds"] for r in runs),
        "p50": sorted(r["p50"] for r in runs)[len(runs) // 2],
        "p99": max(r["p99"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="> 1: gthread workers")
    parser.add_argument("--rounds", type=int, default=3, help="slices per URL, taking turns")
    parser.add_argument(
        "--redis",
        action="store_true",
        help=f"REDIS_URL set ({REDIS_URL}, flushed first): finished jobs cached in Redis",
    )
    parser.add_argument(
        "--churn",
        type=float,
        default=0.0,
        help="monitors written per second meanwhile, as check results are (default none)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as scratch:
        env = production_env(Path(scratch))
        if args.redis:
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
            env["REDIS_URL"] = REDIS_URL
        ids = load(env)
        server = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{PORT}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{PORT}"
        try:
            wait_for(f"{base}/healthz")
            urls = {
                "GET /api/icmp-monitors?perPage=50": f"{base}/api/icmp-monitors?perPage=50",
                "GET liveTools/ping/{pingId}": (
                    f"{base}/api/devices/{ids['serial']}/liveTools/ping/{ids['ping']}"
                ),
                "GET /healthz (baseline)": f"{base}/healthz",
            }
            for url in urls.values():
                check = urllib.request.Request(
                    url, headers={"Authorization": f"Bearer {ids['key']}"}
                )
                assert urllib.request.urlopen(check, timeout=5).status == 200, url
            # The URLs take turns in slices, so that a machine whose other load comes and goes
            # weighs on each of them alike (the ratios are what is compared).
            slices: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            per_slice = max(1, round(args.seconds / args.rounds))
            redis_pids = pids_named("redis-server") if args.redis else []
            churn = Churn(args.churn) if args.churn > 0 else None
            leave_out = (churn.pid,) if churn is not None else ()
            if churn is not None:
                churn.start()
            for _ in range(args.rounds):
                for name, url in urls.items():
                    web = cpu_seconds(web_pids(server.pid))
                    database = cpu_seconds(backend_pids(leave_out) + redis_pids)
                    wrk = children_cpu()
                    run = run_wrk(url, ids["key"], per_slice, args.connections)
                    run["web_cpu"] = cpu_spent(web, cpu_seconds(web_pids(server.pid)))
                    run["db_cpu"] = cpu_spent(
                        database, cpu_seconds(backend_pids(leave_out) + redis_pids)
                    )
                    run["wrk_cpu"] = children_cpu() - wrk
                    slices[name].append(run)
            results = {name: combine(runs) for name, runs in slices.items()}
            if churn is not None:
                churn.stop.set()
                churn.join()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    baseline = results["GET /healthz (baseline)"]["rps"]
    print(
        f"gunicorn {args.workers} workers x {args.threads} threads, wrk 2 threads, "
        f"{args.connections} connections, {per_slice * args.rounds} s per URL "
        f"({args.rounds} turns of {per_slice} s)"
        + (f"; {churn.written:,} monitor writes meanwhile" if churn is not None else "")
        + ("; REDIS_URL set (the pg column counts redis-server too)" if args.redis else "")
    )
    print(
        f"{'URL':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'/ baseline':>10}"
        f"   CPU ms per request: {'web':>5} {'pg':>5} {'wrk':>5}"
    )
    for name, r in results.items():
        print(
            f"{name:36} {r['rps']:9.1f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:7.0f} "
            f"{r['rps'] / baseline:10.2f}{'':22}{r['web_cpu']:5.2f} {r['db_cpu']:5.2f} "
            f"{r['wrk_cpu']:5.2f}"
        )


if __name__ == "__main__":
    main()
