"""The ICMP monitor API against the seed (icmp-monitors-create.txt) and the contracts page."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from monitors.models import CheckResult, Location, Monitor
from portal.models import AuditEvent
from tests.conftest import World

SEED = Path(__file__).resolve().parent / "seeds" / "icmp-monitors-create.txt"
SEED_RESPONSE_KEYS = {
    "id",
    "organizationId",
    "customerId",
    "name",
    "hostname",
    "port",
    "status",
    "checkInterval",
    "timeoutSeconds",
    "allowedCheckCountryCodes",
    "notificationPhoneNumber",
    "notificationEmail",
    "lastCheckedAt",
    "createdAt",
    "updatedAt",
    "config",
    "icmpConfig",
}


def seed_request(world: World, **changes) -> dict:
    """The seed's own example body, with a real customer and a loopback host."""
    text = SEED.read_text()
    start = text.index("Request Body") + len("Request Body")
    body = json.loads(text[start : text.index("}Fields") + 1].strip())
    body.update(customerId=str(world.c1.public_id), hostname="127.0.0.1")
    body.update(changes)
    return body


def post(world: World, actor: str, body) -> object:
    return world.api(actor, "POST", "/api/icmp-monitors", body)


def test_the_seeds_example_creates_a_monitor_with_the_seeds_response_keys(world: World):
    response = post(world, "key_rw", seed_request(world))
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= SEED_RESPONSE_KEYS and "publicId" in body
    assert body["customerId"] == world.c1.pk  # answered as the numeric id
    assert body["organizationId"] == world.org.pk
    assert (body["checkInterval"], body["timeoutSeconds"], body["status"]) == (5, 10, "active")
    assert body["config"] == body["icmpConfig"] == {"packetSize": 56, "count": 4}
    assert body["port"] is None and body["notificationEmail"] is None
    assert body["createdAt"].endswith("Z") and body["lastCheckedAt"] is None
    assert AuditEvent.objects.filter(action="monitor.create").exists()


def test_the_seeds_curl_example_works_as_written(world: World, live_server):
    text = SEED.read_text()
    curl = text[text.index("curl -X POST") : text.index("}'Response") + 2]
    curl = (
        curl.replace("https://YOUR_DOMAIN", live_server.url)
        .replace("6764e84f-f02a-43e6-a46d-cecaec556723", str(world.c1.public_id))
        .replace("claas.sh", "127.0.0.1")
        .replace("\\\n", " ")
    )
    env = {"TOKEN": world.key_plaintexts["key_rw"], "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        ["bash", "-c", curl + " -s"], env=env, capture_output=True, text=True, timeout=30
    )
    body = json.loads(result.stdout)
    assert body["name"] == "Ping Gateway" and body["hostname"] == "127.0.0.1"
    assert Monitor.objects.filter(public_id=body["publicId"]).exists()
    assert shlex.split(curl)[0] == "curl"


def test_customer_id_accepts_the_numeric_id_too(world: World):
    response = post(world, "admin", seed_request(world, customerId=world.c1.pk))
    assert response.status_code == 201 and response.json()["customerId"] == world.c1.pk


def test_defaults(world: World):
    body = post(
        world, "admin", {"customerId": world.c1.pk, "name": "n", "hostname": "127.0.0.1"}
    ).json()
    assert body["config"] == {"packetSize": 56, "count": 3}
    assert body["status"] == "active" and body["checkIntervalSeconds"] is None


@pytest.mark.parametrize(
    "given,stored",
    [
        ("paused", "disabled"),
        ("inactive", "disabled"),
        ("maintenance", "maintenance"),
        ("disabled", "disabled"),
    ],
)
def test_status_is_normalized(world: World, given, stored):
    body = post(world, "admin", seed_request(world, status=given)).json()
    assert body["status"] == stored


@pytest.mark.parametrize("customer_id", ["not-an-id", "12ab", True, None, {"id": 1}, 1.5])
def test_invalid_customer_identifier_is_400(world: World, customer_id):
    response = post(world, "admin", seed_request(world, customerId=customer_id))
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "statusMessage": "Bad Request",
        "message": "Invalid Customer identifier",
    }


@pytest.mark.parametrize("customer_id", ["999999", "0b9f8e2c-0000-4000-8000-000000000000"])
def test_unknown_customer_is_404(world: World, customer_id):
    response = post(world, "admin", seed_request(world, customerId=customer_id))
    assert response.status_code == 404
    assert response.json()["message"] == "Customer not found"


def test_another_organizations_customer_is_404(world: World):
    response = post(
        world, "admin", seed_request(world, customerId=str(world.other_customer.public_id))
    )
    assert response.status_code == 404 and response.json()["message"] == "Customer not found"


