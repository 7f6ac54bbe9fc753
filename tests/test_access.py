"""The access module on its own: which rows each actor sees and may change."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.http import Http404

from portal import access
from portal.access import CHANGE, VIEW
from portal.api.authentication import ApiKeyPrincipal
from portal.models import ApiKey, AuditEvent, Customer, Membership
from tests.conftest import World


def actor(world: World, name: str):
    if name.startswith("key_"):
        return ApiKeyPrincipal(api_key=world.keys[name])
    if name == "anon":
        return AnonymousUser()
    return world.users[name]


def names(qs) -> set[str]:
    return {str(o) for o in qs}


@pytest.mark.parametrize(
    "who,expected",
    [
        ("admin", {"Northwind", "Contoso"}),
        ("operator", {"Northwind", "Contoso"}),
        ("viewer", {"Northwind", "Contoso"}),
        ("customer", {"Northwind"}),
        ("supporter", {"Northwind", "Contoso", "Globex"}),
        ("superuser", {"Northwind", "Contoso", "Globex"}),
        ("outsider", {"Globex"}),
        ("anon", set()),
        ("key_rw", {"Northwind", "Contoso"}),
        ("key_ro", {"Northwind", "Contoso"}),
        ("key_customer", {"Northwind"}),
        ("key_other", {"Globex"}),
    ],
)
def test_each_actor_sees_exactly_its_customers(world: World, who: str, expected: set[str]):
    assert names(access.visible(actor(world, who), Customer)) == expected


@pytest.mark.parametrize(
    "who,may",
    [
        ("admin", True),
        ("operator", False),  # customers are admin business
        ("viewer", False),
        ("customer", False),
        ("supporter", False),
        ("superuser", True),
        ("outsider", False),
        ("key_rw", True),
        ("key_ro", False),
        ("key_customer", False),  # a customer-limited key may not edit the customer itself
    ],
)
def test_who_may_change_a_customer(world: World, who: str, may: bool):
    assert access.can(actor(world, who), CHANGE, world.c1) is may
    assert (world.c1 in access.visible(actor(world, who), Customer, CHANGE)) is may


def test_customer_user_cannot_see_organization_wide_rows(world: World):
    customer = world.users["customer"]
    assert not access.visible(customer, Membership).exists()
    assert not access.visible(customer, AuditEvent).exists()
    assert not access.visible(customer, ApiKey).exists()


def test_api_keys_are_visible_to_admins_only(world: World):
    assert access.visible(world.users["admin"], ApiKey).count() == 3
    assert not access.visible(world.users["operator"], ApiKey).exists()
    assert not access.visible(world.users["viewer"], ApiKey).exists()
    assert access.visible(world.users["supporter"], ApiKey).count() == 4


def test_get_visible_or_404_hides_other_organizations_and_bad_ids(world: World):
    admin = world.users["admin"]
    assert access.get_visible_or_404(admin, Customer, public_id=world.c1.public_id) == world.c1
    with pytest.raises(Http404):
        access.get_visible_or_404(admin, Customer, public_id=world.other_customer.public_id)
    with pytest.raises(Http404):
        access.get_visible_or_404(admin, Customer, public_id="not-a-uuid")
    with pytest.raises(Http404):
        access.get_visible_or_404(admin, Customer, pk="nope")


def test_require_raises_permission_denied_for_read_only_writes(world: World):
    with pytest.raises(PermissionDenied):
        access.require(world.users["viewer"], CHANGE, world.c1)
    access.require(world.users["viewer"], VIEW, world.c1)


def test_models_without_a_policy_are_superuser_only(world: World):
    Group.objects.create(name="g")
    assert not access.visible(world.users["admin"], Group).exists()
    assert not access.visible(world.users["supporter"], Group, CHANGE).exists()
    assert access.visible(world.users["superuser"], Group).count() == 1


def test_an_inactive_user_has_no_rights(world: World):
    admin = world.users["admin"]
    admin.is_active = False
    admin.save()
    admin.refresh_from_db()
    assert not access.visible(admin, Customer).exists()


def test_a_member_who_is_also_a_customer_user_keeps_the_whole_organization(world: World):
    from portal.models import CustomerAccess

    operator = world.users["operator"]
    CustomerAccess.objects.create(user=operator, customer=world.c1)
    operator = type(operator).objects.get(pk=operator.pk)  # fresh: no cached scope
    assert names(access.visible(operator, Customer)) == {"Northwind", "Contoso"}
    assert not access.scope_of(operator).is_customer_only


def test_creation_checks_work_on_unsaved_objects(world: World):
    draft = Customer(organization=world.org, name="Draft")
    assert access.can(world.users["admin"], CHANGE, draft)
    assert not access.can(world.users["outsider"], CHANGE, draft)
    assert not access.can(world.users["admin"], CHANGE, Customer(name="No org"))


def test_organizations_lists_where_an_actor_may_act(world: World):
    admin, outsider = world.users["admin"], world.users["outsider"]
    assert list(access.organizations(admin, CHANGE, Customer)) == [world.org]
    assert list(access.organizations(outsider)) == [world.other_org]
    assert not access.organizations(world.users["operator"], CHANGE, Customer).exists()
    assert access.organizations(world.users["supporter"]).count() == 2
    assert not access.organizations(world.users["supporter"], CHANGE, Customer).exists()
