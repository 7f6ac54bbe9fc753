from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from portal import audit
from portal.models import ApiKey, Customer, Organization


class Command(BaseCommand):
    help = "Create an API key and print it once (it is stored only as a hash)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organization", required=True, help="Name or slug.")
        parser.add_argument("--read-only", action="store_true", help="A key that cannot write.")
        parser.add_argument("--customer", help="publicId of the one customer the key may use.")
        parser.add_argument("--name", default="", help="A label, e.g. the script using it.")

    def handle(self, *args: Any, **options: Any) -> None:
        ref = options["organization"]
        org = Organization.objects.filter(Q(name__iexact=ref) | Q(slug__iexact=ref)).first()
        if org is None:
            raise CommandError(f"No organization named or slugged {ref!r}.")
        customer = None
        if options["customer"]:
            try:
                public_id = uuid.UUID(options["customer"])
            except ValueError as exc:
                raise CommandError("--customer must be a customer's publicId (a UUID).") from exc
            customer = Customer.objects.filter(organization=org, public_id=public_id).first()
            if customer is None:
                raise CommandError(f"{org} has no customer with publicId {public_id}.")
        name = options["name"] or f"CLI key{' (read-only)' if options['read_only'] else ''}"
        with transaction.atomic():
            key, plaintext = ApiKey.issue(
                organization=org, customer=customer, read_only=options["read_only"], name=name
            )
            audit.record("manage.py create_api_key", "api_key.create", key, read_only=key.read_only)
        self.stderr.write(
            f"Created {key} for {org}"
            f"{f' limited to {customer}' if customer else ''}. "
            "It is shown only now:"
        )
        self.stdout.write(plaintext)
