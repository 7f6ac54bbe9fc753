"""The incident state machine, run for every check inside its batch's transaction.

    (no incident) --down/degraded, not in maintenance--> OPEN          notify "opened"
    OPEN          --degraded becomes down-------------> OPEN          notify "escalated"
    OPEN          --up---------------------------------> RECOVERING    (quiet)
    RECOVERING    --down/degraded-----------------------> OPEN          a flap, folded (quiet)
    RECOVERING    --up for MONITOR_FLAP_QUIET_SECONDS--> CLOSED        notify "resolved"

Closing waits out the quiet period so a flapping monitor gives one "opened" and one
"resolved", not one pair per flap; the incident still ends when the monitor first came back.
Checks within the monitor's retries leave everything as it is. In maintenance no incident
opens and every notification is recorded as suppressed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitors import notify
from monitors.models import (
    CheckResult,
    Event,
    Health,
    Incident,
    IncidentState,
    Monitor,
    MonitorStatus,
    Notification,
    NotificationStatus,
)

logger = logging.getLogger(__name__)
FAILING = (Health.DOWN, Health.DEGRADED)


def quiet_period() -> timedelta:
    return timedelta(seconds=settings.MONITOR_FLAP_QUIET_SECONDS)


def describe(result: CheckResult) -> str:
    if result.error:
        return result.error
    if result.received == 0:
        return f"No reply to {result.sent} echo requests"
    avg = f", average {result.rtt_avg:.1f} ms" if result.rtt_avg is not None else ""
    return f"{result.loss_percent:g} % loss{avg}"


@dataclass
class Book:
    """The open incidents of a batch's monitors, locked for the batch's transaction, and what
    the batch's checks did to them."""

    open: dict[int, Incident]
    changed: dict[int, Incident] = field(default_factory=dict)
    events: list[tuple[Incident, str, bool]] = field(default_factory=list)

    @classmethod
    def load(cls, monitor_ids: Iterable[int]) -> Book:
        incidents = (
            Incident.objects.select_for_update()
            .filter(monitor_id__in=list(monitor_ids))
            .exclude(state=IncidentState.CLOSED)
            .order_by("pk")
        )
        return cls(open={i.monitor_id: i for i in incidents})

    def step(self, monitor: Monitor, result: CheckResult, health: str) -> None:
        """Apply one check; `health` is the monitor's health after it."""
        incident = self.open.get(monitor.pk)
        due, maintenance = result.due_at, result.maintenance
        if health in FAILING and not result.retrying:
            if incident is None:
                if maintenance:
                    return
                failing_for = max(monitor.failures_in_a_row - 1, 0) * monitor.interval
                incident = Incident(
                    monitor=monitor,
                    severity=health,
                    started_at=due - failing_for if health == Health.DOWN else due,
                    opened_at=due,
                )
                self.open[monitor.pk] = incident
                self.events.append((incident, Event.OPENED, maintenance))
            else:
                if incident.state == IncidentState.RECOVERING:
                    incident.state = IncidentState.OPEN
                    incident.recovered_at = None
                    incident.flaps += 1
                if health == Health.DOWN and incident.severity == Health.DEGRADED:
                    incident.severity = Health.DOWN
                    self.events.append((incident, Event.ESCALATED, maintenance))
            incident.failed_checks += 1
            incident.last_error = describe(result)[:300]
            self.changed[monitor.pk] = incident
        elif health == Health.UP and incident is not None:
            if incident.state == IncidentState.OPEN:
                incident.state = IncidentState.RECOVERING
                incident.recovered_at = due
            if due - incident.recovered_at >= quiet_period():
                self._close(incident, maintenance)
            self.changed[monitor.pk] = incident

    def _close(self, incident: Incident, maintenance: bool) -> None:
        incident.state = IncidentState.CLOSED
        incident.closed_at = incident.recovered_at
        self.open.pop(incident.monitor_id, None)
        self.events.append((incident, Event.RESOLVED, maintenance))

    def save(self) -> list[Notification]:
        """Write the incidents and their notifications (call inside the transaction); the
        pending notifications are queued once it commits."""
        for incident in self.changed.values():
            incident.save()
        rows: list[Notification] = []
        for incident, event, maintenance in self.events:
            reason = "In a maintenance window: not sent" if maintenance else ""
            rows += notify.notifications_for(incident, event, suppressed_reason=reason)
        if rows:
            Notification.objects.bulk_create(rows)
            pending = [n.pk for n in rows if n.status == NotificationStatus.PENDING]
            if pending:
                transaction.on_commit(lambda: notify.send_soon(pending))
        return rows


def close_quiet(now: datetime | None = None) -> int:
    """Close recovering incidents whose quiet period has passed without a new check (monitors
    checked less often than the quiet period), and incidents of paused monitors."""
    now = now or timezone.now()
    closed = 0
    due = Incident.objects.filter(
        state=IncidentState.RECOVERING, recovered_at__lte=now - quiet_period()
    ).select_related("monitor")
    for incident in due:
        with transaction.atomic():
            book = Book.load([incident.monitor_id])
            current = book.open.get(incident.monitor_id)
            if current is None or current.state != IncidentState.RECOVERING:
                continue  # a check got there first
            book._close(current, incident.monitor.status == MonitorStatus.MAINTENANCE)
            book.changed[current.monitor_id] = current
            book.save()
            closed += 1
    paused = Incident.objects.filter(
        monitor__status=MonitorStatus.DISABLED, state__in=[IncidentState.OPEN, "recovering"]
    )
    closed += paused.update(
        state=IncidentState.CLOSED, closed_at=now, close_reason="The monitor was paused."
    )
    return closed


def remind(now: datetime | None = None) -> int:
    """A reminder per open incident every `reminder_minutes` (0: never)."""
    from monitors.maintenance import in_maintenance, windows_for

    now = now or timezone.now()
    sent = 0
    candidates = Incident.objects.filter(
        state=IncidentState.OPEN, monitor__reminder_minutes__gt=0
    ).select_related("monitor")
    incidents = [
        i
        for i in candidates
        if now - (i.last_notified_at or i.opened_at)
        >= timedelta(minutes=i.monitor.reminder_minutes)
    ]
    windows = windows_for([i.monitor for i in incidents], since=now)
    for incident in incidents:
        # Claim the reminder: a second sweep running at once sends nothing.
        if not Incident.objects.filter(
            pk=incident.pk, last_notified_at=incident.last_notified_at
        ).update(last_notified_at=now):
            continue
        maintenance = in_maintenance(incident.monitor, now, windows[incident.monitor_id])
        book = Book(open={}, events=[(incident, Event.REMINDER, maintenance)])
        with transaction.atomic():
            book.save()
        sent += 1
    return sent
