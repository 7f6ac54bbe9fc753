"""Streaming CSV downloads shared by every export: safe cells and one response shape."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # Spreadsheets run cells that start like a formula; a leading quote keeps them text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Echo:
    """A file-like object whose write returns the line, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def response(rows: Iterable[Iterable[Any]], name: str) -> StreamingHttpResponse:
    """Stream `rows` (the header first; cells already made safe with `cell`) as
    `<name>-<timestamp>.csv`."""
    writer = csv.writer(_Echo())
    streamed = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    streamed["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return streamed
