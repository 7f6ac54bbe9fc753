"""What a monitor's latency chart shows over one of a few fixed ranges, read from the rollups
(raw checks only for the last hour). Every query is bounded by the range and a LIMIT and runs
on an index, so a year of history costs what a day does."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from django.db.models import Case, JSONField, Q, Value, When
from django.utils import timezone

from monitors import rollups
from monitors.maintenance import merged_spans
from monitors.models import CheckResult, Incident, MaintenanceWindow, Monitor, Period, Rollup
from monitors.rollups import time_kind

RAW_LIMIT = 1500  # checks read for the last hour: a 5-second monitor at one location is 720
MAX_INCIDENTS = 200
MAX_WINDOWS = 200


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta
    period: int | None  # the rollup period read (seconds); None: raw checks
    limit: int  # rows read at most

    @property
    def source(self) -> str:
        return "checks" if self.period is None else f"{Period(self.period).label} rollups"


def _rollups(key: str, label: str, span: timedelta, period: int) -> Range:
    # +2: the period holding the range's start, and the current one.
    return Range(key, label, span, period, int(span.total_seconds()) // period + 2)


RANGES: dict[str, Range] = {
    r.key: r
    for r in (
        Range("1h", "1 hour", timedelta(hours=1), None, RAW_LIMIT),
        _rollups("24h", "24 hours", timedelta(hours=24), Period.MINUTE),
        _rollups("7d", "7 days", timedelta(days=7), Period.HOUR),
        _rollups("30d", "30 days", timedelta(days=30), Period.HOUR),
        _rollups("1y", "1 year", timedelta(days=365), Period.DAY),
    )
}
DEFAULT_RANGE = "24h"


class UnknownRange(ValueError):
    def __init__(self, value: str) -> None:
        super().__init__(f"Unknown range {value!r}: use one of {', '.join(RANGES)}.")


def parse_range(value: str | None) -> Range:
    """The range a `?range=` parameter names; missing or empty: the default."""
    if not value:
        return RANGES[DEFAULT_RANGE]
    if value not in RANGES:
        raise UnknownRange(value)
    return RANGES[value]


@dataclass(frozen=True)
class Point:
    """One check (the last hour) or one rollup period: [start, end) and what was measured."""

    start: datetime
    end: datetime
    checks: int
    sent: int
    received: int
    rtt_min: float | None
    rtt_p50: float | None
    rtt_max: float | None
    rtt_avg: float | None
    loss_percent: float | None
    down_seconds: float = 0.0
    maintenance_seconds: float = 0.0
    degraded_seconds: float = 0.0
    up_seconds: float = 0.0

    @property
    def counted_seconds(self) -> float:
        return (
            self.up_seconds + self.degraded_seconds + self.down_seconds + self.maintenance_seconds
        )


@dataclass(frozen=True)
class IncidentMark:
    opened_at: datetime
    closed_at: datetime | None  # None: still open
    severity: str


@dataclass
class Series:
    range: Range
    start: datetime
    end: datetime
    # The least time one point stands for: the source's period, or the monitor's interval when
    # it checks less often (points further apart than that are a gap in the chart).
    resolution: timedelta
    points: list[Point] = field(default_factory=list)
    incidents: list[IncidentMark] = field(default_factory=list)
    maintenance: list[tuple[datetime, datetime]] = field(default_factory=list)
    title: str = ""


def chart_series(monitor: Monitor, range_key: str | Range, now: datetime | None = None) -> Series:
    rng = range_key if isinstance(range_key, Range) else parse_range(range_key)
    end = now or timezone.now()
    start = end - rng.span
    if rng.period is None:
        points = _check_points(monitor, start, end, rng.limit)
        resolution = monitor.interval
    else:
        points = _rollup_points(monitor, rng, start, end)
        resolution = max(timedelta(seconds=rng.period), monitor.interval)
    return Series(
        range=rng,
        start=start,
        end=end,
        resolution=resolution,
        points=points,
        incidents=_incident_marks(monitor, start, end),
        maintenance=_maintenance_spans(monitor, start, end),
        title=monitor.name,
    )


def _loss(sent: int, received: int) -> float | None:
    return 100.0 * (sent - received) / sent if sent else None


def _check_points(monitor: Monitor, start: datetime, end: datetime, limit: int) -> list[Point]:
    """One point per due slot (several locations' checks of one slot merge), oldest first."""
    rows = list(
        CheckResult.objects.filter(monitor=monitor, due_at__gte=start, due_at__lte=end)
        .order_by("-due_at")  # the (monitor, -due_at) index; the newest when over the limit
        .only(
            "due_at",
            "sent",
            "received",
            "rtt_min",
            "rtt_avg",
            "rtt_max",
            "rtts",
            "status",
            "retrying",
            "maintenance",
        )[:limit]
    )
    rows.reverse()
    interval = monitor.interval
    seconds = interval.total_seconds()
    points = []
    for due, group in groupby(rows, key=lambda r: r.due_at):
        checks = list(group)
        rtts = [v for r in checks for v in (r.rtts or []) if v is not None]
        answered = [r for r in checks if r.rtt_avg is not None and r.received]
        received = sum(r.received for r in checks)
        sent = sum(r.sent for r in checks)
        kinds = {"up": 0.0, "degraded": 0.0, "down": 0.0, "maintenance": 0.0}
        for r in checks:
            kinds[time_kind(r)] += seconds
        if rtts:
            avg: float | None = sum(rtts) / len(rtts)
            median: float | None = statistics.median(rtts)
        elif answered:  # rows without the replies' RTTs: the averages stand in
            avg = sum(r.rtt_avg * r.received for r in answered) / sum(r.received for r in answered)
            median = statistics.median(r.rtt_avg for r in answered)
        else:
            avg = median = None
        mins = [r.rtt_min for r in checks if r.rtt_min is not None]
        maxes = [r.rtt_max for r in checks if r.rtt_max is not None]
        points.append(
            Point(
                start=due,
                end=due + interval,
                checks=len(checks),
                sent=sent,
                received=received,
                rtt_min=min(mins) if mins else (min(rtts) if rtts else None),
                rtt_p50=median,
                rtt_max=max(maxes) if maxes else (max(rtts) if rtts else None),
                rtt_avg=avg,
                loss_percent=_loss(sent, received),
                down_seconds=kinds["down"],
                maintenance_seconds=kinds["maintenance"],
                degraded_seconds=kinds["degraded"],
                up_seconds=kinds["up"],
            )
        )
    return points


ROLLUP_FIELDS = (
    "start",
    "checks",
    "sent",
    "received",
    "rtt_min",
    "rtt_max",
    "rtt_sum",
    "rtt_p50",
    "up_seconds",
    "degraded_seconds",
    "down_seconds",
    "maintenance_seconds",
)


def _rollup_points(monitor: Monitor, rng: Range, start: datetime, end: datetime) -> list[Point]:
    assert rng.period is not None
    period = timedelta(seconds=rng.period)
    lowest = start - period
    # The (monitor, period, start) unique index, and for hours and days the few minutes not
    # folded into them yet (rollups.with_unfolded), in the same query. Histograms only where a
    # merge may need them: those minutes, and the rows they may fall in (the last day's).
    recent = rollups.period_start(end - timedelta(days=1), rng.period)
    rows = list(
        Rollup.objects.filter(
            rollups.with_unfolded(rng.period),
            monitor=monitor,
            start__gt=lowest,
            start__lte=end,
        )
        .annotate(
            merge_histogram=Case(
                When(Q(period=Period.MINUTE) | Q(start__gte=recent), then="histogram"),
                default=Value(None),
                output_field=JSONField(),
            )
        )
        .order_by("start")
        .values("period", "merge_histogram", "errors", *ROLLUP_FIELDS)[: rng.limit]
    )
    if rng.period != Period.MINUTE:
        rows = _with_minutes_merged(rows, rng.period)
    return [
        Point(
            start=row["start"],
            end=row["start"] + period,
            checks=row["checks"],
            sent=row["sent"],
            received=row["received"],
            rtt_min=row["rtt_min"],
            rtt_p50=row["rtt_p50"],
            rtt_max=row["rtt_max"],
            rtt_avg=row["rtt_sum"] / row["received"] if row["received"] else None,
            loss_percent=_loss(row["sent"], row["received"]),
            down_seconds=row["down_seconds"],
            maintenance_seconds=row["maintenance_seconds"],
            degraded_seconds=row["degraded_seconds"],
            up_seconds=row["up_seconds"],
        )
        for row in rows
        if row["start"] > lowest
    ]


def _with_minutes_merged(rows: list[dict[str, Any]], period: int) -> list[dict[str, Any]]:
    """Hour or day rows with the unfolded minutes among `rows` added to the row each will be
    folded into (made when there is none yet), in start order."""
    minutes = [row for row in rows if row["period"] == Period.MINUTE]
    if not minutes:
        return rows
    by_start = {row["start"]: row for row in rows if row["period"] == period}
    # One monitor's rows: its id does not matter to the grouping.
    minute_deltas = (
        (
            (0, Period.MINUTE, row["start"]),
            rollups.Delta.of_row({**row, "histogram": row["merge_histogram"]}),
        )
        for row in minutes
    )
    pending = rollups.coarser(minute_deltas, (period,))
    for (_monitor, _period, at), delta in pending.items():
        base = by_start.get(at)
        row = rollups.blank_row(start=at, period=period)
        if base is not None:
            for name in ROLLUP_FIELDS:
                setattr(row, name, base[name])
            row.histogram = dict(base["merge_histogram"] or {})
            # Without the row's histogram (a fold stopped for over a day) the merged median
            # is the row's own: close, not exact.
            keep_p50 = base["merge_histogram"] is None
        else:
            keep_p50 = False
        p50 = row.rtt_p50
        delta.apply(row)
        if keep_p50:
            row.rtt_p50 = p50
        by_start[at] = {name: getattr(row, name) for name in ("period", *ROLLUP_FIELDS)}
    return [by_start[at] for at in sorted(by_start)]


def _incident_marks(monitor: Monitor, start: datetime, end: datetime) -> list[IncidentMark]:
    """Incidents overlapping the range, oldest first (the newest when there are too many)."""
    rows = (
        Incident.objects.filter(monitor=monitor, opened_at__lte=end)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=start))
        .order_by("-opened_at")
        .values_list("opened_at", "closed_at", "severity")[:MAX_INCIDENTS]
    )
    return [IncidentMark(*row) for row in list(rows)[::-1]]


