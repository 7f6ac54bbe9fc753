"""The Meraki live-tools dialect for every device, so clients written for Meraki (its Python SDK
pointed at `http://HOST/api` included) work unchanged; plus device and ping lists.

`{serial}` is a Meraki serial, a Thing's ICCID, or the portal's device id (or publicId) for
other kinds. Errors here carry Meraki's `{"errors": [...]}` list beside the portal's fields.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from datetime import datetime
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import make_aware
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pings import callbacks, history, jobcache, launching
from pings.api import schema
from pings.api.serializers import device_json, job_json, job_record, record_json
from pings.models import JobVendor, PingJob, PingReply, Status, Via
from portal import access, sqlcache
from portal.api.exceptions import ApiError
from portal.api.lookups import resolve_customer
from portal.api.pagination import PagePagination
from portal.api.permissions import AccessPermission
from portal.api.schema import MERAKI_ERROR, HostField
from portal.validators import is_digits
from vendors.models import Device, DeviceKind

MAX_BODY = 16 * 1024  # bytes; a ping request is a few dozen
REPLIES_IN_ORDER = Prefetch("replies", queryset=PingReply.objects.order_by("sequence"))
ALLOWED_FIELDS = {"target", "count", "callback", "packetSize", "interval", "timeout"}
CAMEL = {"packetSize": "packet_size"}


class MerakiDialectView(APIView):
    """Errors as Meraki gives them (`errors`: a list of strings), with the portal's status
    fields and `fieldErrors` (field → messages) for bad input."""

    permission_classes = [AccessPermission]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        data = response.data if isinstance(response.data, dict) else {}
        fields = data.get("errors") if isinstance(data.get("errors"), dict) else {}
        flat = _flatten(fields)
        response.data = {
            "errors": [f"{k}: {m}" for k, msgs in flat.items() for m in msgs]
            or [str(data.get("message", "Error"))],
            "statusCode": data.get("statusCode", response.status_code),
            "statusMessage": data.get("statusMessage", ""),
            "message": data.get("message", ""),
            "fieldErrors": flat,
        }
        return response


def _flatten(errors: dict[str, Any], prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for key, value in errors.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat


# A device as resolve_device reads it when nothing is joined: every column, in model order.
DEVICE_COLUMNS = tuple(f.attname for f in Device._meta.concrete_fields)


def _device_match(serial: str) -> Q:
    match = Q(serial=serial.upper()) | Q(iccid=serial)
    if is_digits(serial) and len(serial) < 12:
        match |= Q(pk=int(serial), kind__in=[DeviceKind.HOST, DeviceKind.SIMOTEL_SERVER])
    with contextlib.suppress(ValueError):
        match |= Q(public_id=uuid.UUID(serial))
    return match


def resolve_device(
    actor: Any, serial: str, related: tuple[str, ...] = ("customer", "credential")
) -> Device:
    """The visible device a Meraki-style `{serial}` names, or a 404. `related`: what to join;
    with nothing joined (a job's JSON needs neither customer nor credential) the query's SQL
    is compiled once per caller's grants and `{serial}` (portal.sqlcache), as pollers repeat it."""
    serial = (serial or "").strip()
    if not related:
        return resolve_device_and_job(actor, serial, None)[0]
    device = (
        access.visible(actor, Device)
        .filter(_device_match(serial))
        .select_related(*related)
        .order_by("pk")
        .first()
    )
    if device is None:
        raise _device_not_found(serial)
    return device


# The job a device lookup also asks about: one compiled query for any job id.
JOB_ID = sqlcache.Late("job id")
PingJob._meta.pk.register_lookup(sqlcache.AnyOf)


def resolve_device_and_job(actor: Any, serial: str, job_id: int | None) -> tuple[Device, bool]:
    """`resolve_device` with nothing joined, and in the same query whether the device has a
    job `job_id` (any caller's: the caller's right to it is the record's to check). Compiled
    once per caller's grants and `{serial}` (portal.sqlcache), as pollers repeat it."""
    serial = (serial or "").strip()
    wanted = [job_id] if job_id is not None else []
    # PostgreSQL takes the job id as an array parameter; elsewhere (no arrays) it is compiled in.
    arrays = connection.vendor == "postgresql"

    def build() -> QuerySet[Device]:
        found = access.visible(actor, Device).filter(_device_match(serial)).order_by("pk")
        jobs = PingJob.objects.filter(device=OuterRef("pk"))
        jobs = jobs.filter(pk__any_of=JOB_ID) if arrays else jobs.filter(pk__in=wanted)
        return found.annotate(_has_job=Exists(jobs)).values(*DEVICE_COLUMNS, "_has_job")[:1]

    key = ("pings.resolve_device", access.scope_of(actor), serial, None if arrays else job_id)
    entry = sqlcache.compiled(key, build)
    found = sqlcache.execute(entry, late={JOB_ID: wanted})
    if not found:
        raise _device_not_found(serial)
    *columns, has_job = found[0]
    return Device.from_db(entry.using, entry.names[:-1], columns), bool(has_job)


def _device_not_found(serial: str) -> ApiError:
    return ApiError(404, "Device not found", {"serial": [f"No device {serial!r} is visible."]})


class CallbackSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, help_text="Where the finished job is POSTed.")
    sharedSecret = serializers.CharField(
        max_length=200, help_text="Sent back in the body; also keys X-Portal-Signature."
    )


