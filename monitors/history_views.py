"""Monitor history pages: incidents, maintenance windows and CSV exports of checks and
incidents, for one monitor or a whole customer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from monitors.history_forms import MaintenanceWindowForm, RangeForm
from monitors.models import (
    CheckResult,
    Health,
    Incident,
    MaintenanceWindow,
    Monitor,
    Notification,
)
from portal import access, audit, csvexport
from portal.access import CHANGE
from portal.htmx import render_form, render_page
from portal.models import Customer
from portal.views import paginate

CAUSE_LIMIT = 200  # checks shown on an incident's page


def _monitor(request: HttpRequest, public_id: str) -> Monitor:
    return access.get_visible_or_404(
        request.user, Monitor.objects.select_related("customer"), public_id=public_id
    )


def _customer(request: HttpRequest, public_id: str) -> Customer:
    return access.get_visible_or_404(request.user, Customer, public_id=public_id)


# --- incidents ----------------------------------------------------------------------------------


@require_GET
@login_required
def incident_list(request: HttpRequest, public_id: str) -> HttpResponse:
    monitor = _monitor(request, public_id)
    incidents = Incident.objects.filter(monitor=monitor).order_by("-opened_at", "-id")
    return render_page(
        request,
        "monitors/incident_list.html",
        {"monitor": monitor, "page": paginate(request, incidents), "now": timezone.now()},
    )


@require_GET
@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = access.get_visible_or_404(
        request.user, Incident.objects.select_related("monitor", "monitor__customer"), pk=pk
    )
    until = incident.closed_at or timezone.now()
    # The checks that caused it: the failing ones from the first failure to the close
    # (bounded; raw checks older than the retention are gone, the incident stays).
    causes = (
        CheckResult.objects.filter(
            monitor_id=incident.monitor_id,
            due_at__gte=incident.started_at,
            due_at__lte=until,
        )
        .exclude(status=Health.UP)
        .select_related("location")
        .order_by("due_at")[:CAUSE_LIMIT]
    )
    notifications = (
        Notification.objects.filter(incident=incident)
        .prefetch_related("attempt_log")
        .order_by("created_at", "id")
    )
    return render_page(
        request,
        "monitors/incident_detail.html",
        {
            # Customer users see what was sent, not where to or why it failed.
            "staff_view": not access.scope_of(request.user).is_customer_only,
            "quiet": timedelta(seconds=settings.MONITOR_FLAP_QUIET_SECONDS),
            "incident": incident,
            "monitor": incident.monitor,
            "causes": list(causes),
            "cause_limit": CAUSE_LIMIT,
            "notifications": notifications,
        },
    )


# --- maintenance windows ------------------------------------------------------------------------


def _maintenance_page(
    request: HttpRequest, *, customer: Customer, monitor: Monitor | None
) -> HttpResponse:
    probe = MaintenanceWindow(customer=customer, organization_id=customer.organization_id)
    may_change = access.can(request.user, CHANGE, probe)
    form = MaintenanceWindowForm(request.POST or None)
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied("You may not plan maintenance here.")
        if form.is_valid():
            window = form.window(customer=customer, monitor=monitor, created_by=request.user)
            with transaction.atomic():
                window.save()
                audit.record(
                    request.user,
                    "maintenancewindow.create",
                    window,
                    request=request,
                    monitor=str(monitor.public_id) if monitor else None,
                )
            messages.success(request, "Maintenance window planned.")
            return redirect(request.path)
    windows = MaintenanceWindow.objects.filter(customer=customer).select_related(
        "monitor", "created_by"
    )
    if monitor is not None:
        windows = windows.filter(monitor__isnull=True) | windows.filter(monitor=monitor)
    now = timezone.now()
    # Weekly routines first, then one-off windows by when they start; past ones last.
    listed = sorted(
        windows.order_by("-created_at")[:100],
        key=lambda w: (
            not w.is_weekly,
            bool(w.ends_at and w.ends_at < now),
            w.starts_at or now,
        ),
    )
    context = {
        "customer": customer,
        "monitor": monitor,
        "form": form,
        "windows": listed,
        "staff_names": not access.scope_of(request.user).is_customer_only,
        "may_change": may_change,
        "now": now,
    }
    return render_form(request, "monitors/maintenance.html", context)


@login_required
def monitor_maintenance(request: HttpRequest, public_id: str) -> HttpResponse:
    monitor = _monitor(request, public_id)
    return _maintenance_page(request, customer=monitor.customer, monitor=monitor)


@login_required
def customer_maintenance(request: HttpRequest, public_id: str) -> HttpResponse:
    return _maintenance_page(request, customer=_customer(request, public_id), monitor=None)


@require_POST
@login_required
def maintenance_delete(request: HttpRequest, pk: int) -> HttpResponse:
    window = access.get_visible_or_404(
        request.user, MaintenanceWindow.objects.select_related("customer", "monitor"), pk=pk
    )
    access.require(request.user, CHANGE, window)
    with transaction.atomic():
        audit.record(request.user, "maintenancewindow.delete", window, request=request)
        window.delete()
    messages.success(request, "Maintenance window removed.")
    if window.monitor is not None:
        return redirect("monitor_maintenance", public_id=window.monitor.public_id)
    return redirect("customer_maintenance", public_id=window.customer.public_id)


# --- exports ------------------------------------------------------------------------------------

CHECK_COLUMNS = [
    "monitor",
    "due_at",
    "sent_at",
    "location",
    "status",
    "retrying",
    "maintenance",
    "sent",
    "received",
    "loss_percent",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_stddev_ms",
    "rtts_ms",
    "missed_slots",
    "error",
]
INCIDENT_COLUMNS = [
    "monitor",
    "severity",
    "state",
    "started_at",
    "opened_at",
    "recovered_at",
    "closed_at",
    "duration_seconds",
    "failed_checks",
    "flaps",
    "last_error",
    "close_reason",
]


def _range(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    form = RangeForm(request.GET)
    if not form.is_valid():
        text = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(
            f"Invalid range: {text}", status=400, content_type="text/plain; charset=utf-8"
        )
    return form.cleaned_data


def check_rows(monitors: list[Monitor], since: Any, until: Any) -> Iterator[list[Any]]:
    """One monitor after another, each oldest first on its (monitor, due_at) index, in chunks:
    memory stays flat however long the range."""
    yield CHECK_COLUMNS
    for monitor in monitors:
        results = (
            CheckResult.objects.filter(monitor=monitor, due_at__gte=since, due_at__lt=until)
            .select_related("location")
            .order_by("due_at")
        )
        for r in results.iterator(chunk_size=2000):
            rtts = " ".join("lost" if v is None else f"{v:g}" for v in r.rtts or [])
            yield [
                csvexport.cell(v)
                for v in (
                    monitor.name,
                    r.due_at,
                    r.sent_at,
                    r.location.code,
                    r.status,
                    r.retrying,
                    r.maintenance,
                    r.sent,
                    r.received,
                    r.loss_percent,
                    r.rtt_min,
                    r.rtt_avg,
                    r.rtt_max,
                    r.rtt_stddev,
                    rtts,
                    r.missed_slots,
                    r.error,
                )
            ]


def incident_rows(monitors: list[Monitor], since: Any, until: Any) -> Iterator[list[Any]]:
    """Incidents that overlap the range (opened before its end, not closed before its start)."""
    yield INCIDENT_COLUMNS
    names = {m.pk: m.name for m in monitors}
    incidents = (
        Incident.objects.filter(monitor_id__in=names, opened_at__lt=until)
        .exclude(closed_at__lt=since)
        .order_by("opened_at", "id")
    )
    now = timezone.now()
    for i in incidents.iterator(chunk_size=2000):
        yield [
            csvexport.cell(v)
            for v in (
                names[i.monitor_id],
                i.severity,
                i.state,
                i.started_at,
                i.opened_at,
                i.recovered_at,
                i.closed_at,
                int(i.duration(now).total_seconds()),
                i.failed_checks,
                i.flaps,
                i.last_error,
                i.close_reason,
            )
        ]


def _export(request: HttpRequest, monitors: list[Monitor], what: str, label: str) -> HttpResponse:
    if what not in ("checks", "incidents"):
        raise Http404("Exports are checks.csv and incidents.csv.")
    span = _range(request)
    if isinstance(span, HttpResponse):
        return span
    rows = check_rows if what == "checks" else incident_rows
    name = f"{label}-{what}-{span['start']:%Y%m%d}-{span['end']:%Y%m%d}"
    return csvexport.response(rows(monitors, span["since"], span["until"]), name)


@require_GET
@login_required
def monitor_export(request: HttpRequest, public_id: str, what: str) -> HttpResponse:
    monitor = _monitor(request, public_id)
    return _export(request, [monitor], what, "monitor")


@require_GET
@login_required
def customer_export(request: HttpRequest, public_id: str, what: str) -> HttpResponse:
    customer = _customer(request, public_id)
    monitors = list(
        access.visible(request.user, Monitor).filter(customer=customer).order_by("name", "pk")
    )
    return _export(request, monitors, what, "customer")
