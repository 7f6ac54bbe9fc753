"""Journey 1: every demo user signs in through the form and lands where their work is."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from journeys.browser import LANDING, SignIn, screenshot

ROLE_BADGE = {
    "admin": "Admin",
    "operator": "Operator",
    "viewer": "Read-only",
    "customer": "Customer",
    "supporter": "Global supporter",
}
# What each landing page is about, as its first heading says it.
HEADING = {
    "admin": "Demo",
    "operator": "Demo",
    "viewer": "Demo",
    "customer": "Northwind Logistics",
    "supporter": "Organizations",
}
# Menu entries only some roles get.
NAV_ONLY_FOR = {"Credentials": {"admin"}, "API keys": {"admin"}, "Organizations": {"supporter"}}


@pytest.mark.parametrize("username", LANDING)
def test_each_demo_user_signs_in_and_lands_on_the_page_for_their_role(
    sign_in: SignIn, username: str
) -> None:
    page = sign_in(username)

    assert re.match(LANDING[username], urlparse(page.url).path), page.url
    expect(page.locator("main h1").first).to_have_text(HEADING[username])
    expect(page.locator("header.topbar .role-badge")).to_have_text(ROLE_BADGE[username])
    nav = page.locator("#main-nav")
    for entry, roles in NAV_ONLY_FOR.items():
        link = nav.get_by_role("link", name=entry, exact=True)
        expect(link).to_have_count(1 if username in roles else 0)
    screenshot(page, f"landing-{username}")

    # And out again, through the user menu.
    page.locator("header.topbar summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
