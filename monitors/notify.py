"""Telling people about incidents: one Notification per event and channel (email, SMS, signed
webhook), delivered by django-q2 with retries, every attempt recorded.

The incident state machine makes the rows (`notifications_for`) inside the check batch's
transaction and queues the pending ones once it commits (`send_soon`). A worker runs `deliver`:
it claims the attempt with a compare-and-swap on (pk, attempts, status), so a task delivered
twice or a sweep running beside it sends once. A failed attempt is retried after 30 s, 2 min,
10 min, 30 min and 2 h (the every-minute sweep calls `deliver_due`), then the notification is
given up as failed with its last error kept."""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from monitors import sms
from monitors.models import (
    Channel,
    Event,
    Health,
    Incident,
    Monitor,
    Notification,
    NotificationAttempt,
    NotificationStatus,
)
from portal import webhooks
from portal.formatting import duration_text

logger = logging.getLogger(__name__)

# Seconds after a failed attempt before the next; after the last, the notification has failed.
BACKOFF = [30, 120, 600, 1800, 7200]
# A claimed attempt that never finished (its worker died) is taken up again after this long;
# it also keeps a duplicate task from sending while the first is still sending.
CLAIM_LEASE = timedelta(minutes=5)
# A pending notification whose task never ran (lost with its queue) is sent by the sweep.
STALE_PENDING = timedelta(minutes=10)
WEBHOOK_TIMEOUT = (5.0, 10.0)
EMAIL_TIMEOUT = 20  # seconds, unless EMAIL_TIMEOUT is set
SMS_LENGTH = 160
USER_AGENT = "ping-portal-alerts/1"

SEVERITY_WORDS = {Health.DOWN: "down", Health.DEGRADED: "degraded"}


# --- making notifications ---------------------------------------------------------------------


def destinations(monitor: Monitor) -> list[tuple[str, str]]:
    """(channel, destination) for every channel the monitor has configured."""
    configured = [
        (Channel.EMAIL, monitor.notification_email),
        (Channel.SMS, monitor.notification_phone_number),
        (Channel.WEBHOOK, monitor.notification_webhook_url),
    ]
    return [(channel, to) for channel, to in configured if to]


def notifications_for(
    incident: Incident, event: str, suppressed_reason: str = ""
) -> list[Notification]:
    """Unsaved notifications of `event`, one per configured channel: suppressed with the reason
    when there is one (maintenance), else pending."""
    status = NotificationStatus.SUPPRESSED if suppressed_reason else NotificationStatus.PENDING
    return [
        Notification(
            incident=incident,
            monitor=incident.monitor,
            event=event,
            channel=channel,
            destination=to[:500],
            status=status,
            last_error=suppressed_reason[:500],
        )
        for channel, to in destinations(incident.monitor)
    ]


def send_soon(ids: Iterable[int]) -> None:
    """Queue a delivery per notification; one the queue will not take is left to the sweep."""
    from django_q.tasks import async_task

    for pk in ids:
        try:
            async_task("monitors.notify.deliver", pk, group="monitor-notifications")
        except Exception:
            logger.exception("Could not queue notification %s; the sweep will send it", pk)
            Notification.objects.filter(
                pk=pk, status=NotificationStatus.PENDING, attempts=0
            ).update(
                status=NotificationStatus.RETRYING,
                next_attempt_at=timezone.now() + timedelta(seconds=BACKOFF[0]),
            )


# --- delivering -------------------------------------------------------------------------------


