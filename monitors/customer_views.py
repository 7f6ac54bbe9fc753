"""The customer-facing side of monitor history: a customer's monitors page (customer users land
there), its public status page, and its monthly availability report.

The status page is for the outside world: no login, and nothing on it that names a host, an
address, an id, the organization or its people — only monitor names, states and figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST

from monitors import availability, uptime
from monitors.availability import FIGURES, STATE_LABELS, Day
from monitors.customer_forms import StatusPageForm
from monitors.models import Incident, IncidentState, Monitor, MonitorStatus, StatusPage
from monitors.models import StatusPageMode as Mode
from monitors.uptime import Uptime
from portal import access, audit
from portal.access import CHANGE
from portal.htmx import render_form, render_page
from portal.models import Customer

RECENT_INCIDENTS = 20
STATUS_INCIDENT_DAYS = 14


@dataclass
class Row:
    """One monitor as a customer page shows it."""

    monitor: Monitor
    state: str
    figures: list[tuple[str, Uptime]]
    days: list[Day] | None = None

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)


def _rows(monitors: list[Monitor], now: datetime, *, bars: bool = False) -> list[Row]:
    ids = [m.pk for m in monitors]
    states = availability.states(monitors, now)
    figures = uptime.uptimes(ids, now)
    days = availability.daily(ids, now) if bars else {}
    return [
        Row(
            monitor=m,
            state=states[m.pk],
            figures=[(label, figures[m.pk][name]) for name, label in FIGURES],
            days=days.get(m.pk),
        )
        for m in monitors
    ]


# Troubled monitors first, then the rest by name.
_STATE_ORDER = {"down": 0, "degraded": 1, "maintenance": 2, "unknown": 3, "up": 4, "paused": 5}


@require_GET
@login_required
def customer_monitors(request: HttpRequest, public_id: str) -> HttpResponse:
    """Every monitor of one customer with its state and uptime, open incidents first; refreshes
    itself. Read-only for everyone: changes happen on the monitors' own pages."""
    customer = access.get_visible_or_404(request.user, Customer, public_id=public_id)
    now = timezone.now()
    monitors = list(
        access.visible(request.user, Monitor.objects.filter(customer=customer)).order_by(
            "name", "pk"
        )
    )
    rows = sorted(_rows(monitors, now), key=lambda r: _STATE_ORDER.get(r.state, 3))
    incidents = Incident.objects.filter(monitor__in=[m.pk for m in monitors]).select_related(
        "monitor"
    )
    context = {
        "customer": customer,
        "rows": rows,
        "verdict": availability.overall(r.state for r in rows),
        "open_incidents": list(incidents.exclude(state=IncidentState.CLOSED)),
        "recent_incidents": list(
            incidents.filter(state=IncidentState.CLOSED).order_by("-opened_at", "-pk")[
                :RECENT_INCIDENTS
            ]
        ),
        "recent_limit": RECENT_INCIDENTS,
        "figure_labels": [label for _, label in FIGURES],
        "now": now,
    }
    return render_page(
        request,
        "monitors/customer_monitors.html",
        context,
        partial="monitors/partials/customer_monitors_live.html",
    )


# --- the status page ------------------------------------------------------------------------


@require_POST
@login_required
def status_page_settings(request: HttpRequest, public_id: str) -> HttpResponse:
    """Turn a customer's status page on or off, rename it, or issue a new secret link (the old
    one stops working). Organization admins only."""
    customer = access.get_visible_or_404(request.user, Customer, public_id=public_id)
    page = StatusPage.objects.filter(customer=customer).first() or StatusPage(
        customer=customer, organization_id=customer.organization_id
    )
    access.require(request.user, CHANGE, page)
    done = redirect(f"{customer_url(customer)}#status-page")
    if request.POST.get("new_token"):
        if page.pk is None:
            raise Http404("This customer has no status page yet.")
        page.new_token()
        with transaction.atomic():
            page.save(update_fields=["token", "updated_at"])
            audit.record(request.user, "statuspage.new_token", page, request=request)
        messages.success(request, "New secret link made; the old one no longer works.")
        return done
    form = StatusPageForm(request.POST, instance=page, customer=customer)
    if form.is_valid():
        created = page.pk is None
        with transaction.atomic():
            form.save()
            changed = {f: form.cleaned_data[f] for f in form.changed_data}
            action = "statuspage.create" if created else "statuspage.update"
            audit.record(request.user, action, page, request=request, **changed)
        messages.success(request, f"Status page saved: {page.get_mode_display().lower()}.")
        return done
    return render_form(
        request, "monitors/status_page_form.html", {"form": form, "customer": customer}
    )


