"""Rollups against the raw results they summarize, uptime arithmetic on hand-made histories,
and pruning that leaves the rollups whole."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from monitors import retention, rollups, sketch, uptime
from monitors.checks import run_batch
from monitors.models import CheckResult, Health, Location, Monitor, Period, Rollup
from tests.conftest import World
from tests.test_monitor_incidents import DOWN, LOSSY, UP, Answers

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)

# One check: (seconds after T0, status, retrying, maintenance, RTTs with None for a loss, error)
check = st.tuples(
    st.integers(0, 3 * 86400 - 1),
    st.sampled_from([Health.UP, Health.DEGRADED, Health.DOWN]),
    st.booleans(),
    st.booleans(),
    st.lists(st.one_of(st.none(), st.floats(0.01, 5000)), min_size=1, max_size=6),
    st.sampled_from(["", "", "", "Could not send"]),
)


def result(monitor: Monitor, at: int, status, retrying, maintenance, rtts, error) -> CheckResult:
    got = [r for r in rtts if r is not None]
    return CheckResult(
        monitor=monitor,
        location=Location.default(),
        due_at=T0 + timedelta(seconds=at),
        sent=len(rtts),
        received=len(got),
        rtts=rtts,
        status=status,
        retrying=retrying and status == Health.DOWN,
        maintenance=maintenance,
        error=error,
    )


def expected(results: list[CheckResult], interval: float, period: int) -> dict:
    """What each rollup row must say, computed straight from the raw results."""
    groups: dict[datetime, list[CheckResult]] = defaultdict(list)
    for r in results:
        groups[rollups.period_start(r.due_at, period)].append(r)
    rows = {}
    for start, members in groups.items():
        rtts = [v for r in members for v in r.rtts if v is not None]
        seconds = defaultdict(float)
        for r in members:
            seconds[rollups.time_kind(r)] += interval
        rows[start] = {
            "checks": len(members),
            "sent": sum(r.sent for r in members),
            "received": len(rtts),
            "errors": sum(bool(r.error) for r in members),
            "rtt_min": min(rtts, default=None),
            "rtt_max": max(rtts, default=None),
            "rtt_sum": sum(rtts),
            "p50": sketch.exact_quantile(rtts, 0.5),
            "p90": sketch.exact_quantile(rtts, 0.9),
            **{k: seconds[k] for k in uptime.KINDS},
        }
    return rows


@pytest.mark.django_db
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(checks=st.lists(check, min_size=1, max_size=60, unique_by=lambda c: c[0]), cuts=st.data())
def test_rollups_equal_what_the_raw_results_give_however_the_batches_fall(checks, cuts):
    with transaction.atomic():  # each example starts from an empty history
        compare_with_raw(checks, cuts)
        transaction.set_rollback(True)


def compare_with_raw(checks, cuts) -> None:
    from portal.models import Customer, Organization

    org = Organization.objects.create(name="Rollup Org")
    customer = Customer.objects.create(organization=org, name="Rollup Customer")
    monitor = Monitor.objects.create(
        customer=customer, name="m", hostname="127.0.0.1", check_interval_seconds=30
    )
    results = [result(monitor, *c) for c in checks]
    # Feed the results in arbitrary batches, in arbitrary order, with folds in between at
    # arbitrary moments (a result whose minute was folded already is a late one).
    order = cuts.draw(st.permutations(results))
    size = cuts.draw(st.integers(1, len(results)))
    for i in range(0, len(order), size):
        rollups.absorb(order[i : i + size], {monitor.pk: monitor})
        if cuts.draw(st.booleans()):
            moment = cuts.draw(st.sampled_from(order)).due_at
            rollups.fold(through=moment, chunk=cuts.draw(st.integers(1, 5)))
    rollups.fold(through=T0 + timedelta(days=3650))
    assert not Rollup.objects.filter(monitor=monitor, folded=False).exists()
    for period in Period.values:
        want = expected(results, 30.0, period)
        got = {r.start: r for r in Rollup.objects.filter(monitor=monitor, period=period)}
        assert set(got) == set(want)
        for start, row in want.items():
            actual = got[start]
            for name in ("checks", "sent", "received", "errors", "rtt_min", "rtt_max"):
                assert getattr(actual, name) == row[name], (period, start, name)
            assert actual.rtt_sum == pytest.approx(row["rtt_sum"])
            for name in uptime.KINDS:
                assert getattr(actual, f"{name}_seconds") == pytest.approx(row[name])
            for mine, exact in ((actual.rtt_p50, row["p50"]), (actual.rtt_p90, row["p90"])):
                if exact is None:
                    assert mine is None
                else:  # the histogram's promise: within 1 % of the exact nearest-rank value
                    assert abs(mine - exact) <= sketch.RELATIVE_ACCURACY * exact + 1e-9


def test_checks_keep_their_minute_current_and_the_fold_rolls_it_into_hour_and_day(world: World):
    m = Monitor.objects.create(
        customer=world.c1, name="r", hostname="127.0.0.1", check_interval_seconds=60
    )
    for i, answer in enumerate([UP, LOSSY, Answers(4, rtt=3.0)]):
        run_batch(Location.default(), [(m.pk, T0 + timedelta(seconds=20 * i), 0)], answer)
    assert not Rollup.objects.filter(monitor=m).exclude(period=Period.MINUTE).exists()
    # The minute is left alone while it may still get checks, then folded once.
    assert rollups.fold(through=T0) == 0
    assert rollups.fold(through=T0 + timedelta(minutes=1)) == 1
    assert rollups.fold(through=T0 + timedelta(minutes=1)) == 0
    minute = Rollup.objects.get(monitor=m, period=Period.MINUTE)
    assert minute.folded
    assert (minute.checks, minute.sent, minute.received) == (3, 12, 10)
    assert minute.loss_percent == pytest.approx(100 * 2 / 12)
    assert (minute.rtt_min, minute.rtt_max, minute.rtt_avg) == (1.0, 3.0, 1.8)
    assert minute.rtt_p50 == pytest.approx(1.0, rel=0.01)
    assert minute.rtt_p90 == pytest.approx(3.0, rel=0.01)
    day = Rollup.objects.get(monitor=m, period=Period.DAY)
    assert day.start == T0 and day.checks == 3 and day.up_seconds == 120
    assert day.degraded_seconds == 60  # 50 % loss is above the default 20 % threshold


def test_a_rebuild_from_raw_results_gives_the_live_rollups(world: World):
    m = Monitor.objects.create(
        customer=world.c1, name="r", hostname="127.0.0.1", check_interval_seconds=60
    )
    for i, answer in enumerate([UP, DOWN, LOSSY, UP] * 5):
        run_batch(Location.default(), [(m.pk, T0 + timedelta(minutes=7 * i), 0)], answer)
    rollups.fold(through=T0 + timedelta(days=1))
    fields = ["period", "start", *rollups.UPDATED_FIELDS]
    live = list(Rollup.objects.filter(monitor=m).order_by("period", "start").values(*fields))
    rollups.rebuild(m, T0, T0 + timedelta(days=1))
    rebuilt = list(Rollup.objects.filter(monitor=m).order_by("period", "start").values(*fields))
    assert live == rebuilt and len(live) == 20 + 3 + 1


# --- uptime -----------------------------------------------------------------------------------


def hand_made(world: World, statuses: str, *, start: datetime, interval: int = 60) -> Monitor:
    """A history from a string: u up, g degraded, d down, r retrying, m maintenance."""
    m = Monitor.objects.create(
        customer=world.c1, name="h", hostname="127.0.0.1", check_interval_seconds=interval
    )
    kinds = {
        "u": (Health.UP, False, False),
        "g": (Health.DEGRADED, False, False),
        "d": (Health.DOWN, False, False),
        "r": (Health.DOWN, True, False),
        "m": (Health.DOWN, False, True),
    }
    rows = []
    for i, letter in enumerate(statuses):
        status, retrying, maintenance = kinds[letter]
        rows.append(
            CheckResult(
                monitor=m,
                location=Location.default(),
                due_at=start + timedelta(seconds=interval * i),
                status=status,
                retrying=retrying,
                maintenance=maintenance,
                sent=1,
                received=int(status != Health.DOWN),
                rtts=[1.0] if status != Health.DOWN else [None],
            )
        )
    CheckResult.objects.bulk_create(rows)
    rollups.absorb(rows, {m.pk: m})
    rollups.fold(through=start + timedelta(seconds=interval * (len(statuses) + 1)))
    return m


def test_uptime_counts_degraded_as_up_and_leaves_maintenance_and_retries_out(world: World):
    now = T0 + timedelta(hours=2)
    # 60 checks a minute apart: 40 up, 5 degraded, 2 retries then 3 down, 10 in maintenance.
    m = hand_made(
        world, "u" * 40 + "g" * 5 + "rr" + "ddd" + "m" * 10, start=now - timedelta(hours=1)
    )
    figures = uptime.uptimes([m.pk], now=now)[m.pk]
    day = figures["24h"]
    assert (day.up, day.degraded, day.down, day.maintenance) == (42 * 60, 5 * 60, 3 * 60, 600)
    assert day.percent == pytest.approx(100 * 47 / 50)
    assert day.downtime == timedelta(minutes=3)
    assert figures["7d"] == figures["30d"] == figures["90d"] == day  # same hours, hour rollups


def test_each_window_counts_only_its_own_time(world: World):
    now = T0 + timedelta(days=100)
    m = hand_made(world, "d" * 24, start=now - timedelta(days=60), interval=3600)  # a down day
    up = hand_made(world, "u" * 24, start=now - timedelta(days=3), interval=3600)
    Monitor.objects.filter(pk=up.pk).update(name="other")
    CheckResult.objects.filter(monitor=up).update(monitor=m)
    Rollup.objects.filter(monitor=up).update(monitor=m)
    figures = uptime.uptimes([m.pk], now=now)[m.pk]
    assert figures["24h"].percent is None  # nothing checked in the last day
    assert figures["7d"].percent == figures["30d"].percent == 100.0
    assert figures["90d"].percent == pytest.approx(50.0)


def test_uptime_of_a_monitor_never_checked_is_unknown_not_zero(world: World):
    figures = uptime.uptimes([world.monitor_c2.pk], now=T0)[world.monitor_c2.pk]
    assert all(f.percent is None for f in figures.values())


def test_uptime_reads_aggregates_not_history(world: World, django_assert_num_queries):
    m = hand_made(world, "u" * 500, start=T0, interval=3600)
    with django_assert_num_queries(2):
        uptime.uptimes([m.pk], now=T0 + timedelta(days=20))


# --- pruning ----------------------------------------------------------------------------------


def test_pruning_removes_old_raw_checks_and_minutes_but_keeps_hours_and_days(
    world: World, settings
):
    settings.MONITOR_PRUNE_CHUNK = 7  # many small chunks
    now = T0 + timedelta(days=40)
    old = hand_made(world, "udg" * 20, start=T0, interval=600)
    recent = CheckResult.objects.create(
        monitor=old, location=Location.default(), due_at=now - timedelta(days=1), status="up"
    )
    hours_before = list(Rollup.objects.filter(period=Period.HOUR).values(*rollups.UPDATED_FIELDS))
    done = retention.prune(now)
    assert done["checks"] == 60
    assert list(CheckResult.objects.filter(monitor=old)) == [recent]
    assert not Rollup.objects.filter(period=Period.MINUTE, monitor=old).exists()
    after = list(Rollup.objects.filter(period=Period.HOUR).values(*rollups.UPDATED_FIELDS))
    assert after == hours_before and Rollup.objects.filter(period=Period.DAY).count() == 1
    figures = uptime.between([old.pk], T0, T0 + timedelta(days=1))[old.pk]
    assert figures.percent == pytest.approx(100 * 40 / 60)  # reports still add up


def test_pruning_is_scheduled_by_migrate(db):
    from django_q.models import Schedule

    names = set(Schedule.objects.values_list("name", flat=True))
    assert {"monitors.maintain", "monitors.fold", "monitors.prune"} <= names


@pytest.mark.django_db(transaction=True)
def test_two_locations_writing_one_monitors_rollups_at_once_lose_nothing():
    """Concurrent batches for one monitor (two locations) merge into the same rows while a
    fold rolls their minutes up: on PostgreSQL in three threads (rows locked FOR UPDATE in one
    order, the fold's minutes SKIP LOCKED); SQLite serializes every writer with its IMMEDIATE
    transactions, which this checks is configured."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        return
    from tests.conftest import make_world

    world = make_world()
    m = Monitor.objects.create(
        customer=world.c1, name="twice", hostname="127.0.0.1", check_interval_seconds=60
    )
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def fold_meanwhile() -> None:
        try:
            barrier.wait()
            while writing.is_set():
                rollups.fold(through=T0 + timedelta(days=1), chunk=2)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def write(offset: int) -> None:
        try:
            barrier.wait()
            for i in range(30):
                at = T0 + timedelta(seconds=10 * i + offset)
                rollups.absorb(
                    [
                        result(
                            m,
                            int((at - T0).total_seconds()),
                            Health.UP,
                            False,
                            False,
                            [1.0, 2.0],
                            "",
                        )
                    ],
                    {m.pk: m},
                )
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    folder = threading.Thread(target=fold_meanwhile)
    for t in [*writers, folder]:
        t.start()
    for t in writers:
        t.join(60)
    writing.clear()
    folder.join(60)
    assert not errors
    rollups.fold(through=T0 + timedelta(days=1))
    minutes = Rollup.objects.filter(monitor=m, period=Period.MINUTE)
    assert minutes.count() == 5 and not minutes.filter(folded=False).exists()
    rows = [*(Rollup.objects.get(monitor=m, period=p) for p in (Period.HOUR, Period.DAY))]
    rows.append(SimpleNamespace(**{f: sum(getattr(r, f) for r in minutes) for f in ALL_SUMS}))
    for row in rows:
        assert (row.checks, row.sent, row.received) == (60, 120, 120)
        assert row.rtt_sum == 180.0 and row.up_seconds == 3600


@given(st.lists(st.floats(min_value=0.0005, max_value=5000.0), min_size=1, max_size=300))
def test_quantiles_from_the_histogram_are_within_one_percent_of_the_exact_ones(rtts):
    histogram = sketch.add({}, rtts)
    qs = (0.01, 0.5, 0.9, 0.99, 1.0)
    for q, estimate in zip(qs, sketch.quantiles(histogram, qs), strict=True):
        exact = sketch.exact_quantile(rtts, q)
        assert abs(estimate - max(exact, sketch.SMALLEST_MS)) <= 0.0101 * max(exact, 0.001)


ALL_SUMS = ("checks", "sent", "received", "rtt_sum", "up_seconds")


def test_a_result_for_a_minute_already_folded_goes_straight_to_its_hour_and_day(world: World):
    m = hand_made(world, "uu", start=T0)  # two minutes, folded
    late = CheckResult(
        monitor=m,
        location=Location.default(),
        due_at=T0 + timedelta(seconds=30),  # the first minute, after its fold
        status=Health.DOWN,
        sent=1,
        received=0,
        rtts=[None],
    )
    rollups.absorb([late], {m.pk: m})
    minute = Rollup.objects.get(monitor=m, period=Period.MINUTE, start=T0)
    assert (minute.checks, minute.down_seconds, minute.folded) == (2, 60, True)
    for period in (Period.HOUR, Period.DAY):
        row = Rollup.objects.get(monitor=m, period=period)
        assert (row.checks, row.up_seconds, row.down_seconds) == (3, 120, 60)
    assert rollups.fold(through=T0 + timedelta(days=1)) == 0  # nothing counted twice


def test_the_fold_waits_for_a_minute_to_end_and_its_grace_to_pass(world: World, settings):
    settings.MONITOR_ROLLUP_FOLD_GRACE_SECONDS = 30
    now = T0 + timedelta(hours=1, seconds=10)
    m = Monitor.objects.create(
        customer=world.c1, name="g", hostname="127.0.0.1", check_interval_seconds=60
    )
    for due in (now - timedelta(minutes=2), now - timedelta(minutes=1), now):
        run_batch(Location.default(), [(m.pk, due, 0)], UP)
    # The first minute ended 70 s ago; the second 10 s ago; the third is still running.
    assert rollups.fold(now=now) == 1
    assert Rollup.objects.filter(monitor=m, period=Period.MINUTE, folded=False).count() == 2


def test_pruning_keeps_a_minute_that_was_never_folded(world: World):
    m = hand_made(world, "u", start=T0)
    Rollup.objects.filter(monitor=m, period=Period.MINUTE).update(folded=False)
    retention.prune(T0 + timedelta(days=400))
    assert Rollup.objects.filter(monitor=m, period=Period.MINUTE, folded=False).exists()


def test_hour_and_day_views_read_the_same_before_and_after_the_fold(world: World):
    """Until the fold, the hour and day views add the unfolded minutes themselves (charts,
    uptime, status-page day bars, the monthly report): folding changes where the sums live,
    never what is shown."""
    from monitors import availability, series

    now = timezone.now()
    m = Monitor.objects.create(
        customer=world.c1, name="v", hostname="127.0.0.1", check_interval_seconds=60
    )
    answers = [UP, LOSSY, Answers(4, rtt=3.0), DOWN, UP, Answers(4, rtt=0.5)]
    half = now - timedelta(minutes=40)
    for i, answer in enumerate(answers):  # the first three folded, the last three not
        run_batch(Location.default(), [(m.pk, half + timedelta(minutes=i * 7), 0)], answer)
        if i == 2:
            rollups.fold(through=half + timedelta(minutes=i * 7 + 1))
    assert Rollup.objects.filter(monitor=m, period=Period.MINUTE, folded=False).count() == 3
    month = (now.year, now.month)

    def views():
        return (
            {key: series.chart_series(m, key, now=now).points for key in ("7d", "30d", "1y")},
            uptime.uptimes([m.pk], now=now)[m.pk],
            availability.daily([m.pk], now)[m.pk],
            availability.month_report([m], *availability.month_bounds(*month), now).rows,
        )

    before = views()
    assert rollups.fold(through=now + timedelta(minutes=2)) == 3
    after = views()
    assert before == after
    charts = after[0]
    assert sum(p.checks for p in charts["7d"]) == sum(p.checks for p in charts["1y"]) == 6


def test_a_fold_out_of_budget_stops_after_a_chunk_and_the_next_goes_on(world: World):
    m = hand_made(world, "u" * 12, start=T0 + timedelta(days=1))
    Rollup.objects.filter(monitor=m).exclude(period=Period.MINUTE).delete()
    Rollup.objects.filter(monitor=m).update(folded=False)
    through = T0 + timedelta(days=2)
    assert rollups.fold(through=through, chunk=5, budget=0) == 5
    assert rollups.fold(through=through, chunk=5, budget=0, duty=0.9) == 5
    assert rollups.fold(through=through, chunk=5) == 2
    assert Rollup.objects.get(monitor=m, period=Period.DAY).checks == 12


def test_the_scheduled_fold_folds_what_has_ended(world: World, settings):
    from monitors import tasks

    m = hand_made(world, "uu", start=timezone.now() - timedelta(hours=2))
    Rollup.objects.filter(monitor=m).exclude(period=Period.MINUTE).delete()
    Rollup.objects.filter(monitor=m).update(folded=False)
    assert tasks.fold() == 2
    assert Rollup.objects.get(monitor=m, period=Period.DAY).checks == 2


def test_a_scheduled_fold_out_of_budget_goes_on_in_another_task_and_warns_only_when_behind(
    world: World, settings, monkeypatch, caplog
):
    """A fold may not outlive its task's time limit: one that stops with its minutes left
    queues another at once (tests run it inline). Minutes that end while it runs are the next
    fold's; only minutes that had ended by the previous fold's cutoff mean it falls behind."""
    from monitors import tasks

    now = timezone.now()
    m = Monitor.objects.create(
        customer=world.c1, name="w", hostname="127.0.0.1", check_interval_seconds=60
    )
    for due in (
        now - timedelta(minutes=10),
        now - timedelta(minutes=9),
        now - timedelta(minutes=2),
        now - timedelta(seconds=20),
    ):
        run_batch(Location.default(), [(m.pk, due, 0)], UP)
    times = [now, now + timedelta(minutes=3)]  # the fold took three minutes

    def clock() -> datetime:
        return times.pop(0) if len(times) > 1 else times[0]

    monkeypatch.setattr(rollups, "timezone", SimpleNamespace(now=clock))
    queued = []
    real = tasks.async_task
    monkeypatch.setattr(tasks, "async_task", lambda *a, **kw: queued.append(a) or real(*a, **kw))
    # Out of its budget (none) after each chunk of one minute: two more tasks finish the job.
    settings.MONITOR_ROLLUP_FOLD_CHUNK = 1
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 0}
    with caplog.at_level("WARNING", logger="monitors.tasks"):
        assert tasks.fold() == 1
    assert len(queued) == 2 and queued[0][0] == "monitors.tasks.fold"
    minutes = Rollup.objects.filter(monitor=m, period=Period.MINUTE)
    assert minutes.filter(folded=False).count() == 1  # the last had not ended when it began
    assert Rollup.objects.get(monitor=m, period=Period.DAY).checks == 3
    assert not caplog.records
    # Minutes left from before the previous fold's cutoff: that is falling behind.
    Rollup.objects.filter(monitor=m).exclude(period=Period.MINUTE).delete()
    minutes.update(folded=False)
    monkeypatch.setattr(tasks.rollups, "fold", lambda *a, **kw: 0)  # as if all were locked
    with caplog.at_level("WARNING", logger="monitors.tasks"):
        assert tasks.fold() == 0
    assert "falls behind: 2 minutes that ended before" in caplog.text
    assert len(queued) == 2  # folding nothing, it queues nothing more


def test_a_fold_from_any_monitor_folds_them_all_and_one_out_of_budget_leaves_the_lowest(
    world: World,
):
    ms = [hand_made(world, "uu", start=T0 + timedelta(days=1)) for _ in range(4)]
    Rollup.objects.filter(monitor__in=ms).exclude(period=Period.MINUTE).delete()
    Rollup.objects.filter(monitor__in=ms).update(folded=False)
    through = T0 + timedelta(days=2)
    # Out of budget after one chunk that began at the third monitor: the first two wait.
    assert rollups.fold(through=through, chunk=3, budget=0, start_at=ms[2].pk) == 3
    waiting = Rollup.objects.filter(monitor__in=ms, folded=False)
    assert set(waiting.values_list("monitor_id", flat=True)) == {ms[0].pk, ms[1].pk, ms[3].pk}
    assert rollups.fold(through=through, chunk=3, start_at=ms[2].pk) == 5
    for m in ms:
        assert Rollup.objects.get(monitor=m, period=Period.DAY).checks == 2
