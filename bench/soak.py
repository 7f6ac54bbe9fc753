#!/usr/bin/env python
"""Soak (issue 8, load): the whole portal, served as in production, under steady use.

    .venv/bin/python bench/soak.py                        # 10,000 monitors, 20 clients, 10 min
    .venv/bin/python bench/soak.py --minutes 2            # the short pass CI runs
    .venv/bin/python bench/soak.py --monitors 2000 --clients 5 --minutes 3

It recreates the PostgreSQL database `portal_soak`, loads the demo (organization, users,
credentials and devices against the simulator), adds --monitors ICMP monitors on distinct
127.x.y.z addresses every --interval seconds, more simulated Meraki devices and two API keys,
and starts the portal's processes on free loopback ports: gunicorn with the production settings
(DEBUG off, whitenoise), the django-q2 cluster on Redis, the monitor scheduler and the vendor
simulator. Then --clients clients, each signed in as a demo user and holding an API key, use it
for --minutes: the monitor list, a monitor's page, its chart, the ping history and a device's
page; the API's monitor list and detail, check-history, and Meraki-dialect pings launched and
polled until they end. Only 127.0.0.0/8 is contacted.

Printed: requests by kind (count, p50 / p95, failures); the resident memory (RSS) of every
process, sampled every few seconds, at the end of warm-up and at the end; the checks expected
of every monitor over the whole soak against those written; the ping jobs' ends; failed
django-q2 tasks and ERROR lines in the processes' logs. It exits 1 when a bound fails:

- server errors (5xx, refused or reset connections, timeouts) = 0, and no unexpected answer
  either (a 302 to the sign-in page or a 403 means the clients stopped testing what they claim;
  only a ping launch may answer 429, the per-device limit working as documented);
- RSS growth of each process from the end of warm-up (20 % of the run, within 1 and 2
  minutes) to the end ≤ 15 % of its size then or 16 MB, whichever is larger (see the
  constants for why);
- checks missed = 0: every monitor has a result, written by the end, for every slot due up to
  GRACE seconds before the end; and no skipped slot was recorded;
- every ping job ended (none queued or running once the clients stop and the queue drains),
  none failed or timed out (the simulated devices all answer), and no django-q2 task failed;
- no ERROR or CRITICAL line (or traceback) in any process's log.

Monitors check with the API's default of 3 echoes. The cluster runs 8 workers (--workers; the
README's development default is 2): echoes go 0.2 s apart, so a batch holds its worker for at
least 0.4 s however few monitors it has, and the scheduler hands out a batch as soon as any
monitor is due — about 13 batches a second of about 13 monitors at 10,000 monitors every 60 s.
With 4 workers the checks fall further behind every minute, with or without the clients
(here p99 47-56 s late after 2 minutes, 296 s after 10).

Logs and RSS samples are kept in a scratch folder (printed when the run fails, or with --keep);
the database is left for inspection and recreated by the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from api_load import production_env, recreate_database, wait_for
from monitors_scale import machine_busy_seconds, session_cpu_seconds, session_processes

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATABASE = "portal_soak"
REDIS_URL = "redis://127.0.0.1:6379/12"  # its own Redis database and its own cluster name
GRACE = 20.0  # seconds after a slot within which its check must have been written
SAMPLE_SECONDS = 5.0  # how often every process's RSS is read
REQUEST_TIMEOUT = 60.0  # longer than gunicorn's 30 s worker timeout: a kill shows as a reset
PING_POLL_SECONDS = 1.0
PING_WAIT_SECONDS = 90.0  # a client gives up polling one ping after this long
DRAIN_SECONDS = 120.0  # after the clients stop, how long ping jobs may take to end
STOP_SECONDS = 15.0  # how long the processes may take to stop on SIGTERM
# Memory. Warm-up: 20 % of the run, within 1 and 2 minutes. In it each process fills its
# caches (templates, URL patterns, the ORM's and DRF's per-class metadata) and takes the
# allocator arenas its largest answers need: RSS steps up 5-10 MB, and a gunicorn worker that
# meets its largest answer only late takes its step late. After it, growth
# is legitimate only as far as the answers grow — the history the pages draw fills up during
# the soak (a monitor's 1-hour chart, its check list, the ping history): measured 2-6 MB over
# 8 minutes. One worker serving 4,800 more requests of every kind after its warm-up stayed
# within 0.1 MB. Bound: 15 % or 16 MB, whichever is larger, per process: room for a late step
# plus that growth, and still well under what a leak shows in a 10-minute run — 10 kB kept
# per request is ~15 MB per gunicorn worker (about 1,500 requests each after warm-up), 2 kB
# per check ~20 MB per cluster worker (about 10,000 checks each).
RSS_GROWTH_PERCENT = 15.0
RSS_GROWTH_MB = 16.0
WARM_UP = (0.2, 60.0, 120.0)  # share of the run, at least, at most (seconds)
CLIENT_USERS = ["operator", "viewer", "admin", "customer"]  # demo users, password "demo"
DEMO_PASSWORD = "demo"  # noqa: S105  (the demo's documented password, DEBUG-only data)
MERAKI_DEVICES = 20  # simulated Meraki devices added to the demo's one: launches spread over them
EXTRA_CUSTOMERS = 8
# What a client does next, and how often (weights). Ping launches are rare: each one holds a
# django-q2 worker for a second or two, as it would in production.
ACTIONS = {
    "page: monitor list": 3,
    "page: monitor": 3,
    "page: chart": 2,
    "page: ping history": 1,
    "page: device": 1,
    "page: sign out and in": 0.05,  # a sign-in costs ~0.5 s of CPU (PBKDF2): rare, as in life
    "api: monitor list": 2,
    "api: monitor detail": 2,
    "api: check-history": 2,
    "api: ping launch": 0.6,
}


# --- setting up -----------------------------------------------------------------------------


@dataclass
class Plan:
    """What the clients may ask for, and when each monitor's checks are due."""

    monitors: dict[str, list[str]]  # customer public id → monitor public ids
    devices: dict[str, list[str]]  # customer public id → device public ids
    serials: list[str]  # Meraki serials, for the Meraki-dialect API
    northwind: str  # the customer user's customer (public id)
    read_write_key: str
    read_only_key: str
    parked: datetime  # where the monitors' first slots wait until the processes are up
    first_slots: dict[int, datetime] = field(default_factory=dict)  # monitor pk → first slot
    intervals: dict[int, int] = field(default_factory=dict)  # monitor pk → seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def soak_env(scratch: Path, web_port: int, simulator_port: int, workers: int) -> dict[str, str]:
    env = production_env(scratch)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL=REDIS_URL,
        Q_CLUSTER_NAME=f"soak{os.getpid()}",
        Q_WORKERS=str(workers),
        # Plain HTTP on loopback, no TLS proxy in front: cookies marked Secure would never be
        # sent back, so the clients could not stay signed in.
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        PORTAL_BASE_URL=f"http://127.0.0.1:{web_port}",
        VENDOR_SIMULATOR_PORT=str(simulator_port),
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def host_address(i: int) -> str:
    """The i-th distinct loopback address from 127.20.0.1 on (the demo uses 127.0.0.x and the
    simulator's Things 127.10.x.y): 254 hosts per /24, no .0 or .255."""
    a, rest = divmod(i, 256 * 254)
    b, c = divmod(rest, 254)
    return f"127.{20 + a}.{b}.{c + 1}"


def load(env: dict[str, str], monitors: int, interval: int) -> Plan:
    """The demo, plus the soak's monitors, devices and keys; every monitor parked a day ahead
    (nothing is due while the processes start)."""
    started = time.monotonic()
    recreate_database(DATABASE)
    manage(env, "migrate", "-v0")
    manage(env, "collectstatic", "--no-input", "-v0")
    # The demo refuses to run with DEBUG off (its passwords are public); it only writes rows.
    manage({**env, "DEBUG": "true"}, "demo", "-v0")
    print(f"Migrated, static files and demo in {time.monotonic() - started:.0f} s", flush=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    from monitors.models import Monitor
    from portal.models import ApiKey, Customer, Organization
    from vendors.models import Credential, Device, DeviceKind

    org = Organization.objects.get(name="Demo")
    northwind = Customer.objects.get(organization=org, name="Northwind Logistics")
    contoso = Customer.objects.get(organization=org, name="Contoso Clinics")
    customers = [northwind, contoso] + [
        Customer.objects.create(organization=org, name=f"Soak customer {i + 1}")
        for i in range(EXTRA_CUSTOMERS)
    ]
    meraki = Credential.objects.get(organization=org, vendor="meraki")
    for i in range(MERAKI_DEVICES):
        Device.objects.create(
            customer=contoso,
            kind=DeviceKind.MERAKI_DEVICE,
            name=f"Soak MX {i + 1}",
            credential=meraki,
            serial=f"Q2SK-SOAK-{i + 1:04d}",
            model="MX68",
            network_id="N_sim",
        )
    parked = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    Monitor.objects.bulk_create(
        (
            Monitor(
                organization=org,
                customer=customers[i % len(customers)],
                name=f"Soak monitor {i + 1}",
                hostname=host_address(i),
                check_interval=1,
                check_interval_seconds=interval,
                timeout_seconds=5,
                config={"packetSize": 56, "count": 3},
                next_check_at=parked + timedelta(seconds=interval * i / monitors),
            )
            for i in range(monitors)
        ),
        batch_size=2000,
    )
    # The demo's own monitors take part too, their first slots a few seconds apart.
    for n, monitor in enumerate(Monitor.objects.exclude(name__startswith="Soak monitor")):
        Monitor.objects.filter(pk=monitor.pk).update(
            next_check_at=parked + timedelta(seconds=3 * n + 1)
        )
    _, read_write = ApiKey.issue(organization=org, name="soak read-write", read_only=False)
    _, read_only = ApiKey.issue(organization=org, name="soak read-only", read_only=True)
    plan = Plan(
        monitors=defaultdict(list),
        devices=defaultdict(list),
        serials=list(
            Device.objects.filter(kind=DeviceKind.MERAKI_DEVICE)
            .order_by("serial")
            .values_list("serial", flat=True)
        ),
        northwind=str(northwind.public_id),
        read_write_key=read_write,
        read_only_key=read_only,
        parked=parked,
    )
    for customer, public_id in Monitor.objects.values_list("customer__public_id", "public_id"):
        plan.monitors[str(customer)].append(str(public_id))
    for customer, public_id in Device.objects.values_list("customer__public_id", "public_id"):
        plan.devices[str(customer)].append(str(public_id))
    connections.close_all()
    return plan


def release_slots(plan: Plan, start: datetime) -> None:
    """Move every monitor's parked slots so that the first ones fall from `start` on, in one
    statement, and remember each monitor's first slot and interval."""
    from django.db import connections, transaction
    from django.db.models import F

    from monitors.models import Monitor

    shift = start - plan.parked
    with transaction.atomic():
        for pk, due, seconds, minutes in Monitor.objects.values_list(
            "pk", "next_check_at", "check_interval_seconds", "check_interval"
        ):
            plan.first_slots[pk] = due + shift
            plan.intervals[pk] = seconds or minutes * 60
        Monitor.objects.update(next_check_at=F("next_check_at") + shift)
    connections.close_all()


# --- the portal's processes -----------------------------------------------------------------


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path


def start_services(
    env: dict[str, str], scratch: Path, web_port: int, simulator_port: int, web_workers: int
) -> list[Service]:
    commands = {
        "gunicorn": [
            str(ROOT / ".venv/bin/gunicorn"),
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            str(web_workers),
            "--log-level",
            "warning",
        ],
        "qcluster": [PYTHON, "manage.py", "qcluster"],
        "scheduler": [PYTHON, "manage.py", "run_scheduler"],
        "simulator": [PYTHON, "manage.py", "vendor_simulator", "--port", str(simulator_port)],
    }
    services = []
    for name, command in commands.items():
        log = scratch / f"{name}.log"
        with log.open("wb") as out:
            # Each in its own session, so that its children are found (and stopped) with it.
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        services.append(Service(name, proc, log))
    return services


def stop_services(services: list[Service]) -> None:
    """SIGTERM to each main process, which stops its own children (gunicorn's workers, the
    cluster's); then SIGKILL to whatever is left of its session. The cluster would otherwise
    run every task it has prefetched before stopping: the figures are taken by then."""
    for service in services:
        if service.proc.poll() is None:
            service.proc.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for service in services:
        with contextlib.suppress(subprocess.TimeoutExpired):
            service.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.proc.pid, signal.SIGKILL)
        service.proc.wait()


