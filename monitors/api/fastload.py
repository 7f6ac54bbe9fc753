"""The monitor list's columns loaded straight into what its JSON holds.

Per 50-monitor page the list read 100 timestamps, which psycopg parsed into datetimes and
`_iso` turned back into text, and 100 JSON values parsed by the stdlib: about a quarter of the
request's Python (bench/api_profile.py). Here:
- timestamptz text from PostgreSQL in UTC (`2026-12-03 14:09:07.123456+00`, the fraction
  trimmed of trailing zeros or absent) becomes the API's `2026-12-03T14:09:07.123Z` by slicing:
  the same text `_iso` makes (isoformat with milliseconds cuts, it does not round). Anything
  else (another offset, a year beyond 4 digits, infinity) is parsed and formatted as before;
- JSON values are parsed by orjson, or by the stdlib where the two could differ (integers
  beyond 64 bits) or orjson refuses (lone surrogates, 1e400), and as Django does, text that
  is not JSON stays text.
Only for sessions in UTC, which is what Django sets when USE_TZ is on and DATABASES has no
TIME_ZONE; otherwise the list reads as before.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import orjson
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.datetime import TimestamptzLoader

from monitors.api.serializers import _iso

# orjson reads integers beyond 64 bits as floats (the stdlib: exact integers): text with a run
# of 19 digits or more goes to the stdlib (a run inside a string only costs the slower path).
LONG_NUMBER = re.compile(r"\d{19}")
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?\+00")


def iso_text(text: str) -> str | None:
    """`_iso` of the timestamptz PostgreSQL wrote as `text` in a UTC session, or None when
    `text` is not of the plain shape."""
    if ISO_UTC.fullmatch(text) is None:
        return None
    return f"{text[:10]}T{text[11:19]}.{(text[20:-3] + '000')[:3]}Z"


def json_value(value: Any, expression: Any = None, connection: Any = None) -> Any:
    """JSONField.from_db_value (no custom decoder) by orjson; a Django converter."""
    if value is None or not isinstance(value, str | bytes):
        return value
    if not LONG_NUMBER.search(value):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


class IsoTimestamptzLoader(TimestamptzLoader):
    """psycopg's timestamptz loader, giving the API's text instead of a datetime."""

    def load(self, data: Any) -> str:
        found = iso_text(bytes(data).decode())
        if found is not None:
            return found
        # As Django's own loader does (psycopg's parse, then the session's zone), then `_iso`.
        return _iso(super().load(data).replace(tzinfo=dt.UTC))


def list_options(
    connection: BaseDatabaseWrapper, json_columns: list[str]
) -> dict[str, dict[str, Any]]:
    """`loaders` and `converters` for portal.sqlcache: JSON by orjson everywhere, timestamps
    as the API's text on PostgreSQL sessions in UTC."""
    options: dict[str, dict[str, Any]] = {"converters": {name: json_value for name in json_columns}}
    if connection.vendor == "postgresql" and connection.timezone_name == "UTC":
        options["loaders"] = {"timestamptz": IsoTimestamptzLoader}
    return options
