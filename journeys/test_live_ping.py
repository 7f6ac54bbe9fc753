"""Journey 2: an operator pings the demo's simulated Meraki device from its page and watches the
result arrive in the page, without reloading it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from journeys.browser import SignIn, screenshot

# Records every status the device page's ping panel shows, in order. It lives on `window`, so
# it also proves the page was never reloaded: a reload would leave it undefined.
RECORD_STATUSES = """() => {
  window.journeyStatuses = [];
  const note = () => {
    const panel = document.querySelector("#device-pings article.ping-job");
    const status = panel && (panel.className.match(/status-([a-z_]+)/) || [])[1];
    if (status && window.journeyStatuses[window.journeyStatuses.length - 1] !== status) {
      window.journeyStatuses.push(status);
    }
  };
  new MutationObserver(note).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["class"],
  });
}"""


def open_device(page: Page, name: str) -> None:
    page.locator("#main-nav").get_by_role("link", name="Devices").click()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def test_operator_pings_a_meraki_device_and_watches_the_result_arrive_live(
    sign_in: SignIn,
) -> None:
    page = sign_in("operator")
    open_device(page, "Clinic MX68")
    # The ping panel comes in through HTMX once the page has loaded; Meraki's form asks for a
    # target and 1 to 5 echoes.
    form = page.locator("form.ping-form")
    expect(form.get_by_label("Target")).to_be_visible()
    expect(form.get_by_label("Count")).to_have_attribute("max", "5")
    polls: list[str] = []
    page.on(
        "request",
        lambda r: (
            polls.append(r.url)
            if r.headers.get("hx-request") and re.search(r"/pings/[0-9a-f-]{36}/$", r.url)
            else None
        ),
    )
    page.evaluate(RECORD_STATUSES)

    form.get_by_label("Target").fill("127.0.0.1")
    form.get_by_label("Count").fill("3")
    form.get_by_role("button", name="Ping now").click()

    panel = page.locator("#device-pings article.ping-job").first
    expect(panel).to_contain_text("via Cisco Meraki · 3 echoes")
    expect(panel).to_have_class(re.compile(r"status-complete"), timeout=60_000)
    statuses = page.evaluate("window.journeyStatuses")
    assert statuses is not None, "the device page was reloaded"
    # Seen while still on its way, then complete: it arrived live, through the panel's polls.
    assert statuses[0] in ("queued", "running") and statuses[-1] == "complete", statuses
    assert polls, "the panel never asked the portal for the job's progress"

    expect(panel.locator(".stat", has_text="Received / sent")).to_contain_text("3 / 3")
    expect(panel.locator(".stat", has_text="Loss")).to_contain_text("0 %")
    expect(panel.locator(".stat", has_text="RTT min / avg / max")).to_contain_text(
        re.compile(r"\d+\.\d{3} / \d+\.\d{3} / \d+\.\d{3}")
    )
    expect(panel.locator(".replies tbody tr")).to_have_count(3)
    expect(panel.locator("figure.ping-chart-wrap svg")).to_be_visible()
    # The device's recent pings list it too, and catch up by themselves: ended, 3 of 3.
    newest = page.locator("#recent-pings tbody tr").first
    expect(newest.locator("td[data-label=Status]")).to_have_text("Complete")
    expect(newest.locator("td[data-label=Replies]")).to_contain_text("3 / 3")
    screenshot(page, "device-ping-result", full_page=True)

    # Its own page tells the same story.
    job_link = panel.locator("header a", has_text="#")
    job_link.click()
    expect(page).to_have_url(re.compile(r"/pings/[0-9a-f-]{36}/$"))
    expect(page.locator("main")).to_contain_text("Clinic MX68")
    expect(page.locator("main")).to_contain_text("3 / 3")
    screenshot(page, "ping-detail")
