#!/usr/bin/env python
"""Benchmark (not a test): the API under load, served as in production.

    .venv/bin/python bench/api_load.py                       # 30 s per URL, 64 connections
    .venv/bin/python bench/api_load.py --seconds 10 --workers 4

It makes a scratch PostgreSQL database `bench_api` (200 monitors of 20 customers, 20 finished
ping jobs with their replies, a read-only API key), starts gunicorn with the production
settings (DEBUG off, whitenoise, `--workers`), and runs Debian's `wrk` against three URLs in
turn: `GET /api/icmp-monitors?perPage=50`, the Meraki-dialect ping GET
(`/api/devices/{serial}/liveTools/ping/{pingId}`) and `/healthz` (a JSON answer with no work
in it: the cost of the stack itself). Printed: requests per second, latency p50 / p99, errors
(socket errors and non-2xx answers) and each URL's rate over /healthz's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "bench_api"
PORT = 8765


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
    return {"key": plaintext, "serial": str(device.pk), "ping": str(jobs[-1].pk)}


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"gunicorn did not answer {url} within {seconds:g} s")


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
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "errors": (sum(int(g) for g in errors.groups()) if errors else 0)
        + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as scratch:
        env = production_env(Path(scratch))
        ids = load(env)
        server = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{PORT}",
                "--workers",
                str(args.workers),
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
            results = {}
            for name, url in urls.items():
                check = urllib.request.Request(
                    url, headers={"Authorization": f"Bearer {ids['key']}"}
                )
                assert urllib.request.urlopen(check, timeout=5).status == 200, url
                results[name] = run_wrk(url, ids["key"], args.seconds, args.connections)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    baseline = results["GET /healthz (baseline)"]["rps"]
    print(
        f"gunicorn {args.workers} workers, wrk 2 threads, {args.connections} connections, "
        f"{args.seconds} s per URL"
    )
    print(f"{'URL':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'/ baseline':>10}")
    for name, r in results.items():
        print(
            f"{name:36} {r['rps']:9.1f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:7.0f} "
            f"{r['rps'] / baseline:10.2f}"
        )


if __name__ == "__main__":
    main()
