"""Pruning old history: raw checks after MONITOR_RAW_RETENTION_DAYS, rollups after their own
(longer) limits. Deletes go in chunks of MONITOR_PRUNE_CHUNK rows, each its own short
transaction, so the check writers never wait long behind a prune."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone

from monitors.models import CheckResult, NotificationAttempt, Period, Rollup


def _delete_in_chunks(rows: QuerySet[Model], chunk: int) -> int:
    deleted = 0
    while True:
        ids = list(rows.order_by().values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        # A fast delete: nothing refers to these rows, so no objects are loaded.
        count, _ = rows.model.objects.filter(pk__in=ids).delete()
        deleted += count


def prune(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    chunk = settings.MONITOR_PRUNE_CHUNK
    done: dict[str, int] = {}

    def older(days: int) -> datetime | None:
        return now - timedelta(days=days) if days > 0 else None

    if cutoff := older(settings.MONITOR_RAW_RETENTION_DAYS):
        done["checks"] = _delete_in_chunks(CheckResult.objects.filter(due_at__lt=cutoff), chunk)
        # Notification attempts go with the raw checks; incidents and notifications stay.
        done["attempts"] = _delete_in_chunks(
            NotificationAttempt.objects.filter(at__lt=cutoff), chunk
        )
    for period, days in (
        (Period.MINUTE, settings.MONITOR_MINUTE_ROLLUP_DAYS),
        (Period.HOUR, settings.MONITOR_HOUR_ROLLUP_DAYS),
        (Period.DAY, settings.MONITOR_DAY_ROLLUP_DAYS),
    ):
        if cutoff := older(days):
            # A minute not folded yet still holds the only copy of its sums for its hour and
            # day: it waits for the fold (which may have been stopped), however old.
            rows = Rollup.objects.filter(period=period, start__lt=cutoff, folded=True)
            done[f"{period.label}_rollups"] = _delete_in_chunks(rows, chunk)
    return done
