"""The ping job lifecycle, queued → running → complete | failed | timed_out, for every vendor:
against `responses` fakes of the contracts and against the loopback simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import responses
from django.utils import timezone

from pings import launching, tasks
from pings.models import PingJob, PingReply, Status, Via
from portal.models import AuditEvent
from tests import netns
from tests.conftest import World
from vendors.models import Credential, Device, DeviceKind, Vendor

MONOGOTO = "https://console.monogoto.test"
MERAKI = "https://api.meraki.test/api/v1"
SIMOTEL = "http://pbx.simotel.test"
ICCID = "8912372646888991"
SERIAL = "Q2AB-CDEF-0009"


def make_device(world: World, kind: str, base_url: str = "", **fields: Any) -> Device:
    vendor = DeviceKind(kind).vendor
    credential = None
    if vendor:
        secrets = {
            Vendor.MONOGOTO: {"username": "demo", "password": "demo-password"},
            Vendor.MERAKI: {"api_key": "sim-meraki-key-0001"},
            Vendor.SIMOTEL: {"api_key": "sim-simotel-key"},
        }[vendor]
        credential = Credential(
            organization=world.org, vendor=vendor, name=f"{vendor} {base_url}", base_url=base_url
        )
        credential.set_secrets(**secrets)
        credential.save()
    defaults = {
        DeviceKind.MONOGOTO_THING: {"iccid": ICCID},
        DeviceKind.MERAKI_DEVICE: {"serial": SERIAL},
        DeviceKind.HOST: {"host": "127.0.0.1"},
        DeviceKind.SIMOTEL_SERVER: {},
    }[kind]
    return Device.objects.create(
        customer=world.c1,
        kind=kind,
        credential=credential,
        **{"name": f"{kind} device", **defaults, **fields},
    )


def queue(world: World, device: Device, monkeypatch: Any, **options: Any) -> PingJob:
    """Launch as the operator, with the queue held so that the test runs the worker itself."""
    queued: list[int] = []
    monkeypatch.setattr(launching, "enqueue", lambda job: queued.append(job.pk))
    job = launching.launch(
        world.users["operator"],
        device,
        launching.clean_options(device, options),
        via=Via.PAGE,
    )
    assert queued == [job.pk]
    job.refresh_from_db()
    assert job.status == Status.QUEUED and job.started_at is None
    return job


def run(job: PingJob) -> PingJob:
    tasks.run_job(job.pk)
    job.refresh_from_db()
    return job


# --- local ICMP: real echoes to loopback ----------------------------------------------------


def test_a_host_ping_runs_from_queued_to_complete_with_every_reply(world, monkeypatch):
    device = make_device(world, DeviceKind.HOST)
    job = queue(world, device, monkeypatch, count=3, interval=0.2, timeout=1)
    assert AuditEvent.objects.filter(action="ping.launch", target_id=str(job.pk)).exists()
    job = run(job)
    assert job.status == Status.COMPLETE, job.error
    assert (job.sent, job.received, job.loss_percent) == (3, 3, 0.0)
    assert job.started_at <= job.finished_at
    assert 0 < job.rtt_min <= job.rtt_avg <= job.rtt_max < 1000
    assert job.rtt_stddev is not None
    assert list(job.replies.values_list("sequence", flat=True)) == [1, 2, 3]
    assert all(r.rtt_ms > 0 for r in job.replies.all())


def test_replies_are_recorded_while_the_ping_runs(world, monkeypatch):
    """The page shows echoes as they arrive: each is in the database before the next is sent."""
    from vendors.adapters import local_icmp

    device = make_device(world, DeviceKind.HOST)
    job = queue(world, device, monkeypatch, count=3, interval=0.2, timeout=1)
    seen: list[int] = []
    original = local_icmp.time.sleep

    def sleep_and_look(seconds: float) -> None:
        seen.append(PingReply.objects.filter(job=job).count())
        original(seconds)

    monkeypatch.setattr(local_icmp.time, "sleep", sleep_and_look)
    assert run(job).status == Status.COMPLETE
    assert seen == [1, 2]  # before the 2nd echo, 1 reply stored; before the 3rd, 2


NETNS_SKIP = netns.unavailable_reason()


@pytest.mark.skipif(NETNS_SKIP is not None, reason=f"network namespace test: {NETNS_SKIP}")
def test_loss_on_a_real_link_is_measured_echo_by_echo(world, monkeypatch):
    """A test-made namespace drops every 2nd echo request: exactly half come back (the 1st and
    3rd), and the replies say which; an address on that link that nobody has answers nothing."""
    with netns.namespace(drop_every_second_echo=True) as link:
        device = make_device(world, DeviceKind.HOST, host=link.ns_address)
        job = run(queue(world, device, monkeypatch, count=4, interval=0.2, timeout=0.5))
        assert job.status == Status.COMPLETE
        assert (job.sent, job.received, job.loss_percent) == (4, 2, 50.0)
        assert [r.rtt_ms is None for r in job.replies.all()] == [False, True, False, True]
        silent = make_device(world, DeviceKind.HOST, host=link.silent_address, name="silent")
        job = run(queue(world, silent, monkeypatch, count=2, interval=0.2, timeout=0.3))
        assert job.status == Status.COMPLETE
        assert (job.sent, job.received, job.loss_percent) == (2, 0, 100.0)


# --- vendors through `responses` ------------------------------------------------------------


@responses.activate
def test_monogoto_job_completes_with_the_seed_shape(world, monkeypatch):
    from tests.test_vendor_contracts import MONOGOTO_SEED_PING

    device = make_device(world, DeviceKind.MONOGOTO_THING, MONOGOTO, host="10.1.2.3")
    responses.post(f"{MONOGOTO}/Auth", json={"token": "t0k", "CustomerId": "cid_1"})
    responses.post(f"{MONOGOTO}/thing/ThingId_ICCID_{ICCID}/ping", json=MONOGOTO_SEED_PING)
    job = run(queue(world, device, monkeypatch))
    assert job.status == Status.COMPLETE
    assert (job.sent, job.received) == (3, 3)
    assert (job.rtt_min, job.rtt_max) == (60.0, 89.0)
    assert [r.ttl for r in job.replies.all()] == [63, 60, 73]
    assert job.raw == MONOGOTO_SEED_PING


@responses.activate
def test_monogoto_unknown_thing_fails_in_plain_words(world, monkeypatch):
    device = make_device(world, DeviceKind.MONOGOTO_THING, MONOGOTO, host="10.1.2.3")
    responses.post(f"{MONOGOTO}/Auth", json={"token": "t0k", "CustomerId": "cid_1"})
    responses.post(f"{MONOGOTO}/thing/ThingId_ICCID_{ICCID}/ping", status=404)
    job = run(queue(world, device, monkeypatch))
    assert job.status == Status.FAILED
    assert job.error_kind == "not_found"
    assert "Monogoto does not know this Thing" in job.error
    assert job.replies.count() == 0 and job.sent is None


@responses.activate
def test_meraki_job_polls_to_complete_and_keeps_meraki_s_ping_id(world, monkeypatch):
    device = make_device(world, DeviceKind.MERAKI_DEVICE, MERAKI)
    created = {
        "pingId": "777",
        "url": f"/devices/{SERIAL}/liveTools/ping/777",
        "request": {"serial": SERIAL, "target": "10.0.0.1", "count": 2},
        "status": "new",
    }
    done = {
        **created,
        "status": "complete",
        "results": {
            "sent": 2,
            "received": 1,
            "loss": {"percentage": 50.0},
            "latencies": {"minimum": 15.8, "average": 15.8, "maximum": 15.8},
            "replies": [{"sequenceId": 1, "size": 84, "latency": 15.8}],
        },
    }
    responses.post(f"{MERAKI}/devices/{SERIAL}/liveTools/ping", json=created, status=201)
    responses.get(f"{MERAKI}/devices/{SERIAL}/liveTools/ping/777", json=done)
    job = run(queue(world, device, monkeypatch, target="10.0.0.1", count=2))
    assert job.status == Status.COMPLETE
    assert job.vendor_reference == "777"
    assert (job.sent, job.received, job.loss_percent) == (2, 1, 50.0)
    assert [(r.sequence, r.rtt_ms) for r in job.replies.all()] == [(1, 15.8), (2, None)]
    body = responses.calls[0].request.body
    assert b'"target": "10.0.0.1"' in body and b'"count": 2' in body


@responses.activate
def test_meraki_failed_job_shows_meraki_s_words(world, monkeypatch):
    device = make_device(world, DeviceKind.MERAKI_DEVICE, MERAKI)
    responses.post(
        f"{MERAKI}/devices/{SERIAL}/liveTools/pingDevice",
        json={"errors": ["Device is offline"]},
        status=400,
    )
    job = run(queue(world, device, monkeypatch))
    assert job.status == Status.FAILED
    assert job.error == "Meraki answered HTTP 400: Device is offline"


@responses.activate
def test_simotel_job_is_one_timed_round_trip(world, monkeypatch):
    from tests.test_vendor_contracts import SIMOTEL_SEED_SUCCESS

    device = make_device(world, DeviceKind.SIMOTEL_SERVER, SIMOTEL)
    responses.put(f"{SIMOTEL}/api/v4/setting/ping/act", json=SIMOTEL_SEED_SUCCESS)
    job = run(queue(world, device, monkeypatch))
    assert job.status == Status.COMPLETE
    assert (job.sent, job.received) == (1, 1)
    assert job.replies.get().rtt_ms >= 0


@responses.activate
def test_simotel_success_zero_is_a_failure_with_its_message(world, monkeypatch):
    device = make_device(world, DeviceKind.SIMOTEL_SERVER, SIMOTEL)
    responses.put(
        f"{SIMOTEL}/api/v4/setting/ping/act",
        json={"success": 0, "message": "IP is not permitted", "data": None},
    )
    job = run(queue(world, device, monkeypatch))
    assert job.status == Status.FAILED
    assert job.error == "Simotel said no: IP is not permitted"


# --- vendors through the loopback simulator -------------------------------------------------


@pytest.mark.parametrize(
    "kind,options",
    [
        (DeviceKind.MONOGOTO_THING, {}),
        (DeviceKind.MERAKI_DEVICE, {"target": "127.0.0.1", "count": 2}),
        (DeviceKind.MERAKI_DEVICE, {"count": 1}),
        (DeviceKind.SIMOTEL_SERVER, {}),
    ],
    ids=["monogoto", "meraki-ping", "meraki-pingDevice", "simotel"],
)
def test_each_vendor_completes_against_the_simulator(world, monkeypatch, sim, kind, options):
    base = f"{sim.base}/{DeviceKind(kind).vendor}" + ("/api/v1" if "meraki" in kind else "")
    device = make_device(world, kind, base)
    job = run(queue(world, device, monkeypatch, **options))
    assert job.status == Status.COMPLETE, job.error
    assert job.received == job.sent >= 1
    assert job.replies.count() == job.sent
    assert job.raw


def test_simulator_500_fails_the_job_and_later_jobs_still_run(world, monkeypatch, sim):
    device = make_device(world, DeviceKind.MERAKI_DEVICE, f"{sim.base}/meraki/api/v1")
    sim.fault(scope="*", mode="500", count=1)
    failed = run(queue(world, device, monkeypatch, target="127.0.0.1", count=1))
    assert failed.status == Status.FAILED and "HTTP 500" in failed.error
    ok = run(queue(world, device, monkeypatch, target="127.0.0.1", count=1))
    assert ok.status == Status.COMPLETE


# --- never twice, never stuck ---------------------------------------------------------------


def test_a_job_delivered_twice_runs_once(world, monkeypatch):
    device = make_device(world, DeviceKind.HOST)
    job = queue(world, device, monkeypatch, count=1)
    assert run(job).status == Status.COMPLETE
    finished_at = job.finished_at
    assert tasks.run_job(job.pk).startswith("not queued")
    job.refresh_from_db()
    assert job.finished_at == finished_at and job.replies.count() == 1


def test_the_sweep_times_out_a_job_whose_worker_died(world, monkeypatch):
    """A worker claimed the job (running) and died: no result ever comes. After the deadline
    the sweep ends it with a reason; the dead worker's late result, if any, is not taken."""
    device = make_device(world, DeviceKind.HOST)
    job = queue(world, device, monkeypatch, count=1)
    claimed = PingJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
        status=Status.RUNNING,
        started_at=timezone.now(),
        deadline_at=timezone.now() + launching.run_budget(),
    )
    assert claimed == 1
    assert tasks.sweep() == 0  # not overdue yet
    later = timezone.now() + launching.run_budget() + timedelta(seconds=1)
    assert tasks.sweep(now=later) == 1
    job.refresh_from_db()
    assert job.status == Status.TIMED_OUT and job.error_kind == "timed_out"
    assert "stopped without a result" in job.error
    # The "dead" worker wakes up and tries to write: the sweep's word stands.
    from vendors.adapters.base import PingOutcome

    assert not tasks._finish(job, Status.COMPLETE, outcome=PingOutcome(sent=1, received=1))
    job.refresh_from_db()
    assert job.status == Status.TIMED_OUT and job.sent is None
    assert tasks.sweep(now=later) == 0  # ended once


