"""Scheduling with a controllable clock, and real ICMP checks."""

from __future__ import annotations

import errno
import select
import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitors import scheduler
from monitors.checks import run_batch
from monitors.engine import Engine, Probe
from monitors.models import CheckResult, Health, Location, Monitor, MonitorStatus
from tests import netns
from tests.conftest import World

NOW = timezone.now().replace(microsecond=0)


def monitor(world: World, host: str = "127.0.0.1", **fields) -> Monitor:
    fields.setdefault("next_check_at", NOW)
    fields.setdefault("config", {"packetSize": 56, "count": 2})
    return Monitor.objects.create(
        customer=world.c1,
        name=f"m-{host}",
        hostname=host,
        timeout_seconds=2,
        **fields,
    )


# --- scheduling -------------------------------------------------------------------------------


def test_a_due_monitor_is_checked_once_and_moves_to_its_next_slot(world: World):
    m = monitor(world, check_interval_seconds=30)
    assert scheduler.tick(NOW) == 1  # tests run django-q2 tasks inline
    assert scheduler.tick(NOW) == 0  # the same slot is never handed out twice
    result = CheckResult.objects.get(monitor=m)
    assert result.due_at == NOW and result.status == Health.UP and result.missed_slots == 0
    m.refresh_from_db()
    assert m.next_check_at == NOW + timedelta(seconds=30)
    assert m.health == Health.UP and m.last_checked_at is not None


def test_after_downtime_one_check_records_the_gap_instead_of_a_burst(world: World):
    m = monitor(world, check_interval_seconds=60, next_check_at=NOW - timedelta(minutes=10))
    assert scheduler.tick(NOW) == 1
    result = CheckResult.objects.get(monitor=m)
    assert result.missed_slots == 10
    m.refresh_from_db()
    assert m.next_check_at == NOW + timedelta(seconds=60)
    assert scheduler.tick(NOW + timedelta(seconds=30)) == 0


def test_slots_are_claimed_ahead_and_each_check_waits_for_its_slot(world: World, settings):
    """The scheduler claims what falls due within MONITOR_CLAIM_AHEAD_SECONDS (bigger batches);
    the engine holds each check until its slot, and a slot claimed ahead is not a missed one."""
    import time

    settings.MONITOR_CLAIM_AHEAD_SECONDS = 1.0
    now = timezone.now()
    soon = monitor(world, check_interval_seconds=60, next_check_at=now + timedelta(seconds=0.6))
    later = monitor(world, host="127.0.0.2", next_check_at=now + timedelta(seconds=5))
    before = time.time()
    assert scheduler.tick(now) == 1  # tests run django-q2 tasks inline
    assert not CheckResult.objects.filter(monitor=later).exists()
    result = CheckResult.objects.get(monitor=soon)
    assert result.missed_slots == 0 and result.status == Health.UP
    assert result.due_at == soon.next_check_at
    # Sent at its slot, not when claimed (a whole second early would be a failure).
    assert result.sent_at >= result.due_at - timedelta(milliseconds=5)
    assert time.time() - before >= 0.5
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.next_check_at == result.due_at + timedelta(seconds=60)
    assert later.next_check_at == now + timedelta(seconds=5)  # beyond the window: untouched


def test_the_loop_gathers_slots_between_ticks(world: World, settings):
    settings.MONITOR_CLAIM_AHEAD_SECONDS = 1.0
    now = timezone.now()
    monitor(world, next_check_at=now + timedelta(seconds=30))
    # Nothing enters the window for 29 s: sleep the longest (1 s); a stream of slots: 0.25 s.
    assert scheduler.pause_after(0, now) == 1.0
    monitor(world, host="127.0.0.2", next_check_at=now)
    assert scheduler.pause_after(3, now) == 0.25
    assert scheduler.pause_after(scheduler.CLAIM_LIMIT, now) == 0.0
    settings.MONITOR_CLAIM_AHEAD_SECONDS = 0
    assert scheduler.pause_after(3, now) == 0.05


