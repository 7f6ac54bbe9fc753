"""Per-minute, per-hour and per-day sums of each monitor's checks.

A check batch adds its results to their minute rows only, in the batch's transaction. Every
MONITOR_ROLLUP_FOLD_MINUTES a fold rolls the closed minutes into their hour and day rows, a
monitor's minutes together: its hour and day rows are written once per fold instead of twice
per check (reading, merging and rewriting a day's histogram at every check was most of a
batch's cost at 100,000 monitors). Readers of hours and days add the minutes not folded yet
(`with_unfolded`), so nothing shown waits for the fold. A result that arrives for a minute
folded already goes to its hour and day rows at once.

Concurrent writers (two locations checking one monitor, a fold meanwhile) are safe on every
database: rows that do not exist yet are inserted with their values (conflicts ignored, in one
sorted order; one that clashed with a concurrent insert is merged like the others), then every
other row is locked (FOR UPDATE on PostgreSQL, ordered by id; SQLite's IMMEDIATE transaction
serializes anyway), merged and written back. Inserts come before locks in every transaction,
and the fold takes its minutes with SKIP LOCKED, so no two wait on each other in a cycle. A
minute's `folded` flag changes in the transaction that adds it to its hour and day."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from monitors import sketch
from monitors.models import CheckResult, Health, Monitor, Period, Rollup
from portal.bulkwrite import insert_rows

Key = tuple[int, int, datetime]  # (monitor id, period seconds, period start)


def period_start(at: datetime, period: int) -> datetime:
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % period, tz=UTC)


def time_kind(result: CheckResult) -> str:
    """What the time until the next check counts as. Maintenance first; a failing check within
    the monitor's retries is not downtime yet (the monitor still counts as up)."""
    if result.maintenance:
        return "maintenance"
    if result.retrying or result.status == Health.UP:
        return "up"
    return "degraded" if result.status == Health.DEGRADED else "down"


@dataclass
class Delta:
    checks: int = 0
    sent: int = 0
    received: int = 0
    errors: int = 0
    rtt_min: float | None = None
    rtt_max: float | None = None
    rtt_sum: float = 0.0
    histogram: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, result: CheckResult, interval: float) -> None:
        rtts = [r for r in result.rtts or [] if r is not None]
        self.checks += 1
        self.sent += result.sent
        self.received += len(rtts)
        self.errors += bool(result.error)
        if rtts:
            low, high = min(rtts), max(rtts)
            self.rtt_min = low if self.rtt_min is None else min(self.rtt_min, low)
            self.rtt_max = high if self.rtt_max is None else max(self.rtt_max, high)
            self.rtt_sum += sum(rtts)
            sketch.add(self.histogram, rtts)
        kind = time_kind(result)
        self.seconds[kind] = self.seconds.get(kind, 0.0) + interval

    def merge(self, other: Delta) -> None:
        """Add another delta's sums (the fold adds up a monitor's minutes this way)."""
        self.checks += other.checks
        self.sent += other.sent
        self.received += other.received
        self.errors += other.errors
        if other.rtt_min is not None:
            self.rtt_min = (
                other.rtt_min if self.rtt_min is None else min(self.rtt_min, other.rtt_min)
            )
            self.rtt_max = (
                other.rtt_max if self.rtt_max is None else max(self.rtt_max, other.rtt_max)
            )
            self.rtt_sum += other.rtt_sum
            sketch.merge(self.histogram, other.histogram)
        for kind, seconds in other.seconds.items():
            self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds

    @classmethod
    def of_row(cls, values: dict[str, Any]) -> Delta:
        """The sums a rollup row holds, as a delta to add to a coarser row."""
        return cls(
            checks=values["checks"],
            sent=values["sent"],
            received=values["received"],
            errors=values["errors"],
            rtt_min=values["rtt_min"],
            rtt_max=values["rtt_max"],
            rtt_sum=values["rtt_sum"],
            histogram=dict(values["histogram"] or {}),
            seconds={k: s for k in TIME_KINDS if (s := values[f"{k}_seconds"])},
        )

    def apply(self, row: Rollup | SimpleNamespace) -> None:
        row.checks += self.checks
        row.sent += self.sent
        row.received += self.received
        row.errors += self.errors
        if self.rtt_min is not None:
            row.rtt_min = self.rtt_min if row.rtt_min is None else min(row.rtt_min, self.rtt_min)
            row.rtt_max = self.rtt_max if row.rtt_max is None else max(row.rtt_max, self.rtt_max)
            row.rtt_sum += self.rtt_sum
            row.histogram = sketch.merge(dict(row.histogram or {}), self.histogram)
            row.rtt_p50, row.rtt_p90 = sketch.quantiles(row.histogram, (0.5, 0.9))
        for kind, seconds in self.seconds.items():
            name = f"{kind}_seconds"
            setattr(row, name, getattr(row, name) + seconds)


TIME_KINDS = ("up", "degraded", "down", "maintenance")
UPDATED_FIELDS = [
    "checks",
    "sent",
    "received",
    "errors",
    "rtt_min",
    "rtt_max",
    "rtt_sum",
    "rtt_p50",
    "rtt_p90",
    "histogram",
    "up_seconds",
    "degraded_seconds",
    "down_seconds",
    "maintenance_seconds",
]


