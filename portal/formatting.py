"""Plain-text formatting shared by templates, notifications and exports."""

from __future__ import annotations

from datetime import timedelta


def duration_text(value: timedelta | None) -> str:
    """ "2 d 3 h", "1 h 12 min", "4 min 30 s", "45 s"."""
    if value is None:
        return "—"
    seconds = max(0, round(value.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"