def test_minutes_are_the_default_interval_and_seconds_win(world: World):
    minutes = monitor(world, check_interval=5)
    seconds = monitor(world, host="127.0.0.2", check_interval=5, check_interval_seconds=10)
    scheduler.tick(NOW)
    minutes.refresh_from_db()
    seconds.refresh_from_db()
    assert minutes.next_check_at == NOW + timedelta(minutes=5)
    assert seconds.next_check_at == NOW + timedelta(seconds=10)


def test_disabled_is_not_checked_and_maintenance_is(world: World):
    monitor(world, status=MonitorStatus.DISABLED)
    kept = monitor(world, host="127.0.0.2", status=MonitorStatus.MAINTENANCE)
    assert scheduler.tick(NOW) == 1
    assert CheckResult.objects.filter(due_at=NOW).get().monitor == kept


def test_monitors_are_only_queued_where_their_countries_allow(world: World):
    Location.objects.create(code="fra", name="Frankfurt", country="DE")
    us = Location.objects.create(code="nyc", name="New York", country="US")
    only_us = monitor(world, allowed_check_country_codes=["US"])
    anywhere = monitor(world, host="127.0.0.2")
    claims = scheduler.claim_due(NOW)
    by_monitor = {c.monitor_id: c.location_id for c in claims}
    assert by_monitor[only_us.pk] == us.pk
    assert anywhere.pk in by_monitor
    nowhere = monitor(world, host="127.0.0.3", allowed_check_country_codes=["JP"])
    claims = scheduler.claim_due(NOW + timedelta(hours=1))
    assert nowhere.pk not in {c.monitor_id for c in claims}
    nowhere.refresh_from_db()
    assert nowhere.next_check_at > NOW  # still moves on: it is not retried in a loop


def test_location_rotation_spreads_slots_over_allowed_locations(world: World):
    Location.objects.update(is_active=False)
    Location.objects.create(code="a", name="A", country="DE")
    Location.objects.create(code="b", name="B", country="DE")
    m = monitor(world, check_interval_seconds=60)
    seen = set()
    for i in range(4):
        seen |= {c.location_id for c in scheduler.claim_due(NOW + timedelta(minutes=i))}
    assert len(seen) == 2
    assert Monitor.objects.get(pk=m.pk).next_check_at == NOW + timedelta(minutes=4)


def test_batches_go_to_the_locations_cluster(world: World, monkeypatch):
    sent = []
    monkeypatch.setattr(scheduler, "async_task", lambda *a, **kw: sent.append((a, kw)))
    Location.objects.update(is_active=False)
    Location.objects.create(code="fra", name="Frankfurt", country="DE", cluster="portal-fra")
    monitor(world)
    scheduler.tick(NOW)
    assert sent[0][1]["cluster"] == "portal-fra"
    assert sent[0][0][0] == "monitors.tasks.run_checks"


def test_a_check_batch_that_succeeds_leaves_no_task_record_and_one_that_fails_does(
    world: World, monkeypatch
):
    """Its results are the record; django-q2 keeping every successful batch (and pruning
    them by unpickling) cost a seventh of a core at 100,000 monitors. A failure is kept."""
    from django_q.models import Failure, Success
    from django_q.monitor import save_task

    sent = []
    real = scheduler.async_task
    monkeypatch.setattr(scheduler, "async_task", lambda *a, **kw: sent.append(kw) or real(*a, **kw))
    m = monitor(world)
    scheduler.tick(NOW)  # tests run tasks inline, through django-q2's worker and monitor
    assert CheckResult.objects.filter(monitor=m).count() == 1
    assert not Success.objects.exists()
    # The same package, failed, as django-q2's monitor process would save it.
    failed = {
        "id": "f" * 32,
        "name": "checks:1:x",
        "func": "monitors.tasks.run_checks",
        "args": (),
        "kwargs": {},
        "started": timezone.now(),
        "stopped": timezone.now(),
        "result": "engine exploded",
        "success": False,
        "save": sent[0]["save"],
    }
    save_task(failed, None)
    assert Failure.objects.filter(name="checks:1:x").exists()


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_never_claim_the_same_slot(tmp_path):
    """Each due monitor is claimed by exactly one of two simultaneous schedulers: threads on
    PostgreSQL (FOR UPDATE SKIP LOCKED); on SQLite two processes on one database file."""
    if connection.vendor == "postgresql":
        claimed, errors = _claim_in_two_threads()
    else:
        claimed, errors = _claim_in_two_processes(tmp_path)
    assert not errors
    assert len(claimed[0]) + len(claimed[1]) == 200
    assert not set(claimed[0]) & set(claimed[1])


