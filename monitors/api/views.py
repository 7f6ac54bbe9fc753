"""`/api/icmp-monitors` exactly as the seed and ../shared/VENDOR-CONTRACTS.md describe it."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitors.api.serializers import check_json, clean_fields, monitor_json
from monitors.models import CheckResult, Monitor, MonitorStatus
from portal import access, audit
from portal.api.exceptions import ApiError
from portal.api.lookups import resolve_customer
from portal.api.pagination import PagePagination

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


class MonitorAPIView(APIView):
    """Only a login or key at the gate: each method applies the contract's own rules (403 for
    read-only writes, status-only PATCH for read-only members, 404 for what is not visible)."""

    permission_classes = [IsAuthenticated]


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
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        monitors = visible_monitors(request.user).order_by("id")
        params = request.query_params
        if org := params.get("organizationId"):
            if not org.isdigit():
                raise ApiError(400, "Invalid request body", {"organizationId": ["A number."]})
            monitors = monitors.filter(organization_id=int(org))
        if "customerId" in params:
            monitors = monitors.filter(
                customer=resolve_customer(request.user, params["customerId"])
            )
        if search := params.get("search", "").strip():
            monitors = monitors.filter(Q(name__icontains=search) | Q(hostname__icontains=search))
        if status := params.get("status"):
            monitors = monitors.filter(status=status)
        paginator = PagePagination()
        page = paginator.paginate_queryset(monitors, request, self)
        return paginator.get_paginated_response(
            [monitor_json(m, with_customer_name=True) for m in page]
        )

    @extend_schema(
        summary="Create an ICMP monitor",
        operation_id="createIcmpMonitor",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
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
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, public_id: str) -> Response:
        return Response(monitor_json(self._monitor(request, public_id)))

    @extend_schema(
        summary="Change an ICMP monitor (read-only users: status only)",
        operation_id="updateIcmpMonitor",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
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
        responses={200: OpenApiTypes.OBJECT},
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
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, public_id: str) -> Response:
        monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 200:
            raise ApiError(400, "Invalid request body", {"limit": ["A number from 1 to 200."]})
        results = (
            CheckResult.objects.filter(monitor=monitor)
            .select_related("location")
            .order_by("-due_at")[: int(raw)]
        )
        return Response({"data": [check_json(r) for r in results]})


@extend_schema(tags=["icmp-monitors"])
class AlertHistoryView(MonitorAPIView):
    @extend_schema(
        summary="Notifications sent for a monitor",
        operation_id="getIcmpMonitorAlertHistory",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, public_id: str) -> Response:
        access.get_visible_or_404(request.user, Monitor, public_id=public_id)
        # Alerting arrives with incidents and notifications; until then there are none.
        return Response({"alerts": [], "total": 0})
