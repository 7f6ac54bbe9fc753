"""The monitor form runs the API's own validation (monitors.api.serializers.clean_fields), so a
page and the API accept and refuse exactly the same things."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from monitors.api.serializers import clean_fields
from monitors.models import Monitor, MonitorStatus
from portal.models import Customer

FIELD_NAMES = {  # API name → form field
    "name": "name",
    "hostname": "hostname",
    "status": "status",
    "checkInterval": "check_interval",
    "checkIntervalSeconds": "check_interval_seconds",
    "timeoutSeconds": "timeout_seconds",
    "retries": "retries",
    "degradedLossPercent": "degraded_loss_percent",
    "degradedRttMs": "degraded_rtt_ms",
    "notificationEmail": "notification_email",
    "notificationPhoneNumber": "notification_phone_number",
    "notificationWebhookUrl": "notification_webhook_url",
    "notificationWebhookSecret": "notification_webhook_secret",
    "notificationReminderMinutes": "reminder_minutes",
    "allowedCheckCountryCodes": "allowed_check_country_codes",
    "icmpConfig.packetSize": "packet_size",
    "icmpConfig.count": "count",
    "icmpConfig": "count",
}


class MonitorForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.none())
    name = forms.CharField(max_length=200)
    hostname = forms.CharField(max_length=300, label="Host (IP address or name)")
    status = forms.ChoiceField(choices=MonitorStatus.choices, initial=MonitorStatus.ACTIVE)
    check_interval = forms.IntegerField(initial=5, label="Interval (minutes)")
    check_interval_seconds = forms.IntegerField(
        required=False, label="…or interval in seconds", help_text="At least 5; wins when set."
    )
    timeout_seconds = forms.IntegerField(initial=10, label="Timeout (seconds)")
    count = forms.IntegerField(initial=3, label="Echoes per check")
    packet_size = forms.IntegerField(initial=56, label="Payload size (bytes)")
    retries = forms.IntegerField(initial=0, help_text="All-lost checks before it counts as down.")
    degraded_loss_percent = forms.FloatField(initial=20, label="Degraded above loss (%)")
    degraded_rtt_ms = forms.FloatField(required=False, label="Degraded above RTT (ms)")
    notification_email = forms.CharField(required=False, label="Notification email")
    notification_phone_number = forms.CharField(required=False, label="Notification phone")
    notification_webhook_url = forms.CharField(
        required=False,
        label="Notification webhook URL",
        help_text="Signed JSON POSTs when an incident opens, escalates, reminds and resolves.",
    )
    notification_webhook_secret = forms.CharField(
        required=False,
        strip=False,
        label="Webhook signing secret",
        # Write-only: never rendered back; blank keeps the stored one.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_notification_webhook_secret = forms.BooleanField(
        required=False, label="Remove the webhook signing secret"
    )
    reminder_minutes = forms.IntegerField(
        required=False,
        initial=0,
        label="Remind every (minutes)",
        help_text="While an incident stays open; 0: no reminders.",
    )
    allowed_check_country_codes = forms.CharField(
        required=False,
        label="Check from countries",
        help_text="Comma-separated codes, e.g. DE, US; blank: every location.",
    )

    def __init__(
        self,
        *args: Any,
        customers: QuerySet[Customer],
        instance: Monitor | None = None,
        **kwargs: Any,
    ) -> None:
        # The views pass `request.POST or None` positionally: None on a GET.
        if instance is not None and not kwargs.get("data") and not (args and args[0]):
            kwargs["initial"] = {
                "customer": instance.customer_id,
                "name": instance.name,
                "hostname": instance.hostname,
                "status": instance.status,
                "check_interval": instance.check_interval,
                "check_interval_seconds": instance.check_interval_seconds,
                "timeout_seconds": instance.timeout_seconds,
                "count": instance.count,
                "packet_size": instance.packet_size,
                "retries": instance.retries,
                "degraded_loss_percent": instance.degraded_loss_percent,
                "degraded_rtt_ms": instance.degraded_rtt_ms,
                "notification_email": instance.notification_email,
                "notification_phone_number": instance.notification_phone_number,
                "notification_webhook_url": instance.notification_webhook_url,
                "reminder_minutes": instance.reminder_minutes,
                "allowed_check_country_codes": ", ".join(
                    instance.allowed_check_country_codes or []
                ),
            }
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["customer"].queryset = customers
        has_secret = bool(instance and instance.notification_webhook_secret_encrypted)
        self.fields["notification_webhook_secret"].help_text = (
            "Set; leave blank to keep it." if has_secret else "Not set: webhooks go unsigned."
        )
        if not has_secret:
            del self.fields["clear_notification_webhook_secret"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        codes = [
            c.strip()
            for c in (data.get("allowed_check_country_codes") or "").split(",")
            if c.strip()
        ]
        api = {
            "name": data["name"],
            "hostname": data["hostname"],
            "status": data["status"],
            "checkInterval": data["check_interval"],
            "checkIntervalSeconds": data.get("check_interval_seconds"),
            "timeoutSeconds": data["timeout_seconds"],
            "retries": data["retries"],
            "degradedLossPercent": data["degraded_loss_percent"],
            "degradedRttMs": data.get("degraded_rtt_ms"),
            "notificationEmail": data.get("notification_email") or None,
            "notificationPhoneNumber": data.get("notification_phone_number") or None,
            "notificationWebhookUrl": data.get("notification_webhook_url") or None,
            "notificationReminderMinutes": data.get("reminder_minutes") or 0,
            "allowedCheckCountryCodes": codes or None,
            "icmpConfig": {
                **((self.instance.config if self.instance else None) or {}),
                "packetSize": data["packet_size"],
                "count": data["count"],
            },
        }
        if data.get("clear_notification_webhook_secret"):
            api["notificationWebhookSecret"] = None
        elif data.get("notification_webhook_secret"):  # blank keeps the stored secret
            api["notificationWebhookSecret"] = data["notification_webhook_secret"]
        attrs, errors, _ = clean_fields(api, partial=False)
        for field, messages in errors.items():
            self.add_error(FIELD_NAMES.get(field), messages)
        self.attrs = attrs
        return data