def _claim_in_two_threads():
    from tests.conftest import make_world

    world = make_world()
    for i in range(1, 201):
        monitor(world, host=f"127.0.1.{i}")
    claimed: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def loop(n: int) -> None:
        barrier.wait()
        try:
            claimed[n] = [c.monitor_id for c in scheduler.claim_due(NOW)]
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return claimed, errors


def _claim_in_two_processes(tmp_path):
    import json
    import os
    import subprocess
    import sys
    import time as clock

    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sched.sqlite3'}",
    }
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    prelude = (
        "import django, os, sys, time, json\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'portal.settings'\ndjango.setup()\n"
    )
    setup = prelude + (
        "from django.core.management import call_command\ncall_command('migrate', verbosity=0)\n"
        "from portal.models import Organization, Customer\nfrom monitors.models import Monitor\n"
        "from django.utils import timezone\n"
        "org = Organization.objects.create(name='o')\n"
        "c = Customer.objects.create(organization=org, name='c')\n"
        "for i in range(1, 201):\n"
        "    Monitor.objects.create(customer=c, name=str(i), hostname=f'127.0.1.{i}', "
        "next_check_at=timezone.now())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", setup],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    start_at = clock.time() + 2.0
    claim = prelude + (
        "from django.utils import timezone\nfrom monitors import scheduler\n"
        f"time.sleep(max(0, {start_at} - time.time()))\n"
        "print(json.dumps([c.monitor_id for c in scheduler.claim_due(timezone.now())]))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", claim],
            cwd=root,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    errors = [err for p, (_, err) in zip(procs, outputs, strict=True) if p.returncode]
    claimed = [json.loads(out) if out.strip() else [] for out, _ in outputs]
    return claimed, errors


# --- status rules -----------------------------------------------------------------------------


def test_down_only_after_the_retries(world: World):
    m = monitor(world, host="127.0.0.1", retries=2)  # the fake engine answers for it

    def check() -> CheckResult:
        m.refresh_from_db()
        return run_batch(Location.default(), [(m.pk, timezone.now(), 0)], FakeEngine(0))[0]

    assert [check().retrying for _ in range(3)] == [True, True, False]
    m.refresh_from_db()
    assert m.health == Health.DOWN and m.failures_in_a_row == 3


def test_degraded_by_loss_or_rtt_threshold(world: World):
    lossy = monitor(world, degraded_loss_percent=20)
    slow = monitor(world, host="127.0.0.2", degraded_rtt_ms=0.0001)
    results = run_batch(Location.default(), [(lossy.pk, NOW, 0)], FakeEngine(1, count=2))
    assert results[0].status == Health.DEGRADED and results[0].loss_percent == 50.0
    results = run_batch(Location.default(), [(slow.pk, NOW, 0)])
    assert results[0].status == Health.DEGRADED


class FakeEngine:
    """Stands in for the engine in status-rule tests: answers `received` of `count` echoes."""

    def __init__(self, received: int, count: int = 2) -> None:
        self.received, self.count = received, count

    def run(self, probes):
        from monitors.engine import ProbeResult

        return {
            p.key: ProbeResult(
                key=p.key,
                address="x",
                sent=self.count,
                received=self.received,
                rtts=[1.0] * self.received + [None] * (self.count - self.received),
            )
            for p in probes
        }


# --- real ICMP --------------------------------------------------------------------------------


