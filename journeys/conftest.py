"""Browser journeys against the portal started exactly as the README starts it (`./dev start`,
in a scratch state directory), driven through Debian's Chromium by Playwright.

Not part of `./dev test` (pyproject's testpaths is tests/): `.ci/run` runs them after the smoke
test with `.venv/bin/pytest journeys -n 0`. Only one portal can listen on 127.0.0.1:8000, so
nothing else may run `./dev start` (or bin/smoke_start.py) meanwhile.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from journeys.browser import (
    ARTIFACTS,
    BASE,
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    DESKTOP,
    FAILURES,
    PHONE,
    SCREENSHOTS,
    ServerLog,
    SignIn,
    StartedPortal,
    Watch,
)


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerLog]:
    """`./dev start` once for the whole run; its output goes to var/journeys/portal.log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for folder in (SCREENSHOTS, FAILURES):  # only this run's pictures
        shutil.rmtree(folder, ignore_errors=True)
    SCREENSHOTS.mkdir()
    log_path = ARTIFACTS / "portal.log"
    state = tmp_path_factory.mktemp("portal-state")
    with log_path.open("wb") as log, StartedPortal(state_dir=state, log=log):
        server_log = ServerLog(log_path)
        yield server_log
        # Anything the last journey left behind in the log, e.g. a worker's late traceback.
        faults = server_log.new_faults()
    assert not faults, "\n".join(faults)


@pytest.fixture(scope="session")
def browser(portal: ServerLog) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def watch(portal: ServerLog) -> Watch:
    """This journey's problems; checked after the test body (see pytest_runtest_call)."""
    portal.skip_to_end()
    return Watch()


@pytest.fixture
def sign_in(browser: Browser, watch: Watch) -> Iterator[SignIn]:
    """`sign_in("operator")` → a page of a new browser (its own cookies) signed in through the
    login form; `phone=True` makes it a phone-sized one."""

    def open_as(username: str, *, phone: bool = False) -> Page:
        context = browser.new_context(**(PHONE if phone else DESKTOP), base_url=BASE)
        context.set_default_timeout(15_000)
        watch.attach(context)
        watch.contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        # The user menu names whoever is signed in.
        expect(page.locator("header.topbar summary")).to_contain_text(username)
        return page

    yield open_as
    for context in watch.contexts:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A journey whose steps all passed still fails when its browser saw a console error, a
    page error, a failed request or an unexpected 4xx/5xx, or the server logged a fault."""
    try:
        result = yield
    except BaseException:
        save_failure_screenshots(item)
        raise
    funcargs = getattr(item, "funcargs", {})
    watch, server_log = funcargs.get("watch"), funcargs.get("portal")
    if watch is not None:
        problems = list(watch.problems)
        if server_log is not None:
            problems += server_log.new_faults()
        assert not problems, "the browser or the server saw problems:\n" + "\n".join(problems)
    return result


def save_failure_screenshots(item: pytest.Item) -> None:
    """What each of the journey's browsers showed when it failed, in var/journeys/failures/,
    and what the watch had noticed until then."""
    watch = getattr(item, "funcargs", {}).get("watch")
    if watch is None:
        return
    if watch.problems:  # often the cause: shown with the failure's captured output
        print("the browser also saw:\n" + "\n".join(watch.problems))
    FAILURES.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "-", item.name)
    for n, page in enumerate(p for c in watch.contexts for p in c.pages):
        with contextlib.suppress(Exception):  # a crashed page must not hide the real failure
            page.screenshot(path=FAILURES / f"{name}-{n}.png", full_page=True)
