"""The ping history: the filters the page and the CSV export share, keyset pages that cost
the same on the millionth row as on the first, and the CSV rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from pings.models import PingJob, launcher_for
from portal import access
from portal.csvexport import cell
from portal.validators import is_digits

PAGE_SIZE = 50


def parse_id(value: str | None) -> int | None:
    """A job id (pingId, keyset cursor) from a URL, or None for anything that is not one."""
    return int(value) if value and is_digits(value) and len(value) < 19 else None


def filtered(actor: Any, filters: dict[str, Any], organization: Any = None) -> QuerySet[PingJob]:
    """Jobs the actor may see, narrowed by the cleaned HistoryFilterForm data."""
    jobs = access.visible(actor, PingJob)
    if organization is not None:
        jobs = jobs.filter(organization=organization)
    if filters.get("customer"):
        jobs = jobs.filter(customer__public_id=filters["customer"])
    if filters.get("device"):
        jobs = jobs.filter(device__public_id=filters["device"])
    for name in ("vendor", "status", "via"):
        if filters.get(name):
            jobs = jobs.filter(**{name: filters[name]})
    kind, _, who = (filters.get("who") or "").partition(":")
    if kind == "user" and who.isdigit():
        jobs = jobs.filter(launched_by_id=int(who))
    elif kind == "key" and who.isdigit():
        jobs = jobs.filter(api_key_id=int(who))
    if filters.get("since"):
        jobs = jobs.filter(created_at__gte=_day_start(filters["since"]))
    if filters.get("until"):
        jobs = jobs.filter(created_at__lt=_day_start(filters["until"]) + timedelta(days=1))
    return jobs


def _day_start(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class KeysetPage:
    jobs: list[PingJob]
    newer: int | None  # the `after` cursor for the previous (newer) page
    older: int | None  # the `before` cursor for the next (older) page


NEWEST_FIRST = ("-created_at", "-pk")


def _beyond(jobs: QuerySet[PingJob], cursor: int, older: bool) -> QuerySet[PingJob]:
    """Rows strictly older (or newer) than the job `cursor` in (created_at, id) order. Written
    as a range on created_at plus a tie-break, so that the index range starts at the cursor
    instead of filtering everything above it."""
    at = PingJob.objects.filter(pk=cursor).values_list("created_at", flat=True).first()
    if at is None:
        return jobs.none()
    if older:
        return jobs.filter(created_at__lte=at).exclude(created_at=at, pk__gte=cursor)
    return jobs.filter(created_at__gte=at).exclude(created_at=at, pk__lte=cursor)


def older_than(jobs: QuerySet[PingJob], cursor: int) -> QuerySet[PingJob]:
    return _beyond(jobs, cursor, older=True)


def page(jobs: QuerySet[PingJob], before: int | None, after: int | None) -> KeysetPage:
    """Newest first, PAGE_SIZE at a time: an index walk from the cursor, never an OFFSET or a
    COUNT, so a page costs the same on the millionth row as on the first."""
    jobs = jobs.select_related("device", "customer")
    if after is not None:
        rows = list(_beyond(jobs, after, older=False).order_by("created_at", "pk")[: PAGE_SIZE + 1])
        more_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        older = rows[-1].pk if rows and _beyond(jobs, rows[-1].pk, older=True).exists() else None
        return KeysetPage(rows, rows[0].pk if more_newer and rows else None, older)
    if before is not None:
        jobs = _beyond(jobs, before, older=True)
    rows = list(jobs.order_by(*NEWEST_FIRST)[: PAGE_SIZE + 1])
    more_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    newer = rows[0].pk if before is not None and rows else None
    return KeysetPage(rows, newer, rows[-1].pk if more_older and rows else None)


CSV_COLUMNS = [
    "ping_id",
    "created_at",
    "started_at",
    "finished_at",
    "status",
    "customer",
    "device",
    "vendor",
    "via",
    "launched_by",
    "target",
    "count",
    "sent",
    "received",
    "loss_percent",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_stddev_ms",
    "source",
    "vendor_reference",
    "error",
]


def csv_rows(jobs: QuerySet[PingJob], viewer: Any) -> Iterator[list[Any]]:
    yield CSV_COLUMNS
    rows = jobs.select_related("device", "customer").order_by(*NEWEST_FIRST)
    for job in rows.iterator(chunk_size=2000):
        yield [
            cell(v)
            for v in (
                job.pk,
                job.created_at,
                job.started_at,
                job.finished_at,
                job.status,
                job.customer.name,
                job.device.name,
                job.vendor,
                job.via,
                launcher_for(job, viewer),
                job.target,
                job.count,
                job.sent,
                job.received,
                job.loss_percent,
                job.rtt_min,
                job.rtt_avg,
                job.rtt_max,
                job.rtt_stddev,
                job.source,
                job.vendor_reference,
                job.error,
            )
        ]
