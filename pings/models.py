"""Launched pings: one PingJob per ping (who, what, how, status, the normalized outcome), its
replies, the batches that bulk launches make, and the deliveries of callers' callbacks."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal import crypto
from portal.models import ApiKey, Customer, Organization
from portal.roles import AccessPolicy
from vendors.models import Device


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"


ACTIVE = (Status.QUEUED, Status.RUNNING)
TERMINAL = (Status.COMPLETE, Status.FAILED, Status.TIMED_OUT)


class Via(models.TextChoices):
    PAGE = "page", "Web page"
    API = "api", "API"
    BULK = "bulk", "Bulk launch"


class JobVendor(models.TextChoices):
    """Who measured: a vendor cloud, or the portal itself (plain hosts)."""

    MONOGOTO = "monogoto", "Monogoto"
    MERAKI = "meraki", "Cisco Meraki"
    SIMOTEL = "simotel", "Simotel"
    LOCAL = "local", "Portal (ICMP)"


class CallbackStatus(models.TextChoices):
    NONE = "", "No callback"
    PENDING = "pending", "Waiting for the job"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


class PingBatch(models.Model):
    """One bulk launch: several devices pinged at once, followed on one progress page."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    launched_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    # Names of selected devices that were not pinged (their rate limit was used up).
    skipped = models.JSONField(default=list, blank=True)

    access_policy: ClassVar = AccessPolicy(organization="organization")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "ping batches"

    def __str__(self) -> str:
        return f"Bulk ping {self.created_at:%Y-%m-%d %H:%M:%S} by {self.launched_by_label}"


class PingJobQuerySet(models.QuerySet):
    def overdue(self, now: Any = None) -> PingJobQuerySet:
        return self.filter(status__in=ACTIVE, deadline_at__lt=now or timezone.now())


class PingJob(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="ping_jobs", db_index=False
    )
    # Lookups by device and customer use the history's composite indexes below.
    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, related_name="ping_jobs", db_index=False
    )
    batch = models.ForeignKey(
        PingBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    vendor = models.CharField(max_length=16, choices=JobVendor.choices)
    # Who and how. The label survives the user's or key's deletion.
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # covered by pingjob_by_user
    )
    api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # covered by pingjob_by_key
    )
    launched_by_label = models.CharField(max_length=150)
    via = models.CharField(max_length=8, choices=Via.choices)
    # What was asked. An empty target pings the device itself (Meraki's pingDevice).
    target = models.CharField(max_length=253, blank=True)
    count = models.PositiveSmallIntegerField(null=True, blank=True)
    packet_size = models.PositiveSmallIntegerField(null=True, blank=True)
    interval = models.FloatField(null=True, blank=True, help_text="Seconds between echoes.")
    timeout = models.FloatField(null=True, blank=True, help_text="Seconds to wait per echo.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The sweep marks jobs still queued or running after this as timed out.
    deadline_at = models.DateTimeField()
    # The normalized outcome (vendors.adapters.base.PingOutcome).
    sent = models.PositiveSmallIntegerField(null=True, blank=True)
    received = models.PositiveSmallIntegerField(null=True, blank=True)
    loss_percent = models.FloatField(null=True, blank=True)
    rtt_min = models.FloatField(null=True, blank=True)
    rtt_avg = models.FloatField(null=True, blank=True)
    rtt_max = models.FloatField(null=True, blank=True)
    rtt_stddev = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=40, blank=True)
    raw = models.JSONField(null=True, blank=True, help_text="The vendor's payload, for support.")
    vendor_reference = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    # The caller's callback (API launches). The shared secret is the caller's: kept encrypted,
    # sent back only to the callback URL, never shown.
    callback_url = models.URLField(max_length=2000, blank=True)
    callback_secret_encrypted = models.TextField(blank=True, editable=False)
    callback_status = models.CharField(
        max_length=10, choices=CallbackStatus.choices, default=CallbackStatus.NONE, blank=True
    )
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_next_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = PingJobQuerySet.as_manager()
    access_policy: ClassVar = AccessPolicy(organization="organization", customer="customer")

    class Meta:
        ordering = ["-id"]
        # The history walks one of these newest first from a keyset cursor, whichever filter
        # is set (pings/history.py); the sweep finds active jobs by deadline.
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="pingjob_org_recent"),
            models.Index(fields=["customer", "-created_at", "-id"], name="pingjob_customer_recent"),
            models.Index(fields=["device", "-created_at", "-id"], name="pingjob_device_recent"),
            models.Index(
                fields=["organization", "status", "-created_at", "-id"], name="pingjob_org_status"
            ),
            models.Index(
                fields=["organization", "vendor", "-created_at", "-id"], name="pingjob_org_vendor"
            ),
            models.Index(fields=["launched_by", "-created_at", "-id"], name="pingjob_by_user"),
            models.Index(fields=["api_key", "-created_at", "-id"], name="pingjob_by_key"),
            models.Index(fields=["status", "deadline_at"], name="pingjob_active_deadline"),
        ]

    def __str__(self) -> str:
        return f"Ping {self.pk} of {self.device}"

    def __repr__(self) -> str:  # never the callback secret
        return f"<PingJob {self.pk} {self.vendor} {self.status}>"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def queued_seconds(self) -> int:
        return int((timezone.now() - self.created_at).total_seconds())

    @property
    def waiting_long(self) -> bool:
        """Queued for more than 15 s: no worker is taking jobs, most likely."""
        return self.status == Status.QUEUED and self.queued_seconds > 15

    @property
    def ping_id(self) -> str:
        """The job's id in the Meraki-dialect API (Meraki's pingIds are numeric strings)."""
        return str(self.pk)

    @property
    def kind(self) -> str:
        return "ping" if self.target else "pingDevice"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    # --- the caller's callback secret -------------------------------------------------------

    def set_callback(self, url: str, secret: str) -> None:
        self.callback_url = url
        self.callback_secret_encrypted = crypto.encrypt_json({"secret": secret})
        self.callback_status = CallbackStatus.PENDING

    @property
    def callback_secret(self) -> str:
        if not self.callback_secret_encrypted:
            return ""
        return crypto.decrypt_json(self.callback_secret_encrypted).get("secret", "")


