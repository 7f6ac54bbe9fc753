"""Monitor pages: list (refreshing itself), detail with recent checks and a chart, forms."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_POST

from monitors.charts import smoke_svg
from monitors.forms import MonitorForm
from monitors.maintenance import in_maintenance, windows_for
from monitors.models import CheckResult, Health, Incident, Monitor, MonitorStatus
from monitors.series import RANGES, Range, UnknownRange, chart_series, parse_range
from monitors.uptime import uptimes
from portal import access, audit
from portal.access import CHANGE
from portal.htmx import render_form, render_page
from portal.models import Customer
from portal.validators import parse_uuid
from portal.views import audited_delete, paginate


def _customers(request: HttpRequest) -> Any:
    customers = access.visible(request.user, Customer)
    if request.organization is not None and not access.scope_of(request.user).is_customer_only:
        customers = customers.filter(organization=request.organization)
    return customers


def _writable_customers(request: HttpRequest) -> Any:
    scope = access.scope_of(request.user)
    organization = None if scope.is_customer_only else request.organization
    return access.customers_for(request.user, Monitor, organization)


@require_GET
@login_required
def monitor_list(request: HttpRequest) -> HttpResponse:
    monitors = access.visible(request.user, Monitor).select_related("customer")
    if request.organization is not None and not access.scope_of(request.user).is_customer_only:
        monitors = monitors.filter(organization=request.organization)
    params = request.GET
    if params.get("customer"):
        monitors = monitors.filter(customer__public_id=parse_uuid(params["customer"]))
    if params.get("health") in Health.values:
        monitors = monitors.filter(health=params["health"])
    if params.get("status") in MonitorStatus.values:
        monitors = monitors.filter(status=params["status"])
    if query := params.get("q", "").strip():
        monitors = monitors.filter(Q(name__icontains=query) | Q(hostname__icontains=query))
    counts = {h: 0 for h in Health.values}
    counts.update(monitors.order_by().values_list("health").annotate(n=Count("id")))
    page = paginate(request, monitors.order_by("customer__name", "name", "pk"))
    return render_page(
        request,
        "monitors/monitor_list.html",
        {
            "page": page,
            "uptime": uptimes([m.pk for m in page], windows=("24h", "30d")),
            "customers": _customers(request),
            "params": params,
            "counts": counts,
            "healths": Health.choices,
            "statuses": MonitorStatus.choices,
            "may_create": _writable_customers(request).exists(),
            "now": timezone.now(),
        },
        partial="monitors/partials/monitor_rows.html",
    )


@require_GET
@login_required
def monitor_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    monitor = access.get_visible_or_404(
        request.user, Monitor.objects.select_related("customer"), public_id=public_id
    )
    try:
        rng = parse_range(request.GET.get("range"))  # the range tabs without JavaScript
    except UnknownRange:
        rng = parse_range(None)
    context = _detail_context(request, monitor, rng)
    htmx = getattr(request, "htmx", None)
    context["live_poll"] = bool(htmx) and htmx.target == "monitor-live"
    return render_page(
        request,
        "monitors/monitor_detail.html",
        context,
        partial="monitors/partials/monitor_live.html",
    )


def _detail_context(request: HttpRequest, monitor: Monitor, rng: Range) -> dict[str, Any]:
    return {
        "monitor": monitor,
        "recent": CheckResult.objects.filter(monitor=monitor)
        .select_related("location")
        .order_by("-due_at")[:20],
        # Lazy: the live part, polled every 10 s, does not show the chart.
        "chart": SimpleLazyObject(
            lambda: {
                "range": rng,
                "ranges": list(RANGES.values()),
                "svg": smoke_svg(chart_series(monitor, rng)),
            }
        ),
        "may_change": access.can(request.user, CHANGE, monitor),
        "may_pause": monitor.status_changeable_by(request.user),
        # Lazy too: the range tabs swap in only the chart, which shows none of these.
        "uptime": SimpleLazyObject(lambda: uptimes([monitor.pk])[monitor.pk]),
        "incidents": Incident.objects.filter(monitor=monitor).order_by("-opened_at", "-id")[:5],
        "in_maintenance": SimpleLazyObject(lambda: _in_maintenance_now(monitor)),
    }


def _in_maintenance_now(monitor: Monitor) -> bool:
    now = timezone.now()
    return in_maintenance(monitor, now, windows_for([monitor], since=now)[monitor.pk])


def _chart_request(request: HttpRequest, public_id: str) -> tuple[Monitor, Range]:
    monitor = access.get_visible_or_404(
        request.user, Monitor.objects.select_related("customer"), public_id=public_id
    )
    return monitor, parse_range(request.GET.get("range"))


@require_GET
@login_required
def monitor_chart(request: HttpRequest, public_id: str) -> HttpResponse:
    """The chart section for one range: what the range tabs swap in, or the whole page."""
    try:
        monitor, rng = _chart_request(request, public_id)
    except UnknownRange as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    return render_page(
        request,
        "monitors/monitor_detail.html",
        _detail_context(request, monitor, rng),
        partial="monitors/partials/monitor_chart.html",
    )


@require_GET
@login_required
def monitor_chart_svg(request: HttpRequest, public_id: str) -> HttpResponse:
    """The chart as an image file (it carries its own style)."""
    try:
        monitor, rng = _chart_request(request, public_id)
    except UnknownRange as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    response = HttpResponse(
        smoke_svg(chart_series(monitor, rng), standalone=True),
        content_type="image/svg+xml; charset=utf-8",
    )
    response["Cache-Control"] = "private, max-age=60"
    # Opened on its own, an SVG is a document: it needs its inline <style> and nothing else.
    response["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    )
    return response


@login_required
def monitor_create(request: HttpRequest) -> HttpResponse:
    customers = _writable_customers(request)
    if not customers.exists():
        raise PermissionDenied("You may not add monitors.")
    form = MonitorForm(request.POST or None, customers=customers)
    if request.method == "POST" and form.is_valid():
        customer = form.cleaned_data["customer"]
        monitor = Monitor(customer=customer, organization=customer.organization, **form.attrs)
        access.require(request.user, CHANGE, monitor)
        if monitor.status != MonitorStatus.DISABLED:
            monitor.next_check_at = timezone.now()
        with transaction.atomic():
            monitor.save()
            audit.record(
                request.user, "monitor.create", monitor, request=request, hostname=monitor.hostname
            )
        messages.success(request, f"Monitor “{monitor.name}” created; its first check runs now.")
        return redirect("monitor_detail", public_id=monitor.public_id)
    return render_form(request, "monitors/monitor_form.html", {"form": form, "monitor": None})


@login_required
def monitor_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
    access.require(request.user, CHANGE, monitor)
    customers = _writable_customers(request).filter(organization=monitor.organization)
    form = MonitorForm(request.POST or None, customers=customers, instance=monitor)
    if request.method == "POST" and form.is_valid():
        was_checked = monitor.status != MonitorStatus.DISABLED
        for name, value in form.attrs.items():
            setattr(monitor, name, value)
        monitor.customer = form.cleaned_data["customer"]
        if not was_checked and monitor.status != MonitorStatus.DISABLED:
            monitor.next_check_at = timezone.now()
        with transaction.atomic():
            monitor.save()
            audit.record(request.user, "monitor.update", monitor, request=request)
        messages.success(request, "Monitor saved.")
        return redirect("monitor_detail", public_id=monitor.public_id)
    return render_form(request, "monitors/monitor_form.html", {"form": form, "monitor": monitor})


@require_POST
@login_required
def monitor_pause(request: HttpRequest, public_id: str) -> HttpResponse:
    """Pause or resume. Read-only members may do this too (the API lets them PATCH status)."""
    monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
    if not monitor.status_changeable_by(request.user):
        raise PermissionDenied("You may not pause this monitor.")
    resume = monitor.status == MonitorStatus.DISABLED
    monitor.status = MonitorStatus.ACTIVE if resume else MonitorStatus.DISABLED
    if resume:
        monitor.next_check_at = timezone.now()
    with transaction.atomic():
        monitor.save(update_fields=["status", "next_check_at", "updated_at"])
        audit.record(
            request.user, "monitor.resume" if resume else "monitor.pause", monitor, request=request
        )
    messages.success(request, "Monitor resumed." if resume else "Monitor paused.")
    return redirect("monitor_detail", public_id=monitor.public_id)


@require_POST
@login_required
def monitor_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    monitor = access.get_visible_or_404(request.user, Monitor, public_id=public_id)
    access.require(request.user, CHANGE, monitor)
    return audited_delete(
        request, monitor, done="monitor_list", kept=redirect("monitor_detail", public_id=public_id)
    )
