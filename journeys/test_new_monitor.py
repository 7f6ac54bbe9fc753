"""Journey 3: an operator creates an ICMP monitor on a loopback address and sees its first
check arrive on the monitor's page, and the check in its latency chart."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from journeys.browser import SignIn, screenshot

NAME = "Journey loopback"
HOST = "127.0.0.9"  # all of 127.0.0.0/8 answers on Linux's loopback


def test_operator_creates_a_monitor_and_sees_its_first_check_and_chart(sign_in: SignIn) -> None:
    page = sign_in("operator")
    page.locator("#main-nav").get_by_role("link", name="Monitors").click()
    page.get_by_role("button", name="New monitor").click()

    page.locator("#id_customer").select_option(label="Northwind Logistics")
    page.locator("#id_name").fill(NAME)
    page.locator("#id_hostname").fill(HOST)
    page.locator("#id_check_interval_seconds").fill("5")
    page.locator("#id_count").fill("3")
    screenshot(page, "monitor-form")
    page.get_by_role("button", name="Create monitor").click()

    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"Monitor “{NAME}” created")
    expect(page.locator("main hgroup")).to_contain_text(HOST)
    page.evaluate("window.journeyNoReload = true")

    # The page's live part refreshes itself every 10 s: the first check turns up in it.
    checks = page.locator("#monitor-live article", has_text="Recent checks")
    first_row = checks.locator("tbody tr").last  # newest first
    expect(first_row.locator(".badge")).to_have_text("Up", timeout=45_000)
    expect(first_row).to_contain_text("3 / 3")
    expect(first_row).to_contain_text(re.compile(r"\d+\.\d{3} / \d+\.\d{3} / \d+\.\d{3} ms"))
    expect(page.locator("#monitor-live .stat", has_text="Last average RTT")).to_contain_text("ms")
    assert page.evaluate("window.journeyNoReload") is True, "the monitor page was reloaded"

    # The last hour's chart is drawn from the checks themselves: the first one is on it, as a
    # median line, and the chart no longer says it is empty.
    chart = page.locator("#monitor-chart")
    chart.get_by_role("link", name="1h", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?range=1h$"))
    expect(chart.get_by_role("link", name="1h", exact=True)).to_have_attribute(
        "aria-current", "true"
    )
    expect(chart.locator("svg.latency-chart polyline.med").first).to_be_attached()
    expect(chart.locator("svg.latency-chart text.empty")).to_have_count(0)
    assert page.evaluate("window.journeyNoReload") is True, "the range tab reloaded the page"
    screenshot(page, "monitor-first-check", full_page=True)
