from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from portal import audit, crypto
from vendors.models import Credential


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key in SECRETS_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            for credential in Credential.objects.select_for_update().exclude(secrets_encrypted=""):
                credential.secrets_encrypted = crypto.rotate(credential.secrets_encrypted)
                credential.save(update_fields=["secrets_encrypted"])
                count += 1
            audit.record("manage.py rotate_secrets", "secrets.rotate", credentials=count)
        self.stdout.write(
            f"Re-encrypted the secrets of {count} credential(s) with the newest "
            "key; older keys can now be removed."
        )
