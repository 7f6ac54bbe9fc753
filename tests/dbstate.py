"""Proof that a refused request wrote nothing: every SQL statement it ran, minus reads.

Watching the statements (rather than comparing tables before and after) also catches a write
that was later undone, and costs nothing per table. Allowed: the request's own session row,
and the bookkeeping that reading updates on purpose — an API key's last use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext

_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|TRUNCATE)\b", re.I)
_ALLOWED = [
    re.compile(r'"django_session"'),
    re.compile(
        r'^\s*UPDATE "portal_apikey" SET "last_used_at" = \'[^\']*\'(::\w+)? '
        r'WHERE "portal_apikey"\."id" = \d+\s*$',
        re.I,
    ),
]


def writes(statements: list[str]) -> list[str]:
    return [
        sql
        for sql in statements
        if _WRITE.match(sql) and not any(allowed.search(sql) for allowed in _ALLOWED)
    ]


@contextmanager
def no_writes() -> Iterator[list[str]]:
    """Collects the writing statements run inside the block into the yielded list."""
    found: list[str] = []
    with CaptureQueriesContext(connection) as captured:
        yield found
    found.extend(writes([q["sql"] for q in captured.captured_queries]))
