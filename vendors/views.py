"""Credential and device pages, and the Simotel webhook receiver."""

from __future__ import annotations

import base64
import hmac
import json
import logging
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from portal import access, audit
from portal.access import CHANGE, VIEW
from portal.htmx import render_form, render_page
from portal.models import Customer
from portal.validators import parse_uuid
from portal.views import audited_delete, in_organization, paginate, staff_page
from vendors import importing
from vendors.adapters import for_credential
from vendors.adapters.base import VendorError
from vendors.forms import CredentialForm, DeviceForm, DeviceImportForm
from vendors.models import ConnectionTest, Credential, Device, DeviceKind, Vendor

logger = logging.getLogger(__name__)
WEBHOOK_WINDOW = timedelta(seconds=60)


# --- credentials ----------------------------------------------------------------------------


@require_GET
@in_organization
def credential_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, VIEW, Credential(organization=request.organization))
    credentials = (
        access.visible(request.user, Credential)
        .filter(organization=request.organization)
        .prefetch_related("tests")
    )
    return render_page(
        request,
        "vendors/credential_list.html",
        {
            "credentials": credentials,
            "vendors": Vendor.choices,
            "may_change": access.can(
                request.user, CHANGE, Credential(organization=request.organization)
            ),
        },
    )


@in_organization
def credential_create(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    access.require(request.user, CHANGE, Credential(organization=organization))
    vendor = request.GET.get("vendor") or request.POST.get("vendor") or ""
    if vendor not in Vendor.values:
        return render_page(request, "vendors/credential_pick.html", {"vendors": Vendor.choices})
    form = CredentialForm(request.POST or None, vendor=vendor, organization=organization)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            credential = form.save(commit=False)
            credential.organization, credential.vendor = organization, vendor
            credential.set_secrets(**form.secrets())
            token = credential.issue_webhook_token() if vendor == Vendor.SIMOTEL else None
            credential.save()
            audit.record(
                request.user,
                "credential.create",
                credential,
                request=request,
                vendor=vendor,
                provided=sorted(k for k, v in form.secrets().items() if v),
            )
        messages.success(request, f"Credential “{credential.name}” saved.")
        if token:
            return _show_webhook(request, credential, token)
        return redirect("credential_detail", pk=credential.pk)
    return render_form(
        request,
        "vendors/credential_form.html",
        {"form": form, "vendor": Vendor(vendor), "credential": None},
    )


@require_GET
@staff_page
def credential_detail(request: HttpRequest, pk: int) -> HttpResponse:
    credential = access.get_visible_or_404(request.user, Credential, pk=pk)
    return render_page(
        request,
        "vendors/credential_detail.html",
        {
            "credential": credential,
            "hints": credential.secret_hints(),
            "tests": credential.tests.all()[:10],
            "devices": credential.devices.select_related("customer")[:50],
            "may_change": access.can(request.user, CHANGE, credential),
        },
    )


@staff_page
def credential_edit(request: HttpRequest, pk: int) -> HttpResponse:
    credential = access.get_visible_or_404(request.user, Credential, pk=pk)
    access.require(request.user, CHANGE, credential)
    form = CredentialForm(
        request.POST or None,
        instance=credential,
        vendor=credential.vendor,
        organization=credential.organization,
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            credential = form.save(commit=False)
            changed_secrets = credential.set_secrets(**form.secrets())
            if credential.vendor == Vendor.MONOGOTO and {"username", "password"} & set(
                changed_secrets
            ):
                credential.clear_secret("token")  # log in afresh with the new account
            credential.save()
            audit.record(
                request.user,
                "credential.update",
                credential,
                request=request,
                changed=sorted(
                    {f for f in form.changed_data if not f.startswith("secret_")}
                    | set(changed_secrets)
                ),
            )
        messages.success(request, "Credential saved.")
        return redirect("credential_detail", pk=credential.pk)
    return render_form(
        request,
        "vendors/credential_form.html",
        {"form": form, "vendor": Vendor(credential.vendor), "credential": credential},
    )


@require_POST
@staff_page
def credential_delete(request: HttpRequest, pk: int) -> HttpResponse:
    credential = access.get_visible_or_404(request.user, Credential, pk=pk)
    access.require(request.user, CHANGE, credential)
    return audited_delete(
        request,
        credential,
        done="credential_list",
        kept=redirect("credential_detail", pk=pk),
        protected="devices still use it; move or delete them first.",
    )


@require_POST
@staff_page
def credential_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Test the credential now (vendor timeouts bound it) and show the outcome."""
    credential = access.get_visible_or_404(request.user, Credential, pk=pk)
    access.require(request.user, CHANGE, credential)
    test = ConnectionTest(credential=credential, started_at=timezone.now())
    try:
        result = for_credential(credential).test_connection()
        test.ok, test.message, test.api_ms = True, result.message, result.elapsed_ms
    except VendorError as exc:
        test.ok, test.message, test.error_kind = False, exc.plain, exc.kind
    with transaction.atomic():
        test.save()
        audit.record(
            request.user,
            "credential.test",
            credential,
            request=request,
            ok=test.ok,
            error_kind=test.error_kind,
        )
    return _test_panel(request, credential, test)


@require_GET
@staff_page
def credential_test_status(request: HttpRequest, pk: int, test_pk: int) -> HttpResponse:
    credential = access.get_visible_or_404(request.user, Credential, pk=pk)
    test = access.get_visible_or_404(
        request.user, ConnectionTest, pk=test_pk, credential=credential
    )
    return _test_panel(request, credential, test)


def _test_panel(request: HttpRequest, credential: Credential, test: ConnectionTest) -> HttpResponse:
    waiting = (
        credential.vendor == Vendor.SIMOTEL
        and test.ok
        and test.webhook_received_at is None
        and timezone.now() - test.started_at < timedelta(seconds=15)
    )
    context = {
        "credential": credential,
        "test": test,
        "waiting": waiting,
        "tests": credential.tests.all()[:10],  # the page's "Recent tests", swapped in too
    }
    if request.htmx:
        return render_page(request, "vendors/partials/test_result.html", context)
    messages.info(request, test.message if test.ok else f"Test failed: {test.message}")
    return redirect("credential_detail", pk=credential.pk)


@require_POST
@staff_page
def credential_webhook_token(request: HttpRequest, pk: int) -> HttpResponse:
    credential = access.get_visible_or_404(request.user, Credential, pk=pk)
    access.require(request.user, CHANGE, credential)
    if credential.vendor != Vendor.SIMOTEL:
        raise PermissionDenied("Only Simotel credentials receive webhooks.")
    with transaction.atomic():
        token = credential.issue_webhook_token()
        credential.save(update_fields=["webhook_token_hash", "updated_at"])
        audit.record(request.user, "credential.webhook_url", credential, request=request)
    return _show_webhook(request, credential, token)


def webhook_url(token: str) -> str:
    from django.conf import settings

    return f"{settings.PORTAL_BASE_URL}{reverse('simotel_webhook', args=[token])}"


def _show_webhook(request: HttpRequest, credential: Credential, token: str) -> HttpResponse:
    response = render_page(
        request, "vendors/webhook_url.html", {"credential": credential, "url": webhook_url(token)}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
def simotel_webhook(request: HttpRequest, token: str, event: str = "") -> JsonResponse:
    """The PBX's "Ping" event: the secret URL finds the credential, and the Basic auth the PBX
    was configured with must match (compared in constant time)."""
    credential = Credential.by_webhook_token(token)
    if credential is None:
        return JsonResponse({"ok": False, "error": "unknown webhook"}, status=404)
    secrets = credential.secrets
    if secrets.get("webhook_user"):
        expected = f"{secrets['webhook_user']}:{secrets.get('webhook_password', '')}"
        header = request.headers.get("Authorization", "")
        try:
            given = (
                base64.b64decode(header.removeprefix("Basic ")).decode()
                if header.startswith("Basic ")
                else ""
            )
        except (ValueError, UnicodeDecodeError):
            given = ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JsonResponse(
                {"ok": False, "error": "authentication required"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="simotel-webhook"'},
            )
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    name = event or (body.get("event_name") if isinstance(body, dict) else "") or ""
    if name.lower() != "ping":
        return JsonResponse({"ok": True, "ignored": name or "unnamed event"})
    now = timezone.now()
    with transaction.atomic():
        test = (
            ConnectionTest.objects.select_for_update()
            .filter(
                credential=credential,
                ok=True,
                webhook_received_at__isnull=True,
                started_at__gte=now - WEBHOOK_WINDOW,
            )
            .order_by("-started_at")
            .first()
        )
        if test is None:  # a repeat, or no test is waiting for it
            return JsonResponse({"ok": True, "matched": False})
        test.webhook_received_at = now
        test.webhook_ms = int((now - test.started_at).total_seconds() * 1000)
        test.save(update_fields=["webhook_received_at", "webhook_ms"])
        audit.record(
            "Simotel webhook", "credential.webhook", credential, webhook_ms=test.webhook_ms
        )
    return JsonResponse({"ok": True, "matched": True})


def _stale(sent_at: Any) -> str | None:
    """Why a callback's `sentAt` is refused, or None when it is within the replay window.
    A recorded callback replayed later is refused for its age; within the window the row's
    one-shot `received_at` makes a replay change nothing."""
    from django.conf import settings
    from django.utils.dateparse import parse_datetime

    try:
        when = parse_datetime(sent_at) if isinstance(sent_at, str) else None
    except ValueError:  # well formed but impossible, e.g. month 13
        when = None
    if when is None or when.tzinfo is None:
        return "sentAt is missing or not an ISO 8601 time with a time zone"
    window = timedelta(seconds=settings.INBOUND_WEBHOOK_MAX_AGE_SECONDS)
    if abs(timezone.now() - when) > window:
        return "sentAt is outside the accepted window: a replay, or a clock far off"
    return None


@csrf_exempt
@require_POST
def meraki_callback(request: HttpRequest, callback_id: str) -> JsonResponse:
    """Meraki's callback for one job: the per-job shared secret must match (constant time),
    `sentAt` must be recent, and unknown and repeated callbacks are ignored, so a replay
    changes nothing."""
    from vendors.models import MerakiCallback

    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"ok": False, "error": "body is not JSON"}, status=400)
    public_id = parse_uuid(callback_id)
    row = MerakiCallback.objects.filter(public_id=public_id).first() if public_id else None
    if row is None or not isinstance(body, dict):
        return JsonResponse({"ok": False, "error": "unknown callback"}, status=404)
    if not row.secret_matches(body.get("sharedSecret", "")):
        return JsonResponse({"ok": False, "error": "wrong shared secret"}, status=403)
    if (stale := _stale(body.get("sentAt"))) is not None:
        return JsonResponse({"ok": False, "error": stale}, status=400)
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    if row.ping_id and str(message.get("pingId")) != row.ping_id:
        return JsonResponse({"ok": False, "error": "callback for another job"}, status=400)
    stored = MerakiCallback.objects.filter(pk=row.pk, received_at__isnull=True).update(
        received_at=timezone.now(), payload={k: v for k, v in body.items() if k != "sharedSecret"}
    )
    return JsonResponse({"ok": True, "repeat": not stored})


# --- devices --------------------------------------------------------------------------------


def _writable_customers(request: HttpRequest) -> Any:
    """Customers (of the current organization) the user may add devices to."""
    scope = access.scope_of(request.user)
    organization = None if scope.is_customer_only else request.organization
    return access.customers_for(request.user, Device, organization)


def _device_form(request: HttpRequest, **kwargs: Any) -> DeviceForm:
    customers = _writable_customers(request)
    credentials = Credential.objects.filter(organization__in=customers.values("organization"))
    return DeviceForm(
        request.POST or None,
        customers=customers,
        credentials=credentials.order_by("vendor", "name"),
        **kwargs,
    )


@require_GET
@login_required
def device_list(request: HttpRequest) -> HttpResponse:
    scope = access.scope_of(request.user)
    devices = access.visible(request.user, Device).select_related("customer", "credential")
    if not scope.is_customer_only and request.organization is not None:
        devices = devices.filter(organization=request.organization)
    params = request.GET
    if params.get("customer"):
        devices = devices.filter(customer__public_id=parse_uuid(params["customer"]))
    if params.get("kind") in DeviceKind.values:
        devices = devices.filter(kind=params["kind"])
    if query := params.get("q", "").strip():
        devices = devices.matching(query)
    customers = access.visible(request.user, Customer)
    if not scope.is_customer_only and request.organization is not None:
        customers = customers.filter(organization=request.organization)
    return render_page(
        request,
        "vendors/device_list.html",
        {
            "page": paginate(request, devices.order_by("customer__name", "name", "pk")),
            "customers": customers,
            "kinds": DeviceKind.choices,
            "params": params,
            "may_create": _writable_customers(request).exists(),
        },
        partial="vendors/partials/device_rows.html",
    )


@require_GET
@login_required
def device_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    device = access.get_visible_or_404(
        request.user, Device.objects.select_related("customer", "credential"), public_id=public_id
    )
    return render_page(
        request,
        "vendors/device_detail.html",
        {
            "device": device,
            "may_change": access.can(request.user, CHANGE, device),
        },
    )


@login_required
def device_create(request: HttpRequest) -> HttpResponse:
    if not _writable_customers(request).exists():
        raise PermissionDenied("You may not add devices.")
    form = _device_form(request, initial={"kind": request.GET.get("kind", DeviceKind.HOST)})
    if request.method == "POST" and form.is_valid():
        device = form.instance
        access.require(request.user, CHANGE, device)
        with transaction.atomic():
            device = form.save()
            audit.record(request.user, "device.create", device, request=request, kind=device.kind)
        messages.success(request, f"Device “{device.name}” added.")
        return redirect("device_detail", public_id=device.public_id)
    return render_form(request, "vendors/device_form.html", {"form": form, "device": None})


@login_required
def device_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    device = access.get_visible_or_404(request.user, Device, public_id=public_id)
    access.require(request.user, CHANGE, device)
    form = _device_form(request, instance=device)
    if request.method == "POST" and form.is_valid():
        access.require(request.user, CHANGE, form.instance)
        with transaction.atomic():
            device = form.save()
            audit.record(
                request.user,
                "device.update",
                device,
                request=request,
                fields=sorted(form.changed_data),
            )
        messages.success(request, "Device saved.")
        return redirect("device_detail", public_id=device.public_id)
    return render_form(request, "vendors/device_form.html", {"form": form, "device": device})


@require_POST
@login_required
def device_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    device = access.get_visible_or_404(request.user, Device, public_id=public_id)
    access.require(request.user, CHANGE, device)
    return audited_delete(
        request,
        device,
        done="device_list",
        kept=redirect("device_detail", public_id=public_id),
        protected="it still has history attached.",
    )


@login_required
def device_import(request: HttpRequest) -> HttpResponse:
    customers = _writable_customers(request)
    if not customers.exists():
        raise PermissionDenied("You may not add devices.")
    credentials = Credential.objects.filter(organization__in=customers.values("organization"))
    form = DeviceImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {
        "form": form,
        "columns": importing.COLUMNS,
        "kinds": DeviceKind.values,
    }
    if request.method == "POST" and form.is_valid():
        result = importing.plan(form.cleaned_data["csv"], customers, credentials)
        context.update(plan=result, csv=form.cleaned_data["csv"])
        if request.POST.get("confirm") == "yes" and result.ok:
            with transaction.atomic():
                created = importing.apply(result)
                for device in created:
                    access.require(request.user, CHANGE, device)
                audit.record(
                    request.user,
                    "device.import",
                    organization=request.organization,
                    request=request,
                    created=len(created),
                )
            messages.success(
                request, f"Imported {len(created)} device{'' if len(created) == 1 else 's'}."
            )
            return redirect("device_list")
        return render_page(
            request, "vendors/device_import.html", context, status=200 if result.ok else 400
        )
    return render_form(request, "vendors/device_import.html", context)
