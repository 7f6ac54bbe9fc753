"""Inbound webhooks: every URL vendors call is authenticated by a secret and safe to replay.

The inbound endpoints are the views exempt from CSRF outside the API (the API checks CSRF
itself for sessions and needs keys otherwise); a new one fails the first test until it is
listed here with tests of its own.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.conftest import World
from vendors.models import ConnectionTest, Credential, MerakiCallback

INBOUND = {"simotel_webhook", "simotel_webhook_event", "meraki_callback"}
SERIAL = "Q2AB-CDEF-0001"
PING_ID = "1284392014819"


def _views(patterns: list[Any], namespace: str = "") -> list[tuple[str, Any]]:
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _views(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern):
            found.append((f"{namespace}{entry.name}", entry.callback))
    return found


def test_every_inbound_endpoint_is_listed_here():
    exempt = {
        name
        for name, view in _views(get_resolver().url_patterns)
        # DRF views are marked exempt but enforce CSRF for sessions in their authentication.
        if getattr(view, "csrf_exempt", False) and not hasattr(view, "cls")
    }
    assert exempt == INBOUND


# --- Meraki's callback: per-job shared secret, fresh sentAt, accepted once --------------------


@pytest.fixture
def callback(world: World) -> tuple[MerakiCallback, str]:
    row, secret = MerakiCallback.open(world.cred, SERIAL)
    row.ping_id = PING_ID
    row.save()
    return row, secret


def meraki(row: MerakiCallback, body: Any, *, sent_at: Any = "now") -> Any:
    if sent_at == "now":
        sent_at = timezone.now().isoformat()
    if isinstance(body, dict) and sent_at is not None:
        body = {"sentAt": sent_at, **body}
    return Client().post(f"/hooks/meraki/{row.public_id}/", body, content_type="application/json")


def message(status: str = "complete") -> dict[str, Any]:
    return {"pingId": PING_ID, "status": status, "results": {"sent": 1, "received": 1}}


def stored(row: MerakiCallback) -> tuple[Any, Any]:
    row.refresh_from_db()
    return row.received_at, row.payload


@pytest.mark.parametrize("secret", [None, "", "guess", 12345], ids=repr)
def test_a_meraki_callback_without_the_jobs_secret_is_refused(callback, secret):
    row, _ = callback
    body = (
        {"message": message()} if secret is None else {"sharedSecret": secret, "message": message()}
    )
    response = meraki(row, body)
    assert response.status_code == 403
    assert stored(row) == (None, None)


@pytest.mark.parametrize(
    "sent_at",
    [
        None,
        "yesterday",
        "2024-13-45T00:00:00Z",
        "2030-01-01T00:00:00",  # no time zone: cannot be compared
        lambda: (timezone.now() - timedelta(minutes=6)).isoformat(),
        lambda: (timezone.now() + timedelta(minutes=6)).isoformat(),
        lambda: (timezone.now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ],
    ids=["missing", "words", "impossible", "naive", "6-min-old", "6-min-ahead", "3-days-old"],
)
def test_a_meraki_callback_outside_the_time_window_is_refused_as_a_replay(callback, sent_at):
    row, secret = callback
    when = sent_at() if callable(sent_at) else sent_at
    response = meraki(row, {"sharedSecret": secret, "message": message()}, sent_at=when)
    assert response.status_code == 400
    assert "sentAt" in response.json()["error"]
    assert stored(row) == (None, None)


def test_the_window_is_a_setting(callback, settings):
    row, secret = callback
    settings.INBOUND_WEBHOOK_MAX_AGE_SECONDS = 3600
    ten_minutes_ago = (timezone.now() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = meraki(row, {"sharedSecret": secret, "message": message()}, sent_at=ten_minutes_ago)
    assert response.status_code == 200


def test_a_meraki_callback_is_accepted_once_and_replays_change_nothing(callback):
    row, secret = callback
    first = meraki(row, {"sharedSecret": secret, "message": message()})
    assert first.status_code == 200 and first.json() == {"ok": True, "repeat": False}
    received_at, payload = stored(row)
    assert payload["message"]["status"] == "complete" and "sharedSecret" not in payload
    for replay in [
        {"sharedSecret": secret, "message": message()},
        {"sharedSecret": secret, "message": message("failed")},
    ]:
        again = meraki(row, replay)
        assert again.status_code == 200 and again.json()["repeat"] is True
    assert stored(row) == (received_at, payload)


def test_a_meraki_callback_for_another_job_or_an_unknown_one_is_refused(callback):
    row, secret = callback
    wrong_job = meraki(row, {"sharedSecret": secret, "message": {**message(), "pingId": "9"}})
    assert wrong_job.status_code == 400
    other = MerakiCallback(public_id="7a9d3b1e-0000-4000-8000-000000000000")
    assert meraki(other, {"sharedSecret": secret, "message": message()}).status_code == 404
    assert stored(row) == (None, None)


def test_the_meraki_secret_is_kept_only_as_a_hash(callback):
    row, secret = callback
    values = MerakiCallback.objects.filter(pk=row.pk).values().get()
    assert secret not in str(values)
    assert values["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()


# --- Simotel's Ping event: secret URL token and Basic auth, each event matched once ---------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GOOD = basic("pbx", "hook-secret-123456")


def simotel(world: World, auth: str | None = GOOD, token: str | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return Client().post(
        f"/hooks/simotel/{token or world.webhook_token}/",
        {"event_name": "Ping"},
        content_type="application/json",
        **headers,
    )


def waiting_test(world: World, **fields: Any) -> ConnectionTest:
    return ConnectionTest.objects.create(credential=world.simotel_cred, ok=True, **fields)


@pytest.mark.parametrize(
    "auth",
    [None, basic("pbx", "guess"), basic("other", "hook-secret-123456"), "Basic !!!", "Bearer x"],
    ids=["none", "wrong-password", "wrong-user", "garbage", "other-scheme"],
)
def test_a_simotel_event_without_the_configured_basic_auth_is_refused(world: World, auth):
    test = waiting_test(world)
    response = simotel(world, auth)
    assert response.status_code == 401 and "WWW-Authenticate" in response
    test.refresh_from_db()
    assert test.webhook_received_at is None


def test_a_simotel_event_to_an_unknown_or_retired_token_is_refused(world: World):
    test = waiting_test(world)
    assert simotel(world, token="not-the-token").status_code == 404
    old = world.webhook_token
    cred = world.simotel_cred
    cred.issue_webhook_token()  # "New webhook URL": the old one stops working
    cred.save()
    assert simotel(world, token=old).status_code == 404
    test.refresh_from_db()
    assert test.webhook_received_at is None


def test_a_simotel_event_matches_one_waiting_test_once(world: World):
    test = waiting_test(world)
    assert simotel(world).json() == {"ok": True, "matched": True}
    test.refresh_from_db()
    arrived = test.webhook_received_at
    assert arrived is not None
    assert simotel(world).json() == {"ok": True, "matched": False}  # the replay
    test.refresh_from_db()
    assert test.webhook_received_at == arrived


def test_a_simotel_event_replayed_later_matches_nothing(world: World):
    stale = waiting_test(world, started_at=timezone.now() - timedelta(minutes=2))
    failed = ConnectionTest.objects.create(credential=world.simotel_cred, ok=False)
    assert simotel(world).json() == {"ok": True, "matched": False}
    for test in (stale, failed):
        test.refresh_from_db()
        assert test.webhook_received_at is None


def test_the_simotel_token_is_kept_only_as_a_hash_and_looked_up_by_it(world: World):
    values = Credential.objects.filter(pk=world.simotel_cred.pk).values().get()
    assert world.webhook_token not in str(values)
    digest = hashlib.sha256(world.webhook_token.encode()).hexdigest()
    assert values["webhook_token_hash"] == digest
    assert Credential._meta.get_field("webhook_token_hash").db_index
