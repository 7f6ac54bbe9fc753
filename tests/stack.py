"""Real portal processes for the fault tests (tests/test_faults.py): the job cluster, the monitor
scheduler and the web server, started as `manage.py` / gunicorn processes against a database
file (or a PostgreSQL database) of the test's own, killed and restarted at will, and always
cleaned up.

The in-memory test database is invisible to other processes, so a stack has its own database:
a copy of a SQLite file migrated once per test session, or a PostgreSQL database created and
dropped by the test. The test process reads it directly (sqlite3 / psycopg) to poll for
progress; seeding goes through `python -m tests.stack_seed`, which runs the portal's own code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")


def free_port() -> int:
    """A port nobody listens on right now (never 8000/8090, which the demo and journeys use)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in (8000, 8090):
            return port


def wait_for(check: Callable[[], T], what: str, timeout: float = 45.0, every: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; generous deadlines, no fixed sleeps, so
    a busy 2-core machine is slow rather than flaky."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what} (last: {value!r})"
            )
        time.sleep(every)


def as_datetime(value: Any) -> datetime:
    """A timestamp as the database gives it (SQLite: text in UTC; PostgreSQL: aware)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# --- processes --------------------------------------------------------------------------------


class Proc:
    """One command in its own process group, so that a kill reaches every child (django-q2's
    sentinel, workers, monitor and pusher die together, as they do when the machine does)."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log_path = name, log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group: no clean-up code of ours or django-q2's gets to run."""
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def tail(self, chars: int = 3000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:]


class Stack:
    """The portal's processes on one database, with the environment they share."""

    def __init__(self, workdir: Path, database_url: str, direct_url: str = "", **env: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        # Where the test itself reads, when the processes go through a relay it may cut.
        self.direct_url = direct_url or database_url
        self.procs: list[Proc] = []
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(workdir),
            "PYTHONUNBUFFERED": "1",
            "VAR_DIR": str(workdir),
            "DATABASE_URL": database_url,
            "DEBUG": "true",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            # Vendors never call back (nothing of ours listens on the default 8000).
            "MERAKI_CALLBACKS": "false",
            "PORTAL_BASE_URL": "http://127.0.0.1:9",
            # A queue name of its own: parallel runs on one Redis or database never mix.
            "Q_CLUSTER_NAME": f"faults{uuid.uuid4().hex[:12]}",
            **env,
        }

    # -- running code of the portal --

    def _python(self, *args: str, timeout: float) -> str:
        """Run `python <args>` against this stack's database; its stdout, or a failed test."""
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stderr[-3000:]}"
        return done.stdout

    def seed(self, command: str, **spec: Any) -> Any:
        """`python -m tests.stack_seed <command> <spec>` against this stack's database."""
        out = self._python("-m", "tests.stack_seed", command, json.dumps(spec), timeout=120)
        return json.loads(out.strip().splitlines()[-1])

    def manage(self, *args: str) -> None:
        self._python("manage.py", *args, timeout=180)

    def start(self, name: str, *args: str) -> Proc:
        """`manage.py <args>` (or gunicorn when args start with "gunicorn")."""
        if args and args[0] == "gunicorn":
            command = [sys.executable, "-m", *args]
        else:
            command = [sys.executable, "manage.py", *args]
        proc = Proc(name, command, self.env, self.workdir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def qcluster(self) -> Proc:
        return self.start("qcluster", "qcluster")

    def scheduler(self) -> Proc:
        return self.start("scheduler", "run_scheduler")

    def web(self, port: int) -> Proc:
        return self.start(
            "web",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--graceful-timeout",
            "1",
        )

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.alive:
                proc.kill()

    def log_of(self, name: str) -> str:
        """The whole log of the processes called `name` (restarts append to one file)."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        """Every process's log tail, for failure messages."""
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.procs)

    # -- reading the database directly --

    def rows(self, sql: str) -> list[tuple]:
        if self.direct_url.startswith("sqlite:///"):
            path = self.direct_url.removeprefix("sqlite:///")
            with closing_sqlite(path) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.direct_url, autocommit=True) as db:
            return db.execute(sql).fetchall()


@contextmanager
def closing_sqlite(path: str) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(path, timeout=30)
    try:
        yield db
    finally:
        db.close()


# --- databases --------------------------------------------------------------------------------


def migrate(database_url: str, directory: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(directory),
        "VAR_DIR": str(directory),
        "DATABASE_URL": database_url,
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def postgres_url(name: str) -> str:
    """The URL of database `name` on the suite's PostgreSQL server (the local one when the
    suite runs on SQLite: it is always there, here and in CI)."""
    suite = urlsplit(os.environ.get("DATABASE_URL", ""))
    if suite.scheme not in ("postgres", "postgresql", "pgsql"):
        suite = urlsplit(PG_SERVER)
    return urlunsplit(("postgres", suite.netloc, f"/{name}", "", ""))


def suite_runs_on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))


def create_postgres(name: str, template: str = "") -> str:
    """A PostgreSQL database of our own (replacing a leftover of an interrupted run)."""
    import psycopg

    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(postgres_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # The template's last user (a migrate that just exited) may still be leaving.
        for attempt in range(50):
            try:
                admin.execute(f'CREATE DATABASE "{name}"{copy}')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    return postgres_url(name)


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards (open connections and all)."""
    try:
        yield create_postgres(name)
    finally:
        drop_postgres(name)


class Databases:
    """Fresh migrated databases for stacks, each a copy of one template migrated once: a SQLite
    file, or, when the suite itself runs on PostgreSQL, a PostgreSQL database used as the
    TEMPLATE of the others (names carry the process id: xdist workers never share one)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.postgres = suite_runs_on_postgres()
        self.made: list[str] = []
        if self.postgres:
            self.template = f"portal_faults_template_{os.getpid()}"
            migrate(create_postgres(self.template), directory)
        else:
            self.template = str(directory / "template.sqlite3")
            migrate(f"sqlite:///{self.template}", directory)

    def new(self, directory: Path) -> str:
        if self.postgres:
            name = f"portal_faults_{os.getpid()}_{len(self.made)}"
            self.made.append(name)
            return create_postgres(name, template=self.template)
        target = directory / "portal.sqlite3"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def close(self) -> None:
        if self.postgres:
            for name in [*self.made, self.template]:
                drop_postgres(name)


class TcpProxy:
    """A loopback TCP relay in front of PostgreSQL that the test can cut: `cut()` drops every
    open connection and refuses new ones (accepted, then closed at once, as a restarting
    server or a broken link does) until `restore()`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.down = False
        self.refused = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down:
                self.refused += 1
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        for s in sockets:
            with self._lock:
                self._open.discard(s)
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def cut(self) -> None:
        self.down = True
        with self._lock:
            live = list(self._open)
        self._drop(*live)

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self._stopping = True
        self.cut()
        self._listener.close()