def log_errors(services: list[Service]) -> list[str]:
    """ERROR / CRITICAL lines and tracebacks the processes wrote (prefixed with the name)."""
    found = []
    pattern = re.compile(r"\b(ERROR|CRITICAL)\b|^Traceback")
    for service in services:
        for line in service.log.read_text(errors="replace").splitlines():
            if pattern.search(line):
                found.append(f"{service.name}: {line[:300]}")
    return found


class MemorySampler:
    """RSS of every process of the services, by pid, sampled from /proc."""

    def __init__(self, services: list[Service]) -> None:
        self.sessions = {s.proc.pid: (n, s.name) for n, s in enumerate(services)}
        self.labels: dict[int, str] = {}
        self.rank: dict[int, tuple[int, int]] = {}  # pid → (service, child number; 0: main)
        self.samples: dict[int, list[tuple[float, int]]] = defaultdict(list)  # pid → (t, kB)
        self.children: Counter[str] = Counter()

    def _label(self, pid: int, session: int) -> None:
        if pid in self.labels:
            return
        number, name = self.sessions[session]
        if pid == session:
            self.labels[pid], self.rank[pid] = f"{name} (main)", (number, 0)
        else:
            self.children[name] += 1
            kind = "worker" if name == "gunicorn" else "child"
            self.labels[pid] = f"{name} {kind} {self.children[name]}"
            self.rank[pid] = (number, self.children[name])

    def sample(self) -> None:
        now = time.monotonic()
        for entry, fields in session_processes(set(self.sessions)):
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            if found:
                pid = int(entry.name)
                self._label(pid, int(fields[3]))
                self.samples[pid].append((now, int(found.group(1))))

    def save(self, path: Path, t0: float) -> None:
        """Every sample as {label (pid): [[seconds from the start, MB], ...]}, for plotting."""
        path.write_text(
            json.dumps(
                {
                    f"{self.labels[pid]} ({pid})": [[round(t - t0, 1), kb / 1024] for t, kb in s]
                    for pid, s in self.samples.items()
                }
            )
        )

    def growth(self, warm_end: float, warm_seconds: float, end: float) -> list[dict[str, Any]]:
        """Per process: RSS at the end of its warm-up and at the last sample up to `end`, peak,
        growth and bound. A process's warm-up ends at `warm_end`, or `warm_seconds` after it
        started if it started later (a recycled django-q2 worker fills its caches anew). A
        process that exited before the end, or whose own warm-up outlasted the soak, is shown
        but not bounded."""
        rows = []
        last_seen = max((s[-1][0] for s in self.samples.values()), default=end)
        for pid, samples in sorted(self.samples.items(), key=lambda item: self.rank[item[0]]):
            warm = max(warm_end, samples[0][0] + warm_seconds)
            window = [kb for t, kb in samples if warm <= t <= end]
            ran_to_end = samples[-1][0] >= last_seen - SAMPLE_SECONDS
            before, after = (window[0] / 1024, window[-1] / 1024) if window else (0.0, 0.0)
            bound = max(before * RSS_GROWTH_PERCENT / 100, RSS_GROWTH_MB)
            bounded = ran_to_end and bool(window)
            rows.append(
                {
                    "label": self.labels[pid],
                    "pid": pid,
                    "before": before,
                    "after": after,
                    "peak": max(kb for _, kb in samples) / 1024,
                    "growth": after - before,
                    "bound": bound,
                    "bounded": bounded,
                    "note": ""
                    if bounded
                    else "exited before the end"
                    if not ran_to_end
                    else "started too late to warm up",
                    "ok": not bounded or after - before <= bound,
                }
            )
        return rows


