"""Journey 5: a customer user, on a phone, sees their own customer (Northwind) and nothing of
the organization's other customer (Contoso): every list holds only theirs, and Contoso's pages
answer 404 as if they did not exist."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from journeys.browser import BASE, SignIn, Watch, screenshot

CUSTOMER = "Northwind Logistics"
DEVICES = ["Van 12 SIM", "Warehouse gateway"]
MONITORS = ["Depot firewall", "Warehouse gateway"]
# Everything of Contoso's has one of these in its name.
OTHERS = ("Contoso", "Clinic", "Branch router")


def contoso_paths(staff: Page) -> tuple[list[str], list[str]]:
    """Contoso's pages (for the browser) and other URLs (images, CSV, API), found by staff."""

    def items(path: str) -> list[dict]:
        answer = staff.request.get(f"{BASE}{path}")
        assert answer.ok, (path, answer.status)
        return answer.json()["items"]

    customer = next(c for c in items("/api/customers") if c["name"] == "Contoso Clinics")
    monitor = next(m for m in items("/api/icmp-monitors") if m["name"] == "Clinic router")
    device = next(d for d in items("/api/devices") if d["name"] == "Clinic MX68")
    c, m, d = customer["publicId"], monitor["publicId"], device["publicId"]
    month = datetime.now(tz=UTC).strftime("%Y-%m")
    pages = [
        f"/customers/{c}/",
        f"/customers/{c}/monitors/",
        f"/customers/{c}/report/{month}/",
        f"/monitors/{m}/",
        f"/monitors/{m}/incidents/",
        f"/devices/{d}/",
        f"/devices/{d}/pings/",
    ]
    others = [
        f"/monitors/{m}/chart.svg?range=1h",
        f"/monitors/{m}/checks.csv",
        f"/customers/{c}/monitor-checks.csv",
        f"/api/customers/{c}",
        f"/api/icmp-monitors/{m}",
        f"/api/devices/{device['serial']}",
    ]
    return pages, others


def open_menu_entry(page: Page, entry: str) -> None:
    """On a phone the menu is folded behind its button."""
    page.get_by_role("button", name="Menu").click()
    page.locator("#main-nav").get_by_role("link", name=entry, exact=True).click()


def assert_only_own(page: Page, names: list[str]) -> None:
    main = page.locator("main")
    for name in names:
        expect(main).to_contain_text(name)
    for other in OTHERS:
        expect(main).not_to_contain_text(other)
    # Filters offer only their own customer.
    for select in page.locator("main select[name=customer]").all():
        options = select.locator("option").all_inner_texts()
        assert options == ["All customers", CUSTOMER], options


def test_customer_user_sees_only_their_customer(sign_in: SignIn, watch: Watch) -> None:
    pages, others = contoso_paths(sign_in("operator"))
    page = sign_in("customer", phone=True)

    # They land on their customer's monitors.
    expect(page.get_by_role("heading", name=CUSTOMER, level=1)).to_be_visible()
    assert_only_own(page, MONITORS)
    screenshot(page, "phone-customer-monitors")

    open_menu_entry(page, "Customers")
    expect(page.get_by_role("heading", name="Your customers")).to_be_visible()
    assert_only_own(page, [CUSTOMER])
    open_menu_entry(page, "Monitors")
    expect(page.get_by_role("heading", name="Monitors", level=1)).to_be_visible()
    assert_only_own(page, MONITORS)
    open_menu_entry(page, "Devices")
    expect(page.get_by_role("heading", name="Devices", level=1)).to_be_visible()
    assert_only_own(page, DEVICES)
    # Their own device: visible, but nothing to launch.
    page.get_by_role("link", name="Warehouse gateway", exact=True).click()
    expect(page.locator("#recent-pings")).to_be_visible()
    expect(page.get_by_role("button", name="Ping now")).to_have_count(0)
    open_menu_entry(page, "Pings")
    expect(page.get_by_role("heading", name="Pings", level=1)).to_be_visible()
    assert_only_own(page, [])

    # Contoso's pages do not exist for them; nothing of Contoso's leaks into the answer.
    for path in pages:
        watch.expect(404, path.replace("?", r"\?"))
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, (path, answer and answer.status)
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        for other in OTHERS:
            expect(page.locator("body")).not_to_contain_text(other)
    for path in others:
        answer = page.request.get(f"{BASE}{path}")
        assert answer.status == 404, (path, answer.status)
        body = answer.text()
        assert not any(other in body for other in OTHERS), (path, body[:500])
