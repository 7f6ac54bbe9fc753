#!/usr/bin/env python
"""Benchmark (not a test): the real scheduler loop and django-q2 workers checking many monitors.

    .venv/bin/python bench/monitors_scale.py --database sqlite   --monitors 10000 --seconds 300
    .venv/bin/python bench/monitors_scale.py --database postgres --monitors 10000 --seconds 300
    .venv/bin/python bench/monitors_scale.py --database sqlite --ramp   # largest count at the bar

Each monitor gets its own 127.x.y.z address (loopback only) and the given interval, plus
`--fast` monitors (1,000 by default) every 5 s alongside; their first slots are spread evenly
over one interval. The portal's own processes run as the README runs them (`run_scheduler`,
`qcluster`), on a scratch database: a SQLite file with the ORM broker, or a PostgreSQL database
`bench_portal` with Redis as the broker. Printed, per interval: checks due, done and missed,
lateness (first echo sent - slot due) p50/p99/max; then CPU seconds of the portal's processes
during the measured window (from /proc: every process of the scheduler's and the cluster's
sessions, recycled workers included) per 1,000 checks, rows written per second, peak RSS, and
the CPU of Debian's `fping -l -p <interval>` over the same targets for the same time, with the
ratio. The bar (issue 7): 0 missed, lateness p99 <= 0.25 s and max <= 1 s, in every group.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
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
P99_BAR, MAX_BAR = 0.25, 1.0  # lateness (first echo sent - slot due), seconds


def django_env(database: str, scratch: Path, workers: int) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {
        **os.environ,
        "VAR_DIR": str(scratch),
        # Production settings: with DEBUG on, every query's SQL (with its parameters, arrays
        # of 500 values in a batch's statements) is formatted and kept, which a deployment
        # never pays for.
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 50,
        "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
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


FAST_INTERVAL = 5  # seconds: the "1,000 monitors at 5 s alongside"


def host_of(i: int) -> str:
    """The i-th monitor's own loopback address (127.0.0.0/8 only; never x.y.z.0)."""
    if i & 255 == 0:
        return f"127.{(i >> 16) & 255 | 128}.{(i >> 8) & 255}.1"
    return f"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


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


