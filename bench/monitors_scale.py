#!/usr/bin/env python
"""Benchmark (not a test): the real scheduler loop and django-q2 workers checking many monitors.

    .venv/bin/python bench/monitors_scale.py --database sqlite   --monitors 10000 --seconds 300
    .venv/bin/python bench/monitors_scale.py --database postgres --monitors 10000 --seconds 300
    .venv/bin/python bench/monitors_scale.py --database sqlite --ramp   # largest count at the bar

Each monitor gets its own 127.x.y.z address (loopback only) and the given interval; their first
slots are spread evenly over one interval. The portal's own processes run as the README runs
them (`run_scheduler`, `qcluster`), on a scratch database: a SQLite file with the ORM broker, or
a PostgreSQL database `bench_portal` with Redis as the broker. Printed: checks due, done and
missed, lateness (first echo sent - slot due) p50/p99/max, CPU seconds of the portal's
processes during the measured window (from /proc: every process of the scheduler's and the
cluster's sessions, recycled workers included), and result rows written per second. The bar: 0 missed and p99 lateness ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GRACE = 20.0  # seconds after a slot within which its check must have been written


def django_env(database: str, scratch: Path, workers: int) -> dict[str, str]:
    env = {
        **os.environ,
        "VAR_DIR": str(scratch),
        "DEBUG": "true",
        "Q_WORKERS": str(workers),
        "LOG_LEVEL": "WARNING",
        "Q_CLUSTER_NAME": f"bench{os.getpid()}",
    }
    if database == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
        env.pop("REDIS_URL", None)
    else:
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/bench_portal"
        env["REDIS_URL"] = "redis://127.0.0.1:6379/14"
    return env


def run_python(env: dict[str, str], code: str) -> str:
    prelude = (
        "import django, os\nos.environ['DJANGO_SETTINGS_MODULE']='portal.settings'\n"
        "django.setup()\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", prelude + code], cwd=ROOT, env=env, text=True, capture_output=True
    )
    if done.returncode:
        sys.exit(done.stderr)
    return done.stdout


def prepare(env: dict[str, str], database: str, monitors: int, interval: int) -> float:
    if database == "postgres":
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-qc",
                "DROP DATABASE IF EXISTS bench_portal",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", "CREATE DATABASE bench_portal"],
            check=True,
            capture_output=True,
        )
        subprocess.run(["redis-cli", "-n", "14", "FLUSHDB"], capture_output=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    start = time.time() + 20  # time to start the processes before the first slot
    run_python(
        env,
        f"""
from datetime import datetime, timedelta, UTC
from monitors.models import Location, Monitor
from portal.models import Customer, Organization
Location.default()
org = Organization.objects.create(name='Bench')
customer = Customer.objects.create(organization=org, name='Bench customer')
start = datetime.fromtimestamp({start}, tz=UTC)
rows = []
for i in range({monitors}):
    host = f'127.{{(i >> 16) & 255}}.{{(i >> 8) & 255}}.{{(i & 255) or 1}}'
    if i & 255 == 0:
        host = f'127.{{(i >> 16) & 255 | 128}}.{{(i >> 8) & 255}}.1'
    rows.append(Monitor(customer=customer, organization=org, name=f'm{{i}}', hostname=host,
                        check_interval=1, check_interval_seconds={interval},
                        timeout_seconds=5, config={{'packetSize': 56, 'count': 1}},
                        next_check_at=start + timedelta(seconds={interval} * i / {monitors})))
Monitor.objects.bulk_create(rows, batch_size=2000)
""",
    )
    return start


def measure(env: dict[str, str], start: float, end: float, interval: int) -> dict:
    out = run_python(
        env,
        f"""
