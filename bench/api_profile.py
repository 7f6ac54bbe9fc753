#!/usr/bin/env python
"""Benchmark (not a test): what one request to each URL of bench/api_load.py costs in-process.

    .venv/bin/python bench/api_profile.py                  # queries and CPU ms per request
    .venv/bin/python bench/api_profile.py --profile 30     # and cProfile's 30 costliest calls

It loads the same scratch data as bench/api_load.py (200 monitors, 20 finished ping jobs, a
read-only API key) into the PostgreSQL database `bench_api_profile`, with the production
settings, and calls Django's WSGI handler in this process as gunicorn's worker does (request
signals, the connection's health check and the middleware included): no gunicorn, no wrk, no
network. The list is measured twice: as a poller meets it (its rows kept from the previous
request, monitors.api.views.WRITTEN) and with nothing kept (every row read and written anew,
as when all 50 changed since). Printed per URL: the queries one request runs (after a warm-up, so caches are as a
busy server has them), this process's CPU milliseconds per request and those of the
PostgreSQL backend serving it (read from /proc; the median of `--rounds` rounds, the URLs
taking turns, as the machine may be shared).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import api_load  # noqa: E402  (needs the path above)
from monitors_scale import process_cpu_seconds  # noqa: E402

api_load.DATABASE = "bench_api_profile"


def environ(path: str, key: str) -> dict[str, object]:
    """What gunicorn hands Django for `GET path` with the API key (wrk sends no Accept)."""
    path, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(api_load.PORT),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per URL and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, help="show this many calls")
    args = parser.parse_args()
    # One connection for the whole run, so that its backend's CPU can be read.
    os.environ["CONN_MAX_AGE"] = "86400"
    with tempfile.TemporaryDirectory() as scratch:
        ids = api_load.load(api_load.production_env(Path(scratch)))
        from django.core.wsgi import get_wsgi_application
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        application = get_wsgi_application()

        def get(path: str) -> str:
            status: list[str] = []
            body = b"".join(
                application(environ(path, ids["key"]), lambda s, h, e=None: status.append(s))
            )
            assert status[0].startswith("200"), (path, status, body[:300])
            return status[0]

        from monitors.api.views import WRITTEN

        list_url = "/api/icmp-monitors?perPage=50"
        urls = {
            "GET /api/icmp-monitors?perPage=50": list_url,
            # Every row read and written anew, as when all 50 changed since the last request.
            "  the same, nothing kept": list_url,
            "GET liveTools/ping/{pingId}": (
                f"/api/devices/{ids['serial']}/liveTools/ping/{ids['ping']}"
            ),
            "GET /healthz (baseline)": "/healthz",
        }
        before = {"  the same, nothing kept": WRITTEN.clear}
        queries = {}
        for name, url in urls.items():
            for _ in range(20):
                get(url)
            before.get(name, lambda: None)()
            with CaptureQueriesContext(connection) as captured:
                get(url)
            queries[name] = len(captured.captured_queries)
        backend = connection.connection.info.backend_pid
        python: dict[str, list[float]] = {name: [] for name in urls}
        database: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                prepare = before.get(name)
                started, db_started = time.process_time(), process_cpu_seconds(backend)
                for _ in range(args.requests):
                    if prepare is not None:
                        prepare()
                    get(url)
                python[name].append((time.process_time() - started) / args.requests * 1000)
                database[name].append(
                    (process_cpu_seconds(backend) - db_started) / args.requests * 1000
                )
        assert connection.connection.info.backend_pid == backend, "reconnected: figures mixed"
        print(
            f"{'URL':36} {'queries':>7} {'CPU ms':>7} {'PG ms':>6}   "
            f"(median of {args.rounds} rounds of {args.requests})"
        )
        for name in urls:
            print(
                f"{name:36} {queries[name]:7} {statistics.median(python[name]):7.3f} "
                f"{statistics.median(database[name]):6.3f}"
            )
        if args.profile:
            for name, url in urls.items():
                if "healthz" not in name:
                    prepare = before.get(name, lambda: None)
                    show(
                        name,
                        lambda url=url, prepare=prepare: (prepare(), get(url)),
                        args.requests,
                        args.profile,
                    )
        connection.close()


def show(name: str, call: Callable[[], object], requests: int, lines: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        call()
    profiler.disable()
    print(f"\n{name}")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats(
        os.environ.get("SORT", "tottime")
    ).print_stats(lines)


if __name__ == "__main__":
    main()
