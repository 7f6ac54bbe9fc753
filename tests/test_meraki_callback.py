"""Meraki's callback mode: a per-job secret, an inbound endpoint that checks it in constant
time and ignores unknown and repeated callbacks, and polling as the fallback."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client

from vendors.adapters.meraki import MerakiAdapter
from vendors.models import MerakiCallback

SERIAL = "Q2AB-CDEF-0001"


def sim_credential(world, sim):
    cred = world.cred
    cred.base_url = f"{sim.base}/meraki/api/v1"
    cred.set_secrets(api_key="sim-meraki-key-0001")
    cred.save()
    return cred


@pytest.mark.django_db(transaction=True)
def test_the_callback_completes_the_job_without_polling(live_server, sim):
    from tests.conftest import make_world

    adapter = MerakiAdapter(sim_credential(make_world(), sim))
    outcome = adapter.ping(
        SimpleNamespace(serial=SERIAL),
        target="127.0.0.1",
        count=2,
        callback_base_url=live_server.url,
        deadline_seconds=15,
    )
    assert (outcome.sent, outcome.received) == (2, 2)
    row = MerakiCallback.objects.get(serial=SERIAL, ping_id__gt="")
    assert row.received_at is not None and "sharedSecret" not in row.payload
    assert not [e for e in sim.log() if e["method"] == "GET"]  # no poll was needed


@pytest.mark.django_db(transaction=True)
def test_polling_finishes_the_job_when_no_callback_comes(live_server, sim):
    from tests.conftest import make_world

    sim.fault(scope=SERIAL, mode="no_callback")
    adapter = MerakiAdapter(sim_credential(make_world(), sim))
    outcome = adapter.ping(
        SimpleNamespace(serial=SERIAL),
        target="127.0.0.1",
        count=1,
        callback_base_url=live_server.url,
        deadline_seconds=20,
        first_delay=0.5,
    )
    assert outcome.received == 1
    assert MerakiCallback.objects.get(ping_id__gt="").received_at is None
    assert [e for e in sim.log() if e["method"] == "GET"]  # polled instead


def post(row, body) -> dict:
    from django.utils import timezone

    body = {"sentAt": timezone.now().isoformat(), **body}  # fresh, as Meraki sends it
    response = Client().post(
        f"/hooks/meraki/{row.public_id}/", body, content_type="application/json"
    )
    return {"status": response.status_code, **response.json()}


def test_the_endpoint_checks_the_secret_and_ignores_repeats(world):
    row, secret = MerakiCallback.open(world.cred, SERIAL)
    row.ping_id = "1284392014819"
    row.save()
    message = {"pingId": "1284392014819", "status": "complete", "results": {"sent": 1}}
    assert post(row, {"sharedSecret": "guess", "message": message})["status"] == 403
    assert (
        post(row, {"sharedSecret": secret, "message": {**message, "pingId": "9"}})["status"] == 400
    )
    first = post(row, {"sharedSecret": secret, "message": message})
    assert first == {"status": 200, "ok": True, "repeat": False}
    replay = post(row, {"sharedSecret": secret, "message": {**message, "status": "failed"}})
    assert replay == {"status": 200, "ok": True, "repeat": True}
    row.refresh_from_db()
    assert row.payload["message"]["status"] == "complete"  # the replay changed nothing


def test_unknown_callbacks_and_garbage_are_refused(world):
    assert (
        Client().post("/hooks/meraki/not-a-uuid/", {}, content_type="application/json").status_code
        == 404
    )
    assert (
        Client()
        .post(
            "/hooks/meraki/7a9d3b1e-0000-4000-8000-000000000000/",
            {},
            content_type="application/json",
        )
        .status_code
        == 404
    )
    row, _ = MerakiCallback.open(world.cred, SERIAL)
    assert (
        Client()
        .post(f"/hooks/meraki/{row.public_id}/", "{oops", content_type="application/json")
        .status_code
        == 400
    )


def test_the_secret_is_stored_only_as_a_hash(world):
    row, secret = MerakiCallback.open(world.cred, SERIAL)
    stored = MerakiCallback.objects.filter(pk=row.pk).values().get()
    assert secret not in str(stored) and row.secret_matches(secret)