# --- the clients ----------------------------------------------------------------------------


class Tally:
    """Every request's kind, answer and time, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.answers: dict[str, Counter[str]] = defaultdict(Counter)
        self.server_errors: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.examples: list[str] = []
        self.pings: list[tuple[str, str]] = []  # (pingId, last status seen by the client)

    def add(self, kind: str, answer: str, ms: float, *, server_error: bool, ok: bool) -> None:
        with self.lock:
            self.times[kind].append(ms)
            self.answers[kind][answer] += 1
            if server_error:
                self.server_errors[kind] += 1
            elif not ok:
                self.unexpected[kind] += 1
            if (server_error or not ok) and len(self.examples) < 20:
                self.examples.append(f"{kind}: {answer}")


class Client(threading.Thread):
    """One user: signed in to the pages with a session, and a script with an API key."""

    def __init__(
        self, number: int, base: str, plan: Plan, tally: Tally, stop: threading.Event, think: float
    ) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self.base, self.plan, self.tally, self.stop, self.think = base, plan, tally, stop, think
        self.rng = random.Random(number)  # noqa: S311  (load pattern, not security)
        self.user = CLIENT_USERS[number % len(CLIENT_USERS)]
        if self.user == "customer":  # sees only the demo customer they are bound to
            self.monitors = plan.monitors[plan.northwind]
            self.devices = plan.devices[plan.northwind]
        else:
            self.monitors = [m for ids in plan.monitors.values() for m in ids]
            self.devices = [d for ids in plan.devices.values() for d in ids]
        self.web = requests.Session()
        self.api = requests.Session()
        # Launching needs a key that may write; most scripts only read.
        api_key = plan.read_write_key if number % 2 == 0 else plan.read_only_key
        self.api.headers["Authorization"] = f"Bearer {api_key}"

    def call(
        self,
        kind: str,
        session: requests.Session,
        method: str,
        path: str,
        expect: tuple[int, ...] = (200,),
        **options: Any,
    ) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = session.request(
                method, self.base + path, timeout=REQUEST_TIMEOUT, allow_redirects=False, **options
            )
        except requests.RequestException as exc:
            ms = 1000 * (time.monotonic() - started)
            self.tally.add(kind, type(exc).__name__, ms, server_error=True, ok=False)
            return None
        ms = 1000 * (time.monotonic() - started)
        code = response.status_code
        answer = str(code)
        if code in (301, 302):
            answer += f" → {response.headers.get('Location', '?')}"
        ok = code in expect
        self.tally.add(kind, answer, ms, server_error=code >= 500, ok=ok)
        return response if ok else None

    def sign_in(self) -> None:
        form = self.call("page: sign in", self.web, "GET", "/accounts/login/")
        token = (
            re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text) if form else None
        )
        if token is None:
            return
        self.call(
            "page: sign in",
            self.web,
            "POST",
            "/accounts/login/",
            expect=(302,),
            data={
                "username": self.user,
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": token.group(1),
            },
        )

    def sign_out_and_in(self) -> None:
        token = self.web.cookies.get("csrftoken", "")
        self.call(
            "page: sign out and in",
            self.web,
            "POST",
            "/accounts/logout/",
            expect=(302,),
            data={"csrfmiddlewaretoken": token},
        )
        self.sign_in()

    def ping(self) -> None:
        """A Meraki-dialect ping, polled as Meraki's SDK polls, until it ends."""
        serial = self.rng.choice(self.plan.serials)
        path = f"/api/devices/{serial}/liveTools/ping"
        launched = self.call(
            "api: ping launch",
            self.api,
            "POST",
            path,
            expect=(201, 429),  # 429: the device's limit, as documented
            json={"target": "127.0.0.1", "count": self.rng.randint(1, 5)},
            headers={"Authorization": f"Bearer {self.plan.read_write_key}"},
        )
        if launched is None or launched.status_code != 201:
            return
        ping_id, status = launched.json()["pingId"], "queued"
        deadline = time.monotonic() + PING_WAIT_SECONDS
        while (
            status in ("queued", "running")
            and time.monotonic() < deadline
            and not self.stop.is_set()  # the job itself must still end: the drain sees to it
        ):
            time.sleep(PING_POLL_SECONDS)
            polled = self.call("api: ping GET", self.api, "GET", f"{path}/{ping_id}")
            if polled is not None:
                status = polled.json()["status"]
        with self.tally.lock:
            self.tally.pings.append((ping_id, status))

    def act(self, kind: str) -> None:
        monitor = self.rng.choice(self.monitors)
        if kind == "page: monitor list":
            pages = math.ceil(len(self.monitors) / 50)
            self.call(kind, self.web, "GET", f"/monitors/?page={self.rng.randint(1, pages)}")
        elif kind == "page: monitor":
            self.call(kind, self.web, "GET", f"/monitors/{monitor}/")
        elif kind == "page: chart":
            chart_range = self.rng.choice(["1h", "24h", "7d"])
            self.call(kind, self.web, "GET", f"/monitors/{monitor}/chart.svg?range={chart_range}")
        elif kind == "page: ping history":
            self.call(kind, self.web, "GET", "/pings/")
        elif kind == "page: device":
            self.call(kind, self.web, "GET", f"/devices/{self.rng.choice(self.devices)}/")
        elif kind == "page: sign out and in":
            self.sign_out_and_in()
        elif kind == "api: monitor list":
            pages = math.ceil(len(self.plan.first_slots) / 50)
            self.call(
                kind, self.api, "GET", f"/api/icmp-monitors?page={self.rng.randint(1, pages)}"
            )
        elif kind == "api: monitor detail":
            self.call(kind, self.api, "GET", f"/api/icmp-monitors/{monitor}")
        elif kind == "api: check-history":
            self.call(kind, self.api, "GET", f"/api/icmp-monitors/{monitor}/check-history")
        elif kind == "api: ping launch":
            self.ping()

    def run(self) -> None:
        try:
            self.use()
        except Exception as exc:  # e.g. a 200 whose body is not the JSON promised
            # A client that dies quietly would make a soak with fewer clients look clean.
            self.tally.add("client", f"stopped: {exc!r}"[:200], 0.0, server_error=False, ok=False)

    def use(self) -> None:
        # Users arrive over the first seconds rather than all signing in at once.
        if self.stop.wait(self.rng.uniform(0, min(10.0, 2 * self.think))):
            return
        self.sign_in()
        kinds, weights = list(ACTIONS), list(ACTIONS.values())
        # First a quick tour of every action, so that each gunicorn worker meets each kind of
        # request (and fills its caches) early in the warm-up rather than after it.
        for kind in self.rng.sample(kinds, len(kinds)):
            if self.stop.is_set():
                return
            self.act(kind)
        while not self.stop.wait(self.think * self.rng.uniform(0.5, 1.5)):
            # Think time above: people read a page, scripts pace themselves.
            self.act(self.rng.choices(kinds, weights)[0])


