"""Vendor credentials (secrets encrypted at rest) and the devices the portal can ping."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from portal import crypto
from portal.models import Customer, Organization
from portal.roles import AccessPolicy, Role


class Vendor(models.TextChoices):
    MONOGOTO = "monogoto", "Monogoto"
    MERAKI = "meraki", "Cisco Meraki"
    SIMOTEL = "simotel", "Simotel"


PUBLIC_BASE_URLS = {
    Vendor.MONOGOTO: "https://console.monogoto.io",
    Vendor.MERAKI: "https://api.meraki.com/api/v1",
    Vendor.SIMOTEL: "",  # every PBX has its own address
}

# Secret fields per vendor: (name, label). Values live only inside the encrypted blob.
SECRET_FIELDS: dict[str, list[tuple[str, str]]] = {
    Vendor.MONOGOTO: [
        ("username", "Username"),
        ("password", "Password"),
        ("customer_id", "CustomerId (returned by login)"),
    ],
    Vendor.MERAKI: [("api_key", "API key")],
    Vendor.SIMOTEL: [
        ("api_key", "API key (X-APIKEY)"),
        ("basic_user", "Basic auth user"),
        ("basic_password", "Basic auth password"),
        ("webhook_user", "Webhook Basic auth user"),
        ("webhook_password", "Webhook Basic auth password"),
    ],
}


def secret_hint(value: str | None) -> str:
    """What a page may show of a secret: that it is set, and its last 4 characters when long
    enough that those do not give most of it away."""
    if not value:
        return "not set"
    return f"set · …{value[-4:]}" if len(value) >= 12 else "set"


class Credential(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="credentials"
    )
    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    name = models.CharField(max_length=120)
    base_url = models.URLField(max_length=300, help_text="The vendor's API base URL.")
    simotel_method = models.CharField(
        "Simotel ping method",
        max_length=4,
        choices=[("PUT", "PUT"), ("POST", "POST")],
        default="PUT",
        help_text="HTTP method for setting/ping/act; the other is tried on 405.",
    )
    secrets_encrypted = models.TextField(blank=True, editable=False)
    # The Simotel webhook URL carries a random token; only its hash is kept for lookups.
    webhook_token_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    access_policy: ClassVar = AccessPolicy(
        organization="organization", view_role=Role.ADMIN, change_role=Role.ADMIN
    )

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="credential_name_unique_in_organization"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_vendor_display()})"

    def __repr__(self) -> str:  # never the secrets, whatever logs it
        return f"<Credential {self.pk} {self.vendor} {self.name!r}>"

    # --- secrets ------------------------------------------------------------------------------

    @property
    def secrets(self) -> dict[str, str]:
        """Decrypted secrets; read only where a request to the vendor needs them."""
        cached = getattr(self, "_secrets_cache", None)
        if cached is None:
            cached = crypto.decrypt_json(self.secrets_encrypted)
            self._secrets_cache = cached
        return dict(cached)

    def set_secrets(self, **values: str | None) -> list[str]:
        """Set the given secrets; None or "" leaves a secret as it is, use clear_secret() to
        remove one. Returns the names that changed (for the audit log, never the values)."""
        current = self.secrets
        changed = [k for k, v in values.items() if v and current.get(k) != v]
        current.update({k: v for k, v in values.items() if v})
        self.secrets_encrypted = crypto.encrypt_json(current)
        self._secrets_cache = current
        return changed

    def clear_secret(self, name: str) -> None:
        current = self.secrets
        current.pop(name, None)
        self.secrets_encrypted = crypto.encrypt_json(current)
        self._secrets_cache = current

    def secret_hints(self) -> list[tuple[str, str, str]]:
        values = self.secrets
        return [
            (name, label, secret_hint(values.get(name)))
            for name, label in SECRET_FIELDS.get(self.vendor, [])
        ]

    def issue_webhook_token(self) -> str:
        """A new secret webhook token (shown once); the old URL stops working."""
        token = secrets.token_urlsafe(32)
        self.webhook_token_hash = hashlib.sha256(token.encode()).hexdigest()
        return token

    @classmethod
    def by_webhook_token(cls, token: str) -> Credential | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return cls.objects.filter(webhook_token_hash=digest, vendor=Vendor.SIMOTEL).first()


class ConnectionTest(models.Model):
    """One "test connection" of a credential, and for Simotel the webhook that followed."""

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="tests")
    started_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(default=False)
    api_ms = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    webhook_received_at = models.DateTimeField(null=True, blank=True)
    webhook_ms = models.PositiveIntegerField(null=True, blank=True)

    access_policy: ClassVar = AccessPolicy(
        organization="credential__organization", view_role=Role.ADMIN, change_role=Role.ADMIN
    )

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"{self.credential} test at {self.started_at:%Y-%m-%d %H:%M:%S}"


class DeviceKind(models.TextChoices):
    MONOGOTO_THING = "monogoto_thing", "Monogoto Thing (SIM)"
    MERAKI_DEVICE = "meraki_device", "Meraki device"
    SIMOTEL_SERVER = "simotel_server", "Simotel server"
    HOST = "host", "Host / IP (pinged by the portal)"

    @property
    def vendor(self) -> str | None:
        return {
            DeviceKind.MONOGOTO_THING: Vendor.MONOGOTO,
            DeviceKind.MERAKI_DEVICE: Vendor.MERAKI,
            DeviceKind.SIMOTEL_SERVER: Vendor.SIMOTEL,
        }.get(self)


class DeviceQuerySet(models.QuerySet):
    def matching(self, text: str) -> DeviceQuerySet:
        """Devices whose name, ICCID, serial or host contains `text` (the list searches)."""
        return self.filter(
            models.Q(name__icontains=text)
            | models.Q(iccid__icontains=text)
            | models.Q(serial__icontains=text)
            | models.Q(host__icontains=text)
        )


class Device(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="devices", editable=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="devices")
    kind = models.CharField(max_length=20, choices=DeviceKind.choices)
    name = models.CharField(max_length=200)
    credential = models.ForeignKey(
        Credential, on_delete=models.PROTECT, null=True, blank=True, related_name="devices"
    )
    iccid = models.CharField("ICCID", max_length=22, blank=True, db_index=True)
    serial = models.CharField(max_length=20, blank=True, db_index=True)
    host = models.CharField(
        max_length=253,
        blank=True,
        help_text="IP address or hostname: the Thing's IP (Monogoto) or the host to ping.",
    )
    model = models.CharField(max_length=40, blank=True, help_text="e.g. MX68 (Meraki)")
    network_id = models.CharField(max_length=40, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeviceQuerySet.as_manager()
    access_policy: ClassVar = AccessPolicy(organization="organization", customer="customer")

    class Meta:
        ordering = ["customer__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "iccid"],
                condition=~models.Q(iccid=""),
                name="iccid_unique_in_organization",
            ),
            models.UniqueConstraint(
                fields=["organization", "serial"],
                condition=~models.Q(serial=""),
                name="serial_unique_in_organization",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.organization_id = self.customer.organization_id
        super().save(*args, **kwargs)

    @property
    def vendor(self) -> str | None:
        return DeviceKind(self.kind).vendor

    @property
    def reference(self) -> str:
        """What identifies it toward its vendor (and in the Meraki-dialect API)."""
        return {"monogoto_thing": self.iccid, "meraki_device": self.serial}.get(
            self.kind, str(self.pk)
        )

    def clean(self) -> None:
        from vendors import validation

        validation.clean_device(self)


class RateBucket(models.Model):
    """A token bucket shared by every process through the database (see vendors.ratelimit)."""

    key = models.CharField(max_length=160, unique=True)
    tokens = models.FloatField()
    updated = models.FloatField(help_text="Unix time of the last refill.")

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.2f}"


class MerakiCallback(models.Model):
    """One Meraki job started in callback mode: the per-job secret (as a hash) that Meraki
    must send back, and what it sent. Polling stays the fallback when nothing arrives."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="+")
    serial = models.CharField(max_length=20)
    ping_id = models.CharField(max_length=40, blank=True, db_index=True)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    received_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)

    access_policy: ClassVar = AccessPolicy(
        organization="credential__organization", view_role=Role.ADMIN, change_role=Role.ADMIN
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Meraki callback {self.public_id} ({self.serial} {self.ping_id})"

    @classmethod
    def open(cls, credential: Credential, serial: str) -> tuple[MerakiCallback, str]:
        secret = secrets.token_urlsafe(24)
        row = cls.objects.create(
            credential=credential,
            serial=serial,
            secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
        )
        return row, secret

    def secret_matches(self, given: str) -> bool:
        import hmac

        digest = hashlib.sha256(str(given).encode()).hexdigest()
        return hmac.compare_digest(digest, self.secret_hash)