def deltas_for(results: Iterable[CheckResult], monitors: dict[int, Monitor]) -> dict[Key, Delta]:
    """The results' sums by minute row."""
    deltas: dict[Key, Delta] = {}
    for result in results:
        interval = monitors[result.monitor_id].interval.total_seconds()
        key = (result.monitor_id, Period.MINUTE, period_start(result.due_at, Period.MINUTE))
        deltas.setdefault(key, Delta()).add(result, interval)
    return deltas


KEY_FIELDS = ["monitor_id", "period", "start"]
ALL_FIELDS = [*KEY_FIELDS, *UPDATED_FIELDS, "folded"]
UPDATED = [Rollup._meta.get_field(name) for name in UPDATED_FIELDS]


def absorb(results: Iterable[CheckResult], monitors: dict[int, Monitor]) -> int:
    """Add new results to their minute rows; returns the rows written. A new minute goes in
    unfolded (fold() rolls it into its hour and day later); a result for a minute that was
    folded already (a late one) is added to its hour and day rows here and now."""
    deltas = deltas_for(results, monitors)
    if not deltas:
        return 0
    with transaction.atomic():
        written, late = merge(deltas)
        if late:
            written += merge(coarser(late.items()))[0]
    return written


def coarser(
    minutes: Iterable[tuple[Key, Delta]], periods: Iterable[int] = (Period.HOUR, Period.DAY)
) -> dict[Key, Delta]:
    """Minute deltas added up by the hour and the day (or `periods`) they fall in."""
    periods = tuple(periods)
    out: dict[Key, Delta] = {}
    for (monitor_id, _period, start), delta in minutes:
        for period in periods:
            key = (monitor_id, period, period_start(start, period))
            target = out.get(key)
            if target is None:
                target = out[key] = Delta()
            target.merge(delta)
    return out


def fold(
    through: datetime | None = None,
    *,
    now: datetime | None = None,
    monitor_ids: Iterable[int] | None = None,
    chunk: int = 0,
    budget: float | None = None,
    duty: float | None = None,
    start_at: int = 0,
) -> int:
    """Roll the minute rows not yet in their hour and day rows into them: the minutes that
    began before `through` (by default, those that ended FOLD_GRACE_SECONDS ago or more, so a
    minute still being checked is left alone). Returns the minute rows folded.

    A chunk at a time, each one transaction: the minutes are locked (SKIP LOCKED: a second
    fold, or a batch adding a late result, leaves them to whoever holds them), marked folded
    and added up per monitor and hour or day, and those rows merged like a batch's. A
    monitor's minutes come together (ordered by monitor), so its hour row is written once per
    fold, not once per check: that is what folding saves.

    `budget`: stop after the chunk that passes this many seconds (the next fold goes on where
    this one stopped). `duty`: rest after each chunk so that folding takes at most this share
    of the time; the scheduled fold uses both, so that it never holds a worker and a core
    long enough to make checks late (a fold of 100,000 monitors' five minutes is ~35 s of
    CPU). `start_at`: the monitor id to begin with (the scheduled fold picks one at random)."""
    if through is None:
        through = fold_cutoff(now)
    chunk = chunk or settings.MONITOR_ROLLUP_FOLD_CHUNK
    skip_locked = connection.features.has_select_for_update_skip_locked
    only = None if monitor_ids is None else list(monitor_ids)
    folded = 0
    started = time.monotonic()
    # From `start_at` up, then the monitors below it: a fold that runs out of budget leaves
    # different monitors for the next one, instead of always the highest ids.
    passes = [Q(monitor_id__gte=start_at)] + ([Q(monitor_id__lt=start_at)] if start_at else [])
    for scope in passes:
        after = scope  # then: past the last chunk's last (monitor, start)
        while True:
            chunk_started = time.monotonic()
            with transaction.atomic():
                # Only minutes are ever unfolded, so no period condition: with one, a planner
                # with stale statistics took the (period, start) index and sorted every minute.
                todo = Rollup.objects.filter(after, folded=False, start__lt=through)
                if only is not None:
                    todo = todo.filter(monitor_id__in=only)
                rows = list(
                    todo.select_for_update(skip_locked=skip_locked)
                    .order_by("monitor_id", "start")
                    .values_list("pk", *KEY_FIELDS, *UPDATED_FIELDS)[:chunk]
                )
                if not rows:
                    break
                Rollup.objects.filter(pk__in=[row[0] for row in rows]).update(folded=True)
                minutes = (
                    (row[1:4], Delta.of_row(dict(zip(UPDATED_FIELDS, row[4:], strict=True))))
                    for row in rows
                )
                merge(coarser(minutes))
                folded += len(rows)
            # Each chunk starts where the last ended: the index still holds the entries of the
            # rows just folded until a vacuum, and starting over would walk them all again (at
            # 100,000 monitors that made the fold's queries quadratic).
            last_monitor, last_start = rows[-1][1], rows[-1][3]
            after = scope & (
                Q(monitor_id__gt=last_monitor) | Q(monitor_id=last_monitor, start__gt=last_start)
            )
            now_ = time.monotonic()
            if budget is not None and now_ - started >= budget:
                return folded
            if len(rows) < chunk:
                break
            if duty:
                time.sleep((now_ - chunk_started) * (1 - duty) / duty)
    return folded


