"""django-q2 task entry points (importable by dotted path)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitors import checks, incidents, notify, retention, rollups
from monitors.models import Location


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
    """Every few minutes: roll closed minutes into their hour and day rollups."""
    return rollups.fold()


def prune() -> dict[str, Any]:
    return retention.prune()