@pytest.mark.parametrize(
    "hostname",
    [
        "https://claas.sh",
        "claas.sh/ping",
        "claas sh",
        "",
        "a" * 300,
        "http://127.0.0.1",
        "-bad-.test",
        42,
    ],
)
def test_invalid_hostnames_are_400(world: World, hostname):
    before = Monitor.objects.count()
    response = post(world, "admin", seed_request(world, hostname=hostname))
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid hostname"
    assert Monitor.objects.count() == before


@pytest.mark.parametrize(
    "hostname,stored",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("Gateway.Example.TEST.", "gateway.example.test"),
        ("2001:DB8::1", "2001:db8::1"),
    ],
)
def test_valid_hostnames_are_accepted(world: World, hostname, stored):
    response = post(world, "admin", seed_request(world, hostname=hostname))
    assert response.status_code == 201 and response.json()["hostname"] == stored


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"checkInterval": 0}, "checkInterval"),
        ({"checkInterval": "5"}, "checkInterval"),
        ({"timeoutSeconds": 61}, "timeoutSeconds"),
        ({"checkIntervalSeconds": 4}, "checkIntervalSeconds"),
        ({"icmpConfig": {"packetSize": 70000}}, "icmpConfig.packetSize"),
        ({"icmpConfig": {"count": 0}}, "icmpConfig.count"),
        ({"icmpConfig": []}, "icmpConfig"),
        ({"notificationEmail": "nope"}, "notificationEmail"),
        ({"status": "sleeping"}, "status"),
        ({"allowedCheckCountryCodes": ["Germany"]}, "allowedCheckCountryCodes"),
        ({"port": 70000}, "port"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "nonFieldErrors"),
    ],
)
def test_invalid_body_is_400_with_field_errors(world: World, changes, field):
    response = post(world, "admin", seed_request(world, **changes))
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Invalid request body" and field in body["errors"]