def test_the_sweep_times_out_a_job_no_worker_took(world, monkeypatch):
    device = make_device(world, DeviceKind.HOST)
    job = queue(world, device, monkeypatch, count=1)
    later = timezone.now() + launching.QUEUE_DEADLINE + timedelta(seconds=1)
    assert tasks.maintain() == {"timed_out": 0, "callbacks": 0}
    assert tasks.sweep(now=later) == 1
    job.refresh_from_db()
    assert job.status == Status.TIMED_OUT and "No worker started" in job.error
    assert tasks.run_job(job.pk).startswith("not queued")  # a late worker does nothing


def test_an_internal_error_fails_the_job_without_leaking_it(world, monkeypatch, caplog):
    device = make_device(world, DeviceKind.HOST)
    job = queue(world, device, monkeypatch, count=1)

    def explode(job: PingJob) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(tasks, "_ping", explode)
    job = run(job)
    assert job.status == Status.FAILED and job.error_kind == "internal"
    assert "secret internals" not in job.error
    assert "secret internals" in caplog.text  # logged for the operators


def test_the_maintenance_schedule_exists_after_migrate(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="pings.maintain")
    assert schedule.func == "pings.tasks.maintain"
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 1)


def test_a_job_the_queue_refuses_fails_at_once_with_the_reason(world, monkeypatch, caplog):
    import django_q.tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(django_q.tasks, "async_task", broker_down)
    device = make_device(world, DeviceKind.HOST)
    job = launching.launch(
        world.users["operator"], device, launching.clean_options(device, {}), via=Via.PAGE
    )
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error_kind == "queue"
    assert "job queue did not take this ping" in job.error
    assert "redis is down" in caplog.text and "redis is down" not in job.error
