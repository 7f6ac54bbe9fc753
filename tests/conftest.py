"""The shared base: one small world with named actors, used by every test file.

Actors: admin, operator, viewer (read-only member), customer (a customer user bound to
customer `c1` only), supporter (global supporter), outsider (admin of another organization),
superuser, anon; and API keys: key_rw, key_ro, key_customer (read-write, limited to c1),
key_other (read-write key of the other organization).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
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

USER_ACTORS = ["admin", "operator", "viewer", "customer", "supporter", "outsider", "superuser"]
KEY_ACTORS = ["key_rw", "key_ro", "key_customer", "key_other"]
ACTORS = ["anon", *USER_ACTORS, *KEY_ACTORS]
PASSWORD = "correct horse battery staple"


@dataclass
class World:
    org: Organization
    other_org: Organization
    c1: Customer
    c2: Customer
    other_customer: Customer
    users: dict[str, User] = field(default_factory=dict)
    memberships: dict[str, Membership] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    key_plaintexts: dict[str, str] = field(default_factory=dict)
    own_access: CustomerAccess | None = None
    other_access: CustomerAccess | None = None
    own_event: AuditEvent | None = None
    other_event: AuditEvent | None = None

    def client(self, actor: str) -> Client:
        """A test client acting as `actor`: logged in, carrying an API key, or anonymous."""
        if actor in self.key_plaintexts:
            return Client(HTTP_AUTHORIZATION=f"Bearer {self.key_plaintexts[actor]}")
        client = Client()
        if actor in self.users:
            client.force_login(self.users[actor])
        return client

    def api(self, actor: str, method: str, path: str, data: Any = None) -> Any:
        client = self.client(actor)
        kwargs: dict[str, Any] = {}
        if data is not None:
            kwargs = {"data": data, "content_type": "application/json"}
        return getattr(client, method.lower())(path, **kwargs)


def make_world() -> World:
    org = Organization.objects.create(name="Acme Networks", slug="acme")
    other = Organization.objects.create(name="Other Corp", slug="other")
    world = World(
        org=org,
        other_org=other,
        c1=Customer.objects.create(organization=org, name="Northwind"),
        c2=Customer.objects.create(organization=org, name="Contoso"),
        other_customer=Customer.objects.create(organization=other, name="Globex"),
    )
    for name, org_, role, flags in [
        ("admin", org, Role.ADMIN, {"is_staff": True}),
        ("operator", org, Role.OPERATOR, {}),
        ("viewer", org, Role.READONLY, {}),
        ("outsider", other, Role.ADMIN, {"is_staff": True}),
    ]:
        user = User.objects.create_user(name, f"{name}@example.test", PASSWORD, **flags)
        world.users[name] = user
        world.memberships[name] = Membership.objects.create(user=user, organization=org_, role=role)
    world.users["customer"] = User.objects.create_user("customer", "c@example.test", PASSWORD)
    CustomerAccess.objects.create(user=world.users["customer"], customer=world.c1)
    world.users["supporter"] = User.objects.create_user(
        "supporter", "s@example.test", PASSWORD, is_staff=True, is_global_supporter=True
    )
    world.users["superuser"] = User.objects.create_superuser("root", "r@example.test", PASSWORD)
    # Rows of the other organization that no actor of ours is bound to, for 404 checks.
    stranger = User.objects.create_user("stranger", "x@example.test", PASSWORD)
    world.other_access = CustomerAccess.objects.create(user=stranger, customer=world.other_customer)
    world.own_access = CustomerAccess.objects.get(user=world.users["customer"])
    world.own_event = AuditEvent.objects.create(actor_label="t", organization=org, action="x.y")
    world.other_event = AuditEvent.objects.create(actor_label="t", organization=other, action="x.y")
    for name, org_, fields in [
        ("key_rw", org, {"read_only": False}),
        ("key_ro", org, {"read_only": True}),
        ("key_customer", org, {"read_only": False, "customer": world.c1}),
        ("key_other", other, {"read_only": False}),
    ]:
        key, plaintext = ApiKey.issue(organization=org_, name=name, **fields)
        world.keys[name], world.key_plaintexts[name] = key, plaintext
    return world


@pytest.fixture
def world(db: Any) -> World:
    return make_world()
