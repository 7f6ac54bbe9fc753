"""What every journey's browser shares: how Chromium is started (Debian's, loopback only), the
watch that turns console errors, page errors and failed requests into test failures, the
server log that does the same for tracebacks and 5xx answers, and the screenshots."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response, Route

ROOT = Path(__file__).resolve().parent.parent
# bin/ holds scripts, not a package: the start/stop module shared with bin/smoke_start.py is
# imported from there.
sys.path.insert(0, str(ROOT / "bin"))
from started_portal import DEMO_PASSWORD, LANDING, StartedPortal  # noqa: E402

__all__ = ["DEMO_PASSWORD", "LANDING", "StartedPortal"]  # re-exported for the journeys
SignIn = Callable[..., Page]  # the sign_in fixture: sign_in("viewer", phone=False) → Page
BASE = "http://127.0.0.1:8000"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    # No name is ever resolved: a page that reached for another host fails instead of leaving
    # the machine (the portal vendors everything it loads, so nothing should).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
ARTIFACTS = ROOT / "var" / "journeys"
SCREENSHOTS = ARTIFACTS / "screenshots"
FAILURES = ARTIFACTS / "failures"  # what the browsers showed when a journey failed
# Every request that does not go to the started portal is refused (and reported).
ELSEWHERE = re.compile(r"^(?!http://127\.0\.0\.1:8000/)")
# Chromium's console line for any answer of 400 or more, which the response check already saw.
FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status of")


@dataclass
class Watch:
    """Collects everything a user's browser would show as broken during one journey. Answers a
    journey provokes on purpose (a 404 for another customer's page, a 403 for a forged POST)
    are declared with `expect` and are then the only ones allowed."""

    problems: list[str] = field(default_factory=list)
    expected: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)  # the journey's browsers

    def expect(self, status: int, path: str) -> None:
        """Allow answers of `status` for URLs whose path matches the regular expression."""
        self.expected.append((status, re.compile(f"^{BASE}{path}")))

    def attach(self, context: BrowserContext) -> None:
        context.route(ELSEWHERE, self._refuse)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.problems.append(f"page error: {error.error}"))
        context.on("requestfailed", self._request_failed)
        context.on("response", self._response)

    def _allowed(self, status: int, url: str) -> bool:
        return any(status == s and pattern.match(url) for s, pattern in self.expected)

    def _refuse(self, route: Route) -> None:
        self.problems.append(f"request outside the portal: {route.request.url}")
        route.abort("blockedbyclient")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if FAILED_RESOURCE.match(message.text):
            return  # judged by _response, which knows whether the status was expected
        self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        # A poll or navigation cut short because the page moved on (or closed) is not a fault.
        if "ERR_ABORTED" in failure and request.url.startswith(BASE):
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not self._allowed(response.status, response.url):
            request = response.request
            self.problems.append(f"{response.status} answer to {request.method} {response.url}")


class ServerLog:
    """The started portal's output: tracebacks and 5xx answers in it are failures too, even
    when the page a user saw looked fine (a failed poll, a worker crash). Django logs the
    refusals it answers with 403 and 404 with their traceback; those are the browser watch's
    business (expected or not), so they are left out here."""

    ANSWERED_5XX = re.compile(r'HTTP/1\.[01]" 5\d\d ')
    # honcho prefixes each line with its time and process: "01:28:59 web.1       | ..."
    PREFIX = re.compile(r"^\d\d:\d\d:\d\d (\S+)\s*\| ?")
    REFUSALS = ("django.core.exceptions.PermissionDenied", "django.http.response.Http404")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def skip_to_end(self) -> None:
        self.offset = self.path.stat().st_size

    def new_faults(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        lines = [
            self.PREFIX.sub(r"\1: ", line) for line in chunk.decode("utf-8", "replace").splitlines()
        ]
        faults = [f"server: {line}" for line in lines if self.ANSWERED_5XX.search(line)]
        for i, line in enumerate(lines):
            if not line.endswith("Traceback (most recent call last):"):
                continue
            process = line.split(":", 1)[0]
            # The exception's own line ends the traceback: the first of this process's lines
            # after it that is not indented.
            rest = (x.split(": ", 1)[-1] for x in lines[i + 1 :] if x.startswith(process + ":"))
            last = next((x for x in rest if not x.startswith(" ")), "")
            if not last.startswith(self.REFUSALS):
                faults.append(f"server: {line} … {last}")
        return faults


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Saves what the user sees now as var/journeys/screenshots/<name>.png (run artefacts; the
    README's copies in docs/screenshots/ are picked from these by hand)."""
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page, animations="disabled", caret="hide")
    return path