def prepare(
    env: dict[str, str], database: str, monitors: int, interval: int, fast: int, count: int
) -> float:
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
    placeholder = 2_000_000_000.0  # slots are laid out from here, then moved (below)
    groups = [(monitors, interval, 0), (fast, FAST_INTERVAL, monitors)]
    run_python(
        env,
        f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from datetime import datetime, timedelta, UTC
from bench.monitors_scale import host_of
from monitors.models import Location, Monitor
from portal.models import Customer, Organization
Location.default()
org = Organization.objects.create(name='Bench')
customer = Customer.objects.create(organization=org, name='Bench customer')
start = datetime.fromtimestamp({placeholder}, tz=UTC)
rows = []
for n, step, offset in {groups!r}:
    for i in range(n):
        rows.append(Monitor(customer=customer, organization=org, name=f'm{{offset + i}}',
                            hostname=host_of(offset + i), check_interval=1,
                            check_interval_seconds=step, timeout_seconds=5,
                            config={{'packetSize': 56, 'count': {count}}},
                            next_check_at=start + timedelta(seconds=step * i / n)))
Monitor.objects.bulk_create(rows, batch_size=2000)
""",
    )
    # The first slot comes 20 s from now, whatever creating the monitors took (at 100,000 it
    # took longer than the margin, and the run began with every monitor overdue).
    start = time.time() + 20
    run_python(
        env,
        f"""
from datetime import timedelta
from django.db.models import F
from monitors.models import Monitor
Monitor.objects.update(next_check_at=F('next_check_at') - timedelta(seconds={placeholder - start}))
""",
    )
    return start


def measure(env: dict[str, str], start: float, end: float) -> dict:
    """Checks due and done, lateness and lost replies, for each interval group."""
    out = run_python(
        env,
        f"""
import json
from datetime import datetime, UTC
from django.db.models import Count
from monitors.models import CheckResult, Monitor
start, end = {start}, {end} - {GRACE}
cut = datetime.fromtimestamp(end, tz=UTC)
groups = {{}}
sizes = Monitor.objects.values('check_interval_seconds').annotate(n=Count('id'))
for row in sizes:
    step, n = row['check_interval_seconds'], row['n']
    due = 0
    for i in range(n):
        first = step * i / n
        if first <= end - start:
            due += int((end - start - first) // step) + 1
    results = CheckResult.objects.filter(due_at__lte=cut, monitor__check_interval_seconds=step)
    late = sorted((r.sent_at - r.due_at).total_seconds()
                  for r in results.filter(sent_at__isnull=False).only('sent_at', 'due_at')
                  .iterator(chunk_size=5000))
    pick = lambda q: late[min(len(late) - 1, int(q * len(late)))] if late else None
    groups[step] = dict(monitors=n, due=due, done=results.count(),
                        lost=results.filter(received=0).count(),
                        gaps=sum(results.values_list('missed_slots', flat=True)),
                        p50=pick(0.5), p99=pick(0.99), max=late[-1] if late else None)
from django_q.models import Task
folds = [dict(at=t.started.timestamp() - start, seconds=(t.stopped - t.started).total_seconds(),
              minutes=t.result)
         for t in Task.objects.filter(func='monitors.tasks.fold').order_by('started')]
print(json.dumps(dict(groups=groups, rows=CheckResult.objects.count(), folds=folds)))
""",
    )
    return json.loads(out.strip().splitlines()[-1])


def fping_cpu_seconds(groups: list[tuple[int, int, int]], seconds: int) -> float:
    """CPU of Debian's fping looping over the same targets at the same periods for the same
    time (`fping -l -p <interval ms>`, sends spread over the period with -i), one fping per
    interval group, side by side."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = []
    for n, step, offset in groups:
        if not n:
            continue
        targets = "\n".join(host_of(offset + i) for i in range(n)) + "\n"
        spacing = max(0.01, step * 1000 / n * 0.9)  # ms between sends to different targets
        proc = subprocess.Popen(
            ["fping", "-l", "-q", "-p", str(step * 1000), "-i", f"{spacing:.3f}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proc.stdin.write(targets.encode())
        proc.stdin.close()
        procs.append(proc)
    time.sleep(seconds)
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def services_cpu_seconds() -> float:
    """CPU of the PostgreSQL server (the postmaster, its live processes, and what it reaped
    from backends that exited) and of Redis: the database and broker work the checks cause,
    which the portal's own figure leaves out. Every database's, so only a quiet machine's
    figure is the portal's alone."""
    processes: dict[int, tuple[int, list[int]]] = {}  # pid -> (ppid, stat fields)
    for pid in pids_named("postgres", "redis-server"):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        processes[pid] = (int(fields[1]), [int(f) for f in fields[11:15]])
    total = 0
    for ppid, (utime, stime, cutime, cstime) in processes.values():
        total += utime + stime
        if ppid not in processes:  # a server's first process: add the children it reaped
            total += cutime + cstime
    return total / os.sysconf("SC_CLK_TCK")


def pids_named(*names: str) -> list[int]:
    """The live processes on this machine whose command name is one of `names`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in names:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of one live process on this machine, e.g. a PostgreSQL
    backend, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every core, every process), from
    /proc/stat: set against the portal's own, it shows how much else was running."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


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


def run(
    database: str,
    monitors: int,
    interval: int,
    seconds: int,
    workers: int,
    fast: int = 0,
    count: int = 1,
) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    env = django_env(database, scratch, workers)
    start = prepare(env, database, monitors, interval, fast, count)
    procs = [
        subprocess.Popen(
            [PYTHON, "manage.py", command],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=(scratch / f"{command}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for command in ("run_scheduler", "qcluster")
    ]
    sessions = {proc.pid for proc in procs}  # each started its own session
    time.sleep(max(0, start - time.time()))
    cpu_at_start = session_cpu_seconds(sessions)  # start-up (imports, migrations) excluded
    services_at_start, busy_at_start = services_cpu_seconds(), machine_busy_seconds()
    end = start + seconds
    peaks: dict[int, tuple[str, int]] = {}
    while time.time() < end:  # sample: recycled workers take their peaks with them
        session_peak_rss(sessions, peaks)
        time.sleep(min(5.0, max(0.0, end - time.time())))
    session_peak_rss(sessions, peaks)
    cpu = session_cpu_seconds(sessions) - cpu_at_start
    services = services_cpu_seconds() - services_at_start
    busy = machine_busy_seconds() - busy_at_start
    for proc in procs:
        if proc.poll() is not None:  # died during the run: say why, the figures are void
            log = (scratch / f"{proc.args[-1]}.log").read_text()
            print(f"{proc.args[-1]} exited with {proc.returncode}:\n{log[-3000:]}", flush=True)
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    figures = measure(env, start, end)
    groups = figures["groups"]
    done = sum(g["done"] for g in groups.values())
    for g in groups.values():
        g["missed"] = g["due"] - g["done"]
        g["meets_bar"] = (
            g["missed"] <= 0 and (g["p99"] or 99) <= P99_BAR and (g["max"] or 99) <= MAX_BAR
        )
    figures.update(
        database=database,
        seconds=seconds,
        workers=workers,
        count=count,
        cpu_seconds=round(cpu, 1),
        services_cpu_seconds=round(services, 1),
        machine_busy_seconds=round(busy, 1),
        done=done,
        rows_per_second=round(figures["rows"] / seconds, 1),
        scheduler_rss_mb=round(
            max((kb for r, kb in peaks.values() if r == "scheduler"), default=0) / 1024
        ),
        worker_rss_mb=round(
            max((kb for r, kb in peaks.values() if r == "cluster"), default=0) / 1024
        ),
        meets_bar=bool(groups) and all(g["meets_bar"] for g in groups.values()),
    )
    return figures


def compare_with_fping(f: dict, monitors: int, interval: int, fast: int) -> None:
    """Debian's fping over the same targets at the same periods for the same time, with no
    database: what the probing alone costs a C prober; printed with the ratio."""
    if not shutil.which("fping"):
        sys.exit("fping is not installed (apt-get install fping), or pass --no-fping")
    groups = [(monitors, interval, 0), (fast, FAST_INTERVAL, monitors)]
    fping = round(fping_cpu_seconds(groups, f["seconds"]), 1)
    with_services = f["cpu_seconds"] + f["services_cpu_seconds"]
    print(
        f"  fping -l over the same targets and time: CPU {fping} s; the portal (probing,"
        f" scheduling, writing results and rollups) uses {f['cpu_seconds'] / max(0.1, fping):.1f}"
        f" x that, {with_services / max(0.1, fping):.1f} x with PostgreSQL and Redis",
        flush=True,
    )


def show(f: dict) -> None:
    print(
        f"{f['database']:8} {f['seconds']} s, {f['workers']} workers, {f['count']} echo(es) per "
        f"check: CPU {f['cpu_seconds']} s ({1000 * f['cpu_seconds'] / max(1, f['done']):.2f} s "
        f"per 1,000 checks), {f['rows_per_second']} rows/s, peak RSS scheduler "
        f"{f['scheduler_rss_mb']} MB, largest cluster process {f['worker_rss_mb']} MB — "
        f"{'meets' if f['meets_bar'] else 'misses'} the bar",
        flush=True,
    )
    for step, g in sorted(f["groups"].items(), key=lambda item: -int(item[0])):
        late = (
            f"lateness p50 {g['p50']:.3f} s p99 {g['p99']:.3f} s max {g['max']:.3f} s"
            if g["p99"] is not None
            else "no checks"
        )
        print(
            f"  {g['monitors']:>7} monitors every {step} s: due {g['due']}, done {g['done']}, "
            f"missed {g['missed']}, {late}, lost replies in {g['lost']} checks — "
            f"{'meets' if g['meets_bar'] else 'misses'}",
            flush=True,
        )
    for fold in f["folds"]:
        print(
            f"  rollup fold at {fold['at']:.0f} s: {fold['minutes']} minutes in"
            f" {fold['seconds']:.1f} s",
            flush=True,
        )
    with_services = f["cpu_seconds"] + f["services_cpu_seconds"]
    print(
        f"  PostgreSQL and Redis meanwhile: CPU {f['services_cpu_seconds']} s (every database's);"
        f" portal and both: {with_services:.1f} s"
        f" ({1000 * with_services / max(1, f['done']):.2f} s per 1,000 checks); the whole"
        f" machine was busy {f['machine_busy_seconds']} CPU s of"
        f" {os.cpu_count() * f['seconds']} ({os.cpu_count()} cores)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument(
        "--fast", type=int, default=1000, help=f"monitors every {FAST_INTERVAL} s alongside"
    )
    parser.add_argument("--count", type=int, default=1, help="echoes per check")
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-fping", action="store_true", help="skip the fping comparison")
    parser.add_argument(
        "--ramp",
        action="store_true",
        help="Double the monitors (2-minute runs) until the bar is missed.",
    )
    args = parser.parse_args()
    options = dict(fast=args.fast, count=args.count)
    if not args.ramp:
        figures = run(
            args.database, args.monitors, args.interval, args.seconds, args.workers, **options
        )
        show(figures)  # before fping's run: a failure there loses nothing measured
        if not args.no_fping:
            compare_with_fping(figures, args.monitors, args.interval, args.fast)
        return
    best, count = None, args.monitors
    while True:
        figures = run(args.database, count, args.interval, 120, args.workers, **options)
        show(figures)
        if not figures["meets_bar"]:
            break
        best, count = count, count * 2
    print(f"largest count at the bar on {args.database}: {best}")


if __name__ == "__main__":
    main()
