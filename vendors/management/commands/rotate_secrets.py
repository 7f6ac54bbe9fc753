from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from portal import audit, crypto


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key in SECRETS_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        counts: dict[str, int] = {}
        with transaction.atomic():
            for label in crypto.ENCRYPTED_FIELDS:
                app_label, model_name, field = label.split(".")
                model = apps.get_model(app_label, model_name)
                rows = model.objects.select_for_update().exclude(**{field: ""}).only("pk", field)
                counts[label] = 0
                for row in rows.iterator(chunk_size=500):
                    setattr(row, field, crypto.rotate(getattr(row, field)))
                    row.save(update_fields=[field])
                    counts[label] += 1
            audit.record(
                "manage.py rotate_secrets",
                "secrets.rotate",
                credentials=counts.get("vendors.Credential.secrets_encrypted", 0),
                rows=counts,
            )
        done = ", ".join(f"{n} in {label}" for label, n in counts.items())
        self.stdout.write(
            f"Re-encrypted {done} with the newest key; older keys can now be removed."
        )