import json
from datetime import datetime, timedelta, UTC
from monitors.models import CheckResult, Monitor
start = datetime.fromtimestamp({start}, tz=UTC)
cut = datetime.fromtimestamp({end} - {GRACE}, tz=UTC)
n = Monitor.objects.count()
step = {interval}
due = 0
for i in range(n):
    first = {interval} * i / n
    last = ({end} - {GRACE}) - {start}
    if first <= last:
        due += int((last - first) // step) + 1
done = CheckResult.objects.filter(due_at__lte=cut).count()
late = sorted((r.sent_at - r.due_at).total_seconds()
              for r in CheckResult.objects.filter(due_at__lte=cut, sent_at__isnull=False)
              .only('sent_at', 'due_at').iterator(chunk_size=5000))
lost = CheckResult.objects.filter(due_at__lte=cut, received=0).count()
gaps = sum(CheckResult.objects.filter(due_at__lte=cut).values_list('missed_slots', flat=True))
total_rows = CheckResult.objects.count()
pick = lambda q: late[min(len(late) - 1, int(q * len(late)))] if late else None
print(json.dumps(dict(due=due, done=done, lost=lost, gaps=gaps, rows=total_rows,
                      p50=pick(0.5), p99=pick(0.99), max=late[-1] if late else None)))
""",
    )
    return json.loads(out.strip().splitlines()[-1])


def session_processes(session_ids: set[int]) -> Iterator[tuple[Path, list[str]]]:
    """Every live process in these sessions: its /proc entry and its stat fields after the
    command name. From there the fields start at #3 (state): ppid is #4, session #6,
    utime..cstime #14-#17 (indexes 1, 3 and 11-14)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in session_ids:
            yield entry, fields


def session_cpu_seconds(session_ids: set[int]) -> float:
    """CPU (user + system) of every live process in these sessions, plus what each has
    collected from children it reaped (recycled workers), read from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = sum(sum(int(f) for f in fields[11:15]) for _, fields in session_processes(session_ids))
    return total / ticks


def session_peak_rss(session_ids: set[int], peaks: dict[int, tuple[str, int]]) -> None:
    """Fold each live process's peak resident set (VmHWM, kB) into `peaks` (pid → (role,
    kB)): the scheduler, and the cluster's processes (its workers are the probers)."""
    for entry, _ in session_processes(session_ids):
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        if found:
            role = "scheduler" if "run_scheduler" in command else "cluster"
            pid = int(entry.name)
            peaks[pid] = (role, max(int(found.group(1)), peaks.get(pid, ("", 0))[1]))


def run(database: str, monitors: int, interval: int, seconds: int, workers: int) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    env = django_env(database, scratch, workers)
    start = prepare(env, database, monitors, interval)
    procs = [
        subprocess.Popen(
            [PYTHON, "manage.py", command],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for command in ("run_scheduler", "qcluster")
    ]
    sessions = {proc.pid for proc in procs}  # each started its own session
    time.sleep(max(0, start - time.time()))
    cpu_at_start = session_cpu_seconds(sessions)  # start-up (imports, migrations) excluded
    end = start + seconds
    peaks: dict[int, tuple[str, int]] = {}
    while time.time() < end:  # sample: recycled workers take their peaks with them
        session_peak_rss(sessions, peaks)
        time.sleep(min(5.0, max(0.0, end - time.time())))
    session_peak_rss(sessions, peaks)
    cpu = session_cpu_seconds(sessions) - cpu_at_start
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    figures = measure(env, start, end, interval)
    figures.update(
        database=database,
        monitors=monitors,
        interval=interval,
        seconds=seconds,
        workers=workers,
        cpu_seconds=round(cpu, 1),
        rows_per_second=round(figures["rows"] / seconds, 1),
        missed=figures["due"] - figures["done"],
        scheduler_rss_mb=round(
            max((kb for r, kb in peaks.values() if r == "scheduler"), default=0) / 1024
        ),
        worker_rss_mb=round(
            max((kb for r, kb in peaks.values() if r == "cluster"), default=0) / 1024
        ),
    )
    figures["meets_bar"] = figures["missed"] <= 0 and (figures["p99"] or 99) <= 1.0
    return figures


def show(f: dict) -> None:
    print(
        f"{f['database']:8} {f['monitors']:>6} monitors every {f['interval']} s for "
        f"{f['seconds']} s, {f['workers']} workers: due {f['due']}, done {f['done']}, "
        f"missed {f['missed']}, lateness p50 {f['p50']:.3f} s p99 {f['p99']:.3f} s "
        f"max {f['max']:.3f} s, CPU {f['cpu_seconds']} s "
        f"({1000 * f['cpu_seconds'] / max(1, f['done']):.1f} s per 1,000 checks), "
        f"{f['rows_per_second']} rows/s, lost replies in {f['lost']} checks, peak RSS "
        f"scheduler {f['scheduler_rss_mb']} MB, largest cluster process "
        f"{f['worker_rss_mb']} MB — "
        f"{'meets' if f['meets_bar'] else 'misses'} the bar",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--ramp",
        action="store_true",
        help="Double the monitors (2-minute runs) until the bar is missed.",
    )
    args = parser.parse_args()
    if not args.ramp:
        show(run(args.database, args.monitors, args.interval, args.seconds, args.workers))
        return
    best, count = None, args.monitors
    while True:
        figures = run(args.database, count, args.interval, 120, args.workers)
        show(figures)
        if not figures["meets_bar"]:
            break
        best, count = count, count * 2
    print(f"largest count at the bar on {args.database}: {best}")


if __name__ == "__main__":
    main()