class PingDeviceRequestSerializer(serializers.Serializer):
    """Documents the body (validation is the portal's per-vendor rules, see launching.py)."""

    count = serializers.IntegerField(
        required=False, min_value=1, max_value=5, help_text="[1..5], default 5"
    )
    callback = CallbackSerializer(required=False)
    packetSize = serializers.IntegerField(
        required=False, min_value=0, max_value=65500, help_text="Plain hosts only."
    )
    interval = serializers.FloatField(
        required=False, min_value=0.2, max_value=10, help_text="Plain hosts only (seconds)."
    )
    timeout = serializers.FloatField(
        required=False, min_value=0.2, max_value=30, help_text="Plain hosts only (seconds)."
    )


class PingRequestSerializer(PingDeviceRequestSerializer):
    target = HostField(help_text="FQDN, IPv4 or IPv6 address.")


class PingLaunchSerializer(PingDeviceRequestSerializer):
    device = serializers.CharField(help_text="Serial, ICCID, device id or publicId")
    target = HostField(required=False, help_text="Absent: the device pings itself.")


JOB_EXAMPLE = {
    "pingId": "1284",
    "url": "/devices/Q2AB-CDEF-0001/liveTools/ping/1284",
    "request": {"serial": "Q2AB-CDEF-0001", "target": "127.0.0.1", "count": 2},
    "status": "complete",
    "results": {
        "sent": 2,
        "received": 2,
        "loss": {"percentage": 0.0},
        "latencies": {"minimum": 0.05, "average": 0.06, "maximum": 0.07, "stddev": 0.01},
        "replies": [
            {"sequenceId": 1, "size": 84, "latency": 0.05},
            {"sequenceId": 2, "size": 84, "latency": 0.07},
        ],
    },
    "callback": {
        "id": "1284",
        "url": "https://example.com/hooks/ping",
        "status": "delivered",
        "attempts": 1,
        "nextAttemptAt": None,
    },
    "publicId": "0b0c9a1e-3f7e-4a55-9d0f-6d3c1c0f7a11",
    "device": {
        "id": 3,
        "publicId": "7a1f6a52-2a47-4a8e-8f3c-2f4e7b1d9c10",
        "name": "Clinic MX68",
        "kind": "meraki_device",
    },
    "customerId": "5d1c9e0a-6a8f-4c1f-b4f3-0e8a6b2d7c55",
    "vendor": "meraki",
    "source": "meraki",
    "vendorReference": "1",
    "via": "api",
    "launchedBy": "API key ci (pk_ab12…)",
    "createdAt": "2026-11-29T20:00:00Z",
    "startedAt": "2026-11-29T20:00:00.100000Z",
    "finishedAt": "2026-11-29T20:00:01.300000Z",
    "error": None,
}
DEVICE_EXAMPLE = {
    "serial": "Q2AB-CDEF-0001",
    "name": "Clinic MX68",
    "model": "MX68",
    "networkId": "N_sim",
    "organizationId": "1",
    "lanIp": None,
    "mac": None,
    "firmware": None,
    "tags": [],
    "address": "",
    "lat": None,
    "lng": None,
    "notes": "",
    "productType": "appliance",
    "url": "https://portal.example.com/devices/7a1f6a52-2a47-4a8e-8f3c-2f4e7b1d9c10/",
    "id": 3,
    "publicId": "7a1f6a52-2a47-4a8e-8f3c-2f4e7b1d9c10",
    "kind": "meraki_device",
    "vendor": "meraki",
    "iccid": None,
    "customerId": "5d1c9e0a-6a8f-4c1f-b4f3-0e8a6b2d7c55",
    "customerName": "Contoso",
}
ERROR_EXAMPLE = {
    "errors": ["count: Must be from 1 to 5."],
    "statusCode": 400,
    "statusMessage": "Bad Request",
    "message": "Invalid request body",
    "fieldErrors": {"count": ["Must be from 1 to 5."]},
}
RATE_EXAMPLE = {"errors": ["This device was pinged 5 times in the last 25 s; wait 5 s ..."]}


def _body(request: Request) -> dict[str, Any]:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if is_digits(length) and int(length) > MAX_BODY:
        raise ApiError(
            400,
            "Invalid request body",
            {"body": [f"Too large: {int(length)} bytes (at most {MAX_BODY})."]},
        )
    data = request.data  # malformed JSON: DRF's ParseError, a 400
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid request body", {"body": ["Send a JSON object."]})
    return data


def _callback(value: Any, errors: dict[str, Any]) -> tuple[str, str]:
    if value is None:
        return "", ""
    if not isinstance(value, dict):
        errors["callback"] = ["Must be an object with url and sharedSecret."]
        return "", ""
    problems: dict[str, list[str]] = {}
    for unsupported in ("httpServer", "payloadTemplate"):
        if value.get(unsupported):
            problems[unsupported] = ["Not supported here: give url and sharedSecret."]
    serializer = CallbackSerializer(data=value)
    if not serializer.is_valid():
        problems.update({k: [str(m) for m in v] for k, v in serializer.errors.items()})
    elif serializer.validated_data["url"].split(":", 1)[0].lower() not in ("http", "https"):
        problems["url"] = ["Must be an http or https URL."]
    else:
        try:
            callbacks.check_destination(serializer.validated_data["url"])
        except callbacks.Refused as exc:
            problems["url"] = [str(exc)]
    if problems:
        errors["callback"] = problems
        return "", ""
    return serializer.validated_data["url"], serializer.validated_data["sharedSecret"]


