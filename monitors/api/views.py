"""`/api/icmp-monitors` exactly as the seed and ../shared/VENDOR-CONTRACTS.md describe it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from types import SimpleNamespace
from typing import Any

from django.db import connection, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitors.api import fastload, schema
from monitors.api.serializers import (
    alert_json,
    check_json,
    clean_fields,
    incident_json,
    monitor_json,
    uptime_json,
)
from monitors.models import (
    CheckResult,
    Incident,
    Monitor,
    MonitorStatus,
    Notification,
    NotificationAttempt,
)
from monitors.series import RANGES, UnknownRange, chart_series, parse_range, series_json
from monitors.uptime import uptimes
from portal import access, audit, rowcache, sqlcache
from portal.api.exceptions import ApiError
from portal.api.lookups import resolve_customer
from portal.api.pagination import PagePagination
from portal.api.renderers import RenderedRow, render_row
from portal.api.schema import ERROR, SUCCESS
from portal.validators import is_digits

SEED_EXAMPLE = {
    "customerId": "6764e84f-f02a-43e6-a46d-cecaec556723",
    "name": "Ping Gateway",
    "hostname": "127.0.0.1",
    "status": "active",
    "checkInterval": 5,
    "timeoutSeconds": 10,
    "icmpConfig": {"packetSize": 56, "count": 4},
}


def body_of(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ApiError(400, "Invalid request body", {"nonFieldErrors": ["Send a JSON object."]})
    return request.data


def raise_field_errors(errors: dict[str, list[str]], bad_host: bool) -> None:
    if errors:
        raise ApiError(
            400,
            "Invalid hostname" if bad_host and len(errors) == 1 else "Invalid request body",
            errors,
        )


def may_write(actor: Any) -> None:
    if not access.may_write_anything(actor):
        raise ApiError(403, "Forbidden: your role or API key is read-only")


def limit_param(request: Request, default: int = 50, most: int = 200) -> int:
    raw = request.query_params.get("limit", str(default))
    if not is_digits(raw) or not 1 <= int(raw) <= most:
        raise ApiError(400, "Invalid request body", {"limit": [f"A number from 1 to {most}."]})
    return int(raw)


class MonitorAPIView(APIView):
    """Only a login or key at the gate: each method applies the contract's own rules (403 for
    read-only writes, status-only PATCH for read-only members, 404 for what is not visible)."""

    permission_classes = [IsAuthenticated]


# What the list answers with: rows read as values, not model instances, which took most of a
# list request's time (bench/api_load.py); the scheduler's own columns are left out.
LIST_COLUMNS = [
    f.attname
    for f in Monitor._meta.concrete_fields
    if f.attname not in {"next_check_at", "failures_in_a_row", "last_error"}
] + ["customer_name"]
# Read by orjson, and the timestamps as the API's text (monitors.api.fastload).
LIST_JSON_COLUMNS = [
    f.attname for f in Monitor._meta.concrete_fields if f.get_internal_type() == "JSONField"
]


# On PostgreSQL the list keeps each row's JSON per process, by the row's version (see
# portal.rowcache) and its customer's name: a page whose rows have not changed is read as ids
# and versions only. The version's system columns have no Django expression: constant SQL.
ROW_VERSION = RawSQL(  # noqa: S611
    f'"{Monitor._meta.db_table}".xmin::text || \'.\' || "{Monitor._meta.db_table}".cmin::text',
    (),
    output_field=CharField(),
)
WRITTEN = rowcache.RowCache()
# The ids of a page's rows not written yet: one compiled query for any number of them.
MISSED = sqlcache.Late("missed ids")
Monitor._meta.pk.register_lookup(sqlcache.AnyOf)


def list_item(row: dict[str, Any]) -> dict[str, Any]:
    """A list row (LIST_COLUMNS as values) as the API answers it."""
    return monitor_json(
        SimpleNamespace(pk=row["id"], **row), customer_name=row.pop("customer_name")
    )


def items_by_version(
    paginator: PagePagination,
    request: Request,
    monitors: Callable[[], QuerySet[Monitor]],
    matching: Callable[[], QuerySet[Monitor]],
    key: tuple[Hashable, ...],
) -> list[Any]:
    """The page's items on PostgreSQL: the page read as ids, versions and customer names, the
    rows this process has written at that version taken as written (WRITTEN), the others
    read whole by one query and written now. `monitors()` is the page's queryset, `matching()`
    the same without the customer's name (counted), `key` what determines both."""
    page = paginator.paginate_lists(
        lambda: monitors().annotate(_version=ROW_VERSION),
        request,
        ["id", "_version", "customer_name"],
        cache_key=("versions", *key),
        counted=matching,
    )
    written = WRITTEN.get_many([(pk, (version, name)) for pk, version, name, _ in page])
    items = {row[0]: item for row, item in zip(page, written, strict=True) if item is not None}
    if missed := [row[0] for row in page if row[0] not in items]:
        entry = sqlcache.compiled(
            ("rows", *key),
            lambda: (
                monitors()
                .filter(id__any_of=MISSED)
                .order_by()
                .annotate(_version=ROW_VERSION)
                .values(*LIST_COLUMNS, "_version")
            ),
        )
        options = fastload.list_options(connection, LIST_JSON_COLUMNS)
        for values in sqlcache.execute(entry, late={MISSED: missed}, **options):
            row = dict(zip(entry.names, values, strict=True))
            version = (row.pop("_version"), row["customer_name"])
            item = items[row["id"]] = render_row(list_item(row))
            if isinstance(item, RenderedRow):
                WRITTEN.put(row["id"], version, item)
    # A row deleted between the two reads is left out.
    return [items[row[0]] for row in page if row[0] in items]


