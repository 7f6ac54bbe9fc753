"""Journey 6: an organization admin adds a vendor credential; its secret works (the connection
test passes with it) but is never shown again — not on its page, not in its edit form, not in
the Django admin, not in the API, not in the audit log, not in the server's log."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from journeys.browser import BASE, ServerLog, SignIn, screenshot

NAME = "Journey Meraki"
SIMULATOR = "http://127.0.0.1:8090/meraki/api/v1"
SECRET = "sim-meraki-key-0001"  # noqa: S105  (the only key the loopback simulator accepts)
# The page may say the secret is set and show its last 4 characters, nothing more of it.
SHOWN_END = "…0001"


def assert_secret_absent(text: str, where: str) -> None:
    assert SECRET not in text, f"the secret is shown in {where}"
    assert SECRET[:-4] not in text, f"most of the secret is shown in {where}"


def assert_page_keeps_secret(page: Page, where: str) -> None:
    assert_secret_absent(page.content(), where)
    for field in page.locator("input[type=password]").all():
        assert field.input_value() == "", f"a secret input of {where} is filled in"


def test_admin_adds_a_credential_and_the_secret_never_shows_again(
    sign_in: SignIn, portal: ServerLog
) -> None:
    page = sign_in("admin")
    page.locator("#main-nav").get_by_role("link", name="Credentials").click()
    page.get_by_role("button", name="New credential").click()
    page.get_by_role("link", name="Cisco Meraki").click()
    page.locator("#id_name").fill(NAME)
    page.locator("#id_base_url").fill(SIMULATOR)
    page.locator("#id_secret_api_key").fill(SECRET)
    page.get_by_role("button", name="Save credential").click()

    # Its page: saved, the secret set and never shown.
    expect(page.get_by_role("heading", name=NAME, level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"Credential “{NAME}” saved.")
    expect(page.locator("main dl.details")).to_contain_text(SHOWN_END)
    assert_page_keeps_secret(page, "the credential's page")
    # The stored secret is the one typed: Meraki's simulator accepts it.
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection works", timeout=30_000)
    assert_page_keeps_secret(page, "the connection test's result")
    screenshot(page, "credential-detail")
    detail_url = page.url

    # The edit form starts with an empty secret input (blank keeps what is stored).
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(page.locator("#id_secret_api_key")).to_have_value("")
    expect(page.locator("main")).to_contain_text(SHOWN_END)
    assert_page_keeps_secret(page, "the edit form")

    # The Django admin shows whether it is set, and where to change it.
    page.locator("header.topbar summary").click()
    page.get_by_role("link", name="Django admin").click()
    page.get_by_role("link", name="Credentials", exact=True).first.click()
    page.get_by_role("link", name=NAME).click()
    expect(page.locator("#content")).to_contain_text("Change secrets in the portal")
    expect(page.locator("#content")).to_contain_text(SHOWN_END)
    assert_page_keeps_secret(page, "the Django admin's change page")
    page.goto(f"{BASE}/admin/vendors/credential/")
    assert_page_keeps_secret(page, "the Django admin's list")

    # Nor the API, the audit log, or anything the server wrote to its log.
    pk = detail_url.rstrip("/").rsplit("/", 1)[1]
    answer = page.request.get(f"{BASE}/api/credentials/{pk}")
    assert answer.ok, answer.status
    assert_secret_absent(answer.text(), "the credentials API")
    assert answer.json()["secretStatus"], answer.json()
    page.goto(f"{BASE}/audit/")
    expect(page.locator("main")).to_contain_text(NAME)
    assert_page_keeps_secret(page, "the audit log")
    assert_secret_absent(portal.path.read_text(errors="replace"), "the server's log")