class PingReply(models.Model):
    """One echo of a job: received (with its RTT) or lost (rtt_ms empty)."""

    job = models.ForeignKey(PingJob, on_delete=models.CASCADE, related_name="replies")
    sequence = models.PositiveIntegerField()
    rtt_ms = models.FloatField(null=True, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    ttl = models.PositiveSmallIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    access_policy: ClassVar = AccessPolicy(
        organization="job__organization", customer="job__customer"
    )

    class Meta:
        ordering = ["job", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["job", "sequence"], name="one_reply_per_sequence")
        ]
        verbose_name_plural = "ping replies"

    def __str__(self) -> str:
        rtt = f"{self.rtt_ms:g} ms" if self.rtt_ms is not None else "lost"
        return f"#{self.sequence}: {rtt}"


class CallbackAttempt(models.Model):
    """One POST of a finished job to its caller's callback URL."""

    job = models.ForeignKey(PingJob, on_delete=models.CASCADE, related_name="callback_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    elapsed_ms = models.PositiveIntegerField(null=True, blank=True)

    access_policy: ClassVar = AccessPolicy(
        organization="job__organization", customer="job__customer"
    )

    class Meta:
        ordering = ["job", "number"]

    def __str__(self) -> str:
        return f"Callback {self.number} of ping {self.job_id}: {'ok' if self.ok else 'failed'}"


def launcher_for(job: PingJob, viewer: Any) -> str:
    """Who launched `job`, as `viewer` may see it: customer users and customer-limited API keys
    see that the provider's staff or API did it, not who."""
    return launcher_shown(job.launched_by_label, launched_through_api(job), viewer)


def launched_through_api(job: PingJob) -> bool:
    return bool(job.api_key_id) or job.via == Via.API


def launcher_shown(label: str, through_api: bool, viewer: Any) -> str:
    """`launcher_for` from a job's label and whether an API launched it (a cached job)."""
    from portal import access

    if access.scope_of(viewer).is_customer_only:
        return "Provider (API)" if through_api else "Provider staff"
    return label
