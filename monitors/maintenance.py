"""Maintenance windows: where they fall in time, and which apply to which monitors."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import Q

if TYPE_CHECKING:
    from monitors.models import MaintenanceWindow, Monitor


def window_spans(
    window: MaintenanceWindow, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of `window` inside [start, end), oldest first."""
    if not window.is_weekly:
        if window.starts_at is None or window.ends_at is None:
            return []
        lo, hi = max(start, window.starts_at), min(end, window.ends_at)
        return [(lo, hi)] if lo < hi else []
    zone = ZoneInfo(window.time_zone or "UTC")
    length = timedelta(minutes=window.duration_minutes or 0)
    # An occurrence may begin up to its length before `start` and still reach into the range.
    day = (start - length).astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    spans = []
    while day <= last:
        if day.weekday() == window.weekday:
            # Wall-clock time in the window's zone, so "Sundays 02:00" survives DST changes.
            begins = datetime.combine(day, window.start_time, tzinfo=zone)
            lo, hi = max(start, begins), min(end, begins + length)
            if lo < hi:
                spans.append((lo, hi))
        day += timedelta(days=1)
    return spans


def windows_for(
    monitors: Iterable[Monitor], since: datetime | None = None
) -> dict[int, list[MaintenanceWindow]]:
    """Each monitor's windows (its own and its customer's), in one query. One-off windows
    that ended before `since` are left out."""
    from monitors.models import MaintenanceWindow

    monitors = list(monitors)
    if not monitors:
        return {}
    windows = MaintenanceWindow.objects.filter(
        Q(monitor_id__in=[m.pk for m in monitors])
        | Q(monitor__isnull=True, customer_id__in={m.customer_id for m in monitors})
    )
    if since is not None:
        windows = windows.filter(Q(weekday__isnull=False) | Q(ends_at__gt=since))
    by_monitor: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    by_customer: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    for window in windows:
        if window.monitor_id:
            by_monitor[window.monitor_id].append(window)
        else:
            by_customer[window.customer_id].append(window)
    return {m.pk: by_monitor[m.pk] + by_customer[m.customer_id] for m in monitors}


def in_maintenance(monitor: Monitor, at: datetime, windows: Iterable[MaintenanceWindow]) -> bool:
    from monitors.models import MonitorStatus

    return monitor.status == MonitorStatus.MAINTENANCE or any(w.covers(at) for w in windows)


def merged_spans(
    windows: Iterable[MaintenanceWindow], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Every window's spans in [start, end), overlaps joined (for charts). A window counts from
    when it was planned: checks before it were not in maintenance, and a chart that shaded a
    new weekly window over past weeks would contradict the uptime figures."""
    spans = sorted(
        s
        for w in windows
        for s in w.spans(max(start, w.created_at) if w.created_at else start, end)
    )
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged
