"""ICMP monitors (the seed's API), probe locations, and every check's result."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portal.models import Customer, Organization
from portal.roles import AccessPolicy

DEFAULT_CONFIG = {"packetSize": 56, "count": 3}
PACKET_SIZE_RANGE = (0, 1472)  # 1472 + 28 header bytes = a 1500-byte Ethernet MTU
COUNT_RANGE = (1, 20)
TIMEOUT_RANGE = (1, 60)
INTERVAL_MINUTES_RANGE = (1, 1440)
INTERVAL_SECONDS_MIN = 5


class Location(models.Model):
    """Where checks run: one django-q2 cluster (with its own queue) per location."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. DE.")
    cluster = models.CharField(
        max_length=100,
        blank=True,
        help_text="django-q2 cluster (Q_CLUSTER_NAME) that runs this location's checks; "
        "blank: the default cluster.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code}, {self.country})"

    @classmethod
    def default(cls) -> Location:
        location, _ = cls.objects.get_or_create(
            code="local", defaults={"name": "This machine", "country": "ZZ"}
        )
        return location


class MonitorStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "Maintenance"
    DISABLED = "disabled", "Disabled"


STATUS_ALIASES = {"paused": MonitorStatus.DISABLED, "inactive": MonitorStatus.DISABLED}


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    UP = "up", "Up"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"


class MonitorQuerySet(models.QuerySet):
    def checked(self) -> MonitorQuerySet:
        """Monitors the scheduler checks: active ones, and those in maintenance (checked,
        never alerted)."""
        return self.exclude(status=MonitorStatus.DISABLED)


class Monitor(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="monitors", editable=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="monitors")
    name = models.CharField(max_length=200)
    hostname = models.CharField(max_length=253)
    port = models.PositiveIntegerField(
        null=True, blank=True, help_text="Stored for compatibility; ICMP has no ports."
    )
    status = models.CharField(
        max_length=16, choices=MonitorStatus.choices, default=MonitorStatus.ACTIVE
    )
    check_interval = models.PositiveIntegerField(
        default=5,
        validators=[
            MinValueValidator(INTERVAL_MINUTES_RANGE[0]),
            MaxValueValidator(INTERVAL_MINUTES_RANGE[1]),
        ],
        help_text="Minutes between checks.",
    )
    check_interval_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(INTERVAL_SECONDS_MIN)],
        help_text="Seconds between checks (at least 5); wins over the minutes when set.",
    )
    timeout_seconds = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(TIMEOUT_RANGE[0]), MaxValueValidator(TIMEOUT_RANGE[1])],
    )
    allowed_check_country_codes = models.JSONField(null=True, blank=True)
    notification_phone_number = models.CharField(max_length=32, blank=True)
    notification_email = models.EmailField(blank=True)
    config = models.JSONField(default=dict)
    retries = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(10)],
        help_text="All-lost checks tolerated before the monitor counts as down.",
    )
    degraded_loss_percent = models.FloatField(
        default=20.0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Loss above this (with some replies) is degraded.",
    )
    degraded_rtt_ms = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Average RTT above this is degraded; blank: no RTT threshold.",
    )
    # Scheduling and the latest state (kept on the row so lists need no join).
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    failures_in_a_row = models.PositiveIntegerField(default=0)
    last_rtt_ms = models.FloatField(null=True, blank=True)
    last_loss_percent = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MonitorQuerySet.as_manager()

    access_policy: ClassVar = AccessPolicy(organization="organization", customer="customer")

    class Meta:
        ordering = ["customer__name", "name"]
        indexes = [models.Index(fields=["status", "next_check_at"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.organization_id = self.customer.organization_id
        super().save(*args, **kwargs)

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.check_interval_seconds or self.check_interval * 60)

    @property
    def packet_size(self) -> int:
        return int((self.config or {}).get("packetSize", DEFAULT_CONFIG["packetSize"]))

    @property
    def count(self) -> int:
        return int((self.config or {}).get("count", DEFAULT_CONFIG["count"]))

    def status_changeable_by(self, actor: Any) -> bool:
        """Who may pause, resume or put into maintenance: whoever may change the monitor, and
        also read-only members of its organization (the seed lets read-only users PATCH
        `status`); not customer users, supporters or API keys without write rights."""
        from portal import access

        if access.can(actor, access.CHANGE, self):
            return True
        return not hasattr(actor, "api_key") and (
            access.scope_of(actor).role_in(self.organization_id) is not None
        )

    def checks_at(self, location: Location) -> bool:
        codes = self.allowed_check_country_codes
        return not codes or location.country in codes

    def next_slot_after(self, due: datetime, now: datetime) -> tuple[datetime, int]:
        """The first slot after `now` on this monitor's grid from `due`, and how many slots
        were skipped (a scheduler that was stopped checks once, then records the gap)."""
        step = self.interval
        missed = max(0, int((now - due) / step))
        following = due + step * (missed + 1)
        return following, missed


class CheckResult(models.Model):
    """One check of one monitor at one location: the slot it was due, when it was sent, and
    everything measured — every reply's RTT included."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="results")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    sent = models.PositiveSmallIntegerField(default=0)
    received = models.PositiveSmallIntegerField(default=0)
    loss_percent = models.FloatField(null=True, blank=True)
    rtt_min = models.FloatField(null=True, blank=True)
    rtt_avg = models.FloatField(null=True, blank=True)
    rtt_max = models.FloatField(null=True, blank=True)
    rtt_stddev = models.FloatField(null=True, blank=True)
    rtts = models.JSONField(default=list, help_text="RTT per sequence in ms, null when lost.")
    status = models.CharField(max_length=16, choices=Health.choices)
    retrying = models.BooleanField(
        default=False, help_text="All lost, but within the monitor's retries."
    )
    missed_slots = models.PositiveIntegerField(
        default=0, help_text="Slots skipped before this one."
    )
    error = models.CharField(max_length=300, blank=True)

    access_policy: ClassVar = AccessPolicy(
        organization="monitor__organization", customer="monitor__customer"
    )

    class Meta:
        ordering = ["-due_at"]
        indexes = [models.Index(fields=["monitor", "-due_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "location", "due_at"], name="one_result_per_slot_and_location"
            )
        ]

    def __str__(self) -> str:
        return f"{self.monitor} at {self.due_at:%Y-%m-%d %H:%M:%S}: {self.status}"
