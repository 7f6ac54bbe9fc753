from __future__ import annotations

from portal import audit
from portal.api.authentication import ApiKeyPrincipal
from tests.conftest import World


def test_secret_looking_details_are_redacted(world: World):
    event = audit.record(
        world.users["admin"],
        "credential.update",
        world.c1,
        password="hunter2",
        api_token="abc",
        name="visible",
    )
    assert event.details == {"password": "[redacted]", "api_token": "[redacted]", "name": "visible"}


def test_event_knows_its_organization_and_target(world: World):
    event = audit.record(world.users["admin"], "customer.update", world.c1)
    assert event.organization == world.org
    assert (event.target_type, event.target_id, event.target_label) == (
        "customer",
        str(world.c1.pk),
        "Northwind",
    )
    assert event.actor == world.users["admin"] and event.actor_label == "admin"


def test_api_key_actions_name_the_key_not_its_secret(world: World):
    principal = ApiKeyPrincipal(api_key=world.keys["key_rw"])
    event = audit.record(principal, "customer.update", world.c1)
    assert "key_rw" in event.actor_label and world.keys["key_rw"].prefix in event.actor_label
    assert world.key_plaintexts["key_rw"] not in str(event.details) + event.actor_label


def test_system_actors_are_labelled(world: World):
    event = audit.record("manage.py demo", "demo.load")
    assert event.actor is None and event.actor_label == "manage.py demo"
    assert event.organization is None
