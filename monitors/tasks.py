"""django-q2 task entry points (importable by dotted path)."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django_q.tasks import async_task

from monitors import checks, incidents, notify, retention, rollups
from monitors.models import Location, Monitor

logger = logging.getLogger(__name__)


def run_checks(location_id: int, batch: list[tuple[int, str, int]]) -> int:
    location = Location.objects.get(pk=location_id)
    items = [(monitor_id, datetime.fromisoformat(due), missed) for monitor_id, due, missed in batch]
    return len(checks.run_batch(location, items))


def maintain() -> dict[str, int]:
    """Every minute: close incidents whose quiet period passed, send reminders, retry
    notifications that are due."""
    return {
        "closed": incidents.close_quiet(),
        "reminders": incidents.remind(),
        "notifications": notify.deliver_due(),
    }


def fold(through: str | None = None) -> int:
    """Every few minutes: roll closed minutes into their hour and day rollups, paced (see
    rollups.fold) and stopping well within the task's time limit. A fold that stops with its
    minutes left queues another task that goes on at once (a task may not outlive Q_TIMEOUT;
    at 100,000 monitors five minutes' worth take ~200 s at half a worker's time). The views
    never wait for it: they add unfolded minutes themselves."""
    budget = min(settings.Q_CLUSTER["timeout"] * 0.8, settings.MONITOR_ROLLUP_FOLD_MINUTES * 48)
    cutoff = datetime.fromisoformat(through) if through else rollups.fold_cutoff()
    # Begin at a random monitor: when a fold runs out of budget, the next leaves others.
    highest = Monitor.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    start_at = random.randint(0, highest)  # noqa: S311 (spreading work, not security)
    folded = rollups.fold(
        cutoff, budget=budget, duty=settings.MONITOR_ROLLUP_FOLD_DUTY, start_at=start_at
    )
    # Counted against this fold's own cutoff: minutes that ended while it ran are the next
    # fold's. None folded means others hold what is left (a concurrent fold): no follow-up.
    if folded and rollups.unfolded_before(cutoff):
        async_task("monitors.tasks.fold", cutoff.isoformat(), task_name="monitors.fold (more)")
    # Behind: minutes that had ended by the previous fold's cutoff are still not folded.
    period = timedelta(minutes=settings.MONITOR_ROLLUP_FOLD_MINUTES)
    if behind := rollups.unfolded_before(cutoff - period):
        logger.warning(
            "The rollup fold falls behind: %d minutes that ended before %s are not folded yet "
            "(raise MONITOR_ROLLUP_FOLD_DUTY, or add workers)",
            behind,
            f"{cutoff - period:%H:%M:%S}",
        )
    return folded


def prune() -> dict[str, Any]:
    return retention.prune()
