"""The adapters against the loopback simulator over real HTTP, faults included."""

from __future__ import annotations

import base64
import threading
import time
from types import SimpleNamespace

import pytest
import requests
from django.db import connection

from portal.models import Organization
from vendors import simulator
from vendors.adapters.base import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    UnreadableResponse,
    VendorRefused,
    VendorTimeout,
)
from vendors.adapters.meraki import MerakiAdapter
from vendors.adapters.monogoto import MonogotoAdapter
from vendors.adapters.simotel import SimotelAdapter
from vendors.models import Credential, Vendor

SERIAL = "Q2AB-CDEF-0001"


def cred(vendor: str, base: str, **secrets: str) -> Credential:
    org, _ = Organization.objects.get_or_create(name="Sim org", slug="sim")
    credential = Credential(
        organization=org, vendor=vendor, name=f"{vendor}-{time.time()}", base_url=base
    )
    credential.set_secrets(**secrets)
    credential.save()
    return credential


def monogoto(sim, password: str = "demo-password") -> MonogotoAdapter:
    return MonogotoAdapter(
        cred(Vendor.MONOGOTO, f"{sim.base}/monogoto", username="demo", password=password)
    )


def meraki(sim, key: str = "sim-meraki-key-0001", **kwargs) -> MerakiAdapter:
    return MerakiAdapter(cred(Vendor.MERAKI, f"{sim.base}/meraki/api/v1", api_key=key), **kwargs)


def simotel(sim, **secrets: str) -> SimotelAdapter:
    return SimotelAdapter(
        cred(Vendor.SIMOTEL, f"{sim.base}/simotel", **(secrets or {"api_key": "sim-simotel-key"}))
    )


# --- Monogoto ---------------------------------------------------------------------------------


def test_monogoto_thing_ping_carries_real_loopback_measurements(db, sim):
    device = SimpleNamespace(iccid="8912372646888991", host="", serial="")
    outcome = monogoto(sim).ping(device)
    assert (outcome.sent, outcome.received) == (3, 3)
    assert all(0 < r.rtt_ms < 100 for r in outcome.replies)
    assert outcome.raw[0]["host"] == simulator.thing_ip("8912372646888991")


def test_monogoto_wrong_password_and_refused_login(db, sim):
    with pytest.raises(AuthenticationFailed):
        monogoto(sim, password="nope").test_connection()
    sim.fault(scope="demo", mode="refuse_login", count=1)
    with pytest.raises(AuthenticationFailed):
        monogoto(sim).test_connection()
    assert monogoto(sim).test_connection().ok  # the fault was used up


def test_monogoto_unknown_thing_is_not_found(db, sim):
    with pytest.raises(NotFound):
        monogoto(sim).ping(SimpleNamespace(iccid="8912372646880000", host="", serial=""))


# --- Meraki -----------------------------------------------------------------------------------


def test_meraki_ping_polls_to_real_results(db, sim):
    adapter = meraki(sim)
    outcome = adapter.ping(SimpleNamespace(serial=SERIAL), target="127.0.0.1", count=3)
    assert (outcome.sent, outcome.received) == (3, 3)
    assert [r.sequence for r in outcome.replies] == [1, 2, 3]


def test_meraki_calls_back_with_the_shared_secret(db, sim, receiver):
    job = meraki(sim).start(
        SERIAL,
        target="127.0.0.1",
        count=2,
        callback={"url": receiver.url, "sharedSecret": "per-job-secret"},
    )
    assert job["callback"]["url"] == receiver.url
    assert receiver.event.wait(10)
    body = receiver.received[0]["body"]
    assert body["sharedSecret"] == "per-job-secret"
    assert body["message"]["pingId"] == job["pingId"]
    assert body["message"]["status"] == "complete"
    assert body["message"]["results"]["received"] == 2


def test_meraki_wrong_key_and_unknown_device(db, sim):
    with pytest.raises(AuthenticationFailed):
        meraki(sim, key="wrong").test_connection()
    with pytest.raises(NotFound):
        meraki(sim).ping(SimpleNamespace(serial="Q999-0000-0000"), target="127.0.0.1", count=1)


