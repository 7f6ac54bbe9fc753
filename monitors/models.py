"""ICMP monitors (the seed's API), probe locations, and every check's result."""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portal import crypto
from portal.models import Customer, Organization
from portal.roles import AccessPolicy, Role

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
    notification_webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Signed JSON POSTs on incident open and close."
    )
    notification_webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    reminder_minutes = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(10080)],
        help_text="Remind every N minutes while an incident stays open; 0: no reminders.",
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

    @property
    def notification_webhook_secret(self) -> str:
        return crypto.decrypt_json(self.notification_webhook_secret_encrypted).get("secret", "")

    @notification_webhook_secret.setter
    def notification_webhook_secret(self, secret: str) -> None:
        self.notification_webhook_secret_encrypted = (
            crypto.encrypt_json({"secret": secret}) if secret else ""
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
    maintenance = models.BooleanField(
        default=False, help_text="Checked during maintenance: never alerts, never downtime."
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


class MaintenanceWindow(models.Model):
    """Planned work on one monitor or on all of a customer's monitors: checks go on, alerts do
    not, and the time counts as maintenance, not downtime. One-off (starts_at to ends_at) or
    weekly (a weekday, a start time and a duration, in a time zone)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", editable=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    monitor = models.ForeignKey(
        Monitor,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="maintenance_windows",
        help_text="Blank: every monitor of the customer.",
    )
    reason = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(6)],
        help_text="Weekly windows: 0 is Monday.",
    )
    start_time = models.TimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(7 * 1440)]
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    created_by = models.ForeignKey(
        "portal.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    access_policy: ClassVar = AccessPolicy(organization="organization", customer="customer")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reason or "Maintenance"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.organization_id = self.customer.organization_id
        super().save(*args, **kwargs)

    @property
    def is_weekly(self) -> bool:
        return self.weekday is not None

    @property
    def weekday_name(self) -> str:
        return calendar.day_name[self.weekday] if self.weekday is not None else ""

    @property
    def length(self) -> timedelta:
        if self.is_weekly:
            return timedelta(minutes=self.duration_minutes or 0)
        return (self.ends_at - self.starts_at) if self.starts_at and self.ends_at else timedelta()

    def spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Where this window lies within [start, end)."""
        from monitors.maintenance import window_spans

        return window_spans(self, start, end)

    def covers(self, at: datetime) -> bool:
        return bool(self.spans(at, at + timedelta(microseconds=1)))


class IncidentState(models.TextChoices):
    OPEN = "open", "Open"
    RECOVERING = "recovering", "Recovering"  # up again, closed once the quiet period passes
    CLOSED = "closed", "Closed"


class Incident(models.Model):
    """A time a monitor was down or degraded: opened by the check that crossed the threshold
    (after its retries), folded with any relapse inside the quiet period, closed on recovery."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="incidents")
    severity = models.CharField(
        max_length=16, choices=[(Health.DEGRADED, "Degraded"), (Health.DOWN, "Down")]
    )
    state = models.CharField(
        max_length=16, choices=IncidentState.choices, default=IncidentState.OPEN
    )
    started_at = models.DateTimeField(help_text="The first failing check, retries included.")
    opened_at = models.DateTimeField(help_text="The check that crossed the threshold.")
    recovered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    failed_checks = models.PositiveIntegerField(default=0)
    flaps = models.PositiveIntegerField(
        default=0, help_text="Relapses inside the quiet period, folded into this incident."
    )
    last_error = models.CharField(max_length=300, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=200, blank=True)

    access_policy: ClassVar = AccessPolicy(
        organization="monitor__organization", customer="monitor__customer"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["monitor", "-opened_at"]),
            models.Index(fields=["state", "opened_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["monitor"],
                condition=~models.Q(state="closed"),
                name="one_unclosed_incident_per_monitor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.monitor}: {self.get_severity_display()} from {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def is_closed(self) -> bool:
        return self.state == IncidentState.CLOSED

    def duration(self, now: datetime | None = None) -> timedelta:
        from django.utils import timezone

        end = self.closed_at or self.recovered_at or now or timezone.now()
        return end - self.opened_at


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"


class Event(models.TextChoices):
    OPENED = "opened", "Incident opened"
    ESCALATED = "escalated", "Degraded became down"
    REMINDER = "reminder", "Still open"
    RESOLVED = "resolved", "Resolved"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # every retry used
    SUPPRESSED = "suppressed", "Suppressed"  # maintenance


class Notification(models.Model):
    """One message about one incident on one channel, delivered by django-q2 with retries."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=16, choices=Event.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    destination = models.CharField(max_length=500)
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    access_policy: ClassVar = AccessPolicy(
        organization="monitor__organization", customer="monitor__customer"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["monitor", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} by {self.get_channel_display()}"


class NotificationAttempt(models.Model):
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempt_log"
    )
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)

    access_policy: ClassVar = AccessPolicy(
        organization="monitor__organization", customer="monitor__customer"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["monitor", "-at"])]

    def __str__(self) -> str:
        return f"Attempt {self.number}: {'delivered' if self.ok else self.error}"