def test_a_check_of_loopback_is_up(world: World):
    m = monitor(world, config={"packetSize": 120, "count": 4})
    result = run_batch(Location.default(), [(m.pk, NOW, 0)])[0]
    assert (result.sent, result.received, result.status) == (4, 4, Health.UP)
    assert len(result.rtts) == 4 and result.rtt_min <= result.rtt_avg <= result.rtt_max


def test_engine_matches_many_checks_on_one_socket_each_family():
    engine = Engine()
    probes = [
        Probe(key=i, host=f"127.0.{i // 200}.{i % 200 + 1}", count=2, interval=0.02, timeout=1)
        for i in range(600)
    ]
    results = engine.run([*probes, Probe(key="v6", host="::1", count=2, interval=0.02)])
    assert sum(r.received for r in results.values()) == 1202
    assert len(engine._families) == 2  # one socket for IPv4, one for IPv6


class _FlakySocket:
    """A real ICMP socket whose sendto refuses one address (OSError) and reports a full send
    buffer (BlockingIOError) for its first `busy` sends: the engine's two send failures."""

    def __init__(self, sock, refuse: str, busy: int) -> None:
        self._sock, self.refuse, self.busy, self.refused = sock, refuse, busy, 0

    def sendto(self, data: bytes, address: tuple) -> int:
        if self.busy:
            self.busy -= 1
            raise BlockingIOError
        if address[0] == self.refuse:
            self.refused += 1
            raise OSError(errno.EHOSTUNREACH, "No route to host")
        return self._sock.sendto(data, address)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def test_a_refused_send_is_that_probes_error_and_a_full_buffer_only_a_delay():
    engine = Engine()
    engine.run([Probe(key="warm", host="127.0.0.1", count=1)])  # opens the IPv4 socket
    family = engine._families[socket.AF_INET]
    flaky = family.sock = _FlakySocket(family.sock, refuse="127.0.9.9", busy=3)
    probes = [Probe(key=i, host=f"127.0.8.{i + 1}", count=2, interval=0.01) for i in range(20)]
    results = engine.run([*probes, Probe(key="refused", host="127.0.9.9", count=2)])
    refused = results.pop("refused")
    assert flaky.busy == 0 and flaky.refused == 2
    assert refused.sent == 0 and refused.rtts == [] and refused.loss_percent is None
    assert refused.error == "Could not send to 127.0.9.9: No route to host"
    assert all((r.sent, r.received, r.error) == (2, 2, "") for r in results.values())


def test_replies_left_on_the_socket_by_others_do_not_crowd_out_a_batchs_own():
    """A raw socket gets every echo reply on the host: a worker busy elsewhere comes back to a
    buffer full of the other workers' replies. Its next batch must not lose its own to that."""
    engine, other = Engine(), Engine()
    engine.run([Probe(key="warm", host="127.0.0.1", count=1)])
    sock = engine._families[socket.AF_INET].sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)  # ~40 replies of room
    other.run([Probe(key=i, host=f"127.0.4.{i % 250 + 1}", count=1) for i in range(400)])
    results = engine.run([Probe(key=i, host=f"127.0.5.{i + 1}", count=1) for i in range(10)])
    assert [r.received for r in results.values()] == [1] * 10


def test_a_reply_read_after_its_timeout_is_lost():
    """Loopback answers within the send itself, but the reply is read after it: with a timeout
    shorter than any send takes, every reply is past its deadline when read."""
    probes = [
        Probe(key=i, host="127.0.0.1", count=2, interval=0.01, timeout=1e-7) for i in range(3)
    ]
    results = Engine().run(probes)
    assert all((r.sent, r.received, r.rtts) == (2, 0, [None, None]) for r in results.values())
    assert {r.loss_percent for r in results.values()} == {100.0}


def test_echoes_due_later_wait_for_their_time_and_results_keep_each_echo_in_its_place():
    import time

    now = time.time()
    probes = [
        Probe(key="later", host="127.0.0.2", count=1, not_before=now + 0.3),
        Probe(key="now", host="127.0.0.3", count=3, interval=0.05),
    ]
    results = Engine().run(probes)
    later, first = results["later"], results["now"]
    assert first.first_sent_at < later.first_sent_at
    assert later.first_sent_at >= now + 0.3 - 0.005
    assert (later.received, first.received) == (1, 3)
    assert all(rtt is not None and rtt < 1000 for rtt in first.rtts)


