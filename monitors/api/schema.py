"""The ICMP monitor API's bodies for the OpenAPI schema, as the seed (icmp-monitors-create.txt)
and ../shared/VENDOR-CONTRACTS.md write them. Documentation only: the views validate with
`serializers.clean_fields` and answer with `monitor_json` and its siblings; tests/test_api_fuzz.py
holds the answers to these shapes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitors.api.serializers import REMINDER_MINUTES_RANGE, WEBHOOK_SECRET_MAX
from monitors.models import (
    COUNT_RANGE,
    INTERVAL_MINUTES_RANGE,
    INTERVAL_SECONDS_MIN,
    PACKET_SIZE_RANGE,
    STATUS_ALIASES,
    TIMEOUT_RANGE,
    Channel,
    Event,
    Health,
    IncidentState,
    MonitorStatus,
    NotificationStatus,
)
from portal.api.schema import HostField


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "description": "The customer's numeric id or its publicId (a UUID).",
    }
)
class CustomerIdField(serializers.Field):
    pass


class IcmpConfigSerializer(serializers.Serializer):
    """Stored as the monitor's `config` JSON; the worker reads packetSize and count."""

    packetSize = serializers.IntegerField(
        min_value=PACKET_SIZE_RANGE[0], max_value=PACKET_SIZE_RANGE[1], default=56
    )
    count = serializers.IntegerField(min_value=COUNT_RANGE[0], max_value=COUNT_RANGE[1], default=3)


class IcmpConfigWriteSerializer(IcmpConfigSerializer):
    packetSize = serializers.IntegerField(
        min_value=PACKET_SIZE_RANGE[0], max_value=PACKET_SIZE_RANGE[1], required=False
    )
    count = serializers.IntegerField(
        min_value=COUNT_RANGE[0], max_value=COUNT_RANGE[1], required=False
    )


class IcmpMonitorWriteSerializer(serializers.Serializer):
    """The create body (PATCH: any subset; read-only members may send only `status`)."""

    customerId = CustomerIdField()
    name = serializers.CharField(max_length=200)
    hostname = HostField()
    port = serializers.IntegerField(
        min_value=1, max_value=65535, allow_null=True, required=False, help_text="Stored only."
    )
    status = serializers.ChoiceField(
        choices=[*MonitorStatus.values, *STATUS_ALIASES],
        required=False,
        help_text="paused and inactive are stored as disabled.",
    )
    checkInterval = serializers.IntegerField(
        min_value=INTERVAL_MINUTES_RANGE[0],
        max_value=INTERVAL_MINUTES_RANGE[1],
        required=False,
        help_text="Minutes.",
    )
    checkIntervalSeconds = serializers.IntegerField(
        min_value=INTERVAL_SECONDS_MIN,
        max_value=86_400,
        allow_null=True,
        required=False,
        help_text="Wins over checkInterval when set.",
    )
    timeoutSeconds = serializers.IntegerField(
        min_value=TIMEOUT_RANGE[0], max_value=TIMEOUT_RANGE[1], required=False
    )
    allowedCheckCountryCodes = serializers.ListField(
        child=serializers.RegexField(r"^[A-Za-z]{2}$"), allow_null=True, required=False
    )
    notificationPhoneNumber = serializers.RegexField(
        r"^\+?[0-9][0-9 ()-]{4,30}$", allow_null=True, allow_blank=True, required=False
    )
    notificationEmail = serializers.EmailField(allow_null=True, allow_blank=True, required=False)
    icmpConfig = IcmpConfigWriteSerializer(required=False)
    config = IcmpConfigWriteSerializer(required=False, help_text="An alias of icmpConfig.")
    retries = serializers.IntegerField(min_value=0, max_value=10, required=False)
    degradedLossPercent = serializers.FloatField(min_value=0, max_value=100, required=False)
    degradedRttMs = serializers.FloatField(
        min_value=0, max_value=60_000, allow_null=True, required=False
    )
    notificationWebhookUrl = serializers.URLField(
        max_length=500, allow_null=True, allow_blank=True, required=False
    )
    notificationWebhookSecret = serializers.CharField(
        max_length=WEBHOOK_SECRET_MAX,
        allow_null=True,
        allow_blank=True,
        required=False,
        help_text="Write-only; answers say notificationWebhookSecretSet.",
    )
    notificationReminderMinutes = serializers.IntegerField(
        min_value=REMINDER_MINUTES_RANGE[0], max_value=REMINDER_MINUTES_RANGE[1], required=False
    )


class IcmpMonitorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    publicId = serializers.UUIDField()
    organizationId = serializers.IntegerField()
    customerId = serializers.IntegerField()
    name = serializers.CharField()
    hostname = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=MonitorStatus.choices)
    checkInterval = serializers.IntegerField(help_text="Minutes.")
    checkIntervalSeconds = serializers.IntegerField(allow_null=True)
    timeoutSeconds = serializers.IntegerField()
    allowedCheckCountryCodes = serializers.ListField(child=serializers.CharField(), allow_null=True)
    notificationPhoneNumber = serializers.CharField(allow_null=True)
    notificationEmail = serializers.CharField(allow_null=True)
    lastCheckedAt = serializers.DateTimeField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    config = IcmpConfigSerializer()
    icmpConfig = IcmpConfigSerializer()
    retries = serializers.IntegerField()
    degradedLossPercent = serializers.FloatField()
    degradedRttMs = serializers.FloatField(allow_null=True)
    health = serializers.ChoiceField(choices=Health.choices)
    lastRttMs = serializers.FloatField(allow_null=True)
    lastLossPercent = serializers.FloatField(allow_null=True)
    notificationWebhookUrl = serializers.CharField(allow_null=True)
    notificationWebhookSecretSet = serializers.BooleanField()
    notificationReminderMinutes = serializers.IntegerField()


class IcmpMonitorListItemSerializer(IcmpMonitorSerializer):
    customerName = serializers.CharField()


class IcmpMonitorPageSerializer(serializers.Serializer):
    items = IcmpMonitorListItemSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    perPage = serializers.IntegerField()


class DiagnosticsSerializer(serializers.Serializer):
    min = serializers.FloatField(allow_null=True)
    avg = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    packetLoss = serializers.FloatField(allow_null=True)
    stddev = serializers.FloatField(allow_null=True)
    sent = serializers.IntegerField()
    received = serializers.IntegerField()
    rtts = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="Per echo in ms; null: lost."
    )


class CheckSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Health.choices)
    errorMessage = serializers.CharField(allow_null=True)
    warningMessage = serializers.CharField(allow_null=True)
    timingIcmp = serializers.FloatField(allow_null=True, help_text="Average RTT in ms.")
    diagnostics = DiagnosticsSerializer()
    checkedAt = serializers.DateTimeField()
    dueAt = serializers.DateTimeField()
    retrying = serializers.BooleanField()
    missedSlots = serializers.IntegerField()
    locationId = serializers.IntegerField()
    locationName = serializers.CharField()
    locationCode = serializers.CharField()


class CheckHistorySerializer(serializers.Serializer):
    data = CheckSerializer(many=True)


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The notification's id.")
    attempt = serializers.IntegerField(allow_null=True)
    incidentId = serializers.IntegerField()
    type = serializers.ChoiceField(choices=Event.values)
    status = serializers.ChoiceField(
        choices=[s for s in NotificationStatus.values if s != NotificationStatus.RETRYING]
    )
    channelName = serializers.ChoiceField(choices=Channel.values)
    sentAt = serializers.DateTimeField(allow_null=True)
    errorMessage = serializers.CharField(allow_null=True)


class AlertHistorySerializer(serializers.Serializer):
    alerts = AlertSerializer(many=True)
    total = serializers.IntegerField()


class IncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=[Health.DEGRADED, Health.DOWN])
    state = serializers.ChoiceField(choices=IncidentState.values)
    startedAt = serializers.DateTimeField()
    openedAt = serializers.DateTimeField()
    recoveredAt = serializers.DateTimeField(allow_null=True)
    closedAt = serializers.DateTimeField(allow_null=True)
    durationSeconds = serializers.IntegerField()
    failedChecks = serializers.IntegerField()
    flaps = serializers.IntegerField()
    lastError = serializers.CharField(allow_null=True)
    closeReason = serializers.CharField(allow_null=True)


class IncidentListSerializer(serializers.Serializer):
    incidents = IncidentSerializer(many=True)
    total = serializers.IntegerField()


class UptimeFigureSerializer(serializers.Serializer):
    uptimePercent = serializers.FloatField(allow_null=True, help_text="null: nothing checked.")
    upSeconds = serializers.FloatField()
    degradedSeconds = serializers.FloatField()
    downSeconds = serializers.FloatField()
    maintenanceSeconds = serializers.FloatField()


UptimeSerializer = type(
    "UptimeSerializer",
    (serializers.Serializer,),
    {key: UptimeFigureSerializer() for key in ("24h", "7d", "30d", "90d")},
)


class ChartPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    checks = serializers.IntegerField()
    sent = serializers.IntegerField()
    received = serializers.IntegerField()
    lossPercent = serializers.FloatField(allow_null=True)
    rttMin = serializers.FloatField(allow_null=True)
    rttP50 = serializers.FloatField(allow_null=True)
    rttAvg = serializers.FloatField(allow_null=True)
    rttMax = serializers.FloatField(allow_null=True)
    downSeconds = serializers.FloatField()
    maintenanceSeconds = serializers.FloatField()


class ChartIncidentSerializer(serializers.Serializer):
    openedAt = serializers.DateTimeField()
    closedAt = serializers.DateTimeField(allow_null=True)
    severity = serializers.ChoiceField(choices=[Health.DEGRADED, Health.DOWN])


class ChartSpanSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class ChartSerializer(serializers.Serializer):
    range = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    points = ChartPointSerializer(many=True)
    incidents = ChartIncidentSerializer(many=True)
    maintenance = ChartSpanSerializer(many=True)