def deliver(notification_id: int, now: datetime | None = None) -> str:
    """One delivery attempt; schedules the next on failure (see BACKOFF). `now` is when the
    caller judged it due (the sweep's clock). Returns the outcome as a word."""
    notification = (
        Notification.objects.select_related("incident", "monitor", "monitor__customer")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None:
        return "gone"
    return attempt(notification, now)


def attempt(notification: Notification, now: datetime | None = None) -> str:
    """Claim the next attempt of `notification` (as read by this worker), send, record."""
    if notification.status not in (NotificationStatus.PENDING, NotificationStatus.RETRYING):
        return "nothing to deliver"
    due_at = notification.next_attempt_at
    if due_at is not None and due_at > (now or timezone.now()):
        return "not due"
    number = notification.attempts + 1
    claimed = Notification.objects.filter(
        pk=notification.pk, attempts=notification.attempts, status=notification.status
    ).update(attempts=number, next_attempt_at=timezone.now() + CLAIM_LEASE)
    if not claimed:
        return "taken by another worker"
    try:
        error = SENDERS[notification.channel](notification)
    except Exception as exc:  # a bug must not stop the retries
        logger.exception("Notification %s could not be sent", notification.pk)
        error = f"Sending failed unexpectedly ({type(exc).__name__})"
    sent_at = timezone.now()
    NotificationAttempt.objects.create(
        notification=notification,
        monitor_id=notification.monitor_id,
        number=number,
        at=sent_at,
        ok=not error,
        error=error[:500],
    )
    changes: dict[str, Any]
    if not error:
        changes = {
            "status": NotificationStatus.SENT,
            "sent_at": sent_at,
            "next_attempt_at": None,
            "last_error": "",
        }
        Incident.objects.filter(pk=notification.incident_id).update(last_notified_at=sent_at)
    elif number <= len(BACKOFF):
        changes = {
            "status": NotificationStatus.RETRYING,
            "next_attempt_at": sent_at + timedelta(seconds=BACKOFF[number - 1]),
            "last_error": error[:500],
        }
    else:
        changes = {
            "status": NotificationStatus.FAILED,
            "next_attempt_at": None,
            "last_error": error[:500],
        }
    Notification.objects.filter(pk=notification.pk, attempts=number).update(**changes)
    return str(changes["status"])


def deliver_due(now: datetime | None = None) -> int:
    """The sweep: retries that are due, and pending ones whose task was lost or whose worker
    died mid-attempt. Returns how many attempts it made."""
    now = now or timezone.now()
    active = [NotificationStatus.PENDING, NotificationStatus.RETRYING]
    due = list(
        Notification.objects.filter(
            Q(status__in=active, next_attempt_at__lte=now)
            | Q(
                status=NotificationStatus.PENDING,
                next_attempt_at__isnull=True,
                created_at__lte=now - STALE_PENDING,
            )
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:500]
    )
    outcomes = [deliver(pk, now=now) for pk in due]
    return sum(o in NotificationStatus.values for o in outcomes)


# --- the messages -----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _local(value: datetime | None) -> str:
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def monitor_link(monitor: Monitor) -> str:
    path = reverse("monitor_detail", kwargs={"public_id": monitor.public_id})
    return f"{settings.PORTAL_BASE_URL}{path}"


def headline(notification: Notification) -> str:
    """DOWN, DEGRADED, STILL DOWN, RESOLVED..."""
    severity = SEVERITY_WORDS.get(notification.incident.severity, "down").upper()
    return {
        Event.OPENED: severity,
        Event.ESCALATED: "DOWN",
        Event.REMINDER: f"STILL {severity}",
        Event.RESOLVED: "RESOLVED",
    }.get(notification.event, severity)


def _what_happened(notification: Notification) -> str:
    incident, monitor = notification.incident, notification.monitor
    severity = SEVERITY_WORDS.get(incident.severity, "down")
    return {
        Event.OPENED: f"{monitor.name} is {severity}.",
        Event.ESCALATED: f"{monitor.name} was degraded and is now down.",
        Event.REMINDER: f"{monitor.name} is still {severity}.",
        Event.RESOLVED: f"{monitor.name} is up again.",
    }.get(notification.event, f"{monitor.name}: {notification.get_event_display()}.")


def email_message(notification: Notification) -> tuple[str, str]:
    incident, monitor = notification.incident, notification.monitor
    subject = f"[{headline(notification)}] {monitor.name} ({monitor.customer.name})"
    lines = [
        _what_happened(notification),
        "",
        f"Monitor:    {monitor.name}",
        f"Customer:   {monitor.customer.name}",
        f"Host:       {monitor.hostname}",
        f"Event:      {notification.get_event_display()}",
        f"Severity:   {incident.get_severity_display()}",
        f"Opened at:  {_local(incident.opened_at)}",
    ]
    if incident.closed_at:
        lines.append(f"Closed at:  {_local(incident.closed_at)}")
    lines += [
        f"Duration:   {duration_text(incident.duration())}",
        f"Last error: {incident.last_error or '-'}",
        "",
        monitor_link(monitor),
    ]
    return subject, "\n".join(lines) + "\n"


def sms_message(notification: Notification) -> str:
    """One line of at most 160 characters (plain ASCII punctuation: one GSM-7 segment)."""
    incident, monitor = notification.incident, notification.monitor
    text = f"{headline(notification)}: {monitor.name} ({monitor.customer.name}) {monitor.hostname}"
    if notification.event == Event.RESOLVED:
        text += f" is up again after {duration_text(incident.duration())}"
    else:
        text += f" since {timezone.localtime(incident.opened_at):%H:%M %Z}"
        if incident.last_error:
            text += f" - {incident.last_error}"
    text = " ".join(text.split())  # one line
    return text if len(text) <= SMS_LENGTH else text[: SMS_LENGTH - 3].rstrip() + "..."


def webhook_payload(notification: Notification) -> dict[str, Any]:
    from monitors.api.serializers import incident_json

    incident, monitor = notification.incident, notification.monitor
    return {
        "event": f"incident.{notification.event}",
        "sentAt": _iso(timezone.now()),
        "incident": incident_json(incident),  # the same shape as the API's incidents
        "monitor": {
            "publicId": str(monitor.public_id),
            "name": monitor.name,
            "hostname": monitor.hostname,
            "customerId": str(monitor.customer.public_id),
        },
    }


# --- the channels: each returns "" when sent, else the error as a sentence --------------------


def send_email(notification: Notification) -> str:
    subject, body = email_message(notification)
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or EMAIL_TIMEOUT
    try:
        send_mail(
            subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            [notification.destination],
            connection=get_connection(timeout=timeout),
        )
    except smtplib.SMTPException as exc:
        code = getattr(exc, "smtp_code", None)
        answer = getattr(exc, "smtp_error", b"")
        if isinstance(answer, bytes):
            answer = answer.decode(errors="replace")
        detail = f": {code} {answer}".rstrip() if code else ""
        return f"The mail server refused the message ({type(exc).__name__}{detail})"
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        return f"Could not reach the mail server at {where} ({reason})"
    return ""


def send_sms(notification: Notification) -> str:
    try:
        sms.send_sms(notification.destination, sms_message(notification))
    except sms.SmsError as exc:
        return str(exc)
    return ""


def send_webhook(notification: Notification) -> str:
    url = notification.destination
    try:
        webhooks.check_destination(url, settings.ALERT_WEBHOOKS_TO_PRIVATE_NETWORKS, noun="webhook")
    except webhooks.Refused as exc:
        return str(exc)
    body = json.dumps(webhook_payload(notification), separators=(",", ":")).encode()
    ok, _, error = webhooks.post_signed(
        url,
        body,
        notification.monitor.notification_webhook_secret,
        user_agent=USER_AGENT,
        timeout=WEBHOOK_TIMEOUT,
    )
    return "" if ok else error


SENDERS = {Channel.EMAIL: send_email, Channel.SMS: send_sms, Channel.WEBHOOK: send_webhook}
