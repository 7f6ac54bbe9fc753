"""The Meraki-dialect API's bodies for the OpenAPI schema: a ping job as Meraki's live tools
return it (../shared/seeds/meraki-live-tools-ping.json) with the portal's fields beside Meraki's,
and a device in Meraki's device shape. Documentation only: the views answer with
`serializers.job_json` and `device_json`; tests/test_api_fuzz.py holds the answers to these
shapes."""

from __future__ import annotations

from rest_framework import serializers

from pings.models import CallbackStatus, JobVendor, Status, Via
from vendors.models import DeviceKind


class JobRequestSerializer(serializers.Serializer):
    serial = serializers.CharField()
    target = serializers.CharField(required=False, help_text="Absent for pingDevice jobs.")
    count = serializers.IntegerField(allow_null=True)


class LossSerializer(serializers.Serializer):
    percentage = serializers.FloatField(allow_null=True, help_text="0 to 100.")


class LatenciesSerializer(serializers.Serializer):
    """In ms; null when no echo was answered."""

    minimum = serializers.FloatField(allow_null=True)
    average = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)
    stddev = serializers.FloatField(allow_null=True)


class ReplySerializer(serializers.Serializer):
    sequenceId = serializers.IntegerField()
    size = serializers.IntegerField(allow_null=True)
    latency = serializers.FloatField()


class ResultsSerializer(serializers.Serializer):
    sent = serializers.IntegerField(allow_null=True)
    received = serializers.IntegerField(allow_null=True)
    loss = LossSerializer()
    latencies = LatenciesSerializer()
    replies = ReplySerializer(many=True, help_text="Answered echoes; lost ones are the gaps.")


class JobCallbackSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=[s for s in CallbackStatus.values if s])
    attempts = serializers.IntegerField()
    nextAttemptAt = serializers.DateTimeField(allow_null=True)


class JobDeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    publicId = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=DeviceKind.values)


class JobErrorSerializer(serializers.Serializer):
    kind = serializers.CharField()
    message = serializers.CharField()


class PingJobSerializer(serializers.Serializer):
    pingId = serializers.CharField()
    url = serializers.CharField(help_text="Relative, as Meraki's: /devices/{serial}/liveTools/...")
    request = JobRequestSerializer()
    status = serializers.ChoiceField(choices=Status.choices)
    results = ResultsSerializer(allow_null=True, help_text="Only when complete.")
    callback = JobCallbackSerializer(required=False, help_text="Only with a callback.")
    publicId = serializers.UUIDField()
    device = JobDeviceSerializer()
    customerId = serializers.UUIDField(help_text="The customer's publicId.")
    vendor = serializers.ChoiceField(choices=JobVendor.values)
    source = serializers.CharField()
    vendorReference = serializers.CharField()
    via = serializers.ChoiceField(choices=Via.values)
    launchedBy = serializers.CharField()
    createdAt = serializers.DateTimeField()
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)
    error = JobErrorSerializer(allow_null=True)


class PingJobPageSerializer(serializers.Serializer):
    items = PingJobSerializer(many=True)
    total = serializers.IntegerField(help_text="At most 10,000; see totalCapped.")
    page = serializers.IntegerField()
    perPage = serializers.IntegerField()
    totalCapped = serializers.BooleanField()
    nextBefore = serializers.CharField(allow_null=True, help_text="Pass as ?before= to go on.")


class DeviceSerializer(serializers.Serializer):
    # Meraki's getDevice fields.
    serial = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField()
    networkId = serializers.CharField(allow_null=True)
    organizationId = serializers.CharField()
    lanIp = serializers.CharField(allow_null=True)
    mac = serializers.CharField(allow_null=True)
    firmware = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    address = serializers.CharField(allow_blank=True)
    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)
    notes = serializers.CharField(allow_blank=True)
    productType = serializers.CharField()
    url = serializers.URLField()
    # The portal's own.
    id = serializers.IntegerField()
    publicId = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=DeviceKind.values)
    vendor = serializers.CharField()
    iccid = serializers.CharField(allow_null=True)
    customerId = serializers.UUIDField(help_text="The customer's publicId.")
    customerName = serializers.CharField()


class DevicePageSerializer(serializers.Serializer):
    items = DeviceSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    perPage = serializers.IntegerField()
