"""Pieces of the customer pages that other apps' templates show too (the customer page is the
portal's): the status page settings, the month picker, and how long things lasted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from monitors.availability import months_between
from monitors.customer_forms import StatusPageForm
from monitors.models import StatusPage, StatusPageMode
from portal import access
from portal.models import Customer

register = template.Library()


@register.inclusion_tag("monitors/partials/report_months.html")
def report_picker(customer: Customer) -> dict[str, Any]:
    """Links to the customer's monthly reports, newest first (a details menu: no JavaScript)."""
    return {
        "customer": customer,
        "months": months_between(customer.created_at, timezone.now()),
    }


@register.inclusion_tag("monitors/partials/status_page_panel.html", takes_context=True)
def status_page_panel(context: template.Context, customer: Customer) -> dict[str, Any]:
    """The customer's status page: its state and links for those who may see it, the settings
    form and "new secret link" for those who may change it (organization admins)."""
    request = context["request"]
    page = StatusPage.objects.filter(customer=customer).first()
    probe = page or StatusPage(customer=customer, organization_id=customer.organization_id)
    if not access.can(request.user, access.VIEW, probe):
        return {"shown": False}
    may_change = access.can(request.user, access.CHANGE, probe)
    is_on = page is not None and page.mode != StatusPageMode.OFF
    public_url = secret_url = ""
    if is_on and page.mode == StatusPageMode.PUBLIC:
        public_url = request.build_absolute_uri(reverse("status_page_public", args=[page.slug]))
    if is_on and may_change:
        secret_url = request.build_absolute_uri(reverse("status_page_secret", args=[page.token]))
    return {
        "shown": True,
        "customer": customer,
        "page": page,
        "is_on": is_on,
        "may_change": may_change,
        "form": StatusPageForm(instance=page, customer=customer) if may_change else None,
        "public_url": public_url,
        "secret_url": secret_url,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("monitors/partials/export_form.html")
def export_form(checks_url: str, incidents_url: str) -> dict[str, Any]:
    """The CSV export form (a date range and two buttons), defaulting to the last 7 days."""
    from django.conf import settings

    today = timezone.now().date()
    return {
        "checks_url": checks_url,
        "incidents_url": incidents_url,
        "export_start": today - timedelta(days=6),
        "export_end": today,
        "raw_days": settings.MONITOR_RAW_RETENTION_DAYS or "all",
    }
