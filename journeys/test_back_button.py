"""Journey 7: pages that HTMX updates in place (filters, chart ranges) push their state into the
browser's history; the back and forward buttons bring each state back whole — the rows, the
filters that made them, the chart and its tab — and the page keeps working afterwards."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from journeys.browser import SignIn, screenshot

CONTOSO = "Contoso Clinics"
ALL_DEVICES = ["Branch router", "Clinic MX68", "Clinic PBX", "Van 12 SIM", "Warehouse gateway"]
CONTOSO_DEVICES = ["Branch router", "Clinic MX68", "Clinic PBX"]


def expect_devices(page: Page, names: list[str], *, q: str, customer: str, kind: str) -> None:
    """The list shows exactly `names`, under filters that say what produced it."""
    expect(page.locator("#device-rows td[data-label=Name]")).to_have_text(names)
    expect(page.get_by_label("Search")).to_have_value(q)
    selected = page.locator("select[name=customer] option:checked")
    expect(selected).to_have_text(customer or "All customers")
    expect(page.locator("select[name=kind]")).to_have_value(kind)


def test_device_filters_come_back_whole_with_the_back_button(sign_in: SignIn) -> None:
    page = sign_in("operator")
    page.locator("#main-nav").get_by_role("link", name="Devices").click()
    expect_devices(page, ALL_DEVICES, q="", customer="", kind="")

    page.locator("select[name=customer]").select_option(label=CONTOSO)
    expect(page).to_have_url(re.compile(r"customer=[0-9a-f-]{36}"))
    expect_devices(page, CONTOSO_DEVICES, q="", customer=CONTOSO, kind="")
    page.locator("select[name=kind]").select_option("host")
    expect(page).to_have_url(re.compile(r"kind=host"))
    expect_devices(page, ["Branch router"], q="", customer=CONTOSO, kind="host")

    page.go_back()
    expect(page).to_have_url(re.compile(r"kind=$"))
    expect_devices(page, CONTOSO_DEVICES, q="", customer=CONTOSO, kind="")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/devices/$"))
    expect_devices(page, ALL_DEVICES, q="", customer="", kind="")
    page.go_forward()
    expect_devices(page, CONTOSO_DEVICES, q="", customer=CONTOSO, kind="")

    # Still working: a search narrows what the restored filters show, keeping the customer.
    page.get_by_label("Search").fill("MX")
    expect(page).to_have_url(re.compile(r"q=MX&customer=[0-9a-f-]{36}&kind=$"))
    expect_devices(page, ["Clinic MX68"], q="MX", customer=CONTOSO, kind="")
    screenshot(page, "devices-filtered")

    # Out to a device and back again: the list is as it was left.
    page.get_by_role("link", name="Clinic MX68", exact=True).click()
    expect(page.get_by_role("heading", name="Clinic MX68", level=1)).to_be_visible()
    page.go_back()
    expect_devices(page, ["Clinic MX68"], q="MX", customer=CONTOSO, kind="")
    # The bulk-ping button follows the ticked rows after all of that.
    ping_selected = page.get_by_role("button", name="Ping selected")
    expect(ping_selected).to_be_disabled()
    page.get_by_label("Pick Clinic MX68").check()
    expect(ping_selected).to_be_enabled()


def expect_range(page: Page, key: str, label: str) -> None:
    chart = page.locator("#monitor-chart")
    expect(chart.locator("nav.range-tabs a[aria-current=true]")).to_have_text(key)
    expect(chart.locator(".chart-head")).to_contain_text(f"last {label}")
    expect(chart.locator("svg.latency-chart")).to_be_visible()


def test_chart_ranges_come_back_with_the_back_button(sign_in: SignIn) -> None:
    page = sign_in("viewer")
    page.locator("#main-nav").get_by_role("link", name="Monitors").click()
    page.get_by_role("link", name="Warehouse gateway").click()
    expect_range(page, "24h", "24 hours")
    tabs = page.locator("#monitor-chart nav.range-tabs")

    tabs.get_by_role("link", name="7d").click()
    expect(page).to_have_url(re.compile(r"\?range=7d$"))
    expect_range(page, "7d", "7 days")
    tabs.get_by_role("link", name="1y").click()
    expect(page).to_have_url(re.compile(r"\?range=1y$"))
    expect_range(page, "1y", "1 year")
    screenshot(page, "monitor-year-chart", full_page=True)

    page.go_back()
    expect(page).to_have_url(re.compile(r"\?range=7d$"))
    expect_range(page, "7d", "7 days")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/monitors/[0-9a-f-]{36}/$"))
    expect_range(page, "24h", "24 hours")
    page.go_forward()
    expect_range(page, "7d", "7 days")

    # The restored tabs still switch the chart in place.
    tabs.get_by_role("link", name="30d").click()
    expect(page).to_have_url(re.compile(r"\?range=30d$"))
    expect_range(page, "30d", "30 days")
    expect(page.get_by_role("heading", name="Warehouse gateway", level=1)).to_be_visible()
