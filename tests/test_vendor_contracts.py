"""Adapters against `responses` fakes built from the seeds' own examples and every documented
error of each vendor (../shared/seeds, ../shared/VENDOR-CONTRACTS.md)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import responses
from responses import matchers

from vendors.adapters.base import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    Unreachable,
    UnreadableResponse,
    VendorRefused,
    VendorTimeout,
)
from vendors.adapters.meraki import MerakiAdapter
from vendors.adapters.monogoto import MonogotoAdapter, parse_ping
from vendors.adapters.simotel import SimotelAdapter
from vendors.models import Credential, Vendor

SEEDS = Path(__file__).resolve().parent / "seeds"  # copies of ../shared/seeds
# Fake hosts on reserved names: `responses` intercepts every request, nothing leaves.
MONOGOTO = "https://console.monogoto.test"
MERAKI = "https://api.meraki.test/api/v1"
SIMOTEL = "http://pbx.simotel.test"

# The Monogoto seed's example response, verbatim.
MONOGOTO_SEED_PING = [
    {
        "host": "11.111.11.211",
        "size": "56",
        "ttl": "63",
        "time": "82ms",
        "sent": "1",
        "received": "1",
        "packetLoss": "0",
    },
    {
        "host": "11.111.11.211",
        "size": "56",
        "ttl": "60",
        "time": "89ms",
        "sent": "2",
        "received": "2",
        "packetLoss": "0",
    },
    {
        "host": "11.111.11.211",
        "size": "56",
        "ttl": "73",
        "time": "60ms",
        "sent": "3",
        "received": "3",
        "packetLoss": "0",
    },
]
SIMOTEL_SEED_SUCCESS = {
    "success": 1,
    "message": "If the 'Ping' event is enabled in the settings "
    "menu, you'll receive it when it's sent",
    "data": None,
}


def meraki_seed_example() -> dict:
    spec = json.loads((SEEDS / "meraki-live-tools-ping.json").read_text())["spec"]
    return spec["responses"]["201"]["content"]["application/json"]["example"]


def credential(vendor: str, base_url: str, **secrets: str) -> Credential:
    cred = Credential(vendor=vendor, name="t", base_url=base_url)
    cred.set_secrets(**secrets)
    return cred


def thing(iccid: str = "8912372646888991", host: str = "") -> SimpleNamespace:
    return SimpleNamespace(iccid=iccid, host=host, serial="")


# --- Monogoto ---------------------------------------------------------------------------------


def test_the_seed_example_parses_into_the_normalized_outcome():
    outcome = parse_ping(MONOGOTO_SEED_PING)
    assert (outcome.sent, outcome.received, outcome.loss_percent) == (3, 3, 0.0)
    assert [r.rtt_ms for r in outcome.replies] == [82.0, 89.0, 60.0]
    assert [r.ttl for r in outcome.replies] == [63, 60, 73]
    assert (outcome.rtt_min, outcome.rtt_max, outcome.rtt_avg) == (60.0, 89.0, 77.0)
    assert outcome.rtt_stddev == pytest.approx(12.356, abs=0.001)


def test_lost_packets_are_read_from_the_cumulative_counters():
    packets = [
        dict(MONOGOTO_SEED_PING[0]),
        {
            "host": "x",
            "size": "56",
            "ttl": "",
            "time": "",
            "sent": "2",
            "received": "1",
            "packetLoss": "50",
        },
        {
            "host": "x",
            "size": "56",
            "ttl": "61",
            "time": "70ms",
            "sent": "3",
            "received": "2",
            "packetLoss": "33",
        },
    ]
    outcome = parse_ping(packets)
    assert (outcome.sent, outcome.received) == (3, 2)
    assert [r.rtt_ms for r in outcome.replies] == [82.0, None, 70.0]
    assert outcome.loss_percent == pytest.approx(33.33, abs=0.01)


@pytest.mark.parametrize("body", [{"not": "a list"}, ["string"], None])
def test_unexpected_ping_shapes_are_unreadable(body):
    with pytest.raises(UnreadableResponse):
        parse_ping(body)


def _monogoto_login(rsps: responses.RequestsMock, token: str = "tok-1") -> None:
    rsps.post(
        f"{MONOGOTO}/Auth",
        json={"token": token, "refreshToken": "r", "CustomerId": "cid_c256463da", "UserId": "u"},
        match=[matchers.json_params_matcher({"UserName": "alice", "Password": "pw"})],
    )


@responses.activate
def test_monogoto_logs_in_and_pings_with_token_and_customer_id():
    _monogoto_login(responses.mock)
    responses.post(
        f"{MONOGOTO}/thing/ThingId_ICCID_8912372646888991/ping",
        json=MONOGOTO_SEED_PING,
        match=[
            matchers.header_matcher({"Authorization": "Bearer tok-1", "apikey": "cid_c256463da"}),
            matchers.json_params_matcher({"IPAddress": "10.140.90.211"}),
        ],
    )
    adapter = MonogotoAdapter(
        credential(Vendor.MONOGOTO, MONOGOTO, username="alice", password="pw")
    )
    outcome = adapter.ping(thing(host="10.140.90.211"))
    assert outcome.received == 3 and outcome.source == "monogoto"
    assert adapter.credential.secrets["customer_id"] == "cid_c256463da"


@responses.activate
def test_monogoto_fetches_the_thing_ip_when_unknown():
    _monogoto_login(responses.mock)
    responses.get(
        f"{MONOGOTO}/thing/ThingId_ICCID_8912372646888991",
        json={"IPv4": "10.1.2.3", "IPv6": None, "State": "Active", "IMSI": "1", "MSISDN": "2"},
    )
    responses.post(
        f"{MONOGOTO}/thing/ThingId_ICCID_8912372646888991/ping",
        json=MONOGOTO_SEED_PING,
        match=[matchers.json_params_matcher({"IPAddress": "10.1.2.3"})],
    )
    adapter = MonogotoAdapter(
        credential(Vendor.MONOGOTO, MONOGOTO, username="alice", password="pw")
    )
    assert adapter.ping(thing()).sent == 3


@responses.activate
def test_monogoto_logs_in_again_once_on_401():
    cred = credential(
        Vendor.MONOGOTO,
        MONOGOTO,
        username="alice",
        password="pw",
        token="expired",
        customer_id="cid_c256463da",
    )
    url = f"{MONOGOTO}/thing/ThingId_ICCID_8912372646888991/ping"
    responses.post(
        url,
        status=401,
        body="",
        match=[matchers.header_matcher({"Authorization": "Bearer expired"})],
    )
    _monogoto_login(responses.mock, token="fresh")
    responses.post(
        url,
        json=MONOGOTO_SEED_PING,
        match=[matchers.header_matcher({"Authorization": "Bearer fresh"})],
    )
    assert MonogotoAdapter(cred).ping(thing(host="10.0.0.1")).received == 3
    assert cred.secrets["token"] == "fresh"


@responses.activate
def test_monogoto_gives_up_after_one_fresh_login():
    cred = credential(Vendor.MONOGOTO, MONOGOTO, username="alice", password="pw", token="old")
    url = f"{MONOGOTO}/thing/ThingId_ICCID_8912372646888991/ping"
    responses.post(url, status=401, body="")
    _monogoto_login(responses.mock, token="fresh")
    with pytest.raises(AuthenticationFailed):
        MonogotoAdapter(cred).ping(thing(host="10.0.0.1"))
    assert len([c for c in responses.calls if c.request.url.endswith("/Auth")]) == 1


@responses.activate
def test_monogoto_refused_login():
    responses.post(f"{MONOGOTO}/Auth", status=401, body="")
    adapter = MonogotoAdapter(
        credential(Vendor.MONOGOTO, MONOGOTO, username="alice", password="wrong")
    )
    with pytest.raises(AuthenticationFailed) as caught:
        adapter.test_connection()
    assert "wrong" not in str(caught.value)


@pytest.mark.parametrize(
    "status,error", [(400, VendorRefused), (404, NotFound), (500, VendorRefused)]
)
@responses.activate
def test_monogoto_documented_errors_have_empty_bodies(status, error):
    _monogoto_login(responses.mock)
    responses.post(f"{MONOGOTO}/thing/ThingId_ICCID_8912372646888991/ping", status=status, body="")
    adapter = MonogotoAdapter(
        credential(Vendor.MONOGOTO, MONOGOTO, username="alice", password="pw")
    )
    with pytest.raises(error) as caught:
        adapter.ping(thing(host="10.0.0.1"))
    assert caught.value.status == status


@responses.activate
def test_monogoto_html_instead_of_json_is_unreadable():
    _monogoto_login(responses.mock)
    responses.post(
        f"{MONOGOTO}/thing/ThingId_ICCID_8912372646888991/ping",
        body="<html>gateway</html>",
        content_type="text/html",
    )
    adapter = MonogotoAdapter(
        credential(Vendor.MONOGOTO, MONOGOTO, username="alice", password="pw")
    )
    with pytest.raises(UnreadableResponse, match="text/html"):
        adapter.ping(thing(host="10.0.0.1"))


@pytest.mark.parametrize(
    "exc,error",
    [
        (requests.ConnectTimeout(), VendorTimeout),
        (requests.ReadTimeout(), VendorTimeout),
        (requests.ConnectionError(), Unreachable),
    ],
)
@responses.activate
def test_transport_failures_become_typed_errors(exc, error):
    responses.post(f"{MONOGOTO}/Auth", body=exc)
    adapter = MonogotoAdapter(
        credential(Vendor.MONOGOTO, MONOGOTO, username="alice", password="pw")
    )
    with pytest.raises(error):
        adapter.test_connection()


# --- Meraki -----------------------------------------------------------------------------------

MERAKI_RESULTS = {
    "sent": 5,
    "received": 4,
    "loss": {"percentage": 20.0},
    "latencies": {"minimum": 15.8, "average": 15.85, "maximum": 15.9},
    "replies": [
        {"sequenceId": 1, "size": 84, "latency": 15.7},
        {"sequenceId": 2, "size": 84, "latency": 15.8},
        {"sequenceId": 4, "size": 84, "latency": 15.9},
        {"sequenceId": 5, "size": 84, "latency": 16.0},
    ],
}


def meraki(db, **kwargs) -> MerakiAdapter:
    from portal.models import Organization

    org = Organization.objects.create(name=f"M{Organization.objects.count()}")
    cred = credential(Vendor.MERAKI, MERAKI, api_key="k" * 40)
    cred.organization = org
    cred.save()
    return MerakiAdapter(cred, sleep=lambda s: None, **kwargs)


def device(serial: str = "Q234-ABCD-5678") -> SimpleNamespace:
    return SimpleNamespace(serial=serial, host="", iccid="")


@responses.activate
def test_meraki_creates_the_job_as_the_seed_shows_and_polls_the_results(db):
    example = meraki_seed_example()
    created = {**example, "status": "new"}
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=201,
        json=created,
        match=[
            matchers.json_params_matcher({"target": "75.75.75.75", "count": 2}),
            matchers.header_matcher({"Authorization": "Bearer " + "k" * 40}),
        ],
    )
    poll = f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping/{example['pingId']}"
    responses.get(poll, json={**example, "status": "running"})
    responses.get(poll, json={**example, "status": "complete", "results": MERAKI_RESULTS})
    outcome = meraki(db).ping(device(), target="75.75.75.75", count=2)
    assert (outcome.sent, outcome.received, outcome.loss_percent) == (5, 4, 20.0)
    assert [r.sequence for r in outcome.replies] == [1, 2, 3, 4, 5]
    assert outcome.replies[2].rtt_ms is None  # the lost one is kept, without an RTT
    assert outcome.rtt_min == 15.7 and outcome.rtt_max == 16.0


@responses.activate
def test_meraki_ping_device_has_no_target(db):
    example = meraki_seed_example()
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/pingDevice",
        status=201,
        json={**example, "status": "complete", "results": MERAKI_RESULTS},
        match=[matchers.json_params_matcher({"count": 3})],
    )
    assert meraki(db).ping(device(), count=3).received == 4


@responses.activate
def test_meraki_passes_the_callback(db):
    callback = {"url": "http://127.0.0.1:8000/hooks/meraki/abc", "sharedSecret": "s3cret"}
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=201,
        json=meraki_seed_example(),
        match=[
            matchers.json_params_matcher({"target": "127.0.0.1", "count": 5, "callback": callback})
        ],
    )
    job = meraki(db).start("Q234-ABCD-5678", target="127.0.0.1", count=5, callback=callback)
    assert job["pingId"] == "1284392014819"


@pytest.mark.parametrize(
    "status,error",
    [
        (400, VendorRefused),
        (401, AuthenticationFailed),
        (403, VendorRefused),
        (404, NotFound),
        (500, VendorRefused),
    ],
)
@responses.activate
def test_meraki_errors_envelope(db, status, error):
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=status,
        json={"errors": [f"problem {status}"]},
    )
    with pytest.raises(error) as caught:
        meraki(db).ping(device(), target="127.0.0.1", count=1)
    assert caught.value.vendor_message == f"problem {status}"
    assert f"problem {status}" in caught.value.plain


@responses.activate
def test_meraki_429_is_honoured_with_retry_after(db):
    waits: list[float] = []
    adapter = meraki(db)
    adapter.sleep = waits.append
    url = f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping"
    responses.post(
        url,
        status=429,
        headers={"Retry-After": "2"},
        json={"errors": ["API rate limit exceeded for organization"]},
    )
    responses.post(url, status=201, json={**meraki_seed_example(), "results": MERAKI_RESULTS})
    assert adapter.ping(device(), target="127.0.0.1", count=2).received == 4
    assert 2.0 in waits


@responses.activate
def test_meraki_429_storm_ends_as_rate_limited_with_retry_after(db):
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=429,
        headers={"Retry-After": "120"},
        json={"errors": ["API rate limit exceeded for organization"]},
    )
    with pytest.raises(RateLimited) as caught:
        meraki(db).ping(device(), target="127.0.0.1", count=1)
    assert caught.value.retry_after == 120.0
    assert "API rate limit exceeded" in caught.value.plain


@responses.activate
def test_meraki_failed_job_is_an_error(db):
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=201,
        json={**meraki_seed_example(), "status": "failed"},
    )
    with pytest.raises(VendorRefused, match="failed"):
        meraki(db).ping(device(), target="127.0.0.1", count=1)


@responses.activate
def test_meraki_broken_json_is_unreadable(db):
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=201,
        body='{"pingId": "1", ',
        content_type="application/json",
    )
    with pytest.raises(UnreadableResponse):
        meraki(db).ping(device(), target="127.0.0.1", count=1)


@responses.activate
def test_meraki_poll_deadline_is_a_timeout(db):
    example = meraki_seed_example()
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=201,
        json={**example, "status": "new"},
    )
    responses.get(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping/{example['pingId']}",
        json={**example, "status": "running"},
    )
    with pytest.raises(VendorTimeout, match="did not finish"):
        meraki(db).ping(device(), target="127.0.0.1", count=1, deadline_seconds=0)


def test_meraki_count_is_one_to_five(db):
    with pytest.raises(ValueError, match="1 to 5"):
        meraki(db).start("Q234-ABCD-5678", target="127.0.0.1", count=6)


@responses.activate
def test_meraki_test_connection_is_a_harmless_read(db):
    responses.get(f"{MERAKI}/organizations", json=[{"id": "1", "name": "A"}])
    result = meraki(db).test_connection()
    assert result.ok and "1 organization" in result.message
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_meraki_limits_are_kept_before_sending(db):
    """Six pings for one device at once: the sixth waits ~5.5 s (burst 5, then 1 per 5 s
    plus a margin)."""
    waits: list[float] = []
    adapter = meraki(db, max_rate_wait=0.0)
    adapter.sleep = waits.append
    responses.post(
        f"{MERAKI}/devices/Q234-ABCD-5678/liveTools/ping",
        status=201,
        json={**meraki_seed_example(), "results": MERAKI_RESULTS},
    )
    for _ in range(5):
        adapter.start("Q234-ABCD-5678", target="127.0.0.1", count=1)
    with pytest.raises(RateLimited) as caught:
        adapter.start("Q234-ABCD-5678", target="127.0.0.1", count=1)
    assert 5.0 < caught.value.retry_after <= 5.5
    assert len(responses.calls) == 5


# --- Simotel ----------------------------------------------------------------------------------


def simotel(method: str = "PUT", **secrets: str) -> SimotelAdapter:
    cred = credential(Vendor.SIMOTEL, SIMOTEL, **(secrets or {"api_key": "vZKtIKWsld0egNlk"}))
    cred.simotel_method = method
    return SimotelAdapter(cred)


@responses.activate
def test_simotel_success_body_from_the_seed():
    responses.put(
        f"{SIMOTEL}/api/v4/setting/ping/act",
        json=SIMOTEL_SEED_SUCCESS,
        match=[
            matchers.header_matcher({"X-APIKEY": "vZKtIKWsld0egNlk"}),
            matchers.json_params_matcher({}),
        ],
    )
    result = simotel().test_connection()
    assert result.ok and result.message.startswith("If the 'Ping' event")


@responses.activate
def test_simotel_basic_auth_from_the_seed():
    responses.post(
        f"{SIMOTEL}/api/v4/setting/ping/act",
        json=SIMOTEL_SEED_SUCCESS,
        match=[matchers.header_matcher({"Authorization": "Basic dGVzdDpBYTEyMzQ1Ng=="})],
    )
    assert simotel("POST", basic_user="test", basic_password="Aa123456").test_connection().ok


@responses.activate
def test_simotel_success_zero_on_http_200_is_an_error():
    responses.put(
        f"{SIMOTEL}/api/v4/setting/ping/act",
        json={"success": 0, "message": "Ping event is disabled", "data": None},
    )
    with pytest.raises(VendorRefused) as caught:
        simotel().test_connection()
    assert caught.value.vendor_message == "Ping event is disabled"


@responses.activate
def test_simotel_tries_the_other_method_once_on_405():
    responses.put(
        f"{SIMOTEL}/api/v4/setting/ping/act",
        status=405,
        json={"success": 0, "message": "Method not allowed", "data": None},
    )
    responses.post(f"{SIMOTEL}/api/v4/setting/ping/act", json=SIMOTEL_SEED_SUCCESS)
    assert simotel("PUT").test_connection().ok
    assert [c.request.method for c in responses.calls] == ["PUT", "POST"]


@pytest.mark.parametrize(
    "status,message,error",
    [
        (400, "Unable to parse content", VendorRefused),
        (401, "BasicAuth or ApiKey is missing", AuthenticationFailed),
        (401, "BasicAuth or ApiKey is invalid", AuthenticationFailed),
        (403, "user;Access denied", VendorRefused),
        (403, "IP is not permitted", VendorRefused),
        (415, "Unsupported Media Type", VendorRefused),
        (501, "Requested service does not exist", VendorRefused),
    ],
)
@responses.activate
def test_simotel_documented_http_errors(status, message, error):
    responses.put(
        f"{SIMOTEL}/api/v4/setting/ping/act",
        status=status,
        json={"success": 0, "message": message, "data": None},
    )
    with pytest.raises(error) as caught:
        simotel().test_connection()
    assert caught.value.vendor_message == message


@responses.activate
def test_simotel_404_is_an_html_page():
    responses.put(
        f"{SIMOTEL}/api/v4/setting/ping/act",
        status=404,
        body="<html><h1>Not Found</h1></html>",
        content_type="text/html",
    )
    with pytest.raises(NotFound):
        simotel().test_connection()


@responses.activate
def test_simotel_html_on_200_is_unreadable():
    responses.put(
        f"{SIMOTEL}/api/v4/setting/ping/act", body="<html>login</html>", content_type="text/html"
    )
    with pytest.raises(UnreadableResponse):
        simotel().test_connection()


@responses.activate
def test_simotel_ping_outcome_is_one_timed_round_trip():
    responses.put(f"{SIMOTEL}/api/v4/setting/ping/act", json=SIMOTEL_SEED_SUCCESS)
    outcome = simotel().ping(SimpleNamespace())
    assert (outcome.sent, outcome.received, outcome.source) == (1, 1, "simotel")
    assert outcome.replies[0].rtt_ms is not None
