"""Demo data for trying the portal: idempotent, and refused outside DEBUG (its passwords are
public). Every address in demo data is in 127.0.0.0/8."""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal import audit
from portal.models import Customer, CustomerAccess, Membership, Organization, Role, User

DEMO_PASSWORD = "demo"  # noqa: S105  (documented demo credential; DEBUG only)
CUSTOMERS = [
    ("Northwind Logistics", "Warehouses and delivery vans with Monogoto SIMs."),
    ("Contoso Clinics", "Clinic branches on Meraki networks and a Simotel PBX."),
]
STAFF = [("admin", Role.ADMIN), ("operator", Role.OPERATOR), ("viewer", Role.READONLY)]


class Command(BaseCommand):
    help = "Create (or refresh) the Demo organization, its customers and the demo users."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: its passwords are public."
            )
        with transaction.atomic():
            org, _ = Organization.objects.get_or_create(name="Demo", defaults={"slug": "demo"})
            customers = []
            for name, description in CUSTOMERS:
                customer, _ = Customer.objects.get_or_create(
                    organization=org, name=name, defaults={"description": description}
                )
                customers.append(customer)
            for username, role in STAFF:
                user = self._user(username, is_staff=(role == Role.ADMIN))
                Membership.objects.update_or_create(
                    user=user, organization=org, defaults={"role": role}
                )
            customer_user = self._user("customer")
            CustomerAccess.objects.get_or_create(user=customer_user, customer=customers[0])
            self._user("supporter", is_staff=True, is_global_supporter=True)
            # Each app adds its own demo objects (devices, monitors, ...) through a `demo`
            # module with load(organization, customers); portal depends on none of them.
            for config in apps.get_app_configs():
                try:
                    module = importlib.import_module(f"{config.name}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{config.name}.demo":
                        raise
                    continue
                module.load(org, customers)
            audit.record("manage.py demo", "demo.load", org)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo ready: organization Demo, 2 customers, users admin / operator / viewer / "
                f"customer / supporter (password “{DEMO_PASSWORD}”)."
            )
        )

    def _user(self, username: str, **flags: bool) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.invalid", **flags}
        )
        changed = [k for k, v in flags.items() if getattr(user, k) != v]
        for key in changed:
            setattr(user, key, flags[key])
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            changed.append("password")
        if changed:
            user.save()
        return user