def test_a_body_that_is_not_an_object_is_400(world: World):
    assert post(world, "admin", ["x"]).status_code == 400
    response = world.client("admin").post(
        "/api/icmp-monitors", "{x", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["statusCode"] == 400


def test_unauthorized_is_401(world: World):
    response = post(world, "anon", seed_request(world))
    assert response.status_code == 401
    assert response.json()["statusMessage"] == "Unauthorized"


@pytest.mark.parametrize("actor", ["viewer", "supporter", "customer", "key_ro"])
def test_read_only_users_and_supporters_are_403(world: World, actor):
    before = Monitor.objects.count()
    response = post(world, actor, seed_request(world))
    assert response.status_code == 403 and response.json()["statusCode"] == 403
    assert Monitor.objects.count() == before


def test_country_codes_are_upper_cased_and_de_duplicated(world: World):
    body = post(
        world, "admin", seed_request(world, allowedCheckCountryCodes=["de", "DE", "us"])
    ).json()
    assert body["allowedCheckCountryCodes"] == ["DE", "US"]


def _monitor(world: World, customer=None) -> Monitor:
    return Monitor.objects.create(
        customer=customer or world.c1, name="Gateway", hostname="127.0.0.1"
    )


def test_list_filters_search_and_pages(world: World):
    for i in range(3):
        Monitor.objects.create(customer=world.c1, name=f"Core {i}", hostname=f"127.0.0.{i + 1}")
    Monitor.objects.create(customer=world.c2, name="Edge", hostname="127.0.1.1")
    Monitor.objects.create(customer=world.other_customer, name="Theirs", hostname="127.0.2.1")
    # The shared world already has one monitor for each of c1 and c2 (and one elsewhere).
    body = world.api("viewer", "GET", "/api/icmp-monitors?perPage=2").json()
    assert body["total"] == 6 and body["perPage"] == 2 and len(body["items"]) == 2
    assert "customerName" in body["items"][0]
    by_customer = world.api("viewer", "GET", f"/api/icmp-monitors?customerId={world.c2.public_id}")
    assert [m["name"] for m in by_customer.json()["items"]] == ["Router ping", "Edge"]
    search = world.api("viewer", "GET", "/api/icmp-monitors?search=core").json()
    assert search["total"] == 3
    assert world.api("viewer", "GET", "/api/icmp-monitors?perPage=201").status_code == 400
    assert world.api("customer", "GET", "/api/icmp-monitors").json()["total"] == 4
    # The total rides on the page's rows (a window count); the last page and a page past the end
    # (no rows to carry it) still say it.
    last = world.api("viewer", "GET", "/api/icmp-monitors?perPage=4&page=2").json()
    assert (last["total"], len(last["items"])) == (6, 2)
    beyond = world.api("viewer", "GET", "/api/icmp-monitors?perPage=4&page=9").json()
    assert (beyond["total"], beyond["items"]) == (6, [])


def test_list_items_equal_the_detail_answers(world: World):
    """The list reads rows as values, the detail a model: both must say the same."""
    monitor = _monitor(world)
    monitor.config = {"count": 3}
    monitor.notification_webhook_secret = "s3cret-value"
    monitor.save()
    items = world.api("viewer", "GET", "/api/icmp-monitors?perPage=200").json()["items"]
    for item in items:
        detail = world.api("viewer", "GET", f"/api/icmp-monitors/{item['publicId']}").json()
        assert item.pop("customerName") == Monitor.objects.get(pk=item["id"]).customer.name
        assert item == detail


def test_get_patch_delete(world: World):
    monitor = _monitor(world)
    path = f"/api/icmp-monitors/{monitor.public_id}"
    assert world.api("viewer", "GET", path).json()["name"] == "Gateway"
    response = world.api("operator", "PATCH", path, {"name": "Renamed", "config": {"count": 5}})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed" and response.json()["icmpConfig"]["count"] == 5
    assert world.api("operator", "DELETE", path).json() == {"success": True}
    assert not Monitor.objects.filter(pk=monitor.pk).exists()


def test_read_only_user_may_patch_only_the_status(world: World):
    monitor = _monitor(world)
    path = f"/api/icmp-monitors/{monitor.public_id}"
    assert world.api("viewer", "PATCH", path, {"status": "paused"}).json()["status"] == "disabled"
    response = world.api("viewer", "PATCH", path, {"status": "active", "name": "x"})
    assert response.status_code == 403
    monitor.refresh_from_db()
    assert monitor.name == "Gateway" and monitor.status == "disabled"
    for actor in ("supporter", "customer", "key_ro"):
        assert world.api(actor, "PATCH", path, {"status": "active"}).status_code == 403


def test_other_organizations_monitor_is_404(world: World):
    monitor = _monitor(world, world.other_customer)
    path = f"/api/icmp-monitors/{monitor.public_id}"
    for method in ("GET", "PATCH", "DELETE"):
        assert world.api("admin", method, path, {}).status_code == 404
    assert world.api("admin", "GET", f"{path}/check-history").status_code == 404


def test_customer_limited_key_sees_and_creates_only_its_customer(world: World):
    _monitor(world, world.c2)
    mine = _monitor(world, world.c1)
    listed = world.api("key_customer", "GET", "/api/icmp-monitors").json()
    assert [m["id"] for m in listed["items"]] == [world.monitor_c1.pk, mine.pk]
    assert post(world, "key_customer", seed_request(world)).status_code == 201
    response = post(world, "key_customer", seed_request(world, customerId=world.c2.pk))
    assert response.status_code == 404


def test_check_history_in_the_contract_shape(world: World):
    from datetime import timedelta

    from django.utils import timezone

    monitor = _monitor(world)
    location = Location.default()
    now = timezone.now()
    for i, (status, loss) in enumerate([("up", 0.0), ("degraded", 50.0), ("down", 100.0)]):
        CheckResult.objects.create(
            monitor=monitor,
            location=location,
            due_at=now - timedelta(minutes=i),
            sent_at=now,
            sent=2,
            received=int(2 * (100 - loss) / 100),
            loss_percent=loss,
            rtt_min=1.0,
            rtt_avg=1.5,
            rtt_max=2.0,
            rtts=[1.0, 2.0],
            status=status,
        )
    body = world.api(
        "customer", "GET", f"/api/icmp-monitors/{monitor.public_id}/check-history?limit=2"
    ).json()
    assert len(body["data"]) == 2
    first = body["data"][0]
    assert {
        "id",
        "status",
        "errorMessage",
        "warningMessage",
        "timingIcmp",
        "diagnostics",
        "checkedAt",
        "locationId",
        "locationName",
        "locationCode",
    } <= set(first)
    assert {"min", "avg", "max", "packetLoss"} <= set(first["diagnostics"])
    assert first["status"] == "up" and first["locationCode"] == "local"
    assert body["data"][1]["warningMessage"] == "Packet loss 50%"
    assert (
        world.api(
            "admin", "GET", f"/api/icmp-monitors/{monitor.public_id}/check-history?limit=500"
        ).status_code
        == 400
    )


def test_alert_history_shape(world: World):
    monitor = _monitor(world)
    body = world.api("viewer", "GET", f"/api/icmp-monitors/{monitor.public_id}/alert-history")
    assert body.json() == {"alerts": [], "total": 0}