# --- measuring ------------------------------------------------------------------------------


def wait_for_pings(seconds: float) -> dict[str, int]:
    """Ping jobs by status, once none is queued or running (or `seconds` have passed)."""
    from django.db import connections
    from django.db.models import Count

    from pings.models import ACTIVE, PingJob

    deadline = time.monotonic() + seconds
    while True:
        counts = dict(PingJob.objects.values_list("status").annotate(n=Count("id")))
        if not any(counts.get(s) for s in ACTIVE) or time.monotonic() > deadline:
            connections.close_all()
            return counts
        time.sleep(1)


def written_by_now(cut: datetime) -> dict[int, int]:
    """Results written (committed) so far per monitor, of slots due up to `cut`. Taken when
    the soak ends: a check written after it, however complete, came too late."""
    from django.db import connections
    from django.db.models import Count

    from monitors.models import CheckResult

    written = CheckResult.objects.filter(due_at__lte=cut).values_list("monitor_id")
    counts = dict(written.annotate(n=Count("id")))
    connections.close_all()
    return counts


def expected_checks(plan: Plan, cut: datetime) -> dict[int, int]:
    """Slots due up to `cut` (inclusive) per monitor, from its first slot at its interval."""
    return {
        pk: int((cut - first).total_seconds() // plan.intervals[pk]) + 1
        for pk, first in plan.first_slots.items()
        if first <= cut
    }


def completeness(plan: Plan, cut: datetime, written: dict[int, int]) -> dict[str, Any]:
    """Checks due up to `cut` for every monitor against those written by the end, with
    lateness (first echo sent - slot) and lost echoes."""
    from django.db.models import Sum
    from django_q.models import Failure

    from monitors.models import CheckResult

    expected = expected_checks(plan, cut)
    results = CheckResult.objects.filter(due_at__lte=cut)
    short = {pk: n - written.get(pk, 0) for pk, n in expected.items() if written.get(pk, 0) < n}
    extra = sum(max(0, n - expected.get(pk, 0)) for pk, n in written.items())
    late = sorted(
        (sent - due).total_seconds()
        for due, sent in results.filter(sent_at__isnull=False).values_list("due_at", "sent_at")
    )
    totals = results.aggregate(skipped=Sum("missed_slots"), sent=Sum("sent"), got=Sum("received"))
    pick = (lambda q: late[min(len(late) - 1, int(q * len(late)))]) if late else (lambda q: 0.0)
    return {
        "expected": sum(expected.values()),
        "written": sum(written.values()),
        "missed": sum(short.values()),
        "monitors_short": len(short),
        "extra": extra,
        "skipped_slots": totals["skipped"] or 0,
        "echoes_lost": (totals["sent"] or 0) - (totals["got"] or 0),
        "echoes_sent": totals["sent"] or 0,
        "not_up": results.exclude(status="up").count(),
        "late_p50": pick(0.5),
        "late_p99": pick(0.99),
        "late_max": late[-1] if late else 0.0,
        "failed_tasks": Failure.objects.count(),
    }


def forget_queue(cluster: str) -> None:
    """Drop the run's django-q2 keys from Redis (its own cluster name: nobody else's)."""
    import redis

    broker = redis.Redis.from_url(REDIS_URL)
    for key in broker.scan_iter(f"django_q:{cluster}:*"):
        broker.delete(key)


# --- the summary ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def print_requests(run: Soak, duration: float) -> None:
    tally = run.tally
    print(
        f"\n{'requests':28} {'count':>7} {'per s':>6} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'5xx/conn':>8} {'unexpected':>10}  answers"
    )
    for kind in [*ACTIONS, "page: sign in", "api: ping GET", "client"]:
        times = tally.times.get(kind)
        if times:
            answers = ", ".join(f"{a} x{n}" for a, n in tally.answers[kind].most_common(4))
            print(
                f"{kind:28} {len(times):7} {len(times) / duration:6.2f} "
                f"{percentile(times, 0.5):8.1f} {percentile(times, 0.95):8.1f} "
                f"{tally.server_errors[kind]:8} {tally.unexpected[kind]:10}  {answers}"
            )
    total = sum(len(t) for t in tally.times.values())
    print(
        f"{'all':28} {total:7} {total / duration:6.2f} {'':8} {'':8} "
        f"{sum(tally.server_errors.values()):8} {sum(tally.unexpected.values()):10}"
    )
    for example in tally.examples[:10]:
        print(f"  e.g. {example}")


def print_memory(memory: list[dict[str, Any]]) -> None:
    print(
        f"\n{'memory (RSS, MB)':28} {'pid':>7} {'warm':>7} {'end':>7} {'peak':>7} "
        f"{'growth':>7} {'bound':>7}"
    )
    for row in memory:
        note = f"  ({row['note']}: not bounded)" if row["note"] else ""
        print(
            f"{row['label']:28} {row['pid']:7} {row['before']:7.1f} {row['after']:7.1f} "
            f"{row['peak']:7.1f} {row['growth']:+7.1f} {row['bound']:7.1f}"
            f"{'' if row['ok'] else '  OVER'}{note}"
        )
    kept = [r for r in memory if r["bounded"]]
    print(
        f"{'all bounded processes':28} {'':7} {sum(r['before'] for r in kept):7.1f} "
        f"{sum(r['after'] for r in kept):7.1f} {'':7} "
        f"{sum(r['after'] - r['before'] for r in kept):+7.1f}"
    )


def print_results(run: Soak, checks: dict[str, Any], errors: list[str], duration: float) -> None:
    print(
        f"\nchecks due by end - {GRACE:g} s: {checks['expected']:,}, written by the end "
        f"{checks['written']:,}, missed {checks['missed']} ({checks['monitors_short']} "
        f"monitors), unplanned {checks['extra']}, skipped slots recorded "
        f"{checks['skipped_slots']}; lateness p50 {checks['late_p50']:.3f} s, p99 "
        f"{checks['late_p99']:.3f} s, max {checks['late_max']:.3f} s; echoes lost "
        f"{checks['echoes_lost']} of {checks['echoes_sent']:,}; checks not up {checks['not_up']}"
    )
    print(
        "ping jobs: "
        + (", ".join(f"{s} {n}" for s, n in sorted(run.pings.items())) or "none")
        + f" ({len(run.tally.pings)} launched by the clients)"
    )
    print(f"failed django-q2 tasks: {checks['failed_tasks']}; ERROR lines in logs: {len(errors)}")
    for line in errors[:10]:
        print(f"  {line}")
    portal = sum(run.cpu.values())
    print(
        "CPU during the soak: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in run.cpu.items())
        + f" = {portal / duration:.2f} cores; the whole machine {run.machine_cpu / duration:.2f}"
        f" of {os.cpu_count()} cores (PostgreSQL, Redis, these clients and anything else)"
    )


def bounds(
    run: Soak, memory: list[dict[str, Any]], checks: dict[str, Any], errors: list[str]
) -> list[tuple[str, bool, str]]:
    """The bounds as (name, held, figure)."""
    server_errors = sum(run.tally.server_errors.values())
    unexpected = sum(run.tally.unexpected.values())
    worst = max(
        (r for r in memory if r["bounded"]), key=lambda r: r["growth"] - r["bound"], default=None
    )
    not_ended = sum(run.pings.get(s, 0) for s in ("queued", "running"))
    bad_pings = sum(run.pings.get(s, 0) for s in ("failed", "timed_out"))
    return [
        ("server errors (5xx, connection) = 0", server_errors == 0, str(server_errors)),
        ("unexpected answers = 0", unexpected == 0, str(unexpected)),
        (
            f"RSS growth ≤ max({RSS_GROWTH_PERCENT:g} %, {RSS_GROWTH_MB:g} MB) per process",
            any(r["bounded"] for r in memory) and all(r["ok"] for r in memory),
            f"worst {worst['label']} {worst['growth']:+.1f} of {worst['bound']:.1f} MB"
            if worst
            else "no samples",
        ),
        (
            "checks missed = 0, no skipped slot",
            checks["expected"] > 0 and checks["missed"] == 0 and checks["skipped_slots"] == 0,
            f"{checks['missed']} missed, {checks['skipped_slots']} skipped",
        ),
        (
            "ping jobs all ended, none failed",
            bool(run.pings) and not_ended == 0 and bad_pings == 0,
            f"{not_ended} not ended, {bad_pings} failed or timed out",
        ),
        ("failed django-q2 tasks = 0", checks["failed_tasks"] == 0, str(checks["failed_tasks"])),
        ("ERROR lines in process logs = 0", not errors, str(len(errors))),
    ]


# --- main -----------------------------------------------------------------------------------


@dataclass
class Soak:
    """What one soak measured, for the summary."""

    tally: Tally
    sampler: MemorySampler
    written: dict[int, int]
    pings: dict[str, int]
    t0: float
    end: datetime
    cpu: dict[str, float]  # service → CPU seconds during the soak
    machine_cpu: float


def soak(args: argparse.Namespace, plan: Plan, services: list[Service], base: str) -> Soak:
    """Release the monitors' slots, run the clients for --minutes while sampling memory, then
    take the results written by the end and let the ping jobs drain."""
    start = datetime.now(UTC) + timedelta(seconds=3)
    release_slots(plan, start)
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
    t0, duration = time.monotonic(), args.minutes * 60
    cpu = {s.name: -session_cpu_seconds({s.proc.pid}) for s in services}
    machine = -machine_busy_seconds()
    tally, stop = Tally(), threading.Event()
    clients = [Client(n, base, plan, tally, stop, args.think) for n in range(args.clients)]
    for client in clients:
        client.start()
    sampler = MemorySampler(services)
    while time.monotonic() < t0 + duration:
        sampler.sample()
        for service in services:
            if service.proc.poll() is not None:
                sys.exit(f"{service.name} exited with {service.proc.returncode}: {service.log}")
        time.sleep(min(SAMPLE_SECONDS, max(0.0, t0 + duration - time.monotonic())))
    sampler.sample()
    end = datetime.now(UTC)
    for service in services:
        cpu[service.name] += session_cpu_seconds({service.proc.pid})
    machine += machine_busy_seconds()
    stop.set()
    written = written_by_now(end - timedelta(seconds=GRACE))
    for client in clients:
        client.join(timeout=2 * REQUEST_TIMEOUT)
    joined = time.monotonic()
    pings = wait_for_pings(DRAIN_SECONDS)
    print(
        f"Clients stopped {joined - t0 - duration:.0f} s after the end, ping jobs drained in "
        f"{time.monotonic() - joined:.0f} s",
        flush=True,
    )
    return Soak(tally, sampler, written, pings, t0, end, cpu, machine)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=int, default=60, help="seconds between checks")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between actions")
    parser.add_argument("--workers", type=int, default=8, help="django-q2 workers (see below)")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--keep", action="store_true", help="keep the logs and RSS samples even when it passes"
    )
    args = parser.parse_args()
    if args.monitors < 1 or args.clients < 1 or args.minutes <= 0:
        parser.error("--monitors and --clients must be at least 1, --minutes above 0")

    scratch = Path(tempfile.mkdtemp(prefix="soak-"))
    web_port, simulator_port = free_port(), free_port()
    env = soak_env(scratch, web_port, simulator_port, args.workers)
    started = time.monotonic()
    print(f"Loading {DATABASE}: the demo and {args.monitors:,} monitors ...", flush=True)
    plan = load(env, args.monitors, args.interval)
    services = start_services(env, scratch, web_port, simulator_port, args.web_workers)
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_for(f"{base}/healthz", seconds=60)
        wait_for(f"http://127.0.0.1:{simulator_port}/_sim/log", seconds=60)
        print(
            f"Set up in {time.monotonic() - started:.0f} s; {args.clients} clients for "
            f"{args.minutes:g} min on {base} ...",
            flush=True,
        )
        run = soak(args, plan, services, base)
    finally:
        stop_services(services)
        forget_queue(env["Q_CLUSTER_NAME"])
    duration = args.minutes * 60
    share, shortest, longest = WARM_UP
    warm_seconds = min(longest, max(shortest, share * duration), duration / 2)
    cut = run.end - timedelta(seconds=GRACE)
    checks = completeness(plan, cut, run.written)
    checks["monitors"] = len(plan.first_slots)
    memory = run.sampler.growth(
        run.t0 + warm_seconds, warm_seconds, run.t0 + duration + SAMPLE_SECONDS
    )
    run.sampler.save(scratch / "rss.json", run.t0)
    errors = log_errors(services)
    print(
        f"\nSoak: {checks['monitors']:,} monitors every {args.interval} s, {args.clients} "
        f"clients (think {args.think:g} s), {args.minutes:g} min, warm-up {warm_seconds:.0f} s; "
        f"gunicorn {args.web_workers} workers, django-q2 {args.workers} workers, PostgreSQL "
        f"{DATABASE}, Redis broker"
    )
    print_requests(run, duration)
    print_memory(memory)
    print_results(run, checks, errors, duration)
    verdicts = bounds(run, memory, checks, errors)
    print(f"\n{'bound':52} {'':6} figure")
    for name, held, figure in verdicts:
        print(f"{name:52} {'pass' if held else 'FAIL':6} {figure}")
    passed = all(held for _, held, _ in verdicts)
    print(f"\nsoak {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s")
    if passed and not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"logs and RSS samples: {scratch}")
    if not passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
