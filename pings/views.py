"""Ping pages: launch from a device, follow a job live, bulk launches, history and CSV."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pings import history, launching
from pings.charts import replies_svg
from pings.forms import HistoryFilterForm, PingForm
from pings.models import PingBatch, PingJob, Via
from portal import access, audit, csvexport
from portal.access import CHANGE
from portal.htmx import render_page
from portal.models import ApiKey, Customer, Membership
from portal.validators import parse_uuid
from vendors.models import Device

RECENT = 10


def _device(request: HttpRequest, public_id: Any) -> Device:
    return access.get_visible_or_404(
        request.user, Device.objects.select_related("customer", "credential"), public_id=public_id
    )


@require_http_methods(["GET", "POST"])
@login_required
def device_pings(request: HttpRequest, public_id: str) -> HttpResponse:
    """A device's ping panel: the form (for those who may launch) and its recent pings. The
    device page loads it with HTMX; a POST launches and answers with the panel again, the new
    job's live result on top. `?part=recent` is the recent list alone (it polls while a job
    in it is still running)."""
    device = _device(request, public_id)
    may_launch = access.can(request.user, CHANGE, device)
    recent = list(
        device.ping_jobs.select_related("device", "customer").order_by("-created_at", "-id")[
            :RECENT
        ]
    )
    context: dict[str, Any] = {
        "device": device,
        "may_launch": may_launch,
        "recent": recent,
        "recent_active": any(j.is_active for j in recent),
    }
    if request.htmx and request.GET.get("part") == "recent":
        return render_page(request, "pings/partials/recent.html", context)
    status = 200
    if request.method == "POST":
        if not may_launch:
            raise PermissionDenied("Your role may not launch pings.")
        form = PingForm(request.POST, device=device)
        if form.is_valid():
            try:
                job = launching.launch(
                    request.user, device, form.options, via=Via.PAGE, request=request
                )
            except launching.RateLimited as exc:
                form.add_error(None, str(exc))
            else:
                if not request.htmx:
                    return redirect("ping_detail", public_id=job.public_id)
                job.refresh_from_db()
                launched = _job_context(job)
                recent = [job, *(j for j in recent if j.pk != job.pk)][:RECENT]
                context.update(
                    launched=job,
                    launched_replies=launched["replies"],
                    launched_chart=launched["chart"],
                    launched_has_ttl=launched["has_ttl"],
                    recent=recent,
                    recent_active=any(j.is_active for j in recent),
                )
                # The same options stay in the form for the next ping.
                form = PingForm(initial=form.cleaned_data, device=device)
        if form.errors:
            # htmx swaps 422 (see base.html): the errors show next to the fields.
            status = 422 if request.htmx else 400
    else:
        form = PingForm(device=device)
    context["form"] = form
    return render_page(
        request,
        "pings/device_pings.html",
        context,
        partial="pings/partials/device_panel.html",
        status=status,
    )


def _job_context(job: PingJob, *, staff: bool = True) -> dict[str, Any]:
    replies = list(job.replies.all())
    return {
        "job": job,
        "replies": replies,
        "has_ttl": any(r.ttl is not None for r in replies),
        "chart": replies_svg(replies),
        "callback_log": list(job.callback_log.all()) if job.callback_url else [],
        "show_raw": staff,
    }


def _is_staff(request: HttpRequest) -> bool:
    scope = access.scope_of(request.user)
    return not scope.is_customer_only


@require_GET
@login_required
def ping_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """One job; HTMX polls the panel part of it until the job ends."""
    job = access.get_visible_or_404(
        request.user,
        PingJob.objects.select_related("device", "customer", "organization", "batch"),
        public_id=public_id,
    )
    # The device page's panel polls for the panel; the job's own page for its whole body.
    part = "ping_body" if request.GET.get("part") == "body" else "job_panel"
    return render_page(
        request,
        "pings/ping_detail.html",
        _job_context(job, staff=_is_staff(request)),
        partial=f"pings/partials/{part}.html",
    )


@require_POST
@login_required
def bulk_launch(request: HttpRequest) -> HttpResponse:
    """Ping every selected device once with its vendor's defaults, as one batch."""
    if not access.may_write_anything(request.user):
        raise PermissionDenied("Your role may not launch pings.")
    ids = request.POST.getlist("devices")
    wanted = [parse_uuid(i) for i in ids]
    if not ids or len(ids) > 200 or None in wanted:
        return _bulk_refused(request, "Pick 1 to 200 devices from the list.")
    devices = list(
        access.visible(request.user, Device)
        .filter(public_id__in=wanted)
        .select_related("customer", "credential")
    )
    if len(devices) != len(set(wanted)):
        return _bulk_refused(request, "Some of the selected devices do not exist (any more).")
    for device in devices:
        access.require(request.user, CHANGE, device)
    organizations = {d.organization_id for d in devices}
    if len(organizations) != 1:
        return _bulk_refused(request, "Pick devices of one organization at a time.")
    limited = [d for d in devices if not launching.has_token(d)]
    if len(limited) == len(devices):
        return _bulk_refused(
            request,
            "Every selected device was pinged 5 times in the last 25 s (at most 1 ping per "
            "5 s, burst 5); try again in a few seconds.",
        )
    batch = PingBatch.objects.create(
        organization_id=organizations.pop(),
        launched_by=request.user,
        launched_by_label=audit.actor_label(request.user)[:150],
    )
    skipped = []
    for device in devices:
        try:
            launching.launch(
                request.user,
                device,
                launching.clean_options(device, {}),
                via=Via.BULK,
                request=request,
                batch=batch,
            )
        except launching.RateLimited:
            skipped.append(device.name)
    if skipped:
        batch.skipped = sorted(skipped)
        batch.save(update_fields=["skipped"])
    return redirect("ping_batch", public_id=batch.public_id)


