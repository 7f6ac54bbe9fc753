"""Meraki's own Python SDK (the `meraki` package from PyPI), unchanged, pointed at a live portal's
`/api`: it reads the device, creates a ping job, polls it to completion and reads the results,
and it honours the portal's 429 as it would Meraki's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import meraki
import pytest

from pings.models import PingJob
from portal.models import ApiKey
from tests.conftest import make_world
from tests.test_ping_jobs import SERIAL, make_device
from vendors.models import DeviceKind


@pytest.fixture
def portal(live_server: Any, sim: Any, tmp_path: Any) -> Iterator[Any]:
    world = make_world()
    meraki_device = make_device(
        world, DeviceKind.MERAKI_DEVICE, f"{sim.base}/meraki/api/v1", model="MX68"
    )
    _key, plaintext = ApiKey.issue(organization=world.org, name="sdk", read_only=False)
    dashboard = meraki.DashboardAPI(
        api_key=plaintext,
        base_url=f"{live_server.url}/api",
        output_log=False,
        print_console=False,
        suppress_logging=True,
        maximum_retries=3,
        # The SDK's own rate-limit learning keeps a cache file; keep it in the test's folder.
        smart_flow_cache_path=str(tmp_path / "meraki-cache.json"),
    )
    yield world, meraki_device, dashboard
    # Close the SDK's keep-alive connections before the live server goes away.
    dashboard._session._client.close()


def poll(dashboard: Any, serial: str, ping_id: str, kind: str = "Ping") -> dict:
    get = getattr(dashboard.devices, f"getDeviceLiveTools{kind}")
    for _ in range(100):
        job = get(serial, ping_id)
        if job["status"] in ("complete", "failed", "timed_out"):
            return job
    raise AssertionError("the job never ended")


def test_meraki_s_sdk_pings_through_the_portal(transactional_db, portal):
    world, device, dashboard = portal
    info = dashboard.devices.getDevice(SERIAL)
    assert info["serial"] == SERIAL and info["model"] == "MX68" and info["name"] == device.name
    created = dashboard.devices.createDeviceLiveToolsPing(SERIAL, "127.0.0.1", count=3)
    assert created["request"] == {"serial": SERIAL, "target": "127.0.0.1", "count": 3}
    job = poll(dashboard, SERIAL, created["pingId"])
    assert job["status"] == "complete"
    results = job["results"]
    assert (results["sent"], results["received"], results["loss"]["percentage"]) == (3, 3, 0.0)
    assert [r["sequenceId"] for r in results["replies"]] == [1, 2, 3]
    assert results["latencies"]["minimum"] <= results["latencies"]["maximum"]
    stored = PingJob.objects.get(pk=int(created["pingId"]))
    assert stored.via == "api" and stored.device == device and stored.vendor_reference

    own = dashboard.devices.createDeviceLiveToolsPingDevice(str(world.device_c1.pk), count=1)
    job = poll(dashboard, str(world.device_c1.pk), own["pingId"], kind="PingDevice")
    assert job["status"] == "complete" and job["results"]["received"] == 1


def test_meraki_s_sdk_sees_the_portal_s_errors(transactional_db, portal):
    _world, device, dashboard = portal
    with pytest.raises(meraki.APIError) as refused:
        dashboard.devices.createDeviceLiveToolsPing(SERIAL, "https://127.0.0.1", count=1)
    assert refused.value.status == 400
    assert any("target" in e for e in refused.value.message["errors"])
    with pytest.raises(meraki.APIError) as missing:
        dashboard.devices.getDevice("Q999-0000-0000")
    assert missing.value.status == 404
    assert not PingJob.objects.filter(device=device).exists()


def test_meraki_s_sdk_waits_out_the_portal_s_429(transactional_db, portal, monkeypatch):
    """Five pings use the burst; the SDK's sixth gets a 429 with Retry-After and, as with
    Meraki, waits and retries by itself until a token is free."""
    world, _device, dashboard = portal
    waits: list[float] = []
    session = dashboard._session

    def sleep(seconds: float) -> None:  # the SDK's own sleep, recorded (and shortened)
        waits.append(seconds)
        from vendors.models import RateBucket

        RateBucket.objects.filter(key__startswith="ping-launch:").update(tokens=5.0)

    monkeypatch.setattr(session, "_sleep", sleep)
    for _ in range(6):
        dashboard.devices.createDeviceLiveToolsPingDevice(str(world.device_c1.pk), count=1)
    assert len(waits) == 1 and waits[0] >= 1
    assert PingJob.objects.filter(device=world.device_c1, via="api").count() == 6