@extend_schema(tags=["live tools (Meraki dialect)"])
class LiveToolsCreateView(MerakiDialectView):
    kind = "ping"

    @extend_schema(
        summary="Enqueue a ping job (Meraki's createDeviceLiveToolsPing, for every device)",
        operation_id="createDeviceLiveToolsPing",
        request=PingRequestSerializer,
        responses={201: schema.PingJobSerializer, 400: MERAKI_ERROR, 429: MERAKI_ERROR},
        examples=[
            OpenApiExample(
                "Request",
                value={
                    "target": "127.0.0.1",
                    "count": 2,
                    "callback": {"url": "https://example.com/hooks/ping", "sharedSecret": "s3"},
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=JOB_EXAMPLE, response_only=True, status_codes=["201"]),
            OpenApiExample(
                "Bad input", value=ERROR_EXAMPLE, response_only=True, status_codes=["400"]
            ),
            OpenApiExample(
                "Rate limited", value=RATE_EXAMPLE, response_only=True, status_codes=["429"]
            ),
        ],
    )
    def post(self, request: Request, serial: str) -> Response:
        data = _body(request)
        device = resolve_device(request.user, serial)
        return _launch(request, device, data, self.kind)


def _launch(
    request: Request, device: Device, data: dict[str, Any], kind: str, named: bool = False
) -> Response:
    """Validate the body for this device's vendor, take the device's token, create the job.
    `named`: the body names the device (POST /api/pings), so "device" is a known field."""
    access.require(request.user, access.CHANGE, device)
    errors: dict[str, Any] = {}
    for name in sorted(set(data) - ALLOWED_FIELDS - ({"device"} if named else set())):
        errors[name] = ["Unknown field."]
    if kind == "ping" and data.get("target") in (None, ""):
        errors["target"] = ["Required (liveTools/pingDevice pings the device itself)."]
    if kind == "pingDevice" and data.get("target") not in (None, ""):
        errors["target"] = ["pingDevice pings the device itself; use liveTools/ping."]
    url, secret = _callback(data.get("callback"), errors)
    options = None
    try:
        options = launching.clean_options(
            device,
            {CAMEL.get(k, k): v for k, v in data.items() if k in ALLOWED_FIELDS - {"callback"}},
            api=True,
        )
    except ValidationError as exc:
        camel = {**{v: k for k, v in CAMEL.items()}, NON_FIELD_ERRORS: "nonFieldErrors"}
        for name, messages in exc.message_dict.items():
            errors.setdefault(camel.get(name, name), messages)
    if errors or options is None:
        raise ApiError(400, "Invalid request body", errors)
    options.callback_url, options.callback_secret = url, secret
    try:
        job = launching.launch(request.user, device, options, via=Via.API, request=request)
    except launching.RateLimited as exc:
        return Response(
            {"errors": [str(exc)]},
            status=429,
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
        )
    job.refresh_from_db()
    return Response(job_json(job, request.user), status=201)


class LiveToolsPingDeviceCreateView(LiveToolsCreateView):
    kind = "pingDevice"

    @extend_schema(
        summary="Enqueue a ping of the device itself (Meraki's createDeviceLiveToolsPingDevice)",
        operation_id="createDeviceLiveToolsPingDevice",
        request=PingDeviceRequestSerializer,
        responses={201: schema.PingJobSerializer, 400: MERAKI_ERROR, 429: MERAKI_ERROR},
        examples=[
            OpenApiExample("Request", value={"count": 3}, request_only=True),
            OpenApiExample("Created", value=JOB_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request, serial: str) -> Response:
        return super().post(request, serial)


@extend_schema(tags=["live tools (Meraki dialect)"])
class LiveToolsJobView(MerakiDialectView):
    @extend_schema(
        summary="Return a ping job (Meraki's getDeviceLiveToolsPing)",
        operation_id="getDeviceLiveToolsPing",
        responses={200: schema.PingJobSerializer, 404: MERAKI_ERROR},
        examples=[OpenApiExample("Complete", value=JOB_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, serial: str, ping_id: str) -> Response:
        # The device is read on every request: it proves the caller may see it, and its own
        # fields in the answer are never older than this request.
        pk = history.parse_id(ping_id)
        device, exists = resolve_device_and_job(request.user, serial, pk)
        record = None
        if exists:
            # Read now that the job exists: a cached record of a deleted job is never served.
            record = jobcache.get(device, pk, exists=True)
            if record is not None and not access.can_ids(
                request.user, access.VIEW, PingJob, record["organization"], record["customer"]
            ):
                record = None  # not this caller's to see: the query below answers 404
            if record is None:
                record = self._read(request.user, device, pk)
        if record is None:
            raise ApiError(404, "Ping job not found", {"pingId": [f"No job {ping_id!r}."]})
        return Response(record_json(record, device, request.user))

    @staticmethod
    def _read(actor: Any, device: Device, pk: int) -> dict[str, Any] | None:
        # The device is already read: join only the customer, no ORDER BY for one pk, and the
        # replies in sequence without the join their default ordering (by job) would add.
        job = next(
            iter(
                access.visible(actor, PingJob)
                .filter(pk=pk, device=device)
                .select_related("customer")
                .prefetch_related(REPLIES_IN_ORDER)
                .order_by()[:1]
            ),
            None,
        )
        if job is None:
            return None
        job.device = device
        record = job_record(job)
        jobcache.put(device, job, record)
        return record


class LiveToolsPingDeviceJobView(LiveToolsJobView):
    @extend_schema(
        summary="Return a device-ping job (Meraki's getDeviceLiveToolsPingDevice)",
        operation_id="getDeviceLiveToolsPingDevice",
        responses={200: schema.PingJobSerializer, 404: MERAKI_ERROR},
        examples=[OpenApiExample("Complete", value=JOB_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, serial: str, ping_id: str) -> Response:
        return super().get(request, serial, ping_id)


@extend_schema(tags=["devices"])
class DeviceListView(MerakiDialectView):
    @extend_schema(
        summary="List the devices the caller may see",
        operation_id="listDevices",
        examples=[
            OpenApiExample(
                "A page",
                value={"items": [DEVICE_EXAMPLE], "total": 1, "page": 1, "perPage": 50},
                response_only=True,
            )
        ],
        parameters=[
            OpenApiParameter("customerId", str, description="Customer publicId or numeric id"),
            OpenApiParameter("kind", str, enum=DeviceKind.values),
            OpenApiParameter("search", str, description="Name, serial, ICCID or host"),
            OpenApiParameter("page", int),
            OpenApiParameter("perPage", int, description="At most 200"),
        ],
        # 404: a customerId the caller cannot see.
        responses={200: schema.DevicePageSerializer, 404: MERAKI_ERROR},
    )
    def get(self, request: Request) -> Response:
        devices = access.visible(request.user, Device).select_related("customer").order_by("pk")
        params = request.query_params
        if "customerId" in params:
            devices = devices.filter(customer=resolve_customer(request.user, params["customerId"]))
        if kind := params.get("kind"):
            if kind not in DeviceKind.values:
                raise ApiError(400, "Invalid query", {"kind": [f"One of {DeviceKind.values}."]})
            devices = devices.filter(kind=kind)
        if search := params.get("search", "").strip():
            devices = devices.matching(search)
        paginator = PagePagination()
        page = paginator.paginate_queryset(devices, request, self)
        return paginator.get_paginated_response([device_json(d) for d in page])


@extend_schema(tags=["devices"])
class DeviceDetailView(MerakiDialectView):
    @extend_schema(
        summary="Return a single device (Meraki's getDevice shape)",
        operation_id="getDevice",
        responses={200: schema.DeviceSerializer, 404: MERAKI_ERROR},
        examples=[OpenApiExample("A Meraki device", value=DEVICE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, serial: str) -> Response:
        return Response(device_json(resolve_device(request.user, serial)))


class PingPagination(PagePagination):
    """The portal's list shape, with costs that do not grow with the table: `total` counts at
    most COUNT_LIMIT rows (`totalCapped` says when there are more), page/perPage reach that far,
    and `nextBefore` is a keyset cursor for going further (`?before=<pingId>`)."""

    COUNT_LIMIT = 10_000

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        self.read_params(request)
        start = (self.page - 1) * self.per_page
        if start >= self.COUNT_LIMIT:
            raise ApiError(
                400,
                "Invalid query",
                {
                    "page": [
                        f"Pages reach back {self.COUNT_LIMIT:,} jobs; go further with "
                        "before=<nextBefore of the last page>."
                    ]
                },
            )
        counted = queryset[: self.COUNT_LIMIT + 1].count()
        self.capped = counted > self.COUNT_LIMIT
        self.total = min(counted, self.COUNT_LIMIT)
        rows = list(queryset[start : start + self.per_page])
        more = self.capped or start + len(rows) < self.total
        self.next_before = str(rows[-1].pk) if rows and more else None
        return rows

    def get_paginated_response(self, data: list[Any]) -> Response:
        response = super().get_paginated_response(data)
        response.data.update(totalCapped=self.capped, nextBefore=self.next_before)
        return response


def _moment(value: str, name: str, end: bool = False) -> datetime:
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime.combine(day, datetime.max.time() if end else datetime.min.time())
    if moment is None:
        raise ApiError(400, "Invalid query", {name: ["An ISO 8601 date or date-time."]})
    return moment if moment.tzinfo else make_aware(moment)


@extend_schema(tags=["pings"])
class PingListView(MerakiDialectView):
    @extend_schema(
        summary="List ping jobs the caller may see, newest first",
        operation_id="listPings",
        parameters=[
            OpenApiParameter("customerId", str),
            OpenApiParameter("device", str, description="Serial, ICCID or device id"),
            OpenApiParameter("vendor", str, enum=JobVendor.values),
            OpenApiParameter("status", str, enum=Status.values),
            OpenApiParameter("via", str, enum=Via.values),
            OpenApiParameter("launchedBy", str, description="Who launched (username or key)"),
            OpenApiParameter("createdAfter", OpenApiTypes.DATETIME),
            OpenApiParameter("createdBefore", OpenApiTypes.DATETIME),
            OpenApiParameter(
                "before",
                str,
                description="A pingId: only older jobs (use the previous page's nextBefore to "
                "page past the first 10,000).",
            ),
            OpenApiParameter("page", int),
            OpenApiParameter("perPage", int, description="At most 200"),
        ],
        # 404: a customerId or device the caller cannot see.
        responses={200: schema.PingJobPageSerializer, 404: MERAKI_ERROR},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "items": [JOB_EXAMPLE],
                    "total": 1,
                    "page": 1,
                    "perPage": 50,
                    "totalCapped": False,
                    "nextBefore": None,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        jobs = (
            access.visible(request.user, PingJob)
            .select_related("device", "customer")
            .prefetch_related("replies")
        )
        if "customerId" in params:
            jobs = jobs.filter(customer=resolve_customer(request.user, params["customerId"]))
        if device := params.get("device"):
            jobs = jobs.filter(device=resolve_device(request.user, device))
        for name, choices in (("vendor", JobVendor), ("status", Status), ("via", Via)):
            if value := params.get(name):
                if value not in choices.values:
                    raise ApiError(400, "Invalid query", {name: [f"One of {choices.values}."]})
                jobs = jobs.filter(**{name: value})
        if who := params.get("launchedBy", "").strip():
            jobs = jobs.filter(launched_by_label__icontains=who)
        if after := params.get("createdAfter"):
            jobs = jobs.filter(created_at__gte=_moment(after, "createdAfter"))
        if before := params.get("createdBefore"):
            jobs = jobs.filter(created_at__lte=_moment(before, "createdBefore", end=True))
        if raw := params.get("before"):
            if (cursor := history.parse_id(raw)) is None:
                raise ApiError(400, "Invalid query", {"before": ["A pingId."]})
            jobs = history.older_than(jobs, cursor)
        paginator = PingPagination()
        page = paginator.paginate_queryset(jobs.order_by(*history.NEWEST_FIRST), request, self)
        return paginator.get_paginated_response([job_json(j, request.user) for j in page])

    @extend_schema(
        summary="Launch a ping naming the device in the body (portal style)",
        operation_id="createPing",
        description="Like liveTools/ping (with `target`) or pingDevice (without), but the "
        "device is a body field, so an unknown device is a 400 field error.",
        request=PingLaunchSerializer,
        responses={201: schema.PingJobSerializer, 400: MERAKI_ERROR, 429: MERAKI_ERROR},
        examples=[
            OpenApiExample(
                "Request", value={"device": "Q2AB-CDEF-0001", "count": 3}, request_only=True
            ),
            OpenApiExample("Created", value=JOB_EXAMPLE, response_only=True, status_codes=["201"]),
            OpenApiExample(
                "Unknown device",
                value={
                    "errors": ["device: No device 'Q999-0000-0000' is visible."],
                    "statusCode": 400,
                    "statusMessage": "Bad Request",
                    "message": "Invalid request body",
                    "fieldErrors": {"device": ["No device 'Q999-0000-0000' is visible."]},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = _body(request)
        name = data.get("device")
        if not isinstance(name, str | int) or isinstance(name, bool) or str(name).strip() == "":
            raise ApiError(400, "Invalid request body", {"device": ["Required: a device."]})
        try:
            device = resolve_device(request.user, str(name))
        except ApiError:
            raise ApiError(
                400, "Invalid request body", {"device": [f"No device {str(name)!r} is visible."]}
            ) from None
        kind = "ping" if data.get("target") else "pingDevice"
        return _launch(request, device, data, kind, named=True)


@extend_schema(tags=["pings"])
class PingDetailView(MerakiDialectView):
    @extend_schema(
        summary="One ping job by its pingId, whatever its device",
        operation_id="getPing",
        responses={200: schema.PingJobSerializer, 404: MERAKI_ERROR},
        examples=[OpenApiExample("Complete", value=JOB_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, ping_id: str) -> Response:
        if (pk := history.parse_id(ping_id)) is None:
            raise ApiError(404, "Ping job not found")
        job = access.get_visible_or_404(
            request.user,
            PingJob.objects.select_related("device", "customer").prefetch_related("replies"),
            pk=pk,
        )
        return Response(job_json(job, request.user))