def _maintenance_spans(
    monitor: Monitor, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Planned windows (the monitor's and its customer's) within the range, overlaps joined."""
    windows = (
        MaintenanceWindow.objects.filter(
            Q(monitor=monitor) | Q(monitor__isnull=True, customer_id=monitor.customer_id)
        )
        .filter(Q(weekday__isnull=False) | Q(starts_at__lt=end, ends_at__gt=start))
        .order_by("-pk")[:MAX_WINDOWS]
    )
    return merged_spans(windows, start, end)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def series_json(series: Series) -> dict[str, Any]:
    """The API's shape of a series (camelCase, UTC ISO 8601 times)."""
    return {
        "range": series.range.key,
        "start": _iso(series.start),
        "end": _iso(series.end),
        "points": [
            {
                "start": _iso(p.start),
                "end": _iso(p.end),
                "checks": p.checks,
                "sent": p.sent,
                "received": p.received,
                "lossPercent": p.loss_percent,
                "rttMin": p.rtt_min,
                "rttP50": p.rtt_p50,
                "rttAvg": p.rtt_avg,
                "rttMax": p.rtt_max,
                "downSeconds": p.down_seconds,
                "maintenanceSeconds": p.maintenance_seconds,
            }
            for p in series.points
        ],
        "incidents": [
            {"openedAt": _iso(i.opened_at), "closedAt": _iso(i.closed_at), "severity": i.severity}
            for i in series.incidents
        ],
        "maintenance": [{"start": _iso(lo), "end": _iso(hi)} for lo, hi in series.maintenance],
    }