def fold_cutoff(now: datetime | None = None) -> datetime:
    """Minutes that began before this have ended at least FOLD_GRACE_SECONDS ago."""
    grace = settings.MONITOR_ROLLUP_FOLD_GRACE_SECONDS
    return (now or timezone.now()) - timedelta(seconds=Period.MINUTE + grace)


def unfolded_before(through: datetime | None = None) -> int:
    """How many ended minutes wait to be folded (0 when the fold keeps up)."""
    through = through or fold_cutoff()
    return Rollup.objects.filter(folded=False, start__lt=through).count()


def with_unfolded(period: int) -> Q:
    """The rows of `period` and the minutes not folded into them yet. Read together, in one
    query (one snapshot: a fold committing meanwhile counts nothing twice or not at all), they
    are the period's sums up to the last check."""
    if period == Period.MINUTE:
        return Q(period=period)
    return Q(period=period) | Q(period=Period.MINUTE, folded=False)


def merge(deltas: dict[Key, Delta]) -> tuple[int, dict[Key, Delta]]:
    """Add deltas to their rows, inserting the ones that do not exist. Returns the rows
    written, and the deltas that went into minute rows already folded (for their hour and
    day rows)."""
    keys = sorted(deltas)
    # A plain read first, no locks: which rows do not exist yet (usually the new minute's).
    existing = set(
        Rollup.objects.filter(
            period__in={p for _, p, _ in keys},
            monitor_id__in={m for m, _, _ in keys},
            start__in={s for _, _, s in keys},
        ).values_list(*KEY_FIELDS)
    )
    # Those go in with their values at once, in key order (so concurrent batches queue on the
    # same row in the same order): written once, never read back and merged. A minute row
    # goes in unfolded; an hour or day row is folded by definition.
    fresh = [key for key in keys if key not in existing]
    went_in = insert_rows(
        Rollup,
        ALL_FIELDS,
        [(*key, *new_row(deltas[key]), key[1] != Period.MINUTE) for key in fresh],
        ignore_conflicts=True,
        unique_fields=KEY_FIELDS,
        report_inserted=True,
    )
    done = {fresh[i] for i in went_in or []}
    # The rest (rows there already, or inserted by a concurrent batch a moment ago) are read
    # as plain values (model instances cost more than the merge) and locked, in one query
    # ordered by id, merged and written back.
    rest = [key for key in keys if key not in done]
    rows, late = [], {}
    if rest:
        wanted = set(rest)
        candidates = (
            Rollup.objects.select_for_update()
            .filter(
                period__in={p for _, p, _ in rest},
                monitor_id__in={m for m, _, _ in rest},
                start__in={s for _, _, s in rest},
            )
            .order_by("pk")
            .values_list(*KEY_FIELDS, "folded", *UPDATED_FIELDS)
        )
        for monitor_id, period, start, is_folded, *values in candidates:
            key = (monitor_id, period, start)
            if key in wanted:
                row = SimpleNamespace(**dict(zip(UPDATED_FIELDS, values, strict=True)))
                deltas[key].apply(row)
                rows.append((*key, *(getattr(row, n) for n in UPDATED_FIELDS), is_folded))
                if period == Period.MINUTE and is_folded:
                    late[key] = deltas[key]
    # Written back by key with INSERT ... ON CONFLICT DO UPDATE: the rows are locked, so
    # writing the merged values over them is safe, and far cheaper than bulk_update's
    # CASE WHENs.
    insert_rows(Rollup, ALL_FIELDS, rows, unique_fields=KEY_FIELDS, update_fields=UPDATED_FIELDS)
    return len(done) + len(rows), late


def blank_row(**values: Any) -> SimpleNamespace:
    """A rollup row's values as the model's defaults (an empty period), then `values`."""
    return SimpleNamespace(**{f.name: f.get_default() for f in UPDATED}, **values)


def new_row(delta: Delta) -> list:
    """The values of a rollup row that holds only `delta`."""
    row = blank_row()
    delta.apply(row)
    return [getattr(row, name) for name in UPDATED_FIELDS]


def rebuild(monitor: Monitor, start: datetime, end: datetime) -> int:
    """Recompute a monitor's rollups for whole periods in [start, end) from its raw results
    (repairs, and the reference the tests compare the live rollups with)."""
    day_start = period_start(start, Period.DAY)
    with transaction.atomic():
        Rollup.objects.filter(monitor=monitor, start__gte=day_start, start__lt=end).delete()
        results = CheckResult.objects.filter(
            monitor=monitor, due_at__gte=day_start, due_at__lt=end
        ).order_by("due_at")
        written = absorb(results.iterator(chunk_size=2000), {monitor.pk: monitor})
        fold(through=end, monitor_ids=[monitor.pk])
        return written
