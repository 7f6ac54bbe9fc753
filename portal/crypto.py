"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation.

SECRETS_ENCRYPTION_KEYS lists keys newest first. The newest encrypts; every listed key
decrypts, so a key is rotated by prepending a new one and running `manage.py rotate_secrets`,
after which the old key can be dropped.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretsUnreadable(Exception):
    """No configured key opens the stored value (a key was dropped too early)."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.SECRETS_ENCRYPTION_KEYS))


def encrypt_json(value: dict[str, Any]) -> str:
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        # Deliberately says nothing about the value itself.
        raise SecretsUnreadable(
            "Stored secrets cannot be decrypted with the configured keys."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (no-op in meaning; changes only the key used)."""
    return fernet().rotate(token.encode()).decode() if token else token


# Columns holding encrypt_json() values, as "app_label.Model.field", registered by each app in
# its AppConfig.ready(), so that `manage.py rotate_secrets` finds them all without knowing the
# apps (dependencies point one way: portal uses none of them).
ENCRYPTED_FIELDS: list[str] = []


def register_encrypted_field(label: str) -> None:
    if label not in ENCRYPTED_FIELDS:
        ENCRYPTED_FIELDS.append(label)
