"""django-q2 task entry points (importable by dotted path)."""

from __future__ import annotations

from datetime import datetime

from monitors import checks
from monitors.models import Location


def run_checks(location_id: int, batch: list[tuple[int, str, int]]) -> int:
    location = Location.objects.get(pk=location_id)
    items = [(monitor_id, datetime.fromisoformat(due), missed) for monitor_id, due, missed in batch]
    return len(checks.run_batch(location, items))
