"""Per-minute, per-hour and per-day sums of each monitor's checks, kept current as results
arrive: a batch of results is folded into its rollup rows inside the batch's transaction.

Concurrent batches (two locations checking one monitor) are safe on every database: rows that
do not exist yet are inserted with their values (conflicts ignored, in one sorted order; one
that clashed with a concurrent insert is merged like the others), then every other row is
locked (FOR UPDATE on PostgreSQL, ordered by id; SQLite's IMMEDIATE transaction serializes
anyway), merged and written back. Inserts come before locks in every batch, so two batches
never wait on each other in a cycle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from django.db import transaction

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
    deltas: dict[Key, Delta] = {}
    for result in results:
        interval = monitors[result.monitor_id].interval.total_seconds()
        for period in Period.values:
            key = (result.monitor_id, period, period_start(result.due_at, period))
            deltas.setdefault(key, Delta()).add(result, interval)
    return deltas


KEY_FIELDS = ["monitor_id", "period", "start"]
ALL_FIELDS = KEY_FIELDS + UPDATED_FIELDS
_UPDATED = [Rollup._meta.get_field(name) for name in UPDATED_FIELDS]


def absorb(results: Iterable[CheckResult], monitors: dict[int, Monitor]) -> int:
    """Fold new results into their minute, hour and day rows; returns the rows written."""
    deltas = deltas_for(results, monitors)
    if not deltas:
        return 0
    keys = sorted(deltas)
    with transaction.atomic():
        # A plain read first, no locks: which rows do not exist yet (usually the new minute's).
        existing = set(
            Rollup.objects.filter(
                period__in={p for _, p, _ in keys},
                monitor_id__in={m for m, _, _ in keys},
                start__in={s for _, _, s in keys},
            ).values_list("monitor_id", "period", "start")
        )
        # Those go in with their values at once, in key order (so concurrent batches queue on
        # the same row in the same order). A monitor checked once a minute gets a new minute
        # row every check: it is written once, never read back and merged.
        fresh = [key for key in keys if key not in existing]
        went_in = insert_rows(
            Rollup,
            ALL_FIELDS,
            [(*key, *new_row(deltas[key])) for key in fresh],
            ignore_conflicts=True,
            unique_fields=KEY_FIELDS,
            report_inserted=True,
        )
        done = {fresh[i] for i in went_in or []}
        # The rest (rows there already, or inserted by a concurrent batch a moment ago) are
        # read as plain values (model instances cost more than the merge) and locked, in one
        # query ordered by id, merged and written back.
        rest = [key for key in keys if key not in done]
        rows = []
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
                .values_list(*KEY_FIELDS, *UPDATED_FIELDS)
            )
            for monitor_id, period, start, *values in candidates:
                key = (monitor_id, period, start)
                if key in wanted:
                    row = SimpleNamespace(**dict(zip(UPDATED_FIELDS, values, strict=True)))
                    deltas[key].apply(row)
                    rows.append((*key, *(getattr(row, n) for n in UPDATED_FIELDS)))
        # Written back by key with INSERT ... ON CONFLICT DO UPDATE: the rows are locked, so
        # writing the merged values over them is safe, and far cheaper than bulk_update's
        # CASE WHENs.
        insert_rows(
            Rollup, ALL_FIELDS, rows, unique_fields=KEY_FIELDS, update_fields=UPDATED_FIELDS
        )
    return len(done) + len(rows)


def new_row(delta: Delta) -> list:
    """The values of a rollup row that holds only `delta`."""
    row = SimpleNamespace(**{f.name: f.get_default() for f in _UPDATED})
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
        return absorb(results.iterator(chunk_size=2000), {monitor.pk: monitor})
