"""Tenancy: organizations, their customers, who belongs where, API keys and the audit log."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from portal import keycache
from portal.roles import AccessPolicy, Role

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Customer",
    "CustomerAccess",
    "Membership",
    "Organization",
    "Role",
    "User",
]


class User(AbstractUser):
    """A person. What they may do comes from memberships, customer access and the flags here."""

    is_global_supporter = models.BooleanField(
        default=False,
        help_text="Reads every organization and writes nothing (support staff).",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    access_policy: ClassVar = AccessPolicy(
        organization="pk", change_role=Role.ADMIN, customer_grants_may_change=False
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:80] or uuid.uuid4().hex[:12]
        super().save(*args, **kwargs)


class Customer(models.Model):
    """A customer of an organization: devices, monitors and customer users hang off it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="customers"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    access_policy: ClassVar = AccessPolicy(
        organization="organization",
        customer="pk",
        change_role=Role.ADMIN,
        customer_grants_may_change=False,
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="customer_name_unique_in_organization"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A staff user's role in one organization."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READONLY)
    created_at = models.DateTimeField(auto_now_add=True)

    access_policy: ClassVar = AccessPolicy(organization="organization", change_role=Role.ADMIN)

    class Meta:
        ordering = ["organization__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="one_membership_per_organization"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.get_role_display()})"


class CustomerAccess(models.Model):
    """Binds a customer user to a customer: read-only access to that customer's things."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_accesses"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="accesses")
    created_at = models.DateTimeField(auto_now_add=True)

    access_policy: ClassVar = AccessPolicy(
        organization="customer__organization", change_role=Role.ADMIN
    )

    class Meta:
        verbose_name_plural = "customer accesses"
        ordering = ["customer__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "customer"], name="one_access_per_customer")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.customer}"


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """An organization's API key, stored as a public prefix plus a SHA-256 of the whole key.

    The key is random (256 bits), so a fast hash is enough: there is nothing to brute-force.
    The full key exists only in the response that created it.
    """

    PREFIX_LENGTH = 8

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text="When set, the key sees and changes only this customer's things.",
    )
    name = models.CharField(max_length=100)
    read_only = models.BooleanField(default=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    access_policy: ClassVar = AccessPolicy(
        organization="organization", view_role=Role.ADMIN, change_role=Role.ADMIN
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, **fields: Any) -> tuple[ApiKey, str]:
        """Create a key; returns it with the plaintext, which is never stored or shown again."""
        prefix = secrets.token_hex(cls.PREFIX_LENGTH // 2)
        plaintext = f"pp_{prefix}_{secrets.token_urlsafe(32)}"
        key = cls.objects.create(prefix=prefix, key_hash=cls.hash(plaintext), **fields)
        return key, plaintext

    @classmethod
    def authenticate(cls, plaintext: str) -> ApiKey | None:
        """The active key matching `plaintext`, compared in constant time; None otherwise.
        A key this process checked in the last API_KEY_CACHE_SECONDS is not read again
        (portal.keycache)."""
        parts = plaintext.split("_")
        if len(parts) < 3 or parts[0] != "pp":
            return None
        digest = cls.hash(plaintext)
        if (recent := keycache.lookup(parts[1], digest)) is not None:
            return recent
        # The prefix is unique: no ORDER BY (first() would add one; it is most of this
        # per-request query's cost in Django's compiler).
        key = next(
            iter(
                cls.objects.active()
                .select_related("organization", "customer")
                .filter(prefix=parts[1])
                .order_by()[:1]
            ),
            None,
        )
        # Hash anyway when no row matched, so timing does not tell which prefixes exist.
        expected = key.key_hash if key else "0" * 64
        if hmac.compare_digest(expected, digest) and key is not None:
            keycache.remember(key)
            return key
        return None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def role(self) -> Role:
        return Role.READONLY if self.read_only else Role.ADMIN

    def touch(self) -> None:
        """Record use, at most once per resolution window so busy keys do not write per request."""
        now = timezone.now()
        window = settings.API_KEY_LAST_USED_RESOLUTION_SECONDS
        if self.last_used_at and (now - self.last_used_at).total_seconds() < window:
            return
        ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
        keycache.touched(self)

    def revoke(self) -> bool:
        """Revoke once; returns False when it was already revoked (nothing changed)."""
        updated = ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        keycache.forget(self.prefix)  # update() sends no post_save (portal.signals)
        self.refresh_from_db(fields=["revoked_at"])
        return bool(updated)


class AuditEvent(models.Model):
    """One state-changing action. Labels are copied so the log survives deletions."""

    # How the pages phrase an action ("admin created customer Initech"); unknown actions fall
    # back to their code, so new ones never break a page.
    VERBS: ClassVar[dict[str, str]] = {
        "auth.login": "signed in",
        "auth.logout": "signed out",
        "auth.login_failed": "failed to sign in",
        "auth.password_change": "changed their password",
        "customer.create": "created customer",
        "customer.update": "updated customer",
        "customer.delete": "deleted customer",
        "customer_user.add": "gave customer access:",
        "customer_user.remove": "removed customer access:",
        "member.add": "added member",
        "member.role": "changed the role of",
        "member.remove": "removed member",
        "api_key.create": "created API key",
        "api_key.revoke": "revoked API key",
        "demo.load": "loaded the demo data into",
    }

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    # Every member may read the log; nobody edits it (the admin shows it read-only).
    access_policy: ClassVar = AccessPolicy(organization="organization", change_role=Role.ADMIN)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    @property
    def verb(self) -> str:
        return self.VERBS.get(self.action, self.action)