def customer_url(customer: Customer) -> str:
    return reverse("customer_detail", kwargs={"public_id": customer.public_id})


def _status_response(page: StatusPage, *, secret: bool) -> HttpResponse:
    now = timezone.now()
    monitors = list(
        Monitor.objects.filter(customer_id=page.customer_id)
        .exclude(status=MonitorStatus.DISABLED)
        .order_by("name", "pk")
    )
    rows = _rows(monitors, now, bars=True)
    since = now - timedelta(days=STATUS_INCIDENT_DAYS)
    incidents = (
        Incident.objects.filter(monitor__in=[m.pk for m in monitors])
        .filter(Q(opened_at__gte=since) | Q(closed_at__gte=since) | ~Q(state=IncidentState.CLOSED))
        .select_related("monitor")
        .order_by("-opened_at", "-pk")
    )
    context = {
        "title": page.title or page.customer.name,
        "secret": secret,
        "rows": rows,
        "verdict": availability.overall(r.state for r in rows),
        "incidents": incidents,
        "incident_days": STATUS_INCIDENT_DAYS,
        "figure_labels": [label for _, label in FIGURES],
        "now": now,
    }
    # Rendered without the request: no context processors, so no navigation, user or
    # organization can reach this page, and no session or CSRF cookie varies it.
    response = HttpResponse(render_to_string("monitors/status_page.html", context))
    if secret:
        # A secret link can be retired ("new secret link"): no cache may keep answering it.
        patch_cache_control(response, no_store=True, private=True)
        response["X-Robots-Tag"] = "noindex"
    else:
        patch_cache_control(response, public=True, max_age=60)
    return response


@require_GET
def status_page_public(request: HttpRequest, slug: str) -> HttpResponse:
    page = StatusPage.objects.select_related("customer").filter(slug=slug, mode=Mode.PUBLIC).first()
    if page is None:
        raise Http404("Not found.")
    return _status_response(page, secret=False)


@require_GET
def status_page_secret(request: HttpRequest, token: str) -> HttpResponse:
    page = (
        StatusPage.objects.select_related("customer")
        .filter(token=token, mode__in=[Mode.SECRET, Mode.PUBLIC])
        .first()
    )
    if page is None:
        raise Http404("Not found.")
    return _status_response(page, secret=True)


# --- the monthly report ---------------------------------------------------------------------


@require_GET
@login_required
def customer_report(request: HttpRequest, public_id: str, year: int, month: int) -> HttpResponse:
    """A month of availability per monitor, printable. Months to come and months before the
    customer existed say so; a month that does not exist is a 404."""
    customer = access.get_visible_or_404(request.user, Customer, public_id=public_id)
    try:
        start, end = availability.month_bounds(year, month)
    except (ValueError, OverflowError) as exc:
        raise Http404("No such month.") from exc
    now = timezone.now()
    if start > now:
        report = availability.empty_month(start, end, "This month has not begun yet.")
    elif end <= customer.created_at:
        report = availability.empty_month(
            start, end, f"{customer.name} was added on {customer.created_at:%d %B %Y}."
        )
    else:
        monitors = list(
            access.visible(
                request.user, Monitor.objects.filter(customer=customer, created_at__lt=end)
            ).order_by("name", "pk")
        )
        report = availability.month_report(monitors, start, end, now)
    previous, following = _neighbour(year, month, -1), _neighbour(year, month, +1)
    context = {
        "customer": customer,
        "report": report,
        "previous": previous[0] if previous and previous[1] > customer.created_at else None,
        "following": following[0] if following and following[0] <= now else None,
        "now": now,
    }
    return render_page(request, "monitors/customer_report.html", context)


def _neighbour(year: int, month: int, by: int) -> tuple[datetime, datetime] | None:
    index = year * 12 + (month - 1) + by
    try:
        return availability.month_bounds(index // 12, index % 12 + 1)
    except (ValueError, OverflowError):
        return None
