"""API keys this process has just checked, for API_KEY_CACHE_SECONDS.

Looking a key up cost one query per API request (and most of a small request's time in
Django's query compiler), while a busy client sends the same key many times a second. An entry
is found by the key's public prefix and used only if the SHA-256 of the presented key matches
its stored hash (compared in constant time, as in the database path), so the cache never
accepts a key the database would refuse, except a key revoked or deleted in *another* process
within the last API_KEY_CACHE_SECONDS: revoking (`ApiKey.revoke`) and saving or deleting a key
forget it here at once (portal.signals), which other processes cannot hear of without a shared
round trip per request. Only keys that authenticated are kept, so unknown prefixes cannot fill
the cache, and a hash that does not match a cached entry still goes to the database.
"""

from __future__ import annotations

import copy
import hmac
import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

if TYPE_CHECKING:
    from portal.models import ApiKey

# Enough for every key a deployment has in use; beyond it the oldest entries go first.
MAX_ENTRIES = 1024

_entries: dict[str, tuple[float, ApiKey]] = {}
_lock = threading.Lock()  # threaded servers (runserver, gthread workers) share the dict
clock = time.monotonic  # tests move it forward instead of sleeping


def lookup(prefix: str, digest: str) -> ApiKey | None:
    """A copy of the cached key with this prefix if it is fresh and `digest` is its hash."""
    entry = _entries.get(prefix)
    if entry is None:
        return None
    expires, key = entry
    if expires <= clock():
        _drop(prefix)
        return None
    if not hmac.compare_digest(key.key_hash, digest):
        return None
    # A copy per request: nothing one request loads onto it (e.g. the creator, for the audit
    # log) outlives the entry's window in other requests.
    return copy.copy(key)


def remember(key: ApiKey) -> None:
    seconds = settings.API_KEY_CACHE_SECONDS
    if seconds <= 0 or not key.is_active:
        return
    with _lock:
        if len(_entries) >= MAX_ENTRIES and key.prefix not in _entries:
            del _entries[next(iter(_entries))]  # dicts keep insertion order: the oldest
        _entries[key.prefix] = (clock() + seconds, copy.copy(key))


def touched(key: ApiKey) -> None:
    """Carry a new last_used_at to the cached entry, so that the next requests do not write it
    again (ApiKey.touch writes at most once per API_KEY_LAST_USED_RESOLUTION_SECONDS)."""
    entry = _entries.get(key.prefix)
    if entry is not None:
        entry[1].last_used_at = key.last_used_at


def forget(prefix: str) -> None:
    """Drop the key now and again when the current transaction commits: a request served in
    between (threaded servers) may have read the row as it was before and cached it again."""
    _drop(prefix)
    transaction.on_commit(lambda: _drop(prefix))


def _drop(prefix: str) -> None:
    with _lock:
        _entries.pop(prefix, None)


def clear() -> None:
    with _lock:
        _entries.clear()
