"""The ICMP monitor API's shapes, as the seed (icmp-monitors-create.txt) and the contracts page
write them: camelCase, `customerId` numeric in answers, `config` and `icmpConfig` as aliases."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email

from monitors.models import (
    COUNT_RANGE,
    DEFAULT_CONFIG,
    INTERVAL_MINUTES_RANGE,
    INTERVAL_SECONDS_MIN,
    PACKET_SIZE_RANGE,
    STATUS_ALIASES,
    TIMEOUT_RANGE,
    CheckResult,
    Incident,
    Monitor,
    MonitorStatus,
    Notification,
    NotificationAttempt,
)
from monitors.uptime import Uptime
from portal.validators import normalize_host

REMINDER_MINUTES_RANGE = (0, 10080)
WEBHOOK_SECRET_MAX = 200
validate_webhook_url = URLValidator(schemes=["http", "https"])

PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}$")
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
WRITABLE = {
    "customerId",
    "name",
    "hostname",
    "port",
    "status",
    "checkInterval",
    "checkIntervalSeconds",
    "timeoutSeconds",
    "allowedCheckCountryCodes",
    "notificationPhoneNumber",
    "notificationEmail",
    "icmpConfig",
    "config",
    "retries",
    "degradedLossPercent",
    "degradedRttMs",
    "notificationWebhookUrl",
    "notificationWebhookSecret",  # write-only: answers say only notificationWebhookSecretSet
    "notificationReminderMinutes",
}


def _iso(value: Any) -> str | None:
    if value is None or isinstance(value, str):  # str: already this text (api.fastload)
        return value
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def monitor_json(
    monitor: Monitor | SimpleNamespace, *, customer_name: str | None = None
) -> dict[str, Any]:
    """A monitor as the API answers it. `monitor` may be a row read with `.values()` wrapped in
    a SimpleNamespace (the list endpoint: model instances cost more than the whole JSON)."""
    config = {**DEFAULT_CONFIG, **(monitor.config or {})}
    body = {
        "id": monitor.pk,
        "publicId": str(monitor.public_id),
        "organizationId": monitor.organization_id,
        "customerId": monitor.customer_id,
        "name": monitor.name,
        "hostname": monitor.hostname,
        "port": monitor.port,
        "status": monitor.status,
        "checkInterval": monitor.check_interval,
        "checkIntervalSeconds": monitor.check_interval_seconds,
        "timeoutSeconds": monitor.timeout_seconds,
        "allowedCheckCountryCodes": monitor.allowed_check_country_codes,
        "notificationPhoneNumber": monitor.notification_phone_number or None,
        "notificationEmail": monitor.notification_email or None,
        "lastCheckedAt": _iso(monitor.last_checked_at),
        "createdAt": _iso(monitor.created_at),
        "updatedAt": _iso(monitor.updated_at),
        "config": config,
        "icmpConfig": config,
        # Beyond the seed: thresholds and the latest state.
        "retries": monitor.retries,
        "degradedLossPercent": monitor.degraded_loss_percent,
        "degradedRttMs": monitor.degraded_rtt_ms,
        "health": monitor.health,
        "lastRttMs": monitor.last_rtt_ms,
        "lastLossPercent": monitor.last_loss_percent,
        "notificationWebhookUrl": monitor.notification_webhook_url or None,
        "notificationWebhookSecretSet": bool(monitor.notification_webhook_secret_encrypted),
        "notificationReminderMinutes": monitor.reminder_minutes,
    }
    if customer_name is not None:
        body["customerName"] = customer_name
    return body


def check_json(result: CheckResult) -> dict[str, Any]:
    warning = None
    if result.status == "degraded":
        warning = (
            f"Packet loss {result.loss_percent:g}%"
            if result.loss_percent
            else f"Average RTT {result.rtt_avg:g} ms above the threshold"
        )
    error = result.error or (
        "No reply to any echo" if result.status == "down" and not result.error else None
    )
    return {
        "id": result.pk,
        "status": result.status,
        "errorMessage": error,
        "warningMessage": warning,
        "timingIcmp": result.rtt_avg,
        "diagnostics": {
            "min": result.rtt_min,
            "avg": result.rtt_avg,
            "max": result.rtt_max,
            "packetLoss": result.loss_percent,
            "stddev": result.rtt_stddev,
            "sent": result.sent,
            "received": result.received,
            "rtts": result.rtts,
        },
        "checkedAt": _iso(result.sent_at or result.due_at),
        "dueAt": _iso(result.due_at),
        "retrying": result.retrying,
        "missedSlots": result.missed_slots,
        "locationId": result.location_id,
        "locationName": result.location.name,
        "locationCode": result.location.code,
    }


def alert_json(
    notification: Notification, attempt: NotificationAttempt | None = None
) -> dict[str, Any]:
    """One entry of the alert history: an attempt, or a notification not attempted yet."""
    if attempt is not None:
        status = "sent" if attempt.ok else "failed"
        sent_at, error = attempt.at, attempt.error
    else:
        # Claimed but not finished yet: still pending for the reader.
        status = "pending" if notification.status == "retrying" else notification.status
        sent_at, error = None, notification.last_error
    return {
        "id": notification.pk,
        "attempt": attempt.number if attempt is not None else None,
        "incidentId": notification.incident_id,
        "type": notification.event,
        "status": status,
        "channelName": notification.channel,
        "sentAt": _iso(sent_at),
        "errorMessage": error or None,
    }


def _whole(value: Any, name: str, low: int, high: int, errors: dict[str, list[str]]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        errors[name] = [f"Must be a whole number from {low} to {high}."]
        return None
    if not low <= value <= high:
        errors[name] = [f"Must be from {low} to {high}."]
        return None
    return int(value)


def clean_fields(data: dict[str, Any], *, partial: bool) -> tuple[dict[str, Any], dict, bool]:
    """Validate the writable fields (not customerId) into model attributes.
    Returns (attributes, field errors, whether the hostname was the problem)."""
    attrs: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    unknown = (
        set(data)
        - WRITABLE
        - {
            "id",
            "publicId",
            "organizationId",
            "lastCheckedAt",
            "createdAt",
            "updatedAt",
            "customerName",
            "health",
            "lastRttMs",
            "lastLossPercent",
            "notificationWebhookSecretSet",
        }
    )
    if unknown:
        errors["nonFieldErrors"] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
    for required in ("name", "hostname"):
        if not partial and required not in data:
            errors[required] = ["This field is required."]
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            errors["name"] = ["A name of 1 to 200 characters."]
        else:
            attrs["name"] = name.strip()
    bad_host = False
    if "hostname" in data:
        try:
            if not isinstance(data["hostname"], str) or len(data["hostname"]) > 253:
                raise DjangoValidationError("Enter a valid hostname or IP address.")
            attrs["hostname"] = normalize_host(data["hostname"])
        except DjangoValidationError as exc:
            errors["hostname"] = exc.messages
            bad_host = True
    if "port" in data:
        attrs["port"] = (
            None if data["port"] is None else _whole(data["port"], "port", 1, 65535, errors)
        )
    if "status" in data:
        status = str(data["status"]).lower() if isinstance(data["status"], str) else None
        status = STATUS_ALIASES.get(status, status)
        if status not in MonitorStatus.values:
            errors["status"] = ["One of active, maintenance, disabled, paused, inactive."]
        else:
            attrs["status"] = status
    if "checkInterval" in data:
        attrs["check_interval"] = _whole(
            data["checkInterval"], "checkInterval", *INTERVAL_MINUTES_RANGE, errors
        )
    if "checkIntervalSeconds" in data:
        value = data["checkIntervalSeconds"]
        attrs["check_interval_seconds"] = (
            None
            if value is None
            else _whole(value, "checkIntervalSeconds", INTERVAL_SECONDS_MIN, 86_400, errors)
        )
    if "timeoutSeconds" in data:
        attrs["timeout_seconds"] = _whole(
            data["timeoutSeconds"], "timeoutSeconds", *TIMEOUT_RANGE, errors
        )
    if "retries" in data:
        attrs["retries"] = _whole(data["retries"], "retries", 0, 10, errors)
    for field, attr, high in (
        ("degradedLossPercent", "degraded_loss_percent", 100),
        ("degradedRttMs", "degraded_rtt_ms", 60_000),
    ):
        if field in data:
            value = data[field]
            if value is None and field == "degradedRttMs":
                attrs[attr] = None
            elif (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0 <= value <= high)
            ):
                errors[field] = [f"A number from 0 to {high}."]
            else:
                attrs[attr] = float(value)
    if "allowedCheckCountryCodes" in data:
        codes = data["allowedCheckCountryCodes"]
        if codes is None:
            attrs["allowed_check_country_codes"] = None
        elif not isinstance(codes, list) or not all(
            isinstance(c, str) and COUNTRY.match(c) for c in codes
        ):
            errors["allowedCheckCountryCodes"] = ["A list of two-letter country codes."]
        else:
            attrs["allowed_check_country_codes"] = list(dict.fromkeys(c.upper() for c in codes))
    if "notificationEmail" in data:
        email = data["notificationEmail"]
        try:
            if email not in (None, ""):
                validate_email(email)
            attrs["notification_email"] = email or ""
        except (DjangoValidationError, TypeError):
            errors["notificationEmail"] = ["Enter a valid email address."]
    if "notificationPhoneNumber" in data:
        phone = data["notificationPhoneNumber"]
        if phone not in (None, "") and (not isinstance(phone, str) or not PHONE.match(phone)):
            errors["notificationPhoneNumber"] = ["Enter a phone number like +49 30 1234567."]
        else:
            attrs["notification_phone_number"] = phone or ""
    _clean_webhook(data, attrs, errors)
    if "notificationReminderMinutes" in data:
        attrs["reminder_minutes"] = _whole(
            data["notificationReminderMinutes"],
            "notificationReminderMinutes",
            *REMINDER_MINUTES_RANGE,
            errors,
        )
    config = data.get("icmpConfig", data.get("config"))
    if "icmpConfig" in data and "config" in data and data["icmpConfig"] != data["config"]:
        errors["icmpConfig"] = ["config and icmpConfig are aliases; send one of them."]
    elif config is not None or "icmpConfig" in data or "config" in data:
        if not isinstance(config, dict):
            errors["icmpConfig"] = ['An object like {"packetSize": 56, "count": 3}.']
        else:
            cleaned = dict(config)
            size = _whole(
                config.get("packetSize", DEFAULT_CONFIG["packetSize"]),
                "icmpConfig.packetSize",
                *PACKET_SIZE_RANGE,
                errors,
            )
            count = _whole(
                config.get("count", DEFAULT_CONFIG["count"]),
                "icmpConfig.count",
                *COUNT_RANGE,
                errors,
            )
            cleaned.update(packetSize=size, count=count)
            attrs["config"] = cleaned
    return attrs, errors, bad_host


def _clean_webhook(data: dict[str, Any], attrs: dict[str, Any], errors: dict) -> None:
    """The alert webhook: an http(s) URL, refused at once when it is an address in a private
    network that the settings do not allow (names are judged at delivery), and a write-only
    secret (null or "" clears it)."""
    from django.conf import settings

    from portal import webhooks

    if "notificationWebhookUrl" in data:
        url = data["notificationWebhookUrl"]
        try:
            if url not in (None, ""):
                if not isinstance(url, str) or len(url) > 500:
                    raise DjangoValidationError("An http or https URL of at most 500 characters.")
                validate_webhook_url(url)
                webhooks.check_destination(
                    url, settings.ALERT_WEBHOOKS_TO_PRIVATE_NETWORKS, noun="webhook", resolve=False
                )
            attrs["notification_webhook_url"] = url or ""
        except DjangoValidationError:
            errors["notificationWebhookUrl"] = ["An http or https URL of at most 500 characters."]
        except webhooks.Refused as exc:
            errors["notificationWebhookUrl"] = [f"{exc}."]
    if "notificationWebhookSecret" in data:
        secret = data["notificationWebhookSecret"]
        if secret is not None and (not isinstance(secret, str) or len(secret) > WEBHOOK_SECRET_MAX):
            errors["notificationWebhookSecret"] = [
                f"A string of at most {WEBHOOK_SECRET_MAX} characters."
            ]
        else:
            attrs["notification_webhook_secret"] = secret or ""


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "severity": incident.severity,
        "state": incident.state,
        "startedAt": _iso(incident.started_at),
        "openedAt": _iso(incident.opened_at),
        "recoveredAt": _iso(incident.recovered_at),
        "closedAt": _iso(incident.closed_at),
        "durationSeconds": int(incident.duration().total_seconds()),
        "failedChecks": incident.failed_checks,
        "flaps": incident.flaps,
        "lastError": incident.last_error or None,
        "closeReason": incident.close_reason or None,
    }


def uptime_json(figure: Uptime) -> dict[str, Any]:
    percent = figure.percent
    return {
        "uptimePercent": None if percent is None else round(percent, 3),
        "upSeconds": figure.up,
        "degradedSeconds": figure.degraded,
        "downSeconds": figure.down,
        "maintenanceSeconds": figure.maintenance,
    }
