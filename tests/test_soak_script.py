"""The soak script's own judgement (bench/soak.py): what it pings, how it counts the checks it
expects, how it classes answers and how it bounds memory. Its run is a benchmark, not a test;
these are the parts whose mistakes would make it pass when it should fail (or ping elsewhere).
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import soak  # bench/ is a folder of scripts, not a package

BASE = "http://127.0.0.1:9"  # never contacted: `responses` answers every request


def test_monitor_addresses_are_distinct_loopback_hosts_clear_of_the_demo_and_simulator() -> None:
    addresses = [ipaddress.ip_address(soak.host_address(i)) for i in range(200_000)]
    assert len(set(addresses)) == len(addresses)
    assert all(a.is_loopback for a in addresses)
    demo, things = ipaddress.ip_network("127.0.0.0/16"), ipaddress.ip_network("127.10.0.0/16")
    assert not any(a in demo or a in things for a in addresses)
    assert not any(a.packed[3] in (0, 255) for a in addresses)


def plan_with(first_slots: dict[int, datetime], interval: int = 60) -> soak.Plan:
    plan = soak.Plan({}, {}, [], "", "", "", parked=datetime(2030, 1, 1, tzinfo=UTC))
    plan.first_slots = first_slots
    plan.intervals = dict.fromkeys(first_slots, interval)
    return plan


def test_expected_checks_count_every_slot_up_to_the_cut_and_none_after_it() -> None:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    plan = plan_with({1: start, 2: start + timedelta(seconds=30), 3: start + timedelta(hours=1)})
    cut = start + timedelta(seconds=120)  # slots of 1 at 0, 60 and 120 s; of 2 at 30 and 90 s
    assert soak.expected_checks(plan, cut) == {1: 3, 2: 2}


@pytest.fixture
def client() -> soak.Client:
    plan = plan_with({1: datetime(2030, 1, 1, tzinfo=UTC)})
    plan.monitors = {"c": ["m"]}
    plan.devices = {"c": ["d"]}
    plan.serials = ["Q2SK-SOAK-0001"]
    return soak.Client(1, BASE, plan, soak.Tally(), threading.Event(), think=0)


@responses.activate
def test_a_server_error_and_a_lost_session_both_count_against_the_soak(client) -> None:
    responses.get(f"{BASE}/api/icmp-monitors/m", status=500)
    responses.get(f"{BASE}/monitors/m/", status=302, headers={"Location": "/accounts/login/"})
    client.act("api: monitor detail")
    client.act("page: monitor")
    tally = client.tally
    assert tally.server_errors["api: monitor detail"] == 1
    assert tally.unexpected["page: monitor"] == 1
    assert tally.answers["page: monitor"] == {"302 → /accounts/login/": 1}


@responses.activate
def test_a_refused_connection_is_a_server_error(client) -> None:
    # No answer registered: `responses` refuses the connection, as a dead server would.
    client.act("api: check-history")
    assert client.tally.server_errors["api: check-history"] == 1


@responses.activate
def test_a_ping_launch_may_meet_the_device_limit_but_nothing_else_may_answer_429(client) -> None:
    responses.post(f"{BASE}/api/devices/Q2SK-SOAK-0001/liveTools/ping", status=429)
    responses.get(f"{BASE}/api/icmp-monitors/m", status=429)
    client.act("api: ping launch")
    client.act("api: monitor detail")
    assert client.tally.unexpected == {"api: monitor detail": 1}
    assert not client.tally.server_errors


@responses.activate
def test_a_launched_ping_is_polled_until_it_ends(client, monkeypatch) -> None:
    monkeypatch.setattr(soak, "PING_POLL_SECONDS", 0)
    path = f"{BASE}/api/devices/Q2SK-SOAK-0001/liveTools/ping"
    responses.post(path, status=201, json={"pingId": "7", "status": "queued"})
    for status in ("running", "running", "complete"):
        responses.get(f"{path}/7", json={"pingId": "7", "status": status})
    client.ping()
    assert client.tally.pings == [("7", "complete")]
    assert sum(client.tally.answers["api: ping GET"].values()) == 3


def sampler_with(samples: dict[int, list[tuple[float, int]]]) -> soak.MemorySampler:
    sampler = soak.MemorySampler([])
    for n, (pid, points) in enumerate(samples.items()):
        sampler.labels[pid], sampler.rank[pid] = f"p{pid}", (0, n)
        sampler.samples[pid] = [(t, mb * 1024) for t, mb in points]
    return sampler


def test_memory_growth_is_measured_from_the_warm_up_and_bounded_per_process() -> None:
    steady = [(t, 100 + (20 if t < 60 else 0) + t / 100) for t in range(0, 601, 5)]
    leaking = [(t, 100 + t / 10) for t in range(0, 601, 5)]  # +48 MB after warm-up
    rows = {r["label"]: r for r in sampler_with({1: steady, 2: leaking}).growth(120, 120, 600)}
    assert rows["p1"]["ok"] and rows["p1"]["bounded"]
    assert rows["p1"]["growth"] == pytest.approx(4.8)  # the warm-up's +20 MB is not counted
    assert rows["p1"]["bound"] == soak.RSS_GROWTH_MB  # 15 % of ~100 MB is below 16 MB
    assert not rows["p2"]["ok"]


def test_a_process_that_started_late_is_measured_from_its_own_warm_up() -> None:
    recycled = [(t, 80 + (10 if t < 400 else 0)) for t in range(300, 601, 5)]  # born at 300 s
    exited = [(t, 80 + t) for t in range(0, 301, 5)]  # grew, then exited at 300 s
    young = [(t, 80 + t) for t in range(550, 601, 5)]  # born too late to warm up
    keep = [(t, 80) for t in range(0, 601, 5)]  # the soak's end is the last sample
    rows = {
        r["label"]: r
        for r in sampler_with({1: recycled, 2: exited, 3: young, 4: keep}).growth(120, 120, 600)
    }
    assert rows["p1"]["bounded"] and rows["p1"]["growth"] == 0  # its step ended at 400 s
    assert not rows["p2"]["bounded"] and rows["p2"]["ok"]
    assert rows["p2"]["note"] == "exited before the end"
    assert not rows["p3"]["bounded"] and rows["p3"]["note"] == "started too late to warm up"


@responses.activate
def test_a_client_that_stops_on_a_broken_answer_counts_against_the_soak(client) -> None:
    path = f"{BASE}/api/devices/Q2SK-SOAK-0001/liveTools/ping"
    responses.post(path, status=201, body="<html>not the JSON promised</html>")
    client.use = client.ping  # the run, reduced to the one action that meets the broken answer
    client.run()
    assert client.tally.unexpected == {"client": 1}
    assert "JSONDecodeError" in client.tally.examples[-1]
