"""On PostgreSQL portal.sqlcache's queries (the same SQL text every time) run on a cursor that
binds on the server (portal.postgres `prepared_cursor`), so psycopg prepares one after the
connection's `prepare_threshold` runs; with the threshold off, nothing is prepared. Django's
other queries bind on the client as before. (SQLite has no such cursor: sqlcache uses
Django's.)"""

from __future__ import annotations

import pytest
from django.db import connection

from monitors.models import Monitor
from portal import sqlcache

pytestmark = pytest.mark.django_db


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def marked_query(mark: str, *columns: str) -> sqlcache.Compiled:
    return sqlcache.compile_queryset(Monitor.objects.filter(name=mark).values(*columns))


def mine(statements: list[str], *columns: str) -> list[str]:
    """The statements selecting exactly these columns of monitors_monitor (no other test's)."""
    select = ", ".join(f'"monitors_monitor"."{c}" AS "{c}"' for c in columns)
    return [s for s in statements if s.startswith(f"SELECT {select} FROM")]


def test_a_repeated_compiled_query_becomes_a_prepared_statement():
    if connection.vendor != "postgresql":
        assert not hasattr(connection, "prepared_cursor")
        return
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    assert threshold == 5  # the settings' default (DATABASE_PREPARE_THRESHOLD)
    Monitor.objects.create(customer=_customer(), name="prepared-mark", hostname="127.0.0.1")
    columns = ("id", "name", "hostname")
    entry = marked_query("prepared-mark", *columns)
    for _ in range(threshold - 1):
        assert sqlcache.execute(entry)[0][1] == "prepared-mark"
    assert mine(prepared_statements(), *columns) == []
    for _ in range(2):
        assert sqlcache.execute(entry)[0][1] == "prepared-mark"
    statements = prepared_statements()
    assert len(mine(statements, *columns)) == 1, statements
    (statement,) = mine(statements, *columns)
    assert "$1" in statement  # bound on the server
    # Django's own queries are not prepared.
    for _ in range(threshold + 2):
        Monitor.objects.filter(name="orm-mark").count()
    assert not any("COUNT" in s for s in prepared_statements())


def test_nothing_is_prepared_with_the_threshold_off():
    if connection.vendor != "postgresql":
        return
    connection.ensure_connection()
    saved = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None
    try:
        columns = ("id", "notification_email", "port")
        entry = marked_query("unprepared-mark", *columns)
        for _ in range(10):
            assert sqlcache.execute(entry) == []
        assert mine(prepared_statements(), *columns) == []
    finally:
        connection.connection.prepare_threshold = saved


def _customer():
    from portal.models import Customer, Organization

    org = Organization.objects.create(name="P", slug="p")
    return Customer.objects.create(organization=org, name="C")
