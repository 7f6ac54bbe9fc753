"""Token buckets in the database, so that every worker on every machine shares one limit.

Taking a token is a compare-and-swap on the row (healthchecks' claim pattern), which is safe
with concurrent writers on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import IntegrityError, OperationalError, transaction

from vendors.models import RateBucket


def try_take(key: str, rate: float, burst: int, now: float | None = None) -> float:
    """Take one token. Returns 0.0 on success, else the seconds until one will be free."""
    for attempt in range(50):
        try:
            return _try_take(key, rate, burst, now)
        except OperationalError as exc:
            # SQLite without a busy timeout (shared-cache memory databases) reports a lock
            # at once instead of waiting for it: wait a moment ourselves and try again.
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.01 * (1 + attempt % 5))
    return 0.05


def _refilled(row: dict, rate: float, burst: int, now: float) -> float:
    return min(float(burst), row["tokens"] + max(0.0, now - row["updated"]) * rate)


def peek(key: str, rate: float, burst: int) -> float:
    """Seconds until a token will be free (0.0: one is free now), taking nothing."""
    row = RateBucket.objects.filter(key=key).values("tokens", "updated").first()
    tokens = float(burst) if row is None else _refilled(row, rate, burst, time.time())
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate


def _try_take(key: str, rate: float, burst: int, now: float | None) -> float:
    for _ in range(20):
        now = time.time() if now is None else now
        row = RateBucket.objects.filter(key=key).values("tokens", "updated").first()
        if row is None:
            try:
                with transaction.atomic():
                    RateBucket.objects.create(key=key, tokens=burst - 1, updated=now)
                return 0.0
            except IntegrityError:  # another process created it first
                continue
        tokens = _refilled(row, rate, burst, now)
        if tokens < 1.0:
            return (1.0 - tokens) / rate
        taken = RateBucket.objects.filter(
            key=key, tokens=row["tokens"], updated=row["updated"]
        ).update(tokens=tokens - 1.0, updated=now)
        if taken:
            return 0.0
        now = None  # lost the race: read again
    return 0.05


def give_back(key: str, rate: float, burst: int) -> None:
    """Return a token taken for something that turned out not to count (e.g. a sign-in that
    succeeded), with the same compare-and-swap as taking; never above `burst`."""
    for _ in range(20):
        now = time.time()
        row = RateBucket.objects.filter(key=key).values("tokens", "updated").first()
        if row is None:
            return  # nothing was taken (or the row was cleared): already full
        tokens = min(float(burst), _refilled(row, rate, burst, now) + 1.0)
        returned = RateBucket.objects.filter(
            key=key, tokens=row["tokens"], updated=row["updated"]
        ).update(tokens=tokens, updated=now)
        if returned:
            return


def take(
    buckets: list[tuple[str, float, int]],
    max_wait: float,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Take a token from each bucket in turn, waiting as needed up to `max_wait` seconds in all.
    Returns the seconds waited; raises TimeoutError with the wait still needed otherwise."""
    waited = 0.0
    for key, rate, burst in buckets:
        while (wait := try_take(key, rate, burst)) > 0:
            if waited + wait > max_wait:
                raise TimeoutError(wait)
            sleep(wait)
            waited += wait
    return waited