def _bulk_refused(request: HttpRequest, message: str) -> HttpResponse:
    """A refused bulk launch changes nothing; the status says so and the page explains."""
    return render_page(request, "pings/bulk_refused.html", {"message": message}, status=400)


@require_GET
@login_required
def batch_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = access.get_visible_or_404(request.user, PingBatch, public_id=public_id)
    jobs = list(
        access.visible(request.user, PingJob)
        .filter(batch=batch)
        .select_related("device", "customer")
        .order_by("device__name", "pk")
    )
    done = sum(1 for j in jobs if not j.is_active)
    answered = sum(1 for j in jobs if j.status == "complete" and j.received)
    return render_page(
        request,
        "pings/batch_detail.html",
        {
            "batch": batch,
            "jobs": jobs,
            "done": done,
            "active": done < len(jobs),
            "answered": answered,
            "silent": sum(1 for j in jobs if j.status == "complete" and not j.received),
            "failed": sum(1 for j in jobs if j.status in ("failed", "timed_out")),
            "percent": int(100 * done / len(jobs)) if jobs else 100,
        },
        partial="pings/partials/batch_progress.html",
    )


def _history_scope(request: HttpRequest) -> Any:
    scope = access.scope_of(request.user)
    return None if scope.is_customer_only else request.organization


def _launchers(request: HttpRequest) -> list[tuple[str, str]] | None:
    """Who may be picked in the "launched by" filter: the organization's members and API keys
    (None for customer users, who do not get to list the organization's members)."""
    if access.scope_of(request.user).is_customer_only:
        return None
    organization = request.organization
    people = {request.user.pk: request.user.get_username()}
    keys: dict[int, str] = {}
    if organization is not None:
        for member in Membership.objects.filter(organization=organization).select_related("user"):
            people[member.user_id] = member.user.get_username()
        # Key names are in the rows already ("API key nightly"), so staff may pick them.
        keys = {
            k.pk: f"API key {k.name}"
            for k in ApiKey.objects.filter(organization=organization).only("pk", "name")
        }
    return [(f"user:{pk}", name) for pk, name in sorted(people.items(), key=lambda p: p[1])] + [
        (f"key:{pk}", name) for pk, name in sorted(keys.items(), key=lambda k: k[1])
    ]


def _history_form(request: HttpRequest) -> HistoryFilterForm:
    return HistoryFilterForm(request.GET or None, launchers=_launchers(request))


@require_GET
@login_required
def history_page(request: HttpRequest) -> HttpResponse:
    form = _history_form(request)
    # Refused filters are left out (the page says which); the others still apply, and the
    # CSV link below carries exactly those.
    form.is_valid()  # runs the checks; cleaned_data keeps only the filters that passed
    filters = form.cleaned_data if form.is_bound else {}
    jobs = history_filtered(request, filters)
    result = history.page(
        jobs,
        history.parse_id(request.GET.get("before")),
        history.parse_id(request.GET.get("after")),
    )
    organization = _history_scope(request)
    customers = access.visible(request.user, Customer)
    if organization is not None:
        customers = customers.filter(organization=organization)
    device = None
    if filters.get("device"):
        device = access.visible(request.user, Device).filter(public_id=filters["device"]).first()
    # The CSV link and the chip's "clear" keep the filters that were used (not the refused ones).
    export = request.GET.copy()
    for name in ("before", "after", *form.errors):
        export.pop(name, None)
    without_device = export.copy()
    without_device.pop("device", None)
    status = 200
    if form.errors and not (request.htmx and request.htmx.history_restore_request):
        # htmx swaps 422 (base.html), so the errors show next to the filters; the back
        # button's restore must get a 200, or htmx keeps the page it is leaving.
        status = 422 if request.htmx else 400
    return render_page(
        request,
        "pings/history.html",
        {
            "form": form,
            "page": result,
            "customers": customers.order_by("name"),
            "device": device,
            "params": request.GET,
            "export_query": export.urlencode(),
            "clear_device_query": without_device.urlencode(),
        },
        partial="pings/partials/history_body.html",
        status=status,
    )


def history_filtered(request: HttpRequest, filters: dict[str, Any]) -> Any:
    return history.filtered(request.user, filters, _history_scope(request))


@require_GET
@login_required
def history_csv(request: HttpRequest) -> HttpResponse:
    """Exactly the rows the history shows for the same filters, every page of them."""
    form = _history_form(request)
    if request.GET and not form.is_valid():
        return HttpResponse(
            "Invalid filters: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    filters = form.cleaned_data if request.GET else {}
    return csvexport.response(
        history.csv_rows(history_filtered(request, filters), request.user), "pings"
    )
