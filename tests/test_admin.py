"""The Django admin shows staff only their organizations' rows and writes through the rules."""

from __future__ import annotations

from portal.models import AuditEvent, Customer, Membership
from tests.conftest import World


def test_admin_changelist_shows_only_own_organization(world: World):
    html = world.client("admin").get("/admin/portal/customer/").content.decode()
    assert "Northwind" in html and "Contoso" in html and "Globex" not in html
    html = world.client("outsider").get("/admin/portal/customer/").content.decode()
    assert "Globex" in html and "Northwind" not in html


def test_supporter_sees_every_organization_read_only(world: World):
    client = world.client("supporter")
    html = client.get("/admin/portal/customer/").content.decode()
    assert "Northwind" in html and "Globex" in html
    change = client.get(f"/admin/portal/customer/{world.c1.pk}/change/").content.decode()
    assert 'name="_save"' not in change  # a view page, no save button
    response = client.post(
        f"/admin/portal/customer/{world.c1.pk}/change/",
        {"name": "Supporter was here", "organization": world.org.pk},
    )
    assert response.status_code == 403
    world.c1.refresh_from_db()
    assert world.c1.name == "Northwind"


def test_admin_forms_offer_only_visible_organizations_and_refuse_others(world: World):
    client = world.client("admin")
    html = client.get("/admin/portal/customer/add/").content.decode()
    assert "Acme Networks" in html and "Other Corp" not in html
    response = client.post(
        "/admin/portal/customer/add/", {"name": "Planted", "organization": world.other_org.pk}
    )
    assert response.status_code == 200  # the form re-renders with "select a valid choice"
    assert not Customer.objects.filter(name="Planted").exists()


def test_admin_changes_are_audited(world: World):
    client = world.client("admin")
    response = client.post(
        f"/admin/portal/customer/{world.c1.pk}/change/",
        {
            "name": "Northwind GmbH",
            "organization": world.org.pk,
            "description": "",
            "contact_email": "",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="customer.update")
    assert event.details["via"] == "admin" and event.details["fields"] == ["name"]
    assert event.organization == world.org


def test_admin_delete_is_audited(world: World):
    membership = world.memberships["viewer"]
    response = world.client("admin").post(
        f"/admin/portal/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(action="membership.delete", details__via="admin").exists()


def test_audit_log_is_read_only_in_the_admin(world: World):
    client = world.client("superuser")
    page = client.get(f"/admin/portal/auditevent/{world.own_event.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert (
        client.post(
            f"/admin/portal/auditevent/{world.own_event.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )


def test_api_key_hash_never_appears_in_the_admin(world: World):
    key = world.keys["key_rw"]
    html = world.client("superuser").get(f"/admin/portal/apikey/{key.pk}/change/")
    assert key.key_hash not in html.content.decode()
    assert world.key_plaintexts["key_rw"] not in html.content.decode()


def test_admin_revoke_action_revokes_only_visible_keys(world: World):
    client = world.client("admin")
    response = client.post(
        "/admin/portal/apikey/",
        {
            "action": "revoke",
            "_selected_action": [world.keys["key_ro"].pk, world.keys["key_other"].pk],
        },
    )
    assert response.status_code == 302
    world.keys["key_ro"].refresh_from_db()
    world.keys["key_other"].refresh_from_db()
    assert not world.keys["key_ro"].is_active
    assert world.keys["key_other"].is_active


def test_user_admin_lists_only_people_of_own_organization(world: World):
    html = world.client("admin").get("/admin/portal/user/").content.decode()
    assert "operator" in html and "customer" in html
    assert "outsider" not in html and "stranger" not in html


def test_superuser_account_changes_in_the_admin_are_audited(world: World):
    viewer = world.users["viewer"]
    response = world.client("superuser").post(
        f"/admin/portal/user/{viewer.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.delete")
    assert event.target_label == "viewer" and event.actor == world.users["superuser"]
