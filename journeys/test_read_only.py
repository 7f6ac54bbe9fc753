"""Journey 4: a read-only member sees the organization's devices and monitors without any launch
or edit control, and a POST forged from their own page — with a valid CSRF token — is refused
with 403 and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from journeys.browser import BASE, SignIn, Watch, screenshot

DEVICE, SERIAL, MONITOR = "Clinic MX68", "Q2AB-CDEF-0001", "Clinic router"
UUID = r"[0-9a-f-]{36}"

# What a hand-made form post from the signed-in page sends: the page's own CSRF token, the
# session cookie, the same origin. Only the role can stop it.
FORGE = """async ([url, fields]) => {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const body = new URLSearchParams({...fields, csrfmiddlewaretoken: token});
  const response = await fetch(url, {method: "POST", body, credentials: "same-origin"});
  return {status: response.status, text: await response.text()};
}"""


def forge(page: Page, path: str, **fields: str) -> dict[str, Any]:
    return page.evaluate(FORGE, [path, fields])


def pings_of_device(page: Page) -> int:
    answer = page.request.get(f"{BASE}/api/pings?device={SERIAL}")
    assert answer.ok, answer.status
    return answer.json()["total"]


def assert_refused(answer: dict[str, Any], because: str) -> None:
    assert answer["status"] == 403, answer
    # Refused for the role, not for a bad token: the CSRF check passed.
    assert because in answer["text"], answer["text"][-3000:]
    assert "CSRF verification failed" not in answer["text"]


# What only those who may change things get, page by page: (what, its role, its name).
CONTROLS = {
    "devices": [
        ("button", "New device"),
        ("button", "Import CSV"),
        ("button", "Ping selected"),
        ("checkbox", f"Pick {DEVICE}"),
    ],
    "device": [("button", "Ping now"), ("button", "Edit"), ("button", "Delete")],
    "monitors": [("button", "New monitor")],
    "monitor": [("button", "Edit"), ("button", "Delete")],
}


def controls_seen(page: Page) -> tuple[dict[str, int], str, str]:
    """Walks devices → device → monitors → monitor and counts each control on the way; also
    gives the device's and the monitor's paths."""
    seen: dict[str, int] = {}

    def count(where: str) -> None:
        for role, name in CONTROLS[where]:
            seen[f"{where}: {name}"] = page.get_by_role(role, name=name, exact=True).count()

    nav = page.locator("#main-nav")
    nav.get_by_role("link", name="Devices").click()
    expect(page.get_by_role("link", name=DEVICE, exact=True)).to_be_visible()
    count("devices")
    page.get_by_role("link", name=DEVICE, exact=True).click()
    # The HTMX-loaded ping panel first, so that "no form" is not merely "not loaded yet".
    expect(page.locator("#recent-pings")).to_be_visible()
    count("device")
    device_path = re.search(rf"/devices/{UUID}/", page.url).group()
    nav.get_by_role("link", name="Monitors").click()
    expect(page.get_by_role("link", name=MONITOR)).to_be_visible()
    count("monitors")
    page.get_by_role("link", name=MONITOR).click()
    expect(page.get_by_role("heading", name=MONITOR, level=1)).to_be_visible()
    count("monitor")
    return seen, device_path, re.search(rf"/monitors/{UUID}/", page.url).group()


def test_viewer_sees_no_launch_or_edit_controls_and_a_forged_post_is_refused(
    sign_in: SignIn, watch: Watch
) -> None:
    # An operator walking the same way finds every control, so that finding none below means
    # they are not there for the viewer, not that they were looked for wrongly.
    operator, _, _ = controls_seen(sign_in("operator"))
    assert all(operator.values()), operator

    page = sign_in("viewer")
    viewer, device_path, monitor_path = controls_seen(page)
    assert not any(viewer.values()), viewer
    screenshot(page, "monitor-read-only", full_page=True)

    # Forged from the monitor page, where the viewer is signed in.
    before = pings_of_device(page)
    for path in (f"{device_path}pings/", "/pings/bulk/", f"{device_path}edit/"):
        watch.expect(403, re.escape(path))
    watch.expect(403, re.escape(f"{monitor_path}edit/"))

    launch = forge(page, f"{device_path}pings/", target="127.0.0.1", count="1")
    assert_refused(launch, "Your role may not launch pings.")
    bulk = forge(page, "/pings/bulk/", devices=device_path.split("/")[2])
    assert_refused(bulk, "Your role may not launch pings.")
    edit_device = forge(page, f"{device_path}edit/", name="Forged device", kind="host")
    assert_refused(edit_device, "You may not change this device.")
    edit_monitor = forge(page, f"{monitor_path}edit/", name="Forged monitor", hostname="127.0.0.1")
    assert_refused(edit_monitor, "You may not change this monitor.")

    # Nothing changed: no ping was launched, both names are as they were.
    assert pings_of_device(page) == before
    page.reload()
    expect(page.get_by_role("heading", name=MONITOR, level=1)).to_be_visible()
    page.goto(device_path)
    expect(page.get_by_role("heading", name=DEVICE, level=1)).to_be_visible()
    expect(page.locator("#recent-pings")).to_be_visible()
