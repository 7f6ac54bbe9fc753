#!/usr/bin/env python
"""Benchmark (not a test): what one request to each URL of bench/api_load.py costs in-process.

    .venv/bin/python bench/api_profile.py                  # queries and CPU ms per request
    .venv/bin/python bench/api_profile.py --profile 30     # and cProfile's 30 costliest calls

It loads the same scratch data as bench/api_load.py (200 monitors, 20 finished ping jobs, a
read-only API key) into the PostgreSQL database `bench_api_profile`, with the production
settings, and sends each URL through Django's test client in this process: no gunicorn, no
wrk, no network. Printed per URL: the queries one request runs (after a warm-up, so caches are
as a busy server has them) and the CPU milliseconds per request (process time; the median of
`--rounds` rounds, as the machine may be shared).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import api_load  # noqa: E402  (needs the path above)

api_load.DATABASE = "bench_api_profile"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per URL and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, help="show this many calls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        ids = api_load.load(api_load.production_env(Path(scratch)))
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        client = Client(HTTP_AUTHORIZATION=f"Bearer {ids['key']}", HTTP_HOST="127.0.0.1")
        urls = {
            "GET /api/icmp-monitors?perPage=50": "/api/icmp-monitors?perPage=50",
            "GET liveTools/ping/{pingId}": (
                f"/api/devices/{ids['serial']}/liveTools/ping/{ids['ping']}"
            ),
            "GET /healthz (baseline)": "/healthz",
        }
        print(f"{'URL':36} {'queries':>7} {'CPU ms':>7}   (median of {args.rounds} rounds)")
        for name, url in urls.items():
            for _ in range(20):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            count = len(queries.captured_queries)  # read now: the next request resets it
            per_round = []
            for _ in range(args.rounds):
                started = time.process_time()
                for _ in range(args.requests):
                    client.get(url)
                per_round.append((time.process_time() - started) / args.requests * 1000)
            print(f"{name:36} {count:7} {statistics.median(per_round):7.2f}")
            if args.profile and "healthz" not in name:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.requests):
                    client.get(url)
                profiler.disable()
                stats = pstats.Stats(profiler, stream=sys.stdout)
                stats.sort_stats("tottime").print_stats(args.profile)
        connection.close()


if __name__ == "__main__":
    main()