class Period(models.IntegerChoices):
    MINUTE = 60, "minute"
    HOUR = 3600, "hour"
    DAY = 86400, "day"


class Rollup(models.Model):
    """A monitor's checks summed over one minute, hour or day (UTC). Minute rows are kept
    current as results arrive; hour and day rows are folded from closed minutes every few
    minutes (monitors/rollups.py), so merging into them is not paid at every check. RTT
    percentiles come from a log-bucket histogram (1 % relative accuracy) so that rollups
    merge; time is the checks' intervals by what the monitor was in them."""

    monitor = models.ForeignKey(
        Monitor, on_delete=models.CASCADE, related_name="rollups", db_index=False
    )
    period = models.PositiveIntegerField(choices=Period.choices)
    start = models.DateTimeField()
    checks = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    rtt_min = models.FloatField(null=True)
    rtt_max = models.FloatField(null=True)
    rtt_sum = models.FloatField(default=0.0)
    rtt_p50 = models.FloatField(null=True)
    rtt_p90 = models.FloatField(null=True)
    histogram = models.JSONField(default=dict)
    up_seconds = models.FloatField(default=0.0)
    degraded_seconds = models.FloatField(default=0.0)
    down_seconds = models.FloatField(default=0.0)
    maintenance_seconds = models.FloatField(default=0.0)
    # A minute row's sums are in its hour and day rows (always true of those). Batches insert
    # new minutes unfolded; the fold rolls them up and sets it in the same transaction.
    folded = models.BooleanField(default=True, db_default=True)

    access_policy: ClassVar = AccessPolicy(
        organization="monitor__organization", customer="monitor__customer"
    )

    class Meta:
        ordering = ["monitor", "period", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "period", "start"], name="one_rollup_per_monitor_period_start"
            )
        ]
        indexes = [
            models.Index(fields=["period", "start"]),
            # The fold's work list: only the last few minutes' rows are in it.
            models.Index(
                fields=["monitor", "start"],
                condition=models.Q(folded=False),
                name="rollup_minutes_to_fold",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.get_period_display()} {self.start:%Y-%m-%d %H:%M}"

    @property
    def loss_percent(self) -> float | None:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else None

    @property
    def rtt_avg(self) -> float | None:
        return self.rtt_sum / self.received if self.received else None


class StatusPageMode(models.TextChoices):
    OFF = "off", "Off"
    SECRET = "secret", "Anyone with the secret link"
    PUBLIC = "public", "Public"


class StatusPage(models.Model):
    """A customer's page for the outside world: status and uptime of its monitors, never
    addresses or ids. Off until an admin turns it on."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="status_page")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", editable=False
    )
    mode = models.CharField(max_length=8, choices=StatusPageMode.choices, default="off")
    slug = models.SlugField(max_length=60, unique=True, help_text="The public address part.")
    token = models.CharField(max_length=64, unique=True, editable=False)
    title = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    access_policy: ClassVar = AccessPolicy(
        organization="organization",
        customer="customer",
        change_role=Role.ADMIN,
        customer_grants_may_change=False,
    )

    def __str__(self) -> str:
        return self.title or str(self.customer)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.organization_id = self.customer.organization_id
        if not self.token:
            self.new_token()
        super().save(*args, **kwargs)

    def new_token(self) -> None:
        import secrets

        self.token = secrets.token_urlsafe(32)
