"""What a customer sees of its monitors: each monitor's state, one overall verdict, daily
uptime bars and a month's availability report. Every figure comes from the rollups (through
monitors.uptime), so a page costs a handful of queries whatever the history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q, Sum

from monitors import rollups, uptime
from monitors.maintenance import in_maintenance, windows_for
from monitors.models import Health, Incident, IncidentState, Monitor, MonitorStatus, Period, Rollup
from monitors.uptime import KINDS, Uptime

PAUSED = "paused"
MAINTENANCE = "maintenance"
STATE_LABELS = {
    Health.UP: "Operational",
    Health.DEGRADED: "Degraded",
    Health.DOWN: "Down",
    Health.UNKNOWN: "No data yet",
    MAINTENANCE: "Maintenance",
    PAUSED: "Paused",
}
FIGURES = [("24h", "24 h"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days")]
BAR_DAYS = 90


def states(monitors: Sequence[Monitor], now: datetime) -> dict[int, str]:
    """Each monitor's state now: paused, maintenance (by its status or a window), else its
    health. One query for the windows."""
    windows = windows_for(monitors, since=now)
    found = {}
    for monitor in monitors:
        if monitor.status == MonitorStatus.DISABLED:
            found[monitor.pk] = PAUSED
        elif in_maintenance(monitor, now, windows.get(monitor.pk, [])):
            found[monitor.pk] = MAINTENANCE
        else:
            found[monitor.pk] = monitor.health
    return found


@dataclass(frozen=True)
class Verdict:
    key: str
    label: str


OPERATIONAL = Verdict("operational", "All systems operational")
PARTIAL = Verdict("partial", "Partial outage")
MAJOR = Verdict("major", "Major outage")
UNDER_MAINTENANCE = Verdict("maintenance", "Maintenance")


def overall(found: Iterable[str]) -> Verdict:
    """Major when every monitor that counts is down, partial when some are down or degraded,
    maintenance when nothing is wrong but some are in maintenance. Paused monitors and ones not
    checked yet do not count."""
    found = [s for s in found if s not in (PAUSED, Health.UNKNOWN)]
    counted = [s for s in found if s != MAINTENANCE]
    if Health.DOWN in counted:
        return MAJOR if all(s == Health.DOWN for s in counted) else PARTIAL
    if Health.DEGRADED in counted:
        return PARTIAL
    if MAINTENANCE in found:
        return UNDER_MAINTENANCE
    return OPERATIONAL


@dataclass(frozen=True)
class Day:
    """One UTC day of one monitor, from its day rollup (an empty Uptime when there is none)."""

    day: date
    uptime: Uptime

    @property
    def level(self) -> str:
        percent = self.uptime.percent
        if percent is None:
            return MAINTENANCE if self.uptime.maintenance else "none"
        if not self.uptime.down:
            return "degraded" if self.uptime.degraded else "up"
        return "minor" if percent >= 99.0 else "major"

    @property
    def summary(self) -> str:
        percent = self.uptime.percent
        if percent is None:
            what = "maintenance" if self.uptime.maintenance else "no data"
        else:
            what = f"{percent:.2f} % up"
            if self.uptime.down:
                what += f", {round(self.uptime.down / 60)} min down"
            if self.uptime.degraded:
                what += f", {round(self.uptime.degraded / 60)} min degraded"
        return f"{self.day:%d %b %Y}: {what}"


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def daily(monitor_ids: Iterable[int], now: datetime, days: int = BAR_DAYS) -> dict[int, list[Day]]:
    """The last `days` UTC days (today included) of each monitor, oldest first: one query on
    the day rollups, only the time columns."""
    ids = list(monitor_ids)
    last = now.astimezone(UTC).date()
    first = last - timedelta(days=days - 1)
    found: dict[tuple[int, date], Uptime] = {}
    if ids:
        # Today's day row and the minutes not folded into it yet add up (monitors/rollups.py).
        rows = Rollup.objects.filter(
            rollups.with_unfolded(Period.DAY), monitor_id__in=ids, start__gte=utc_midnight(first)
        ).values("monitor_id", "start", *(f"{kind}_seconds" for kind in KINDS))
        for row in rows:
            key = (row["monitor_id"], row["start"].astimezone(UTC).date())
            seconds = {kind: row[f"{kind}_seconds"] for kind in KINDS}
            if key in found:
                seconds = {kind: getattr(found[key], kind) + s for kind, s in seconds.items()}
            found[key] = Uptime(**seconds)
    span = [first + timedelta(days=n) for n in range(days)]
    return {m: [Day(d, found.get((m, d), Uptime())) for d in span] for m in ids}


# --- the monthly report ---------------------------------------------------------------------


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC; ValueError for no such month."""
    start = datetime(year, month, 1, tzinfo=UTC)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def months_between(first: datetime, last: datetime, limit: int = 24) -> list[date]:
    """First days of the months from `last` back to `first` (newest first), at most `limit`."""
    month = date(last.year, last.month, 1)
    stop = date(first.year, first.month, 1)
    found = []
    while month >= stop and len(found) < limit:
        found.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return found


@dataclass
class MonitorMonth:
    monitor: Monitor
    uptime: Uptime
    checks: int = 0
    sent: int = 0
    received: int = 0
    incidents: list[Incident] = field(default_factory=list)
    longest: timedelta | None = None

    @property
    def loss_percent(self) -> float | None:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else None


@dataclass
class MonthReport:
    start: datetime
    end: datetime
    rows: list[MonitorMonth]
    incidents: list[Incident]
    total: Uptime
    # Why there is nothing to show ("" when there is): a month to come or before the customer.
    no_data: str = ""
    partial: bool = False  # the month is still running

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def month_report(
    monitors: Sequence[Monitor], start: datetime, end: datetime, now: datetime
) -> MonthReport:
    """Each monitor's month from its day rollups (uptime.between plus one grouped query for
    the check counts) and the incidents that overlap the month (one more query)."""
    ids = [m.pk for m in monitors]
    figures = uptime.between(ids, start, end)
    counts = {
        row["monitor_id"]: row
        for row in Rollup.objects.filter(
            rollups.with_unfolded(Period.DAY), monitor_id__in=ids, start__gte=start, start__lt=end
        )
        .values("monitor_id")
        .annotate(checks=Sum("checks"), sent=Sum("sent"), received=Sum("received"))
        .order_by()
    }
    incidents = list(
        Incident.objects.filter(monitor_id__in=ids, opened_at__lt=end)
        .filter(Q(closed_at__gte=start) | ~Q(state=IncidentState.CLOSED))
        .select_related("monitor")
        .order_by("opened_at", "pk")
    )
    by_monitor: dict[int, list[Incident]] = defaultdict(list)
    for incident in incidents:
        by_monitor[incident.monitor_id].append(incident)
    rows = []
    for monitor in monitors:
        row = counts.get(monitor.pk, {})
        mine = by_monitor[monitor.pk]
        rows.append(
            MonitorMonth(
                monitor=monitor,
                uptime=figures.get(monitor.pk, Uptime()),
                checks=row.get("checks") or 0,
                sent=row.get("sent") or 0,
                received=row.get("received") or 0,
                incidents=mine,
                longest=max((i.duration(now) for i in mine), default=None),
            )
        )
    total = Uptime(
        **{kind: sum(getattr(r.uptime, kind) for r in rows) for kind in KINDS}  # type: ignore[misc]
    )
    return MonthReport(start, end, rows, incidents, total, partial=start <= now < end)


def empty_month(start: datetime, end: datetime, reason: str) -> MonthReport:
    return MonthReport(start, end, [], [], Uptime(), no_data=reason)
