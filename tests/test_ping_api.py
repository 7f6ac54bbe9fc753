"""The Meraki-dialect API: create and read jobs for every kind of device, the device shape,
the per-device 429, bad input, signed callbacks with retries, and who may do what."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from pings import callbacks, tasks
from pings.models import CallbackAttempt, CallbackStatus, PingJob, Status
from portal.models import AuditEvent
from tests.conftest import World
from tests.test_ping_jobs import SERIAL, make_device
from vendors.models import DeviceKind

SECRET = "receiver-shared-secret-42"


def create(world: World, serial: Any, body: Any, actor: str = "key_rw", kind: str = "ping"):
    return world.api(actor, "POST", f"/api/devices/{serial}/liveTools/{kind}", body)


def new_jobs(world: World) -> Any:
    """Jobs beyond the ones the world starts with."""
    return PingJob.objects.exclude(pk__in=[world.job_c1.pk, world.job_c2.pk, world.other_job.pk])


# --- the happy path ---------------------------------------------------------------------------


def test_create_answers_201_in_meraki_s_shape_and_the_job_reads_back(world):
    device = world.device_c1  # a plain host on 127.0.0.1: the portal pings it itself
    response = create(world, device.pk, {"target": "127.0.0.1", "count": 2})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"pingId", "url", "request", "status"}
    assert body["request"] == {"serial": str(device.pk), "target": "127.0.0.1", "count": 2}
    assert body["url"] == f"/devices/{device.pk}/liveTools/ping/{body['pingId']}"
    assert "callback" not in body
    # Tests run django-q2 tasks inline, so the job has already run.
    read = world.api("key_rw", "GET", f"/api{body['url']}").json()
    assert read["status"] == "complete"
    results = read["results"]
    assert results["sent"] == 2 and results["received"] == 2
    assert results["loss"] == {"percentage": 0.0}
    latencies = results["latencies"]
    assert 0 < latencies["minimum"] <= latencies["average"] <= latencies["maximum"]
    assert [r["sequenceId"] for r in results["replies"]] == [1, 2]
    assert all(r["latency"] > 0 and r["size"] for r in results["replies"])
    job = PingJob.objects.get(pk=int(body["pingId"]))
    assert (job.via, job.api_key, job.launched_by) == ("api", world.keys["key_rw"], None)
    event = AuditEvent.objects.get(action="ping.launch", target_id=str(job.pk))
    assert event.details["via"] == "api" and event.details["via_api_key_prefix"]


def test_ping_device_pings_the_device_itself(world):
    response = create(world, world.device_c1.pk, {"count": 1}, kind="pingDevice")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["request"] == {"serial": str(world.device_c1.pk), "count": 1}
    read = world.api("key_rw", "GET", f"/api{body['url']}").json()
    assert read["status"] == "complete" and read["results"]["received"] == 1


def test_meraki_devices_are_addressed_by_serial_and_things_by_iccid(world, sim):
    meraki = make_device(world, DeviceKind.MERAKI_DEVICE, f"{sim.base}/meraki/api/v1")
    thing = make_device(world, DeviceKind.MONOGOTO_THING, f"{sim.base}/monogoto")
    response = create(world, meraki.serial, {"target": "127.0.0.1", "count": 1})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "complete"
    assert response.json()["vendorReference"]  # Meraki's own pingId, for support
    response = create(world, thing.iccid, {}, kind="pingDevice")
    assert response.status_code == 201, response.content
    assert response.json()["results"]["received"] >= 1


def test_get_device_returns_meraki_s_device_shape(world):
    meraki = make_device(world, DeviceKind.MERAKI_DEVICE, "http://127.0.0.1:9", model="MX68")
    body = world.api("key_rw", "GET", f"/api/devices/{meraki.serial}").json()
    assert body["serial"] == SERIAL and body["model"] == "MX68"
    assert body["organizationId"] == str(world.org.pk)
    assert {"name", "networkId", "lanIp", "mac", "firmware", "tags", "url"} <= set(body)
    host = world.api("key_rw", "GET", f"/api/devices/{world.device_c1.pk}").json()
    assert host["serial"] == str(world.device_c1.pk) and host["lanIp"] == "127.0.0.1"


def test_device_and_ping_lists_filter(world):
    create(world, world.device_c1.pk, {"target": "127.0.0.1", "count": 1})
    create(world, world.device_c2.pk, {"target": "127.0.0.1", "count": 1})
    devices = world.api("key_rw", "GET", "/api/devices?kind=host&search=gate").json()
    assert [d["name"] for d in devices["items"]] == ["Gateway"]
    pings = world.api("key_rw", "GET", f"/api/pings?customerId={world.c1.public_id}").json()
    assert pings["total"] == 2  # the world's job and this one
    assert {p["device"]["name"] for p in pings["items"]} == {"Gateway"}
    assert world.api("key_rw", "GET", "/api/pings?status=complete").json()["total"] == 4
    assert world.api("key_rw", "GET", "/api/pings?status=failed").json()["total"] == 0
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert world.api("key_rw", "GET", f"/api/pings?createdAfter={tomorrow}").json()["total"] == 0
    bad = world.api("key_rw", "GET", "/api/pings?status=bogus")
    assert bad.status_code == 400 and "status" in bad.json()["fieldErrors"]


def test_portal_style_launch_names_the_device_in_the_body(world):
    body = {"device": world.device_c1.pk, "count": 1}
    response = world.api("key_rw", "POST", "/api/pings", body)
    assert response.status_code == 201, response.content
    assert response.json()["request"] == {"serial": str(world.device_c1.pk), "count": 1}


def test_the_api_defaults_to_meraki_s_five_echoes(world):
    from pings.launching import clean_options

    assert clean_options(world.device_c1, {}, api=True).count == 5
    assert clean_options(world.device_c1, {}).count == 4  # the page's default for hosts


# --- limits and bad input -------------------------------------------------------------------


def test_a_sixth_ping_within_the_burst_answers_429_like_meraki(world):
    for _ in range(5):
        assert create(world, world.device_c1.pk, {"count": 1}, kind="pingDevice").status_code == 201
    response = create(world, world.device_c1.pk, {"count": 1}, kind="pingDevice")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert isinstance(response.json()["errors"], list) and response.json()["errors"]
    assert new_jobs(world).filter(device=world.device_c1).count() == 5
    # Another device has its own bucket.
    assert create(world, world.device_c2.pk, {"count": 1}, kind="pingDevice").status_code == 201


BAD_BODIES = [
    ({"target": "127.0.0.1", "count": 0}, "count"),
    ({"target": "127.0.0.1", "count": 6}, "count"),
    ({"target": "127.0.0.1", "count": "x"}, "count"),
    ({"target": "127.0.0.1", "count": True}, "count"),
    ({"target": "127.0.0.1", "count": 2.5}, "count"),
    ({"target": "https://127.0.0.1"}, "target"),
    ({"target": "127.0.0.1/admin"}, "target"),
    ({"target": "bad host name"}, "target"),
    ({"target": "a" * 300}, "target"),
    ({"target": 12}, "target"),
    ({}, "target"),
    ({"target": "127.0.0.1", "colour": "red"}, "colour"),
    ({"target": "127.0.0.1", "device": "Q2AB-CDEF-0001"}, "device"),
    (
        {"target": "127.0.0.1", "callback": {"url": "not a url", "sharedSecret": "s"}},
        "callback.url",
    ),
    (
        {"target": "127.0.0.1", "callback": {"url": "ftp://x.test/a", "sharedSecret": "s"}},
        "callback.url",
    ),
    ({"target": "127.0.0.1", "callback": {"url": "https://x.test/a"}}, "callback.sharedSecret"),
    ({"target": "127.0.0.1", "callback": "https://x.test"}, "callback"),
    ({"target": "127.0.0.1", "packetSize": 70000}, "packetSize"),
    ([1, 2], "body"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES, ids=[f for _, f in BAD_BODIES])
def test_bad_input_is_a_400_with_field_errors_and_no_job(world, body, field):
    response = create(world, world.device_c1.pk, body)
    assert response.status_code == 400, response.content
    data = response.json()
    assert field in data["fieldErrors"], data
    assert data["errors"] and all(isinstance(e, str) for e in data["errors"])
    assert not new_jobs(world).exists()
    assert not AuditEvent.objects.filter(action="ping.launch").exists()


def test_malformed_json_and_oversized_bodies_are_400s(world):
    client = world.client("key_rw")
    url = f"/api/devices/{world.device_c1.pk}/liveTools/ping"
    broken = client.post(url, data="{not json", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["errors"]
    huge = client.post(
        url,
        data=json.dumps({"target": "127.0.0.1", "pad": "x" * 20_000}),
        content_type="application/json",
    )
    assert huge.status_code == 400 and "body" in huge.json()["fieldErrors"]
    assert not new_jobs(world).exists()


def test_vendor_rules_apply_in_the_api(world):
    simotel = make_device(world, DeviceKind.SIMOTEL_SERVER, "http://127.0.0.1:9")
    response = create(world, simotel.pk, {"target": "127.0.0.1"})
    assert response.status_code == 400 and "target" in response.json()["fieldErrors"]
    response = create(world, simotel.pk, {"count": 2}, kind="pingDevice")
    assert response.status_code == 400 and "count" in response.json()["fieldErrors"]
    response = create(world, world.device_c1.pk, {"target": "127.0.0.1"}, kind="pingDevice")
    assert response.status_code == 400 and "target" in response.json()["fieldErrors"]
    assert not new_jobs(world).exists()


def test_unknown_devices(world):
    response = create(world, "Q999-0000-0000", {"target": "127.0.0.1"})
    assert response.status_code == 404 and response.json()["errors"]
    response = world.api("key_rw", "POST", "/api/pings", {"device": "Q999-0000-0000"})
    assert response.status_code == 400 and "device" in response.json()["fieldErrors"]
    response = world.api("key_rw", "POST", "/api/pings", {"device": world.other_device.pk})
    assert response.status_code == 400  # another organization's device is simply unknown
    assert not new_jobs(world).exists()


def test_every_api_error_is_json(world):
    for path in ("/api/devices/nope/liveTools/ping/1", "/api/pings/abc", "/api/devices/x/y/z"):
        response = world.api("key_rw", "GET", path)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")


# --- permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor,code",
    [
        ("anon", 401),
        ("viewer", 403),
        ("customer", 403),
        ("supporter", 403),
        ("key_ro", 403),
        ("outsider", 404),
        ("key_other", 404),
        ("operator", 201),
        ("admin", 201),
        ("key_rw", 201),
        ("key_customer", 201),
    ],
)
def test_who_may_launch(world, actor, code):
    response = create(world, world.device_c1.pk, {"count": 1}, actor=actor, kind="pingDevice")
    assert response.status_code == code, response.content
    assert new_jobs(world).exists() is (code == 201)


def test_customer_scoped_keys_and_users_see_only_their_customer(world):
    create(world, world.device_c1.pk, {"count": 1}, kind="pingDevice")
    create(world, world.device_c2.pk, {"count": 1}, kind="pingDevice")
    for actor in ("key_customer", "customer"):
        pings = world.api(actor, "GET", "/api/pings").json()
        assert {p["device"]["name"] for p in pings["items"]} == {"Gateway"}, actor
        assert pings["total"] == 2, actor
        devices = world.api(actor, "GET", "/api/devices").json()
        assert [d["name"] for d in devices["items"]] == ["Gateway"], actor
    c2_job = new_jobs(world).get(device=world.device_c2)
    assert world.api("key_customer", "GET", f"/api/pings/{c2_job.pk}").status_code == 404
    response = create(world, world.device_c2.pk, {"count": 1}, "key_customer", "pingDevice")
    assert response.status_code == 404


# --- callbacks ------------------------------------------------------------------------------


class SigningReceiver:
    """A caller's callback endpoint that does what the README tells receivers to do: check the
    HMAC of timestamp and body with its shared secret, refuse stale timestamps and replays."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret, self.fail_first = secret, fail_first
        self.accepted: list[dict] = []
        self.refused: list[str] = []
        self.requests: list[tuple[dict, bytes]] = []
        self.seen: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                outer.requests.append((headers, body))
                code, reason = outer.judge(headers, body)
                if reason:
                    outer.refused.append(reason)
                self.send_response(code)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/ping-done"

    def judge(self, headers: dict, body: bytes) -> tuple[int, str]:
        if self.fail_first > 0:
            self.fail_first -= 1
            return 500, ""
        timestamp = headers.get("X-Portal-Timestamp", "")
        given = headers.get("X-Portal-Signature", "")
        mac = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(given, f"sha256={mac.hexdigest()}"):
            return 401, "bad signature"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return 401, "stale timestamp"
        if given in self.seen:
            return 409, "replay"
        self.seen.add(given)
        payload = json.loads(body)
        if not hmac.compare_digest(payload.get("sharedSecret", ""), self.secret):
            return 401, "wrong shared secret"
        self.accepted.append(payload)
        return 200, ""

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def signing_receiver():
    made: list[SigningReceiver] = []

    def make(**kwargs: Any) -> SigningReceiver:
        made.append(SigningReceiver(SECRET, **kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def launch_with_callback(world: World, url: str) -> dict:
    response = create(
        world,
        world.device_c1.pk,
        {"target": "127.0.0.1", "count": 1, "callback": {"url": url, "sharedSecret": SECRET}},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert SECRET not in response.content.decode()  # never echoed
    return body


def test_the_callback_is_signed_and_a_replay_is_refused(world, signing_receiver):
    receiver = signing_receiver()
    body = launch_with_callback(world, receiver.url)
    assert len(receiver.accepted) == 1, receiver.refused
    payload = receiver.accepted[0]
    assert payload["message"]["pingId"] == body["pingId"]
    assert payload["message"]["status"] == "complete"
    assert payload["message"]["results"]["received"] == 1
    assert payload["sharedSecret"] == SECRET  # as Meraki sends it
    job = PingJob.objects.get(pk=int(body["pingId"]))
    assert job.callback_status == CallbackStatus.DELIVERED and job.callback_attempts == 1
    assert CallbackAttempt.objects.get(job=job).ok
    read = world.api("key_rw", "GET", f"/api{body['url']}").json()
    assert read["callback"]["status"] == "delivered"
    # An eavesdropper replays the exact request: the receiver refuses it.
    headers, raw = receiver.requests[0]
    import requests

    replay = requests.post(receiver.url, data=raw, headers=headers, timeout=5)
    assert replay.status_code == 409 and receiver.refused == ["replay"]
    # A forged body with the old signature fails the HMAC.
    forged = raw.replace(b'"complete"', b'"failed"')
    assert requests.post(receiver.url, data=forged, headers=headers, timeout=5).status_code == 401


def test_a_failed_callback_is_retried_with_backoff_and_recorded(world, signing_receiver):
    receiver = signing_receiver(fail_first=2)
    body = launch_with_callback(world, receiver.url)
    job = PingJob.objects.get(pk=int(body["pingId"]))
    assert job.callback_status == CallbackStatus.RETRYING and job.callback_attempts == 1
    first_wait = job.callback_next_at - timezone.now()
    assert timedelta(seconds=20) < first_wait <= timedelta(seconds=callbacks.CALLBACK_BACKOFF[0])
    assert callbacks.deliver_due_callbacks() == 0  # not due yet
    later = timezone.now() + timedelta(seconds=callbacks.CALLBACK_BACKOFF[0] + 1)
    assert callbacks.deliver_due_callbacks(now=later) == 1
    job.refresh_from_db()
    assert job.callback_status == CallbackStatus.RETRYING and job.callback_attempts == 2
    assert job.callback_next_at - timezone.now() > timedelta(seconds=callbacks.CALLBACK_BACKOFF[0])
    much_later = timezone.now() + timedelta(seconds=callbacks.CALLBACK_BACKOFF[1] + 1)
    assert callbacks.deliver_due_callbacks(now=much_later) == 1
    job.refresh_from_db()
    assert job.callback_status == CallbackStatus.DELIVERED and job.callback_attempts == 3
    attempts = list(job.callback_log.values_list("number", "ok", "status_code"))
    assert attempts == [(1, False, 500), (2, False, 500), (3, True, 200)]
    assert len(receiver.accepted) == 1
    read = world.api("key_rw", "GET", f"/api{body['url']}").json()
    assert read["callback"]["status"] == "delivered" and read["callback"]["attempts"] == 3


def test_the_portal_gives_up_after_the_last_retry(world):
    # Port 9 on loopback: nothing listens, every attempt fails at once.
    body = launch_with_callback(world, "http://127.0.0.1:9/hook")
    job = PingJob.objects.get(pk=int(body["pingId"]))
    for _ in callbacks.CALLBACK_BACKOFF:
        PingJob.objects.filter(pk=job.pk).update(callback_next_at=timezone.now())
        callbacks.deliver_due_callbacks()
    job.refresh_from_db()
    assert job.callback_status == CallbackStatus.FAILED
    assert job.callback_attempts == len(callbacks.CALLBACK_BACKOFF) + 1
    assert all("Could not connect" in a.error for a in job.callback_log.all())
    assert callbacks.deliver_callback(job.pk) == "nothing to deliver"


def test_a_timed_out_job_still_calls_back(world, signing_receiver, monkeypatch):
    from pings import launching

    receiver = signing_receiver()
    monkeypatch.setattr(launching, "enqueue", lambda job: None)  # no worker ever takes it
    body = launch_with_callback(world, receiver.url)
    assert body["status"] == "queued"
    tasks.sweep(now=timezone.now() + launching.QUEUE_DEADLINE + timedelta(seconds=1))
    assert receiver.accepted[0]["message"]["status"] == Status.TIMED_OUT
    assert receiver.accepted[0]["message"]["error"]["kind"] == "timed_out"


def stored_secret(ping_id: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT callback_secret_encrypted FROM pings_pingjob WHERE id = %s", [int(ping_id)]
        )
        return cursor.fetchone()[0]


def test_the_callback_secret_is_encrypted_at_rest_and_dropped_once_delivered(
    world, signing_receiver, monkeypatch, settings
):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from pings import launching

    receiver = signing_receiver()
    held: list[int] = []
    monkeypatch.setattr(launching, "enqueue", lambda job: held.append(job.pk))
    body = launch_with_callback(world, receiver.url)
    stored = stored_secret(body["pingId"])
    assert stored and SECRET not in stored
    # Key rotation covers callback secrets too.
    old_keys = list(settings.SECRETS_ENCRYPTION_KEYS)
    settings.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    call_command("rotate_secrets", stdout=__import__("io").StringIO())
    settings.SECRETS_ENCRYPTION_KEYS = settings.SECRETS_ENCRYPTION_KEYS[:1]
    assert stored_secret(body["pingId"]) != stored
    assert PingJob.objects.get(pk=held[0]).callback_secret == SECRET
    tasks.run_job(held[0])
    assert receiver.accepted and receiver.accepted[0]["sharedSecret"] == SECRET
    assert stored_secret(body["pingId"]) == ""


def test_callbacks_may_not_reach_private_networks_in_production(world, settings):
    settings.PING_CALLBACKS_TO_PRIVATE_NETWORKS = False
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://[::1]/hook"):
        response = create(
            world,
            world.device_c1.pk,
            {"target": "127.0.0.1", "callback": {"url": url, "sharedSecret": SECRET}},
        )
        assert response.status_code == 400, url
        assert "private or local network" in response.json()["fieldErrors"]["callback.url"][0]
    assert not new_jobs(world).exists()
    # A job made while allowed is refused at delivery once the setting is off.
    settings.PING_CALLBACKS_TO_PRIVATE_NETWORKS = True
    body = launch_with_callback(world, "http://127.0.0.1:9/hook")
    job = PingJob.objects.get(pk=int(body["pingId"]))
    settings.PING_CALLBACKS_TO_PRIVATE_NETWORKS = False
    PingJob.objects.filter(pk=job.pk).update(callback_next_at=timezone.now())
    callbacks.deliver_due_callbacks()
    assert "private or local network" in job.callback_log.latest("number").error


def test_every_ping_and_device_endpoint_is_in_the_schema_with_examples(db):
    from django.test import Client

    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = {
        (path, method): op
        for path, item in schema["paths"].items()
        if path.startswith(("/api/devices", "/api/pings"))
        for method, op in item.items()
    }
    ids = {op["operationId"] for op in operations.values()}
    assert {
        "listDevices",
        "getDevice",
        "createDeviceLiveToolsPing",
        "createDeviceLiveToolsPingDevice",
        "getDeviceLiveToolsPing",
        "getDeviceLiveToolsPingDevice",
        "listPings",
        "createPing",
        "getPing",
    } <= ids
    for (path, method), op in operations.items():
        answers = [
            content
            for response in op["responses"].values()
            for content in response.get("content", {}).values()
        ]
        assert any("examples" in c for c in answers), f"{method.upper()} {path} has no example"


def test_the_ping_list_counts_and_pages_within_bounds(world, monkeypatch):
    from pings.api import views

    monkeypatch.setattr(views.PingPagination, "COUNT_LIMIT", 5)
    base = {
        "organization": world.org,
        "customer": world.c1,
        "device": world.device_c1,
        "vendor": "local",
        "launched_by_label": "operator",
        "via": "api",
        "status": "complete",
        "deadline_at": timezone.now(),
    }
    made = PingJob.objects.bulk_create(
        PingJob(**base, created_at=timezone.now() - timedelta(minutes=i)) for i in range(10)
    )
    expected = list(
        PingJob.objects.filter(organization=world.org)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
    )
    assert len(expected) == 12 and expected[0] == made[0].pk
    first = world.api("key_rw", "GET", "/api/pings?perPage=3").json()
    assert (first["total"], first["totalCapped"]) == (5, True)
    assert [int(p["pingId"]) for p in first["items"]] == expected[:3]
    too_deep = world.api("key_rw", "GET", "/api/pings?perPage=3&page=3")
    assert too_deep.status_code == 400 and "before" in too_deep.json()["fieldErrors"]["page"][0]
    seen, cursor = [], None
    while True:  # walk everything with the cursor
        query = f"&before={cursor}" if cursor else ""
        body = world.api("key_rw", "GET", f"/api/pings?perPage=4{query}").json()
        seen += [int(p["pingId"]) for p in body["items"]]
        cursor = body["nextBefore"]
        if cursor is None:
            break
    assert seen == expected


def test_a_callback_the_queue_refuses_is_delivered_by_the_maintenance(
    world, signing_receiver, monkeypatch
):
    import django_q.tasks

    from pings import launching

    receiver = signing_receiver()
    held: list[int] = []
    monkeypatch.setattr(launching, "enqueue", lambda job: held.append(job.pk))
    body = launch_with_callback(world, receiver.url)
    real = django_q.tasks.async_task

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(django_q.tasks, "async_task", broker_down)
    tasks.run_job(held[0])
    job = PingJob.objects.get(pk=int(body["pingId"]))
    assert job.status == "complete" and job.callback_status == CallbackStatus.RETRYING
    assert not receiver.accepted
    monkeypatch.setattr(django_q.tasks, "async_task", real)
    later = timezone.now() + timedelta(seconds=callbacks.CALLBACK_BACKOFF[0] + 1)
    assert callbacks.deliver_due_callbacks(now=later) == 1
    assert len(receiver.accepted) == 1
