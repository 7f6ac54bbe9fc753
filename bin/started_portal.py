"""`./dev start` run as a new user would run it, in a scratch state directory: start it, wait
until the web answers and every Procfile process is up, and stop it with one SIGINT (Ctrl-C),
checking that nothing is left running. Shared by bin/smoke_start.py and the browser journeys
(journeys/conftest.py).

Standard library only; talks to 127.0.0.1 and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
BASE = "http://127.0.0.1:8000"
# The README's `./dev start` listens on these; a second portal would only half start.
PORTS = {8000: "web", 8090: "vendor simulator"}
PROCESSES = ("runserver", "qcluster", "vendor_simulator", "run_scheduler")
DEMO_PASSWORD = "demo"  # noqa: S105  (the demo users' documented password)
LANDING = {  # demo user → a regular expression for the path they land on after signing in
    "admin": r"^/$",
    "operator": r"^/$",
    "viewer": r"^/$",
    "customer": r"^/customers/[0-9a-f-]{36}/monitors/$",
    "supporter": r"^/organizations/$",
}


class PortalError(RuntimeError):
    """The started portal did not start, or did not stop, as the README says it does."""


class StartedPortal:
    """`with StartedPortal() as portal:` runs `./dev start` for the block. `log` takes its
    output (else it goes to this process's terminal); `state_dir` is its VAR_DIR (else a new
    temporary directory), so the run never touches the developer's own var/."""

    def __init__(self, state_dir: Path | None = None, log: IO[bytes] | None = None) -> None:
        self.state_dir = state_dir or Path(tempfile.mkdtemp(prefix="portal-smoke-"))
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.processes: dict[int, str] = {}

    def __enter__(self) -> StartedPortal:
        try:
            self.start()
        except BaseException:
            self.stop(quiet=True)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A failure inside the block is the story; a stop problem after it only a footnote.
        self.stop(quiet=exc is not None)

    def start(self, seconds: float = 240) -> None:
        for port, what in PORTS.items():
            if _listening(port):
                raise PortalError(
                    f"something already listens on 127.0.0.1:{port} (the {what}'s port): "
                    "stop the other portal first; only one can run"
                )
        env = {**os.environ, "VAR_DIR": str(self.state_dir)}
        env.pop("DATABASE_URL", None)  # the README's command runs on its default SQLite file
        self.proc = subprocess.Popen(
            ["./dev", "start"],
            cwd=ROOT,
            env=env,
            start_new_session=True,  # its own process group, which one Ctrl-C reaches
            stdout=self.log,
            stderr=subprocess.STDOUT if self.log else None,
        )
        self._wait_for_web(seconds)
        time.sleep(2)  # give the cluster a moment to fork its workers
        self.processes = descendants(self.proc.pid)
        for needed in PROCESSES:
            if not any(needed in args for args in self.processes.values()):
                raise PortalError(f"no {needed} process is running under ./dev start")

    def _wait_for_web(self, seconds: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PortalError(f"./dev start exited early with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{BASE}/accounts/login/", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1)
        raise PortalError("the portal did not answer on 127.0.0.1:8000 in time")

    def stop(self, *, quiet: bool = False) -> None:
        """One Ctrl-C to the whole process group, as a terminal sends it; then every process
        that was running must be gone. With `quiet`, problems are printed, not raised."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        problem = None
        with contextlib.suppress(ProcessLookupError):  # it already ended (failed to start)
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            problem = "Ctrl-C did not stop ./dev start within 30 s"
        time.sleep(1)
        leftovers = {pid: args for pid, args in self.processes.items() if alive(pid)}
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if leftovers and problem is None:
            problem = f"processes left running after Ctrl-C: {leftovers}"
        if problem and quiet:
            print(f"while stopping the portal: {problem}", file=sys.stderr)
        elif problem:
            raise PortalError(problem)


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def descendants(root: int) -> dict[int, str]:
    """Every process under `root` (pid → command line), read from ps."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    children: dict[int, list[tuple[int, str]]] = {}
    for line in out.splitlines():
        pid, ppid, args = line.strip().split(None, 2)
        children.setdefault(int(ppid), []).append((int(pid), args))
    found, todo = {}, [root]
    while todo:
        for pid, args in children.get(todo.pop(), []):
            found[pid] = args
            todo.append(pid)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return " Z " not in stat.read_text()
    except FileNotFoundError:
        return False
