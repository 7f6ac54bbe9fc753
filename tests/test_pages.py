"""Web pages as each kind of user meets them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from portal.models import (
    ApiKey,
    AuditEvent,
    Customer,
    CustomerAccess,
    Membership,
    Organization,
    Role,
    User,
)
from tests.conftest import PASSWORD, World


def login(username: str, password: str = PASSWORD) -> tuple[Client, str]:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, follow=True
    )
    return client, response.redirect_chain[-1][0] if response.redirect_chain else ""


@pytest.mark.parametrize(
    "username,landing",
    [("admin", "/"), ("operator", "/"), ("viewer", "/"), ("supporter", "/organizations/")],
)
def test_demo_users_land_on_the_page_for_their_role(db, settings, username: str, landing: str):
    settings.DEBUG = True  # the demo command refuses to run otherwise
    call_command("demo")
    _, landed = login(username, "demo")
    assert landed == landing


def test_demo_customer_user_lands_on_their_customers_monitors(db, settings):
    settings.DEBUG = True
    call_command("demo")
    _, landed = login("customer", "demo")
    customer = CustomerAccess.objects.get(user__username="customer").customer
    assert landed == f"/customers/{customer.public_id}/monitors/"


def test_customer_user_with_two_customers_lands_on_the_list(world: World):
    CustomerAccess.objects.create(user=world.users["customer"], customer=world.c2)
    _, landed = login("customer")
    assert landed == "/customers/"


def test_wrong_password_shows_an_error_and_is_audited(world: World):
    response = Client().post("/accounts/login/", {"username": "admin", "password": "nope"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.details == {"username": "admin"}


def test_login_and_logout_are_audited(world: World):
    client, _ = login("viewer")
    client.post("/accounts/logout/")
    assert list(
        AuditEvent.objects.filter(actor=world.users["viewer"])
        .values_list("action", flat=True)
        .order_by("id")
    ) == ["auth.login", "auth.logout"]


def test_navigation_fits_the_role(world: World):
    pages = {
        name: world.client(name).get("/customers/").content.decode()
        for name in ("admin", "viewer", "customer")
    }
    assert "API keys" in pages["admin"] and "Audit log" in pages["admin"]
    assert "API keys" not in pages["viewer"] and "Audit log" in pages["viewer"]
    assert "Members" not in pages["customer"] and "Audit log" not in pages["customer"]
    assert "New customer" in pages["admin"] and "New customer" not in pages["viewer"]


def test_customer_user_sees_only_their_customer(world: World):
    html = world.client("customer").get("/customers/").content.decode()
    assert "Northwind" in html and "Contoso" not in html and "Globex" not in html


def test_viewer_sees_no_edit_controls_and_a_forged_post_is_refused(world: World):
    client = world.client("viewer")
    html = client.get(f"/customers/{world.c1.public_id}/").content.decode()
    assert "Edit" not in html and "Delete" not in html
    response = client.post(f"/customers/{world.c1.public_id}/edit/", {"name": "Forged"})
    assert response.status_code == 403
    world.c1.refresh_from_db()
    assert world.c1.name == "Northwind"


# --- organization switcher -----------------------------------------------------------------


def test_member_of_two_organizations_switches_between_them(world: World):
    admin = world.users["admin"]
    Membership.objects.create(user=admin, organization=world.other_org, role=Role.READONLY)
    client = world.client("admin")
    html = client.get("/").content.decode()
    assert "Switch organization" in html and "Other Corp" in html
    assert "<h1>Acme Networks</h1>" in html
    response = client.post(
        "/organizations/switch/", {"organization": world.other_org.pk, "next": "/customers/"}
    )
    assert response.status_code == 302 and response["Location"] == "/customers/"
    html = client.get("/customers/").content.decode()
    assert "Globex" in html and "Northwind" not in html
    assert "New customer" not in html  # read-only there


def test_switch_refuses_foreign_organizations_and_offsite_redirects(world: World):
    client = world.client("admin")
    assert (
        client.post("/organizations/switch/", {"organization": world.other_org.pk}).status_code
        == 404
    )
    response = client.post(
        "/organizations/switch/", {"organization": world.org.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_supporter_reads_any_organization_but_cannot_write(world: World):
    client = world.client("supporter")
    client.post("/organizations/switch/", {"organization": world.other_org.pk})
    assert "Globex" in client.get("/customers/").content.decode()
    assert client.get("/members/").status_code == 200
    response = client.post(
        "/members/add/", {"username": "x", "password": PASSWORD, "role": "admin"}
    )
    assert response.status_code == 403
    assert client.post("/customers/new/", {"name": "X"}).status_code == 403
    assert not User.objects.filter(username="x").exists()


# --- customers -----------------------------------------------------------------------------


def test_admin_creates_edits_and_deletes_a_customer_with_an_audit_trail(world: World):
    client = world.client("admin")
    response = client.post("/customers/new/", {"name": "Initech", "contact_email": "a@b.test"})
    customer = Customer.objects.get(name="Initech")
    assert response["Location"] == f"/customers/{customer.public_id}/"
    assert customer.organization == world.org
    client.post(
        f"/customers/{customer.public_id}/edit/",
        {"name": "Initech AG", "contact_email": "a@b.test"},
    )
    client.post(f"/customers/{customer.public_id}/delete/")
    assert not Customer.objects.filter(pk=customer.pk).exists()
    actions = list(
        AuditEvent.objects.filter(target_type="customer", actor=world.users["admin"])
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["customer.create", "customer.update", "customer.delete"]
    update = AuditEvent.objects.get(action="customer.update")
    assert update.details == {"name": "Initech AG"}


def test_customer_form_shows_field_errors_and_changes_nothing(world: World):
    response = world.client("admin").post("/customers/new/", {"name": "northwind"})
    assert response.status_code == 400
    assert "already has a customer of that name" in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert Customer.objects.filter(organization=world.org).count() == 2


def test_admin_gives_a_new_customer_user_access(world: World):
    client = world.client("admin")
    client.post(
        f"/customers/{world.c2.public_id}/users/",
        {"username": "contoso-noc", "email": "noc@contoso.test", "password": PASSWORD},
    )
    _, landed = login("contoso-noc")
    assert landed == f"/customers/{world.c2.public_id}/monitors/"


def test_new_account_needs_a_strong_password(world: World):
    response = world.client("admin").post(
        f"/customers/{world.c2.public_id}/users/", {"username": "weak", "password": "123"}
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="weak").exists()


def test_htmx_search_returns_only_the_rows(world: World):
    response = world.client("admin").get(
        "/customers/?q=north", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="customer-rows"
    )
    html = response.content.decode()
    assert "<html" not in html and "Northwind" in html and "Contoso" not in html
    full = world.client("admin").get("/customers/?q=north").content.decode()
    assert "<html" in full


# --- members -------------------------------------------------------------------------------


def test_admin_adds_changes_and_removes_a_member(world: World):
    client = world.client("admin")
    client.post("/members/add/", {"username": "newbie", "password": PASSWORD, "role": "operator"})
    membership = Membership.objects.get(user__username="newbie")
    assert membership.role == Role.OPERATOR and membership.organization == world.org
    response = client.post(
        f"/members/{membership.pk}/role/", {"role": "readonly"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "<tr" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.READONLY
    client.post(f"/members/{membership.pk}/remove/")
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert set(
        AuditEvent.objects.filter(action__startswith="member.").values_list("action", flat=True)
    ) == {"member.add", "member.role", "member.remove"}


def test_the_last_admin_cannot_be_demoted_or_removed(world: World):
    client = world.client("admin")
    mine = world.memberships["admin"]
    response = client.post(
        f"/members/{mine.pk}/role/", {"role": "readonly"}, HTTP_HX_REQUEST="true"
    )
    # 422: htmx swaps it in, so the error shows next to the select.
    assert response.status_code == 422 and "at least one admin" in response.content.decode()
    client.post(f"/members/{mine.pk}/remove/")
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN


def test_an_invalid_role_is_refused(world: World):
    membership = world.memberships["viewer"]
    response = world.client("admin").post(
        f"/members/{membership.pk}/role/", {"role": "god"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    membership.refresh_from_db()
    assert membership.role == Role.READONLY


# --- API keys ------------------------------------------------------------------------------


def test_api_key_is_shown_once_and_never_again(world: World):
    client = world.client("admin")
    response = client.post("/api-keys/new/", {"name": "monitoring", "customer": world.c1.pk})
    assert response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(name="monitoring")
    html = response.content.decode()
    start = html.index('id="new-key">') + len('id="new-key">')
    plaintext = html[start : html.index("</code>", start)]
    assert ApiKey.authenticate(plaintext) == key
    assert key.read_only is False and key.customer == world.c1
    listing = client.get("/api-keys/").content.decode()
    assert plaintext not in listing and f"pp_{key.prefix}_…" in listing
    event = AuditEvent.objects.get(action="api_key.create")
    assert plaintext not in str(event.details)


def test_api_key_limited_to_another_organizations_customer_is_refused(world: World):
    response = world.client("admin").post(
        "/api-keys/new/", {"name": "sneaky", "customer": world.other_customer.pk}
    )
    assert response.status_code == 400
    assert not ApiKey.objects.filter(name="sneaky").exists()


def test_revoke_through_htmx_swaps_the_row(world: World):
    key = world.keys["key_rw"]
    response = world.client("admin").post(f"/api-keys/{key.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert "revoked" in response.content.decode()
    key.refresh_from_db()
    assert not key.is_active


# --- audit log -----------------------------------------------------------------------------


def test_audit_log_filters_and_stays_in_the_organization(world: World):
    world.client("admin").post("/customers/new/", {"name": "Initech"})
    world.client("outsider").post("/customers/new/", {"name": "Hooli"})
    client = world.client("viewer")
    html = client.get("/audit/?action=customer.create").content.decode()
    assert "Initech" in html and "Hooli" not in html
    partial = client.get("/audit/?actor=nobody", HTTP_HX_REQUEST="true").content.decode()
    assert "No events match" in partial and "<html" not in partial


# --- accounts ------------------------------------------------------------------------------


def test_password_change_ends_other_sessions_but_keeps_this_one(world: World):
    here, _ = login("operator")
    elsewhere, _ = login("operator")
    response = here.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "another long passphrase 7",
            "new_password2": "another long passphrase 7",
        },
    )
    assert response["Location"] == "/accounts/password/done/"
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.password_change").exists()


# --- the page shell --------------------------------------------------------------------------


def test_security_headers_are_sent(world: World):
    response = world.client("admin").get("/")
    csp = response["Content-Security-Policy"]
    assert (
        "default-src 'self'" in csp
        and "script-src 'self'" in csp
        and "unsafe-inline" not in (csp.split("script-src")[1].split(";")[0])
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_scripts_and_work_on_phones(world: World):
    html = world.client("admin").get("/").content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    import re

    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attrs for attrs in scripts)


def test_vendored_static_files_are_served_by_whitenoise(db):
    client = Client()
    for path in (
        "/static/vendor/htmx/htmx-2.0.11.min.js",
        "/static/vendor/pico/pico-2.1.1.min.css",
        "/static/portal/app.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content)


def test_html_404_for_pages_and_organizations_of_others(world: World):
    response = world.client("admin").get(f"/customers/{world.other_customer.public_id}/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


def test_user_without_any_access_sees_an_explanation(db):
    User.objects.create_user("lonely", password=PASSWORD)
    client, landed = login("lonely")
    assert landed == "/"
    assert "No access yet" in client.get("/").content.decode()


def test_organization_list_searches(world: World):
    Organization.objects.create(name="Zeta Telecom")
    html = (
        world.client("supporter")
        .get("/organizations/?q=zeta", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "Zeta Telecom" in html and "Acme" not in html


def test_switcher_menu_stays_short_for_people_who_see_every_organization(world: World):
    for i in range(12):
        Organization.objects.create(name=f"Tenant {i:02}", slug=f"tenant-{i}")
    html = world.client("supporter").get("/organizations/").content.decode()
    menu = html.split("Switch organization")[1].split("API documentation")[0]
    assert menu.count('name="organization"') == 8
    assert "All organizations…" in menu


def test_pagination_keeps_the_search(world: World):
    Customer.objects.bulk_create(
        [Customer(organization=world.org, name=f"Bulk {i:02}") for i in range(55)]
    )
    client = world.client("admin")
    html = client.get("/customers/?q=Bulk").content.decode()
    assert "?q=Bulk&amp;page=2" in html and "55 in all" in html
    second = client.get("/customers/?q=Bulk&page=2").content.decode()
    assert "Bulk 54" in second and "Northwind" not in second
