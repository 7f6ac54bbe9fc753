"""django-q2 task entry points (importable by dotted path)."""

from __future__ import annotations

import logging
import random
from datetime import datetime
from typing import Any

from django.conf import settings

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


def fold() -> int:
    """Every few minutes: roll closed minutes into their hour and day rollups, paced (see
    rollups.fold) and done well within the task's time limit; what is left waits for the
    next fold (the views add unfolded minutes themselves)."""
    budget = min(settings.Q_CLUSTER["timeout"] * 0.8, settings.MONITOR_ROLLUP_FOLD_MINUTES * 48)
    # Begin at a random monitor: when a fold runs out of budget, the next leaves others.
    highest = Monitor.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    start_at = random.randint(0, highest)  # noqa: S311 (spreading work, not security)
    through = rollups.fold_cutoff()
    folded = rollups.fold(
        through, budget=budget, duty=settings.MONITOR_ROLLUP_FOLD_DUTY, start_at=start_at
    )
    # Counted against this fold's own cutoff: minutes that ended while it ran are the next
    # fold's, not a sign of falling behind.
    if left := rollups.unfolded_before(through):
        logger.warning(
            "The rollup fold ran out of its %.0f s with %d ended minutes left: folding falls "
            "behind (raise MONITOR_ROLLUP_FOLD_DUTY or Q_TIMEOUT, or add workers)",
            budget,
            left,
        )
    return folded


def prune() -> dict[str, Any]:
    return retention.prune()