def visible_monitors(actor: Any) -> QuerySet[Monitor]:
    return access.visible(actor, Monitor).select_related("customer")


@extend_schema(tags=["icmp-monitors"])
class MonitorListView(MonitorAPIView):
    @extend_schema(
        summary="List ICMP monitors",
        operation_id="listIcmpMonitors",
        parameters=[
            OpenApiParameter("organizationId", int),
            OpenApiParameter("customerId", str, description="Numeric id or publicId"),
            OpenApiParameter("search", str),
            OpenApiParameter("status", str),
            OpenApiParameter("page", int),
            OpenApiParameter("perPage", int, description="At most 200"),
        ],
        # 404: a customerId the caller cannot see.
        responses={200: schema.IcmpMonitorPageSerializer, 404: ERROR},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        organization_id = None
        if org := params.get("organizationId"):
            if not is_digits(org):
                raise ApiError(400, "Invalid request body", {"organizationId": ["A number."]})
            organization_id = int(org)
        customer = None
        if "customerId" in params:
            customer = resolve_customer(request.user, params["customerId"])
        search = params.get("search", "").strip()
        status = params.get("status") or ""

        def matching() -> QuerySet[Monitor]:
            found = access.visible(request.user, Monitor).order_by("id")
            if organization_id is not None:
                found = found.filter(organization_id=organization_id)
            if customer is not None:
                found = found.filter(customer=customer)
            if search:
                found = found.filter(Q(name__icontains=search) | Q(hostname__icontains=search))
            if status:
                found = found.filter(status=status)
            return found

        def monitors() -> QuerySet[Monitor]:
            return matching().annotate(customer_name=F("customer__name"))

        paginator = PagePagination()
        # Everything monitors() depends on is in the key: its SQL is compiled once per key.
        key = (
            "monitors.api.list",
            access.scope_of(request.user),
            organization_id,
            customer.pk if customer is not None else None,
            search,
            status,
        )
        if connection.vendor != "postgresql":
            options = fastload.list_options(connection, LIST_JSON_COLUMNS)
            rows = paginator.paginate_values(
                monitors, request, LIST_COLUMNS, cache_key=key, **options
            )
            return paginator.get_paginated_response([list_item(row) for row in rows])
        return paginator.get_paginated_response(
            items_by_version(paginator, request, monitors, matching, key)
        )

    @extend_schema(
        summary="Create an ICMP monitor",
        operation_id="createIcmpMonitor",
        request=schema.IcmpMonitorWriteSerializer,
        responses={201: schema.IcmpMonitorSerializer, 404: ERROR},  # 404: "Customer not found"
        examples=[OpenApiExample("The seed's example", value=SEED_EXAMPLE)],
    )
    def post(self, request: Request) -> Response:
        may_write(request.user)
        data = body_of(request)
        if "customerId" not in data:
            raise ApiError(
                400, "Invalid Customer identifier", {"customerId": ["This field is required."]}
            )
        customer = resolve_customer(request.user, data["customerId"])
        attrs, errors, bad_host = clean_fields(data, partial=False)
        raise_field_errors(errors, bad_host)
        monitor = Monitor(customer=customer, organization=customer.organization, **attrs)
        if not access.can(request.user, access.CHANGE, monitor):
            raise ApiError(403, "Forbidden: you may not add monitors for this customer")
        if monitor.status != MonitorStatus.DISABLED:
            monitor.next_check_at = timezone.now()
        with transaction.atomic():
            monitor.save()
            audit.record(
                request.user, "monitor.create", monitor, request=request, hostname=monitor.hostname
            )
        return Response(monitor_json(monitor), status=201)


@extend_schema(tags=["icmp-monitors"])
class MonitorDetailView(MonitorAPIView):
    def _monitor(self, request: Request, public_id: str) -> Monitor:
        return access.get_visible_or_404(
            request.user, visible_monitors(request.user), public_id=public_id
        )

    @extend_schema(
        summary="One ICMP monitor",
        operation_id="getIcmpMonitor",
        responses={200: schema.IcmpMonitorSerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        return Response(monitor_json(self._monitor(request, public_id)))

    @extend_schema(
        summary="Change an ICMP monitor (read-only users: status only)",
        operation_id="updateIcmpMonitor",
        request=schema.IcmpMonitorWriteSerializer,
        responses={200: schema.IcmpMonitorSerializer},
    )
    def patch(self, request: Request, public_id: str) -> Response:
        monitor = self._monitor(request, public_id)
        data = body_of(request)
        if not access.can(request.user, access.CHANGE, monitor):
            status_only = monitor.status_changeable_by(request.user)
            if not (status_only and set(data) <= {"status"}):
                raise ApiError(
                    403,
                    "Forbidden: read-only users may change only the status"
                    if status_only
                    else "Forbidden",
                )
        if "customerId" in data:
            customer = resolve_customer(request.user, data["customerId"])
            if customer.organization_id != monitor.organization_id:
                raise ApiError(
                    400,
                    "Invalid request body",
                    {"customerId": ["A monitor stays in its organization."]},
                )
        else:
            customer = None
        attrs, errors, bad_host = clean_fields(data, partial=True)
        raise_field_errors(errors, bad_host)
        was_checked = monitor.status != MonitorStatus.DISABLED
        for name, value in attrs.items():
            setattr(monitor, name, value)
        if customer is not None:
            monitor.customer = customer
            if not access.can(request.user, access.CHANGE, monitor):
                raise ApiError(403, "Forbidden: you may not move monitors to this customer")
        if not was_checked and monitor.status != MonitorStatus.DISABLED:
            monitor.next_check_at = timezone.now()
        with transaction.atomic():
            monitor.save()
            audit.record(
                request.user, "monitor.update", monitor, request=request, fields=sorted(data)
            )
        return Response(monitor_json(monitor))

    @extend_schema(
        summary="Delete an ICMP monitor and its history",
        operation_id="deleteIcmpMonitor",
        responses={200: SUCCESS},
    )
    def delete(self, request: Request, public_id: str) -> Response:
        may_write(request.user)
        monitor = self._monitor(request, public_id)
        if not access.can(request.user, access.CHANGE, monitor):
            raise ApiError(403, "Forbidden")
        with transaction.atomic():
            audit.record(request.user, "monitor.delete", monitor, request=request)
            monitor.delete()
        return Response({"success": True})


@extend_schema(tags=["icmp-monitors"])
class CheckHistoryView(MonitorAPIView):
    @extend_schema(
        summary="A monitor's recent checks, newest first",
        operation_id="getIcmpMonitorCheckHistory",
        parameters=[OpenApiParameter("limit", int, description="1 to 200, default 50")],
        responses={200: schema.CheckHistorySerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
        results = (
            CheckResult.objects.filter(monitor=monitor)
            .select_related("location")
            .order_by("-due_at")[: limit_param(request)]
        )
        return Response({"data": [check_json(r) for r in results]})


ALERT_EXAMPLE = {
    "alerts": [
        {
            "id": 42,
            "attempt": 2,
            "incidentId": 7,
            "type": "opened",
            "status": "sent",
            "channelName": "webhook",
            "sentAt": "2026-12-01T09:30:02.512Z",
            "errorMessage": None,
        },
        {
            "id": 42,
            "attempt": 1,
            "incidentId": 7,
            "type": "opened",
            "status": "failed",
            "channelName": "webhook",
            "sentAt": "2026-12-01T09:29:32.104Z",
            "errorMessage": "The receiver answered HTTP 500",
        },
        {
            "id": 41,
            "attempt": None,
            "incidentId": 6,
            "type": "resolved",
            "status": "suppressed",
            "channelName": "email",
            "sentAt": None,
            "errorMessage": "In a maintenance window: not sent",
        },
    ],
    "total": 3,
}


@extend_schema(tags=["icmp-monitors"])
class AlertHistoryView(MonitorAPIView):
    """Every delivery attempt of the monitor's notifications ("sent" or "failed", `sentAt` the
    attempt's time), and the notifications not attempted yet ("pending", or "suppressed" during
    maintenance, `sentAt` null), newest first. `id` is the notification's id and `attempt` the
    attempt's number (null when there is none), so (id, attempt) names an entry for good and
    all attempts of one message share its id. `type` is the event (opened, escalated,
    reminder, resolved); `total` counts every entry, `limit` bounds the list."""

    @extend_schema(
        summary="Notifications sent for a monitor, every attempt, newest first",
        operation_id="getIcmpMonitorAlertHistory",
        parameters=[OpenApiParameter("limit", int, description="1 to 200, default 50")],
        responses={200: schema.AlertHistorySerializer},
        examples=[OpenApiExample("Two attempts and a suppressed email", value=ALERT_EXAMPLE)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
        limit = limit_param(request)
        attempts = NotificationAttempt.objects.filter(monitor=monitor)
        unattempted = Notification.objects.filter(monitor=monitor).exclude(
            Exists(NotificationAttempt.objects.filter(notification=OuterRef("pk")))
        )
        # The newest `limit` of each, merged: never more than twice `limit` rows read.
        rows = [
            (a.at, alert_json(a.notification, a))
            for a in attempts.select_related("notification").order_by("-at", "-id")[:limit]
        ]
        rows += [
            (n.created_at, alert_json(n))
            for n in unattempted.order_by("-created_at", "-id")[:limit]
        ]
        rows.sort(key=lambda row: (row[0], row[1]["id"], row[1]["attempt"] or 0), reverse=True)
        return Response(
            {
                "alerts": [entry for _, entry in rows[:limit]],
                "total": attempts.count() + unattempted.count(),
            }
        )


CHART_EXAMPLE = {
    "range": "24h",
    "start": "2026-12-01T09:30:00Z",
    "end": "2026-12-02T09:30:00Z",
    "points": [
        {
            "start": "2026-12-01T09:30:00Z",
            "end": "2026-12-01T09:31:00Z",
            "checks": 2,
            "sent": 6,
            "received": 5,
            "lossPercent": 16.67,
            "rttMin": 11.2,
            "rttP50": 12.4,
            "rttAvg": 12.9,
            "rttMax": 15.8,
            "downSeconds": 0.0,
            "maintenanceSeconds": 0.0,
        }
    ],
    "incidents": [
        {"openedAt": "2026-12-01T21:05:00Z", "closedAt": "2026-12-01T21:40:00Z", "severity": "down"}
    ],
    "maintenance": [{"start": "2026-12-02T02:00:00Z", "end": "2026-12-02T03:00:00Z"}],
}


@extend_schema(tags=["icmp-monitors"])
class ChartView(MonitorAPIView):
    """A monitor's latency over the last hour (one point per check), 24 hours (per minute),
    7 or 30 days (per hour) or a year (per day): RTT min, median, average and max, loss, and
    the seconds down and in maintenance; the incidents and maintenance windows in the range.
    A range never returns more points than its periods (1,500 checks for the last hour)."""

    @extend_schema(
        summary="A monitor's latency chart data over 1h, 24h, 7d, 30d or 1y",
        operation_id="getIcmpMonitorChart",
        parameters=[OpenApiParameter("range", str, enum=list(RANGES), description="Default 24h")],
        responses={200: schema.ChartSerializer, 400: ERROR},
        examples=[
            OpenApiExample("24 hours", value=CHART_EXAMPLE, response_only=True),
            OpenApiExample(
                "Unknown range",
                value={
                    "statusCode": 400,
                    "statusMessage": "Bad Request",
                    "message": "Invalid request body",
                    "errors": {"range": ["Unknown range '2d': use one of 1h, 24h, 7d, 30d, 1y."]},
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def get(self, request: Request, public_id: str) -> Response:
        monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
        try:
            rng = parse_range(request.query_params.get("range"))
        except UnknownRange as exc:
            raise ApiError(400, "Invalid request body", {"range": [str(exc)]}) from exc
        return Response(series_json(chart_series(monitor, rng)))


INCIDENT_EXAMPLE = {
    "incidents": [
        {
            "id": 7,
            "severity": "down",
            "state": "closed",
            "startedAt": "2026-12-01T21:03:00Z",
            "openedAt": "2026-12-01T21:05:00Z",
            "recoveredAt": "2026-12-01T21:40:00Z",
            "closedAt": "2026-12-01T21:40:00Z",
            "durationSeconds": 2100,
            "failedChecks": 35,
            "flaps": 1,
            "lastError": "No reply to 3 echo requests",
            "closeReason": None,
        }
    ],
    "total": 1,
}


@extend_schema(tags=["icmp-monitors"])
class IncidentListView(MonitorAPIView):
    """A monitor's incidents, newest first: opened when it went down or degraded (after its
    retries), closed when it stayed up through the quiet period; flaps inside it are folded."""

    @extend_schema(
        summary="A monitor's incidents, newest first",
        operation_id="getIcmpMonitorIncidents",
        parameters=[OpenApiParameter("limit", int, description="1 to 200, default 50")],
        responses={200: schema.IncidentListSerializer},
        examples=[OpenApiExample("A closed outage", value=INCIDENT_EXAMPLE)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
        incidents = Incident.objects.filter(monitor=monitor)
        newest = incidents.order_by("-opened_at", "-id")[: limit_param(request)]
        return Response(
            {"incidents": [incident_json(i) for i in newest], "total": incidents.count()}
        )


UPTIME_EXAMPLE = {
    "24h": {
        "uptimePercent": 99.931,
        "upSeconds": 86100.0,
        "degradedSeconds": 180.0,
        "downSeconds": 60.0,
        "maintenanceSeconds": 0.0,
    },
    "7d": {
        "uptimePercent": None,
        "upSeconds": 0.0,
        "degradedSeconds": 0.0,
        "downSeconds": 0.0,
        "maintenanceSeconds": 0.0,
    },
}


@extend_schema(tags=["icmp-monitors"])
class UptimeView(MonitorAPIView):
    """Uptime over the last 24 h, 7 d, 30 d and 90 d: time up or degraded over time up,
    degraded or down. Maintenance is reported apart and counted in neither; checks within the
    retries count as up; null when nothing was checked."""

    @extend_schema(
        summary="A monitor's uptime figures",
        operation_id="getIcmpMonitorUptime",
        responses={200: schema.UptimeSerializer},
        examples=[OpenApiExample("Figures (7 d not checked yet)", value=UPTIME_EXAMPLE)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
        figures = uptimes([monitor.pk])[monitor.pk]
        return Response({name: uptime_json(u) for name, u in figures.items()})
