"""The shared base: one small world with named actors, used by every test file.

Actors: admin, operator, viewer (read-only member), customer (a customer user bound to
customer `c1` only), supporter (global supporter), outsider (admin of another organization),
superuser, anon; and API keys: key_rw, key_ro, key_customer (read-write, limited to c1),
key_other (read-write key of the other organization).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from django.test import Client

from portal.models import (
    ApiKey,
    AuditEvent,
    Customer,
    CustomerAccess,
    Membership,
    Organization,
    Role,
    User,
)

USER_ACTORS = ["admin", "operator", "viewer", "customer", "supporter", "outsider", "superuser"]
KEY_ACTORS = ["key_rw", "key_ro", "key_customer", "key_other"]
ACTORS = ["anon", *USER_ACTORS, *KEY_ACTORS]
PASSWORD = "correct horse battery staple"


@dataclass
class World:
    org: Organization
    other_org: Organization
    c1: Customer
    c2: Customer
    other_customer: Customer
    users: dict[str, User] = field(default_factory=dict)
    memberships: dict[str, Membership] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    key_plaintexts: dict[str, str] = field(default_factory=dict)
    own_access: CustomerAccess | None = None
    other_access: CustomerAccess | None = None
    own_event: AuditEvent | None = None
    other_event: AuditEvent | None = None
    # vendors
    cred: Any = None  # a Meraki credential of org, used by no device
    other_cred: Any = None
    simotel_cred: Any = None
    webhook_token: str = ""
    conn_test: Any = None
    other_conn_test: Any = None
    device_c1: Any = None
    device_c2: Any = None
    other_device: Any = None
    callback: Any = None
    other_callback: Any = None
    # monitors
    monitor_c1: Any = None
    monitor_c2: Any = None
    other_monitor: Any = None
    result_c1: Any = None
    other_result: Any = None
    # pings
    job_c1: Any = None
    job_c2: Any = None
    other_job: Any = None
    batch: Any = None
    other_batch: Any = None

    def client(self, actor: str) -> Client:
        """A test client acting as `actor`: logged in, carrying an API key, or anonymous."""
        if actor in self.key_plaintexts:
            return Client(HTTP_AUTHORIZATION=f"Bearer {self.key_plaintexts[actor]}")
        client = Client()
        if actor in self.users:
            client.force_login(self.users[actor])
        return client

    def api(self, actor: str, method: str, path: str, data: Any = None) -> Any:
        client = self.client(actor)
        kwargs: dict[str, Any] = {}
        if data is not None:
            kwargs = {"data": data, "content_type": "application/json"}
        return getattr(client, method.lower())(path, **kwargs)


def make_world() -> World:
    org = Organization.objects.create(name="Acme Networks", slug="acme")
    other = Organization.objects.create(name="Other Corp", slug="other")
    world = World(
        org=org,
        other_org=other,
        c1=Customer.objects.create(organization=org, name="Northwind"),
        c2=Customer.objects.create(organization=org, name="Contoso"),
        other_customer=Customer.objects.create(organization=other, name="Globex"),
    )
    for name, org_, role, flags in [
        ("admin", org, Role.ADMIN, {"is_staff": True}),
        ("operator", org, Role.OPERATOR, {}),
        ("viewer", org, Role.READONLY, {}),
        ("outsider", other, Role.ADMIN, {"is_staff": True}),
    ]:
        user = User.objects.create_user(name, f"{name}@example.test", PASSWORD, **flags)
        world.users[name] = user
        world.memberships[name] = Membership.objects.create(user=user, organization=org_, role=role)
    world.users["customer"] = User.objects.create_user("customer", "c@example.test", PASSWORD)
    CustomerAccess.objects.create(user=world.users["customer"], customer=world.c1)
    world.users["supporter"] = User.objects.create_user(
        "supporter", "s@example.test", PASSWORD, is_staff=True, is_global_supporter=True
    )
    world.users["superuser"] = User.objects.create_superuser("root", "r@example.test", PASSWORD)
    # Rows of the other organization that no actor of ours is bound to, for 404 checks.
    stranger = User.objects.create_user("stranger", "x@example.test", PASSWORD)
    world.other_access = CustomerAccess.objects.create(user=stranger, customer=world.other_customer)
    world.own_access = CustomerAccess.objects.get(user=world.users["customer"])
    world.own_event = AuditEvent.objects.create(actor_label="t", organization=org, action="x.y")
    world.other_event = AuditEvent.objects.create(actor_label="t", organization=other, action="x.y")
    for name, org_, fields in [
        ("key_rw", org, {"read_only": False}),
        ("key_ro", org, {"read_only": True}),
        ("key_customer", org, {"read_only": False, "customer": world.c1}),
        ("key_other", other, {"read_only": False}),
    ]:
        key, plaintext = ApiKey.issue(organization=org_, name=name, **fields)
        world.keys[name], world.key_plaintexts[name] = key, plaintext
    _add_vendor_objects(world)
    _add_monitor_objects(world)
    _add_ping_objects(world)
    return world


def _add_ping_objects(world: World) -> None:
    """Finished jobs (made directly, not run) and a bulk batch in each organization."""
    from django.utils import timezone

    from pings.models import PingBatch, PingJob, PingReply

    def job(device: Any, batch: Any = None) -> PingJob:
        now = timezone.now()
        made = PingJob.objects.create(
            organization_id=device.organization_id,
            customer_id=device.customer_id,
            device=device,
            batch=batch,
            vendor="local",
            launched_by_label="operator",
            via="page",
            count=1,
            status="complete",
            created_at=now,
            started_at=now,
            finished_at=now,
            deadline_at=now,
            sent=1,
            received=1,
            loss_percent=0.0,
            rtt_min=0.05,
            rtt_avg=0.05,
            rtt_max=0.05,
            rtt_stddev=0.0,
        )
        PingReply.objects.create(job=made, sequence=1, rtt_ms=0.05, size=64)
        return made

    world.batch = PingBatch.objects.create(organization=world.org, launched_by_label="operator")
    world.other_batch = PingBatch.objects.create(
        organization=world.other_org, launched_by_label="outsider"
    )
    world.job_c1 = job(world.device_c1, world.batch)
    world.job_c2 = job(world.device_c2)
    world.other_job = job(world.other_device, world.other_batch)


def _add_monitor_objects(world: World) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from monitors.models import CheckResult, Incident, Location, MaintenanceWindow, Monitor

    def monitor(customer: Customer, name: str, host: str) -> Monitor:
        # next_check_at stays empty: nothing schedules these unless a test asks.
        return Monitor.objects.create(customer=customer, name=name, hostname=host)

    world.monitor_c1 = monitor(world.c1, "Gateway ping", "127.0.0.1")
    world.monitor_c2 = monitor(world.c2, "Router ping", "127.0.0.2")
    world.other_monitor = monitor(world.other_customer, "Globex ping", "127.0.0.3")
    location = Location.default()
    world.result_c1 = CheckResult.objects.create(
        monitor=world.monitor_c1,
        location=location,
        due_at=timezone.now(),
        status="up",
        sent=2,
        received=2,
        loss_percent=0.0,
        rtt_min=0.1,
        rtt_avg=0.15,
        rtt_max=0.2,
        rtts=[0.1, 0.2],
    )
    world.other_result = CheckResult.objects.create(
        monitor=world.other_monitor, location=location, due_at=timezone.now(), status="up"
    )
    now = timezone.now()
    world.incident_c1 = Incident.objects.create(
        monitor=world.monitor_c1, severity="down", started_at=now, opened_at=now
    )
    world.other_incident = Incident.objects.create(
        monitor=world.other_monitor, severity="down", started_at=now, opened_at=now
    )
    window = {"starts_at": now, "ends_at": now + timedelta(hours=1), "reason": "Planned"}
    world.window_c1 = MaintenanceWindow.objects.create(
        customer=world.c1, monitor=world.monitor_c1, **window
    )
    world.other_window = MaintenanceWindow.objects.create(customer=world.other_customer, **window)


# Port 9 (discard) on loopback: nothing listens, so vendor calls fail fast and locally.
DEAD_VENDOR = "http://127.0.0.1:9"


def _add_vendor_objects(world: World) -> None:
    from vendors.models import (
        ConnectionTest,
        Credential,
        Device,
        DeviceKind,
        MerakiCallback,
        Vendor,
    )

    def credential(org: Organization, name: str, vendor: str = Vendor.MERAKI, **secrets: str):
        cred = Credential(
            organization=org, vendor=vendor, name=name, base_url=f"{DEAD_VENDOR}/{vendor}"
        )
        cred.set_secrets(**(secrets or {"api_key": "meraki-secret-0123456789abcdef"}))
        return cred

    world.cred = credential(world.org, "Acme Meraki")
    world.cred.save()
    world.other_cred = credential(world.other_org, "Other Meraki")
    world.other_cred.save()
    world.simotel_cred = credential(
        world.org,
        "Acme PBX",
        Vendor.SIMOTEL,
        api_key="simotel-secret-abcdef012345",
        webhook_user="pbx",
        webhook_password="hook-secret-123456",
    )
    world.webhook_token = world.simotel_cred.issue_webhook_token()
    world.simotel_cred.save()
    world.conn_test = ConnectionTest.objects.create(credential=world.cred, ok=False, message="x")
    world.other_conn_test = ConnectionTest.objects.create(
        credential=world.other_cred, ok=False, message="x"
    )
    world.callback = MerakiCallback.open(world.cred, "Q2AB-CDEF-0001")[0]
    world.other_callback = MerakiCallback.open(world.other_cred, "Q2AB-CDEF-0002")[0]
    host = DeviceKind.HOST
    world.device_c1 = Device.objects.create(
        customer=world.c1, kind=host, name="Gateway", host="127.0.0.1"
    )
    world.device_c2 = Device.objects.create(
        customer=world.c2, kind=host, name="Router", host="127.0.0.2"
    )
    world.other_device = Device.objects.create(
        customer=world.other_customer, kind=host, name="Globex host", host="127.0.0.3"
    )


@pytest.fixture
def world(db: Any) -> World:
    return make_world()


# --- the loopback vendor simulator and a receiver for what it sends --------------------------


@pytest.fixture
def sim() -> Iterator[SimpleNamespace]:
    from vendors import simulator

    server, state = simulator.serve(0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"

    def fault(**spec) -> None:
        requests.post(f"{base}/_sim/faults", json=spec, timeout=5).raise_for_status()

    yield SimpleNamespace(
        base=base,
        state=state,
        fault=fault,
        log=lambda: requests.get(f"{base}/_sim/log", timeout=5).json(),
    )
    server.shutdown()
    server.server_close()


class Receiver:
    """A loopback HTTP endpoint recording what is POSTed to it (callbacks, webhooks): the parsed
    and the raw body, the headers, and the status it answered. It answers `statuses` in turn
    (e.g. [500, 200]), then `status` (200)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.event = threading.Event()
        self.status = 200
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                status = outer.statuses.pop(0) if outer.statuses else outer.status
                outer.received.append(
                    {
                        "body": body,
                        "raw": raw,
                        "headers": dict(self.headers.items()),
                        "authorization": self.headers.get("Authorization", ""),
                        "status": status,
                        "at": time.monotonic(),
                    }
                )
                self.send_response(status)
                self.end_headers()
                outer.event.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _simulator_config_in_tmp(settings: Any, tmp_path: Any) -> None:
    """The demo writes the simulator's config file; keep tests out of the developer's var/."""
    settings.VENDOR_SIMULATOR_CONFIG = tmp_path / "simulator.json"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Each test starts with the process's caches empty: API keys it checked (portal.keycache),
    compiled queries (portal.sqlcache) and finished jobs' JSON (the "api" cache and the
    process's own copies)."""
    from django.core.cache import caches

    from pings import jobcache
    from portal import keycache, sqlcache

    keycache.clear()
    sqlcache.clear()
    caches["api"].clear()
    jobcache.clear()
    yield
