"""Incident notifications by email, SMS and signed webhook: delivery through django-q2 (inline in
tests), retries with backoff, the duplicate-delivery claim, maintenance suppression, the
alert-history endpoint, and the webhook secret staying write-only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from django.core import mail
from django.db import connection
from django.utils import timezone

from monitors import notify, sms
from monitors.models import (
    Event,
    Incident,
    Monitor,
    Notification,
    NotificationAttempt,
    NotificationStatus,
)
from portal.models import AuditEvent
from tests.conftest import World

SECRET = "alert-webhook-secret-7f3a9c"
TWILIO = "https://twilio.example.test"
TWILIO_TOKEN = "twilio-auth-token-5e8b1d"


@pytest.fixture(autouse=True)
def _empty_sms_outbox(settings: Any) -> None:
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()


def open_incident(monitor: Monitor, **fields: Any) -> Incident:
    """A fresh incident of `monitor` (any the world made for it is closed first: one at a time)."""
    now = timezone.now()
    monitor.incidents.exclude(state="closed").update(state="closed", closed_at=now)
    values = {
        "severity": "down",
        "started_at": now - timedelta(minutes=3),
        "opened_at": now - timedelta(minutes=2),
        "failed_checks": 3,
        "last_error": "No reply to any echo",
        **fields,
    }
    return Incident.objects.create(monitor=monitor, **values)


def notifications(incident: Incident, event: str = Event.OPENED, reason: str = "") -> list:
    rows = notify.notifications_for(incident, event, suppressed_reason=reason)
    Notification.objects.bulk_create(rows)
    return rows


def configure(monitor: Monitor, **fields: Any) -> Monitor:
    for name, value in fields.items():
        setattr(monitor, name, value)
    monitor.save()
    return monitor


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def attempts_of(notification: Notification) -> list[tuple[int, bool]]:
    return list(
        NotificationAttempt.objects.filter(notification=notification)
        .order_by("number")
        .values_list("number", "ok")
    )


# --- making notifications ---------------------------------------------------------------------


def test_one_notification_is_made_per_configured_channel(world: World):
    monitor = world.monitor_c1
    assert notify.notifications_for(open_incident(monitor), Event.OPENED) == []
    configure(
        monitor,
        notification_email="noc@example.test",
        notification_phone_number="+49 30 1234567",
        notification_webhook_url="http://127.0.0.1:9/hook",
    )
    rows = notify.notifications_for(open_incident(monitor), Event.OPENED)
    assert [(n.channel, n.destination, n.status, n.pk) for n in rows] == [
        ("email", "noc@example.test", "pending", None),
        ("sms", "+49 30 1234567", "pending", None),
        ("webhook", "http://127.0.0.1:9/hook", "pending", None),
    ]


def test_suppressed_notifications_are_never_sent(world: World, receiver):
    monitor = configure(
        world.monitor_c1,
        notification_email="noc@example.test",
        notification_phone_number="+4930123456",
        notification_webhook_url=receiver.url,
    )
    rows = notifications(open_incident(monitor), reason="In a maintenance window: not sent")
    assert {n.status for n in rows} == {NotificationStatus.SUPPRESSED}
    assert {n.last_error for n in rows} == {"In a maintenance window: not sent"}
    notify.send_soon([n.pk for n in rows])
    assert [notify.deliver(n.pk) for n in rows] == ["nothing to deliver"] * 3
    assert notify.deliver_due(timezone.now() + timedelta(days=1)) == 0
    assert not mail.outbox and not sms.outbox and not receiver.received
    assert not NotificationAttempt.objects.exists()


# --- each channel -----------------------------------------------------------------------------


def test_an_email_tells_what_happened_and_links_the_monitor(world: World, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.test"
    monitor = configure(world.monitor_c1, notification_email="noc@example.test")
    incident = open_incident(monitor)
    [row] = notifications(incident)
    notify.send_soon([row.pk])  # django-q2 runs the task inline in tests
    [message] = mail.outbox
    assert message.subject == "[DOWN] Gateway ping (Northwind)"
    assert message.to == ["noc@example.test"] and message.from_email == settings.DEFAULT_FROM_EMAIL
    for text in ("Gateway ping", "Northwind", "127.0.0.1", "Incident opened", "Opened at"):
        assert text in message.body
    assert "Duration:   2 min" in message.body and "No reply to any echo" in message.body
    assert f"https://portal.example.test/monitors/{monitor.public_id}/" in message.body
    row.refresh_from_db()
    incident.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.sent_at is not None
    assert incident.last_notified_at == row.sent_at
    assert attempts_of(row) == [(1, True)]


def test_a_resolved_email_says_resolved(world: World):
    monitor = configure(world.monitor_c1, notification_email="noc@example.test")
    now = timezone.now()
    incident = open_incident(monitor, state="closed", recovered_at=now, closed_at=now)
    [row] = notifications(incident, Event.RESOLVED)
    notify.deliver(row.pk)
    assert mail.outbox[0].subject == "[RESOLVED] Gateway ping (Northwind)"
    assert "Closed at" in mail.outbox[0].body


def test_a_resolved_sms_says_how_long_it_lasted(world: World):
    monitor = configure(world.monitor_c1, notification_phone_number="+4930123456")
    now = timezone.now()
    incident = open_incident(
        monitor,
        state="closed",
        opened_at=now - timedelta(minutes=62),
        recovered_at=now,
        closed_at=now,
    )
    [row] = notifications(incident, Event.RESOLVED)
    notify.deliver(row.pk)
    assert sms.outbox[0].body == (
        "RESOLVED: Gateway ping (Northwind) 127.0.0.1 is up again after 1 h 2 min"
    )


def test_an_sms_is_one_short_line(world: World):
    monitor = configure(
        world.monitor_c1, name="A monitor with a long name " * 5, notification_phone_number="+4930"
    )
    [row] = notifications(open_incident(monitor, last_error="Host unreachable\n" * 15))
    notify.send_soon([row.pk])
    [message] = sms.outbox
    assert message.to == "+4930"
    assert message.body.startswith("DOWN: A monitor with a long name")
    assert len(message.body) <= 160 and "\n" not in message.body
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT


def test_the_console_sms_backend_writes_the_message_to_stdout(settings, capsys):
    settings.SMS_BACKEND = "console"
    sms.send_sms("+4930123456", "DOWN: Gateway ping")
    assert "SMS to +4930123456: DOWN: Gateway ping" in capsys.readouterr().out


def test_a_webhook_is_signed_and_the_signature_verifies_with_the_secret(world: World, receiver):
    monitor = configure(world.monitor_c1, notification_webhook_url=receiver.url)
    monitor.notification_webhook_secret = SECRET
    monitor.save()
    incident = open_incident(monitor, flaps=1)
    [row] = notifications(incident)
    notify.send_soon([row.pk])
    [hit] = receiver.received
    timestamp = hit["headers"]["X-Portal-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + hit["raw"], hashlib.sha256)
    assert hmac.compare_digest(
        hit["headers"]["X-Portal-Signature"], f"sha256={expected.hexdigest()}"
    )
    assert abs(time.time() - int(timestamp)) < 60
    assert hit["headers"]["Content-Type"] == "application/json"
    body = hit["body"]
    assert body["event"] == "incident.opened" and body["sentAt"].endswith("Z")
    assert body["incident"] == {
        "id": incident.pk,
        "severity": "down",
        "state": "open",
        "startedAt": body["incident"]["startedAt"],
        "openedAt": body["incident"]["openedAt"],
        "recoveredAt": None,
        "closedAt": None,
        "durationSeconds": body["incident"]["durationSeconds"],
        "failedChecks": 3,
        "flaps": 1,
        "lastError": "No reply to any echo",
        "closeReason": None,
    }
    assert 115 <= body["incident"]["durationSeconds"] <= 180
    assert body["monitor"] == {
        "publicId": str(monitor.public_id),
        "name": "Gateway ping",
        "hostname": "127.0.0.1",
        "customerId": str(world.c1.public_id),
    }
    assert SECRET.encode() not in hit["raw"]
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT


def test_a_webhook_without_a_secret_is_sent_unsigned(world: World, receiver):
    monitor = configure(world.monitor_c1, notification_webhook_url=receiver.url)
    [row] = notifications(open_incident(monitor), Event.ESCALATED)
    notify.deliver(row.pk)
    [hit] = receiver.received
    assert "X-Portal-Timestamp" in hit["headers"]
    assert "X-Portal-Signature" not in hit["headers"]
    assert hit["body"]["event"] == "incident.escalated"


def test_a_receiver_answering_500_then_200_gets_one_failed_and_one_sent_attempt(
    world: World, receiver
):
    receiver.statuses = [500]
    monitor = configure(world.monitor_c1, notification_webhook_url=receiver.url)
    [row] = notifications(open_incident(monitor))
    notify.send_soon([row.pk])
    row.refresh_from_db()
    assert row.status == NotificationStatus.RETRYING and row.attempts == 1
    assert row.last_error == "The receiver answered HTTP 500"
    first = NotificationAttempt.objects.get(notification=row)
    assert row.next_attempt_at == first.at + timedelta(seconds=notify.BACKOFF[0])
    assert notify.deliver_due() == 0  # not due yet
    assert notify.deliver_due(row.next_attempt_at) == 1
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.last_error == ""
    assert attempts_of(row) == [(1, False), (2, True)]
    assert [hit["status"] for hit in receiver.received] == [500, 200]
    alerts = history(world, monitor).json()["alerts"]
    assert [(a["status"], a["attempt"], a["errorMessage"]) for a in alerts] == [
        ("sent", 2, None),
        ("failed", 1, "The receiver answered HTTP 500"),
    ]


def test_webhooks_may_not_reach_private_networks_unless_allowed(world: World, receiver, settings):
    settings.ALERT_WEBHOOKS_TO_PRIVATE_NETWORKS = False
    monitor = configure(world.monitor_c1, notification_webhook_url=receiver.url)
    [row] = notifications(open_incident(monitor))
    notify.deliver(row.pk)
    row.refresh_from_db()
    assert row.last_error == "The webhook URL points into a private or local network"
    assert not receiver.received


# --- failures and retries ---------------------------------------------------------------------


def test_an_email_to_a_closed_smtp_port_is_retried_with_backoff_then_fails(world: World, settings):
    port = closed_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    settings.EMAIL_TIMEOUT = 5
    monitor = configure(world.monitor_c1, notification_email="noc@example.test")
    [row] = notifications(open_incident(monitor))
    notify.send_soon([row.pk])
    error = f"Could not reach the mail server at 127.0.0.1:{port} (Connection refused)"
    for number, wait in enumerate(notify.BACKOFF, start=1):
        row.refresh_from_db()
        latest = NotificationAttempt.objects.get(notification=row, number=number)
        assert (latest.ok, latest.error) == (False, error)
        assert row.status == NotificationStatus.RETRYING and row.attempts == number
        assert row.next_attempt_at == latest.at + timedelta(seconds=wait)
        assert notify.deliver_due(row.next_attempt_at - timedelta(seconds=1)) == 0
        assert notify.deliver_due(row.next_attempt_at) == 1
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED and row.next_attempt_at is None
    assert row.attempts == len(notify.BACKOFF) + 1 and row.last_error == error
    assert notify.deliver(row.pk) == "nothing to deliver"
    assert notify.deliver_due(timezone.now() + timedelta(days=1)) == 0
    assert NotificationAttempt.objects.filter(notification=row, ok=False).count() == 6


def test_a_notification_the_queue_refuses_is_left_to_the_sweep(world: World, monkeypatch):
    import django_q.tasks

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(django_q.tasks, "async_task", refuse)
    monitor = configure(world.monitor_c1, notification_email="noc@example.test")
    [row] = notifications(open_incident(monitor))
    notify.send_soon([row.pk])
    row.refresh_from_db()
    assert row.status == NotificationStatus.RETRYING and row.attempts == 0
    assert timedelta(seconds=20) < row.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    assert notify.deliver_due() == 0 and not mail.outbox
    assert notify.deliver_due(row.next_attempt_at) == 1
    assert len(mail.outbox) == 1


def test_the_sweep_sends_a_pending_notification_whose_task_was_lost(world: World):
    monitor = configure(world.monitor_c1, notification_email="noc@example.test")
    [row] = notifications(open_incident(monitor))
    assert notify.deliver_due() == 0  # its task may still be on its way
    Notification.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - notify.STALE_PENDING - timedelta(seconds=1)
    )
    assert notify.deliver_due() == 1 and len(mail.outbox) == 1


def test_a_duplicate_delivery_sends_once(world: World, monkeypatch):
    monitor = configure(world.monitor_c1, notification_email="noc@example.test")
    [row] = notifications(open_incident(monitor))
    inner: list[str] = []
    send_email = notify.SENDERS["email"]

    def send_twice(notification: Notification) -> str:
        # A duplicate task (or a sweep) arrives while the first is still sending.
        inner.append(notify.deliver(notification.pk))
        return send_email(notification)

    monkeypatch.setitem(notify.SENDERS, "email", send_twice)
    assert notify.deliver(row.pk) == "sent"
    assert inner == ["not due"]
    # ...and after it: nothing left to deliver.
    assert notify.deliver(row.pk) == "nothing to deliver"
    assert len(mail.outbox) == 1 and attempts_of(row) == [(1, True)]


def test_of_two_workers_that_read_the_same_row_only_one_sends(world: World):
    monitor = configure(world.monitor_c1, notification_email="noc@example.test")
    [row] = notifications(open_incident(monitor))
    first, second = (
        Notification.objects.select_related("incident", "monitor", "monitor__customer").get(
            pk=row.pk
        )
        for _ in range(2)
    )
    assert notify.attempt(first) == "sent"
    assert notify.attempt(second) == "taken by another worker"
    assert len(mail.outbox) == 1 and attempts_of(row) == [(1, True)]


# --- Twilio -----------------------------------------------------------------------------------


@pytest.fixture
def twilio(settings: Any) -> Any:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_API_BASE = TWILIO
    settings.TWILIO_ACCOUNT_SID = "AC0123456789abcdef"
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    with responses.RequestsMock() as mocked:
        yield mocked


TWILIO_MESSAGES = f"{TWILIO}/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"


def test_twilio_sends_the_sms_with_basic_auth(world: World, twilio):
    twilio.post(TWILIO_MESSAGES, status=201, json={"sid": "SM1", "status": "queued"})
    monitor = configure(world.monitor_c1, notification_phone_number="+4930123456")
    [row] = notifications(open_incident(monitor))
    notify.send_soon([row.pk])
    [call] = twilio.calls
    form = parse_qs(call.request.body)
    assert form["To"] == ["+4930123456"] and form["From"] == ["+15005550006"]
    assert form["Body"][0].startswith("DOWN: Gateway ping (Northwind) 127.0.0.1")
    credentials = base64.b64encode(f"AC0123456789abcdef:{TWILIO_TOKEN}".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {credentials}"
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT


def test_twilio_s_error_message_is_kept_and_the_token_is_not(world: World, twilio, caplog):
    twilio.post(
        TWILIO_MESSAGES,
        status=400,
        json={
            "code": 21211,
            "message": "The 'To' number +4930 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    )
    monitor = configure(world.monitor_c1, notification_phone_number="+4930")
    [row] = notifications(open_incident(monitor))
    notify.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == NotificationStatus.RETRYING
    assert row.last_error == (
        "Twilio refused the message (HTTP 400, error 21211): "
        "The 'To' number +4930 is not a valid phone number."
    )
    assert TWILIO_TOKEN not in row.last_error and TWILIO_TOKEN not in caplog.text


def test_twilio_without_credentials_says_what_to_set(world: World, twilio, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    monitor = configure(world.monitor_c1, notification_phone_number="+4930123456")
    [row] = notifications(open_incident(monitor))
    notify.deliver(row.pk)
    row.refresh_from_db()
    assert "TWILIO_AUTH_TOKEN" in row.last_error and not twilio.calls


# --- alert history ----------------------------------------------------------------------------


def history(world: World, monitor: Monitor, query: str = "", actor: str = "viewer") -> Any:
    return world.api(actor, "GET", f"/api/icmp-monitors/{monitor.public_id}/alert-history{query}")


@pytest.fixture
def alerts(world: World) -> dict[str, Any]:
    """A webhook tried twice (failed, then sent), then a suppressed email, then a pending SMS."""
    monitor = world.monitor_c1
    incident = open_incident(monitor)
    now = timezone.now()

    def notification(channel: str, status: str, minutes_ago: int, **fields: Any) -> Notification:
        made = Notification.objects.create(
            incident=incident,
            monitor=monitor,
            event=Event.OPENED,
            channel=channel,
            destination="x",
            status=status,
            **fields,
        )
        Notification.objects.filter(pk=made.pk).update(
            created_at=now - timedelta(minutes=minutes_ago)
        )
        return made

    webhook = notification("webhook", "sent", 10, attempts=2)
    for number, minutes_ago, ok, error in (
        (1, 10, False, "The receiver answered HTTP 500"),
        (2, 9, True, ""),
    ):
        NotificationAttempt.objects.create(
            notification=webhook,
            monitor=monitor,
            number=number,
            at=now - timedelta(minutes=minutes_ago),
            ok=ok,
            error=error,
        )
    email = notification("email", "suppressed", 5, last_error="In a maintenance window: not sent")
    text = notification("sms", "pending", 1)
    return {"incident": incident, "webhook": webhook, "email": email, "sms": text}


def test_alert_history_lists_every_attempt_and_unsent_notification_newest_first(
    world: World, alerts
):
    response = history(world, world.monitor_c1)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 4
    incident_id = alerts["incident"].pk
    assert body["alerts"] == [
        {
            "id": alerts["sms"].pk,
            "attempt": None,
            "incidentId": incident_id,
            "type": "opened",
            "status": "pending",
            "channelName": "sms",
            "sentAt": None,
            "errorMessage": None,
        },
        {
            "id": alerts["email"].pk,
            "attempt": None,
            "incidentId": incident_id,
            "type": "opened",
            "status": "suppressed",
            "channelName": "email",
            "sentAt": None,
            "errorMessage": "In a maintenance window: not sent",
        },
        {
            "id": alerts["webhook"].pk,
            "attempt": 2,
            "incidentId": incident_id,
            "type": "opened",
            "status": "sent",
            "channelName": "webhook",
            "sentAt": body["alerts"][2]["sentAt"],
            "errorMessage": None,
        },
        {
            "id": alerts["webhook"].pk,
            "attempt": 1,
            "incidentId": incident_id,
            "type": "opened",
            "status": "failed",
            "channelName": "webhook",
            "sentAt": body["alerts"][3]["sentAt"],
            "errorMessage": "The receiver answered HTTP 500",
        },
    ]
    assert body["alerts"][2]["sentAt"] > body["alerts"][3]["sentAt"]
    assert body["alerts"][3]["sentAt"].endswith("Z")


def test_alert_history_takes_a_limit_and_still_counts_everything(world: World, alerts):
    body = history(world, world.monitor_c1, "?limit=2").json()
    assert [(a["channelName"], a["attempt"]) for a in body["alerts"]] == [
        ("sms", None),
        ("email", None),
    ]
    assert body["total"] == 4
    body = history(world, world.monitor_c1, "?limit=3").json()
    assert [(a["channelName"], a["attempt"]) for a in body["alerts"]][-1] == ("webhook", 2)


@pytest.mark.parametrize("limit", ["0", "201", "abc", "-1", ""])
def test_alert_history_refuses_a_bad_limit(world: World, limit: str):
    response = history(world, world.monitor_c1, f"?limit={limit}")
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400 and body["message"] == "Invalid request body"
    assert body["errors"] == {"limit": ["A number from 1 to 200."]}


def test_alert_history_of_another_organizations_monitor_is_404(world: World, alerts):
    assert history(world, world.other_monitor, actor="admin").status_code == 404
    assert history(world, world.monitor_c1, actor="key_other").status_code == 404
    assert history(world, world.monitor_c1, actor="customer").status_code == 200
    assert history(world, world.monitor_c2, actor="customer").status_code == 404


def test_alert_history_reads_a_bounded_number_of_rows(world: World, alerts):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        history(world, world.monitor_c1, "?limit=1")
    selects = [q["sql"] for q in queries if '"monitors_notification' in q["sql"]]
    assert selects and all("LIMIT" in sql or "COUNT" in sql.upper() for sql in selects), selects


# --- the monitor's notification fields in the API and the form ---------------------------------


def stored_column(monitor: Monitor) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT notification_webhook_secret_encrypted FROM monitors_monitor WHERE id = %s",
            [monitor.pk],
        )
        return cursor.fetchone()[0]


def test_the_webhook_secret_is_write_only_in_the_api(world: World):
    monitor = world.monitor_c1
    path = f"/api/icmp-monitors/{monitor.public_id}"
    response = world.api(
        "key_rw",
        "PATCH",
        path,
        {
            "notificationWebhookUrl": "https://hooks.example.test/alerts",
            "notificationWebhookSecret": SECRET,
            "notificationReminderMinutes": 30,
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["notificationWebhookUrl"] == "https://hooks.example.test/alerts"
    assert body["notificationWebhookSecretSet"] is True
    assert body["notificationReminderMinutes"] == 30
    assert "notificationWebhookSecret" not in body
    for answer in (
        response,
        world.api("key_rw", "GET", path),
        world.api("key_rw", "GET", "/api/icmp-monitors"),
    ):
        assert SECRET not in answer.content.decode()
    monitor.refresh_from_db()
    assert monitor.notification_webhook_secret == SECRET
    assert stored_column(monitor) and SECRET not in stored_column(monitor)
    assert SECRET not in json.dumps(list(AuditEvent.objects.values("details")), default=str)
    # A client that sends back what it read keeps the secret.
    echoed = world.api("key_rw", "PATCH", path, world.api("key_rw", "GET", path).json())
    assert echoed.status_code == 200, echoed.content
    assert echoed.json()["notificationWebhookSecretSet"] is True
    cleared = world.api("key_rw", "PATCH", path, {"notificationWebhookSecret": None})
    assert cleared.json()["notificationWebhookSecretSet"] is False


def test_a_monitor_created_with_a_webhook_secret_keeps_it_encrypted(world: World):
    response = world.api(
        "key_rw",
        "POST",
        "/api/icmp-monitors",
        {
            "customerId": str(world.c1.public_id),
            "name": "Edge",
            "hostname": "127.0.0.9",
            "notificationWebhookUrl": "https://hooks.example.test/alerts",
            "notificationWebhookSecret": SECRET,
        },
    )
    assert response.status_code == 201, response.content
    assert SECRET not in response.content.decode()
    assert response.json()["notificationWebhookSecretSet"] is True
    monitor = Monitor.objects.get(public_id=response.json()["publicId"])
    assert monitor.notification_webhook_secret == SECRET
    assert SECRET not in stored_column(monitor)


@pytest.mark.parametrize(
    "field,value",
    [
        ("notificationWebhookUrl", "ftp://hooks.example.test/alerts"),
        ("notificationWebhookUrl", "not a url"),
        ("notificationWebhookUrl", "https://hooks.example.test/" + "a" * 480),
        ("notificationWebhookSecret", 42),
        ("notificationReminderMinutes", 10081),
        ("notificationReminderMinutes", -1),
    ],
)
def test_the_api_refuses_bad_notification_fields(world: World, field: str, value: Any):
    response = world.api(
        "key_rw", "PATCH", f"/api/icmp-monitors/{world.monitor_c1.public_id}", {field: value}
    )
    assert response.status_code == 400 and field in response.json()["errors"]


def test_a_webhook_into_a_private_network_is_refused_when_saved(world: World, settings):
    settings.ALERT_WEBHOOKS_TO_PRIVATE_NETWORKS = False
    path = f"/api/icmp-monitors/{world.monitor_c1.public_id}"
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://localhost/hook"):
        response = world.api("key_rw", "PATCH", path, {"notificationWebhookUrl": url})
        assert response.status_code == 400, url
        assert "private or local network" in response.json()["errors"]["notificationWebhookUrl"][0]


FORM = {
    "name": "Gateway ping",
    "hostname": "127.0.0.1",
    "status": "active",
    "check_interval": 5,
    "timeout_seconds": 10,
    "count": 3,
    "packet_size": 56,
    "retries": 0,
    "degraded_loss_percent": 20,
}


def test_the_form_never_renders_the_webhook_secret_and_blank_keeps_it(world: World):
    monitor = world.monitor_c1
    client = world.client("operator")
    edit = f"/monitors/{monitor.public_id}/edit/"
    response = client.post(
        edit,
        {
            **FORM,
            "customer": world.c1.pk,
            "notification_webhook_url": "https://hooks.example.test/alerts",
            "notification_webhook_secret": SECRET,
            "reminder_minutes": 15,
        },
    )
    assert response.status_code == 302, response.content.decode()
    monitor.refresh_from_db()
    assert monitor.notification_webhook_secret == SECRET and monitor.reminder_minutes == 15
    html = client.get(edit).content.decode()
    assert SECRET not in html and 'type="password"' in html
    assert (
        "https://hooks.example.test/alerts" in html and "Remove the webhook signing secret" in html
    )
    # Saving with the secret left blank keeps it; the checkbox removes it.
    client.post(
        edit,
        {
            **FORM,
            "customer": world.c1.pk,
            "notification_webhook_url": monitor.notification_webhook_url,
        },
    )
    monitor.refresh_from_db()
    assert monitor.notification_webhook_secret == SECRET
    client.post(edit, {**FORM, "customer": world.c1.pk, "clear_notification_webhook_secret": "on"})
    monitor.refresh_from_db()
    assert monitor.notification_webhook_secret == "" and monitor.notification_webhook_url == ""
    assert SECRET not in json.dumps(list(AuditEvent.objects.values("details")), default=str)


def test_the_form_refuses_a_webhook_url_that_is_not_http(world: World):
    response = world.client("operator").post(
        f"/monitors/{world.monitor_c1.public_id}/edit/",
        {**FORM, "customer": world.c1.pk, "notification_webhook_url": "ftp://x.example.test/"},
    )
    assert response.status_code == 400
    assert "http or https URL" in response.content.decode()
