"""portal.postgres: CONN_HEALTH_CHECKS' `SELECT 1` is skipped only on a connection used within
the last second whose socket shows nothing; a connection the server dropped is still replaced
before a request uses it. (On SQLite there is no such connection: the settings keep Django's.)"""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from django.db import close_old_connections, connection

from portal.models import Organization
from portal.postgres import base

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checks(monkeypatch):
    """The `SELECT 1` health checks sent, as the backend pids they were sent on."""
    sent: list[int] = []
    original = base.DatabaseWrapper.is_usable

    def is_usable(self):
        sent.append(self.connection.info.backend_pid)
        return original(self)

    monkeypatch.setattr(base.DatabaseWrapper, "is_usable", is_usable)
    return sent


def request() -> int:
    """What a request does around its first query (the request_started / request_finished
    signals run close_old_connections); the backend pid that answered it."""
    close_old_connections()
    Organization.objects.count()
    pid = connection.connection.info.backend_pid
    close_old_connections()
    return pid


def on_postgres() -> bool:
    if connection.vendor != "postgresql":
        assert connection.settings_dict["ENGINE"] == "django.db.backends.sqlite3"
        return False
    assert connection.settings_dict["ENGINE"] == "portal.postgres"
    assert connection.health_check_enabled
    return True


def test_busy_connection_skips_the_round_trip(checks):
    if not on_postgres():
        return
    first = request()
    assert [request() for _ in range(5)] == [first] * 5
    assert checks == []


def test_connection_idle_longer_is_checked(checks, settings):
    if not on_postgres():
        return
    pid = request()
    connection.last_used -= settings.CONN_HEALTH_CHECK_RECENT_SECONDS + 0.1
    assert request() == pid
    assert checks == [pid]


def test_zero_always_checks(checks, settings):
    if not on_postgres():
        return
    settings.CONN_HEALTH_CHECK_RECENT_SECONDS = 0
    pid = request()
    checks.clear()  # whether the first request found a connection to check depends on order
    assert [request(), request()] == [pid, pid]
    assert checks == [pid, pid]


def test_connection_the_server_dropped_is_replaced_first(checks):
    """The server ends the backend right after a query: the next request's query still
    succeeds, on a new connection (the dropped one was seen and checked, not used)."""
    if not on_postgres():
        return
    pid = request()
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye (an error message, then the end of the stream) arrives at once.
    poller = select.poll()
    poller.register(connection.connection.pgconn.socket, select.POLLIN)
    assert poller.poll(5000)
    assert time.monotonic() - connection.last_used < 1
    new_pid = request()
    assert new_pid != pid
    assert checks == [pid]


def test_socket_is_quiet_sees_a_transaction_and_a_closed_connection():
    if not on_postgres():
        return
    request()
    raw = connection.connection
    assert base.socket_is_quiet(raw)
    with raw.transaction():
        assert not base.socket_is_quiet(raw)
    connection.close()
    assert not base.socket_is_quiet(raw)
