"""Uptime figures from the rollups: one aggregate query per source, whatever the history.

Uptime = time up or degraded (it answered) / time up, degraded or down. Maintenance is counted
apart and left out of both; checks within the monitor's retries count as up (see
rollups.time_kind); slots never checked (the scheduler stopped) count as nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitors import rollups
from monitors.models import Period, Rollup

# Figure name: (how far back, which rollups answer it).
WINDOWS: dict[str, tuple[timedelta, int]] = {
    "24h": (timedelta(hours=24), Period.MINUTE),
    "7d": (timedelta(days=7), Period.HOUR),
    "30d": (timedelta(days=30), Period.HOUR),
    "90d": (timedelta(days=90), Period.HOUR),
}
KINDS = ("up", "degraded", "down", "maintenance")


@dataclass(frozen=True)
class Uptime:
    up: float = 0.0
    degraded: float = 0.0
    down: float = 0.0
    maintenance: float = 0.0

    @property
    def counted(self) -> float:
        return self.up + self.degraded + self.down

    @property
    def percent(self) -> float | None:
        return 100.0 * (self.up + self.degraded) / self.counted if self.counted else None

    @property
    def downtime(self) -> timedelta:
        return timedelta(seconds=self.down)

    @property
    def maintenance_time(self) -> timedelta:
        return timedelta(seconds=self.maintenance)


def sums(
    monitor_ids: Iterable[int], period: int, starts: dict[str, datetime], end: datetime
) -> dict[int, dict[str, Uptime]]:
    """For each monitor, the time of each kind in rollups of `period` from each named start
    to `end`: one grouped query, conditional sums per start."""
    ids = list(monitor_ids)
    if not ids or not starts:
        return {}
    earliest = min(starts.values())
    aggregates = {
        f"{name}__{kind}": Coalesce(Sum(f"{kind}_seconds", filter=Q(start__gte=since)), 0.0)
        for name, since in starts.items()
        for kind in KINDS
    }
    rows = (
        Rollup.objects.filter(
            rollups.with_unfolded(period), monitor_id__in=ids, start__gte=earliest, start__lt=end
        )
        .values("monitor_id")
        .annotate(**aggregates)
        .order_by()
    )
    found = {
        row["monitor_id"]: {
            name: Uptime(**{kind: row[f"{name}__{kind}"] for kind in KINDS}) for name in starts
        }
        for row in rows
    }
    return {m: found.get(m, {name: Uptime() for name in starts}) for m in ids}


def uptimes(
    monitor_ids: Iterable[int], now: datetime | None = None, windows: Iterable[str] = WINDOWS
) -> dict[int, dict[str, Uptime]]:
    """{monitor id: {"24h": Uptime, "7d": ..., "30d": ..., "90d": ...}}: two queries."""
    now = now or timezone.now()
    ids = list(monitor_ids)
    figures: dict[int, dict[str, Uptime]] = {m: {} for m in ids}
    by_period: dict[int, dict[str, datetime]] = {}
    for name in windows:
        span, period = WINDOWS[name]
        by_period.setdefault(period, {})[name] = now - span
    for period, starts in by_period.items():
        for monitor_id, named in sums(ids, period, starts, now + timedelta(seconds=1)).items():
            figures[monitor_id].update(named)
    return {m: {name: figures[m][name] for name in windows} for m in ids}


def between(monitor_ids: Iterable[int], start: datetime, end: datetime) -> dict[int, Uptime]:
    """Uptime over whole days [start, end) (reports): day rollups."""
    return {
        m: named["all"] for m, named in sums(monitor_ids, Period.DAY, {"all": start}, end).items()
    }


__all__ = ["WINDOWS", "Uptime", "between", "sums", "uptimes"]