def test_meraki_refuses_targets_off_loopback(db, sim):
    with pytest.raises(VendorRefused, match="loopback"):
        meraki(sim).start(SERIAL, target="192.0.2.1", count=1)


def test_meraki_fault_429_storm(db, sim):
    sim.fault(scope=SERIAL, mode="429", seconds=60)
    with pytest.raises(RateLimited) as caught:
        meraki(sim, max_rate_wait=1).start(SERIAL, target="127.0.0.1", count=1)
    assert caught.value.retry_after == 60


@pytest.mark.parametrize(
    "mode,error",
    [("500", VendorRefused), ("broken_json", UnreadableResponse), ("html", UnreadableResponse)],
)
def test_meraki_faults(db, sim, mode, error):
    sim.fault(scope=SERIAL, mode=mode, count=1)
    with pytest.raises(error):
        meraki(sim).start(SERIAL, target="127.0.0.1", count=1)


def test_slow_vendor_times_out(db, sim):
    sim.fault(scope="*", mode="slow", seconds=2, count=1)
    adapter = meraki(sim)
    adapter.http.timeout = (1.0, 0.5)
    with pytest.raises(VendorTimeout):
        adapter.test_connection()


def test_meraki_limits_hold_for_twenty_simultaneous_pings(transactional_db, sim):
    """20 pings asked for one device at once: measured on the simulator's side, never more
    than burst 5 and then 1 per 5 s; those that cannot wait end as rate limited."""
    adapter_credential = cred(
        Vendor.MERAKI, f"{sim.base}/meraki/api/v1", api_key="sim-meraki-key-0001"
    )
    outcomes: list[str] = []
    # Read once, before the threads: the in-memory test database reports "table is locked" at
    # once (no busy wait) to a reader racing a writer; the rate buckets retry on that, a plain
    # .get() in 20 threads would not.
    credential = Credential.objects.get(pk=adapter_credential.pk)
    assert credential.secrets["api_key"]  # decrypted and cached now

    def one() -> None:
        adapter = MerakiAdapter(credential, max_rate_wait=6)
        try:
            adapter.start(SERIAL, target="127.0.0.1", count=1)
            outcomes.append("sent")
        except RateLimited:
            outcomes.append("limited")
        finally:
            connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    creates = sorted(e["t"] for e in sim.log() if e["method"] == "POST")
    assert all(e["status"] == 201 for e in sim.log() if e["method"] == "POST")  # no 429 earned
    assert outcomes.count("sent") == len(creates) and len(outcomes) == 20
    assert 5 <= len(creates) <= 8
    start = creates[0]
    for i, t in enumerate(creates):
        # The i-th request (0-based) may come only after (i - 4) refills of 5 s each.
        assert t - start >= max(0, i - 4) * 5 - 0.5, f"request {i} at +{t - start:.2f}s"


# --- Simotel ----------------------------------------------------------------------------------


def test_simotel_api_key_and_basic_auth(db, sim):
    assert simotel(sim).test_connection().ok
    assert simotel(sim, basic_user="test", basic_password="Aa123456").test_connection().ok
    with pytest.raises(AuthenticationFailed):
        simotel(sim, api_key="wrong").test_connection()


def test_simotel_success_zero_fault(db, sim):
    sim.fault(scope="sim-simotel-key", mode="success0", count=1)
    with pytest.raises(VendorRefused, match="Ping event is disabled"):
        simotel(sim).test_connection()


def test_simotel_sends_the_ping_webhook_with_basic_auth(db, sim, receiver):
    requests.post(
        f"{sim.base}/_sim/simotel/webhook",
        timeout=5,
        json={
            "api_key": "sim-simotel-key",
            "url": receiver.url,
            "user": "pbx",
            "password": "hook-pw",
        },
    )
    assert simotel(sim).test_connection().ok
    assert receiver.event.wait(5)
    hit = receiver.received[0]
    assert hit["body"]["event_name"] == "Ping"
    assert hit["authorization"] == "Basic " + base64.b64encode(b"pbx:hook-pw").decode()


def test_simotel_wrong_path_is_an_html_404(db, sim):
    adapter = simotel(sim)
    adapter.http.base_url = f"{sim.base}/simotel/wrong"
    with pytest.raises(NotFound):
        adapter.test_connection()
