"""Django's PostgreSQL backend, with a health check that costs no round trip on a busy
connection.

With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query of every request that
reuses a connection, so that a connection that broke while idle is replaced instead of failing
the request. That is a round trip to the server per request: for a small API request, a fifth
of what PostgreSQL spends on it and a wait for the worker (bench/api_profile.py).

Here the round trip is skipped when both of these hold, and made as before otherwise:
- the connection's socket is quiet: nothing has arrived since the last answer. A server that
  closes a connection (restart, crash of the backend, idle_session_timeout,
  pg_terminate_backend, a proxy or relay dropping it) sends an error message, a FIN or a RST
  first, and any of them makes the socket readable; so does any message we did not ask for.
  Readable: `SELECT 1` decides, exactly as Django would;
- the connection answered a query less than CONN_HEALTH_CHECK_RECENT_SECONDS ago (1 s).

What `SELECT 1` alone would still catch is a peer that lost the connection without telling
(a stateful firewall, NAT or proxy that forgot it, a server host that restarted) and answers
the next packet with a RST, within that second after the connection was last used: the
request that meets it fails, where `SELECT 1` would have reconnected first. A host does not
restart in a second, and a connection idle longer is checked as before. 0 turns the skip off.
"""

from __future__ import annotations

import select
import time
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg import pq
from psycopg.pq import Format

_READY = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLRDHUP


def socket_is_quiet(connection: Any) -> bool:
    """Whether the psycopg `connection` is open, idle outside a transaction, and nothing is
    waiting to be read from its socket (no message, end of stream or error)."""
    if connection.closed or connection.broken:
        return False
    pgconn = connection.pgconn
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(pgconn.socket, _READY)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    # When this connection last began a query (monotonic): its answer proves the connection
    # was alive then. Begin rather than end errs towards checking (a long query looks idle).
    last_used = float("-inf")

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and time.monotonic() - self.last_used < settings.CONN_HEALTH_CHECK_RECENT_SECONDS
            and socket_is_quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _cursor(self, name: str | None = None) -> Any:
        cursor = super()._cursor(name)
        self.last_used = time.monotonic()
        return cursor

    def prepared_cursor(self) -> Any:
        """A cursor as `cursor()` gives, but binding parameters on the server, so that psycopg
        prepares a statement this connection runs again and again (after the connection's
        `prepare_threshold` runs, 5 by default; OPTIONS `prepare_threshold: None` turns it
        off, as a transaction-pooling proxy needs). For portal.sqlcache's compiled queries:
        parsing and planning was most of what PostgreSQL spent on a small API query."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = psycopg.Cursor(self.connection)
            # As create_cursor does: the session's zone for timestamptz where it differs.
            tzloader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)
            if self.timezone != tzloader.timezone:
                register_tzloader(self.timezone, cursor)
            wrapped = self._prepare_cursor(cursor)
        self.last_used = time.monotonic()
        return wrapped