def test_echo_identifiers_roll_over_when_the_sequence_space_is_used_up():
    engine = Engine()
    engine._sequence = 0xFFFE
    identifier = engine._identifier
    results = engine.run([Probe(key=i, host=f"127.0.0.{i + 1}", count=1) for i in range(4)])
    assert sum(r.received for r in results.values()) == 4
    # 0xFFFF, then 1, 2, 3 under the next identifier
    assert (engine._identifier, engine._sequence) == (identifier % 0xFFFF + 1, 3)


def test_a_name_that_does_not_resolve_is_an_error_not_loss(world: World, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise socket.gaierror("no such name")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    m = monitor(world, host="no-such-host.example.test")
    result = run_batch(Location.default(), [(m.pk, NOW, 0)], Engine())[0]
    assert result.sent == 0 and result.loss_percent is None
    assert "does not resolve" in result.error and result.status == Health.DOWN


NETNS_SKIP = netns.unavailable_reason()


@pytest.mark.skipif(NETNS_SKIP is not None, reason=f"network namespace test: {NETNS_SKIP}")
def test_every_second_echo_dropped_is_fifty_percent_loss_and_degraded(world: World):
    with netns.namespace(drop_every_second_echo=True) as link:
        m = monitor(world, host=link.ns_address, config={"packetSize": 56, "count": 10})
        result = run_batch(Location.default(), [(m.pk, NOW, 0)], Engine())[0]
    assert result.sent == 10 and result.received == 5
    assert result.loss_percent == 50.0 and result.status == Health.DEGRADED
    assert [r is None for r in result.rtts] == [False, True] * 5


@pytest.mark.skipif(NETNS_SKIP is not None, reason=f"network namespace test: {NETNS_SKIP}")
def test_a_lost_echo_ends_the_batch_at_its_own_deadline_not_at_the_longest_timeout():
    import time

    with netns.namespace() as link:
        started = time.monotonic()
        results = Engine().run(
            [
                Probe(key="lost", host=link.silent_address, count=1, timeout=0.3),
                Probe(key="answered", host="127.0.0.1", count=1, timeout=30),
            ]
        )
        took = time.monotonic() - started
    assert (results["lost"].sent, results["lost"].received) == (1, 0)
    assert results["answered"].received == 1
    assert took < 5  # waiting out the answered echo's 30 s timeout would be the bug


@pytest.mark.skipif(NETNS_SKIP is not None, reason=f"network namespace test: {NETNS_SKIP}")
def test_an_address_that_never_answers_is_down(world: World):
    with netns.namespace() as link:
        m = monitor(world, host=link.silent_address)
        result = run_batch(Location.default(), [(m.pk, NOW, 0)], Engine())[0]
    assert (result.sent, result.received, result.status) == (2, 0, Health.DOWN)
    assert result.loss_percent == 100.0 and not result.error


def test_echo_requests_carry_a_valid_checksum_from_the_precomputed_payload_sum():
    """The engine sums each payload once and adds the header words per packet: the result
    must be the Internet checksum of the whole packet (which sums to zero when valid)."""
    import os

    from monitors.engine import _checksum, _Family, _sum16

    family = _Family.__new__(_Family)  # no socket needed to build packets
    family.v6 = False
    for size in (0, 1, 56, 1472):
        payload = os.urandom(size)
        for identifier, sequence in ((1, 1), (0xFFFF, 0xFFFF), (0x1234, 0xABCD)):
            packet = family.packet(identifier, sequence, payload, _sum16(payload))
            assert _checksum(packet) == 0
            assert packet == family.packet(identifier, sequence, payload)


def test_literal_addresses_resolve_to_their_canonical_form_without_dns():
    from monitors.resolver import Resolver

    resolver = Resolver()
    assert resolver.resolve("127.0.0.1") == "127.0.0.1"
    assert resolver.resolve("[::1]") == "::1"
    assert resolver.resolve("FE80::0:1") == "fe80::1"
    assert resolver.resolve("FE80::0:1") == "fe80::1"  # again, from the memo


def test_a_batch_writes_monitor_state_by_id_and_never_brings_back_a_deleted_monitor(world: World):
    from portal.bulkwrite import update_fields

    kept, gone = monitor(world), monitor(world, host="127.0.0.2")
    kept.health, kept.last_checked_at, kept.last_rtt_ms = Health.DEGRADED, NOW, 1.25
    gone.health = Health.DOWN
    Monitor.objects.filter(pk=gone.pk).delete()
    update_fields([kept, gone], ["health", "last_checked_at", "last_rtt_ms"])
    kept.refresh_from_db()
    assert (kept.health, kept.last_checked_at, kept.last_rtt_ms) == (Health.DEGRADED, NOW, 1.25)
    assert not Monitor.objects.filter(pk=gone.pk).exists()


def test_update_fields_writes_every_kind_of_column_row_by_row(world: World):
    """One statement for all rows on PostgreSQL (arrays joined by unnest): each row must get
    its own values, whatever the column's type, nulls and quotes included."""
    from portal.bulkwrite import update_fields

    rows = [monitor(world, host=f"127.0.3.{i}") for i in range(1, 4)]
    values = [
        ("it's down", None, {"packetSize": 64, "count": 5}, 3, NOW, None),
        ("", 2.5, {}, 0, None, ["DE", "FR"]),
        ("x" * 300, 0.0, {"nested": {"a": [1, None]}}, 7, NOW + timedelta(days=1), []),
    ]
    names = [
        "last_error",
        "last_rtt_ms",
        "config",
        "failures_in_a_row",
        "last_checked_at",
        "allowed_check_country_codes",
    ]
    for row, row_values in zip(rows, values, strict=True):
        for name, value in zip(names, row_values, strict=True):
            setattr(row, name, value)
    update_fields(rows, names)
    for row, row_values in zip(rows, values, strict=True):
        row.refresh_from_db()
        assert tuple(getattr(row, name) for name in names) == row_values


def test_insert_rows_reports_which_rows_went_in_and_which_clashed(world: World):
    """Rollups insert new rows with their values and merge the ones that clashed (a concurrent
    batch inserted them first): the positions reported must be exactly the rows inserted."""
    from django.db import transaction

    from monitors.models import Rollup
    from portal.bulkwrite import insert_rows

    m = monitor(world)
    key = ["monitor_id", "period", "start"]
    fields = [*key, "checks", "sent", "received", "errors", "rtt_sum", "histogram"]
    fields += ["up_seconds", "degraded_seconds", "down_seconds", "maintenance_seconds"]

    def row(start, checks):
        return (m.pk, 60, start, checks, 1, 1, 0, 0.5, {"3": 1}, 60.0, 0.0, 0.0, 0.0)

    starts = [NOW + timedelta(minutes=i) for i in range(5)]
    with transaction.atomic():
        insert_rows(Rollup, fields, [row(starts[1], 7), row(starts[3], 7)])
        went_in = insert_rows(
            Rollup,
            fields,
            [row(start, 1) for start in starts],
            ignore_conflicts=True,
            unique_fields=key,
            report_inserted=True,
        )
        # A second call in the same transaction reports its own rows only.
        again = insert_rows(
            Rollup,
            fields,
            [row(NOW - timedelta(minutes=1), 1), row(starts[0], 1)],
            ignore_conflicts=True,
            unique_fields=key,
            report_inserted=True,
        )
    assert went_in == [0, 2, 4] and again == [0]
    stored = dict(Rollup.objects.filter(monitor=m).values_list("start", "checks"))
    assert stored == {
        NOW - timedelta(minutes=1): 1,
        **{s: 7 if i in (1, 3) else 1 for i, s in enumerate(starts)},
    }


def test_insert_rows_writes_plain_values_and_handles_conflicts(world: World):
    """The batch writer behind results and rollups (COPY on PostgreSQL, executemany on SQLite):
    JSON and aware datetimes arrive intact, ignored conflicts leave the old row, upserts
    overwrite only the named fields, and a second call in one transaction sends nothing twice."""
    from django.db import transaction

    from monitors.models import Rollup
    from portal.bulkwrite import insert_rows

    m = monitor(world)
    location = Location.default()
    fields = ["monitor_id", "location_id", "due_at", "sent", "received", "rtts", "status"]
    fields += ["retrying", "missed_slots", "maintenance", "error"]
    insert_rows(
        CheckResult, fields, [(m.pk, location.pk, NOW, 2, 1, [1.5, None], "up", 0, 0, 0, "")]
    )
    stored = CheckResult.objects.get(monitor=m)
    assert (stored.due_at, stored.rtts, stored.received) == (NOW, [1.5, None], 1)

    key = ["monitor_id", "period", "start"]
    values = ["checks", "rtt_sum", "histogram", "up_seconds", "sent", "received", "errors"]
    values += ["degraded_seconds", "down_seconds", "maintenance_seconds"]
    row = (m.pk, 60, NOW, 1, 2.5, {"10": 1}, 60.0, 2, 2, 0, 0.0, 0.0, 0.0)
    with transaction.atomic():
        insert_rows(Rollup, key + values, [row])
        insert_rows(Rollup, key + values, [(*row[:3], 9, *row[4:])], ignore_conflicts=True)
        assert Rollup.objects.get(monitor=m).checks == 1
        changed = (*row[:3], 2, 5.0, {"10": 2}, 120.0, *row[7:])
        insert_rows(Rollup, key + values, [changed], unique_fields=key, update_fields=values)
        insert_rows(Rollup, key + values, [changed], unique_fields=key, update_fields=values)
    rollup = Rollup.objects.get(monitor=m)
    assert (rollup.checks, rollup.rtt_sum, rollup.histogram, rollup.up_seconds) == (
        2,
        5.0,
        {"10": 2},
        120.0,
    )
    assert Rollup.objects.filter(monitor=m).count() == 1


def test_a_raw_socket_keeps_only_its_own_engines_replies():
    """Raw sockets are sent every echo reply on the host; each engine's kernel filter keeps
    its own identifiers, so another worker's batch never wakes (or fills) this one's socket."""
    engine, other = Engine(), Engine()
    engine.run([Probe(key="warm", host="127.0.0.1", count=1)])
    other._identifier = engine._identifier % 0xFFFF + 100  # certainly not engine's
    other.run([Probe(key=i, host=f"127.0.6.{i % 250 + 1}", count=1) for i in range(300)])
    assert engine._drain() == 0
    # Its own replies still come through, the identifier rollover included.
    engine._sequence = 0xFFFE
    results = engine.run([Probe(key=i, host=f"127.0.7.{i + 1}", count=1) for i in range(4)])
    assert sum(r.received for r in results.values()) == 4


def test_waiting_for_a_slot_with_a_stray_reply_on_the_socket_does_not_spin(monkeypatch):
    """A reply nobody waits for (a late one of an earlier batch) is read and dropped while a
    batch waits for its first slot; left on the socket it kept select() returning at once."""
    import time

    engine = Engine()
    engine.run([Probe(key="warm", host="127.0.0.1", count=1)])
    family = engine._families[socket.AF_INET]
    stray = family.packet(engine._identifier, (engine._sequence + 500) % 0xFFFF, b"x" * 8)
    # It arrives while the batch waits (the batch drains its socket when it begins).
    threading.Timer(0.05, family.sock.sendto, (stray, ("127.0.0.1", 0))).start()
    calls = []
    real_select = select.select
    monkeypatch.setattr(select, "select", lambda *args: calls.append(1) or real_select(*args))
    later = Probe(key="later", host="127.0.0.2", count=1, not_before=time.time() + 0.2)
    assert engine.run([later])["later"].received == 1
    # ~0.2 s of waiting in steps of at most 5 ms: some tens of calls, not thousands.
    assert len(calls) < 150, len(calls)
