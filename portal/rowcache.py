"""Rows of a list answer as they were last written, per process, by row version.

A monitor list of 50 rows spent most of its time turning rows into JSON (bench/api_profile.py:
reading ~1,500 values, building 50 dicts, checking and writing them), and a dashboard or a
poller asks for the same page over and over while most of its rows have not changed. On
PostgreSQL every row carries its version for free, whatever wrote it (the ORM,
`QuerySet.update`, raw SQL, the scheduler's bulk writes): `xmin`, the transaction that wrote
this version of the row, and `cmin`, the command within that transaction. So a list reads
only each row's id and version, and builds only the rows whose version this process has not
written yet.

Why (xmin, cmin) names one content of a row:
- another session sees only committed versions, and of the versions one transaction wrote it
  sees just the last; an aborted transaction's versions are never seen;
- the writing transaction itself sees the version it wrote last, each UPDATE being a new
  command (tests run in one transaction, so they depend on this);
- `cmin` reads the tuple's raw command id, which a transaction updating or deleting the row
  overwrites while it runs: the same content may then show another version. That costs a
  rebuild, never a stale row;
- `xmin` values come round again only after 2^32 transactions; entries older than
  `MAX_AGE_SECONDS` are not used, far inside that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Any

# ~1 KB of JSON per monitor row: 10,000 rows are ~10 MB per process.
MAX_ENTRIES = 10_000
MAX_AGE_SECONDS = 3600.0


class RowCache:
    """key → (version, written row); one entry per key, replaced when its version moves."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self._entries: dict[Hashable, tuple[Hashable, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> Any | None:
        """The row kept for `key` at `version` (not older than max_age), or None."""
        return self.get_many([(key, version)])[0]

    def get_many(self, wanted: list[tuple[Hashable, Hashable]]) -> list[Any | None]:
        """`get(key, version)` of each pair, in order: one clock reading for all."""
        oldest = time.monotonic() - self.max_age
        entries = self._entries
        found = []
        for key, version in wanted:
            entry = entries.get(key)
            if entry is None or entry[0] != version or entry[1] < oldest:
                found.append(None)
            else:
                found.append(entry[2])
        return found

    def put(self, key: Hashable, version: Hashable, row: Any) -> None:
        with self._lock:
            entries = self._entries
            entries.pop(key, None)
            if len(entries) >= self.max_entries:
                del entries[next(iter(entries))]  # insertion order: the oldest written
            entries[key] = (version, time.monotonic(), row)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
