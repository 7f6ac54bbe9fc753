"""Web pages of the portal app. Every lookup and every write goes through portal.access."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, ProtectedError, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from portal import access, audit
from portal.access import CHANGE, VIEW
from portal.forms import (
    ApiKeyForm,
    AuditFilterForm,
    CustomerForm,
    MemberAddForm,
    NewUserFields,
    RoleForm,
)
from portal.htmx import render_form, render_page
from portal.middleware import SESSION_KEY
from portal.models import ApiKey, AuditEvent, Customer, CustomerAccess, Membership
from portal.roles import Role

View = Callable[..., HttpResponse]


def staff_page(view: View) -> View:
    """Pages for an organization's staff (not customer users, not accounts without access)."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scope = access.scope_of(request.user)
        if scope.is_customer_only or not (scope.grants or scope.read_all):
            raise PermissionDenied("This page is for the organization's staff.")
        return view(request, *args, **kwargs)

    return wrapper


def in_organization(view: View) -> View:
    """Staff pages about the current organization (members, keys, audit). Without one picked,
    reads go to the organization list and writes are refused: there is nothing to write to."""

    @wraps(view)
    @staff_page
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.organization is None:
            if request.method in ("GET", "HEAD"):
                messages.info(request, "Pick an organization to work in first.")
                return redirect("organization_list")
            raise PermissionDenied("Pick an organization first.")
        return view(request, *args, **kwargs)

    return wrapper


def audited_delete(
    request: HttpRequest,
    obj: Any,
    *,
    done: str,
    kept: HttpResponse,
    protected: str = "It still has things attached; remove them first.",
) -> HttpResponse:
    """Delete `obj` (the caller has checked CHANGE) with its audit event in one transaction.
    When other rows protect it, nothing changes and the user is told why."""
    label = f"{obj._meta.verbose_name.capitalize()} “{obj}”"
    try:
        with transaction.atomic():
            audit.record(request.user, f"{obj._meta.model_name}.delete", obj, request=request)
            obj.delete()
    except ProtectedError:
        messages.error(request, f"{label} was not deleted: {protected}")
        return kept
    messages.success(request, f"{label} deleted.")
    return redirect(done)


def paginate(request: HttpRequest, items: Any, per_page: int = 50) -> Any:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


# --- Home and organizations ---------------------------------------------------------------


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers and process managers: this process answers requests. It
    touches nothing else (no database), so a slow database does not get web processes
    restarted; the benchmarks use it as the cost of a request with no work in it."""
    return JsonResponse({"status": "ok"})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages without a <link rel=icon> (SVG images, plain
    text). Resolved per request: the static manifest may not exist when URLs are loaded."""
    return redirect(static("portal/favicon.svg"))


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each kind of user lands where their work is."""
    scope = access.scope_of(request.user)
    if scope.is_customer_only:
        customers = access.visible(request.user, Customer)
        if customers.count() == 1:  # their monitors are what they come for
            return redirect("customer_monitors", public_id=customers.get().public_id)
        return redirect("customer_list")
    if not scope.grants and not scope.read_all:
        return render_page(request, "portal/no_access.html", {})
    organization = request.organization
    if organization is None:
        return redirect("organization_list")
    customers = access.visible(request.user, Customer.objects.filter(organization=organization))
    events = access.visible(request.user, AuditEvent.objects.filter(organization=organization))
    context = {
        "organization": organization,
        "customer_count": customers.count(),
        "recent_customers": customers.order_by("-created_at")[:5],
        "member_count": Membership.objects.filter(organization=organization).count(),
        "api_key_count": ApiKey.objects.active().filter(organization=organization).count()
        if access.can(request.user, VIEW, ApiKey(organization=organization))
        else None,
        "recent_events": events.select_related("organization")[:8],
    }
    return render_page(request, "portal/dashboard.html", context)


@require_GET
@login_required
def organization_list(request: HttpRequest) -> HttpResponse:
    organizations = (
        access.organizations(request.user)
        .annotate(
            customer_count=Count("customers", distinct=True),
            member_count=Count("memberships", distinct=True),
        )
        .order_by("name")
    )
    if access.scope_of(request.user).is_customer_only:
        raise PermissionDenied("This page is for the organization's staff.")
    query = request.GET.get("q", "").strip()
    if query:
        organizations = organizations.filter(name__icontains=query)
    return render_page(
        request,
        "portal/organization_list.html",
        {"page": paginate(request, organizations), "query": query},
        partial="portal/partials/organization_rows.html",
    )


@require_POST
@login_required
def switch_organization(request: HttpRequest) -> HttpResponse:
    organization = access.get_visible_or_404(
        request.user, access.organizations(request.user), pk=request.POST.get("organization")
    )
    request.session[SESSION_KEY] = organization.pk
    target = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("home")
    return redirect(target)


# --- Customers ----------------------------------------------------------------------------


@require_GET
@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    scope = access.scope_of(request.user)
    customers = access.visible(request.user, Customer)
    if not scope.is_customer_only and request.organization is not None:
        customers = customers.filter(organization=request.organization)
    query = request.GET.get("q", "").strip()
    if query:
        customers = customers.filter(Q(name__icontains=query) | Q(description__icontains=query))
    customers = (
        customers.select_related("organization")
        .annotate(user_count=Count("accesses", distinct=True))
        .order_by("name", "pk")
    )
    may_create = request.organization is not None and access.can(
        request.user, CHANGE, Customer(organization=request.organization)
    )
    return render_page(
        request,
        "portal/customer_list.html",
        {"page": paginate(request, customers), "query": query, "may_create": may_create},
        partial="portal/partials/customer_rows.html",
    )


@require_GET
@login_required
def customer_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = access.get_visible_or_404(request.user, Customer, public_id=public_id)
    may_change = access.can(request.user, CHANGE, customer)
    accesses = access.visible(
        request.user, CustomerAccess.objects.filter(customer=customer)
    ).select_related("user")
    return render_page(
        request,
        "portal/customer_detail.html",
        {
            "customer": customer,
            "may_change": may_change,
            "accesses": accesses,
            "may_manage_users": access.can(request.user, CHANGE, CustomerAccess(customer=customer)),
            "user_form": NewUserFields(),
        },
    )


@login_required
def customer_create(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    if organization is None:
        raise PermissionDenied("Pick an organization first.")
    access.require(request.user, CHANGE, Customer(organization=organization))
    form = CustomerForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.instance.organization = organization
            customer = form.save()
            audit.record(request.user, "customer.create", customer, request=request)
        messages.success(request, f"Customer “{customer}” created.")
        return redirect("customer_detail", public_id=customer.public_id)
    return render_form(request, "portal/customer_form.html", {"form": form, "customer": None})


@login_required
def customer_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = access.get_visible_or_404(request.user, Customer, public_id=public_id)
    access.require(request.user, CHANGE, customer)
    form = CustomerForm(request.POST or None, instance=customer, organization=customer.organization)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            changed = {f: form.cleaned_data[f] for f in form.changed_data}
            form.save()
            audit.record(request.user, "customer.update", customer, request=request, **changed)
        messages.success(request, "Customer saved.")
        return redirect("customer_detail", public_id=customer.public_id)
    return render_form(request, "portal/customer_form.html", {"form": form, "customer": customer})


@require_POST
@login_required
def customer_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = access.get_visible_or_404(request.user, Customer, public_id=public_id)
    access.require(request.user, CHANGE, customer)
    return audited_delete(
        request,
        customer,
        done="customer_list",
        kept=redirect("customer_detail", public_id=public_id),
        protected="its devices and monitors must go first.",
    )


@require_POST
@login_required
def customer_user_add(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = access.get_visible_or_404(request.user, Customer, public_id=public_id)
    access.require(request.user, CHANGE, CustomerAccess(customer=customer))
    form = NewUserFields(request.POST)
    if form.is_valid():
        with transaction.atomic():
            user, created = form.get_or_create_user()
            binding, new = CustomerAccess.objects.get_or_create(user=user, customer=customer)
            if new:
                audit.record(
                    request.user,
                    "customer_user.add",
                    binding,
                    request=request,
                    username=user.username,
                    new_account=created,
                )
        messages.success(request, f"{user.username} can now see {customer}.")
        return redirect("customer_detail", public_id=public_id)
    return render_page(
        request,
        "portal/customer_detail.html",
        {
            "customer": customer,
            "may_change": access.can(request.user, CHANGE, customer),
            "accesses": CustomerAccess.objects.filter(customer=customer).select_related("user"),
            "may_manage_users": True,
            "user_form": form,
        },
        status=400,
    )


@require_POST
@login_required
def customer_user_remove(request: HttpRequest, public_id: str, access_id: int) -> HttpResponse:
    binding = access.get_visible_or_404(
        request.user,
        CustomerAccess.objects.select_related("user", "customer"),
        pk=access_id,
        customer__public_id=public_id,
    )
    access.require(request.user, CHANGE, binding)
    with transaction.atomic():
        audit.record(
            request.user,
            "customer_user.remove",
            binding,
            request=request,
            username=binding.user.username,
        )
        binding.delete()
    if request.htmx:
        return HttpResponse("")
    messages.success(request, f"{binding.user.username} no longer sees {binding.customer}.")
    return redirect("customer_detail", public_id=public_id)


# --- Members ------------------------------------------------------------------------------


@require_GET
@in_organization
def member_list(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    access.require(request.user, VIEW, Membership(organization=organization))
    members = Membership.objects.filter(organization=organization).select_related("user")
    return render_page(
        request,
        "portal/member_list.html",
        {
            "members": members,
            "may_change": access.can(request.user, CHANGE, Membership(organization=organization)),
            "form": MemberAddForm(),
            "roles": Role.choices,
        },
    )


@require_POST
@in_organization
def member_add(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    access.require(request.user, CHANGE, Membership(organization=organization))
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        members = Membership.objects.filter(organization=organization).select_related("user")
        return render_page(
            request,
            "portal/member_list.html",
            {"members": members, "may_change": True, "form": form, "roles": Role.choices},
            status=400,
        )
    with transaction.atomic():
        user, created = form.get_or_create_user()
        membership, new = Membership.objects.get_or_create(
            user=user, organization=organization, defaults={"role": form.cleaned_data["role"]}
        )
        if new:
            audit.record(
                request.user,
                "member.add",
                membership,
                request=request,
                username=user.username,
                role=membership.role,
                new_account=created,
            )
            messages.success(request, f"{user.username} added as {membership.get_role_display()}.")
        else:
            messages.info(request, f"{user.username} is already a member.")
    return redirect("member_list")


def _last_admin(membership: Membership) -> bool:
    return (
        membership.role == Role.ADMIN
        and not Membership.objects.filter(
            organization_id=membership.organization_id, role=Role.ADMIN
        )
        .exclude(pk=membership.pk)
        .exists()
    )


@require_POST
@staff_page
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = access.get_visible_or_404(
        request.user, Membership.objects.select_related("user"), pk=pk
    )
    access.require(request.user, CHANGE, membership)
    form = RoleForm(request.POST)
    error = None
    if not form.is_valid():
        error = "Pick one of the roles."
    elif form.cleaned_data["role"] != Role.ADMIN and _last_admin(membership):
        error = "An organization needs at least one admin."
    if error is None and form.cleaned_data["role"] != membership.role:
        with transaction.atomic():
            old = membership.role
            membership.role = form.cleaned_data["role"]
            membership.save(update_fields=["role"])
            audit.record(
                request.user,
                "member.role",
                membership,
                request=request,
                username=membership.user.username,
                old=old,
                new=membership.role,
            )
    if request.htmx:
        return render_page(
            request,
            "portal/partials/member_row.html",
            {"m": membership, "may_change": True, "roles": Role.choices, "error": error},
            status=422 if error else 200,  # htmx swaps 422 (see base.html)
        )
    if error:
        messages.error(request, error)
    return redirect("member_list")


@require_POST
@staff_page
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = access.get_visible_or_404(
        request.user, Membership.objects.select_related("user"), pk=pk
    )
    access.require(request.user, CHANGE, membership)
    if _last_admin(membership):
        messages.error(request, "An organization needs at least one admin.")
        return redirect("member_list")
    with transaction.atomic():
        audit.record(
            request.user,
            "member.remove",
            membership,
            request=request,
            username=membership.user.username,
        )
        membership.delete()
    messages.success(request, f"{membership.user.username} removed.")
    return redirect("member_list")


# --- API keys -----------------------------------------------------------------------------


def _key_customers(request: HttpRequest) -> Any:
    return access.visible(request.user, Customer.objects.filter(organization=request.organization))


@require_GET
@in_organization
def api_key_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, VIEW, ApiKey(organization=request.organization))
    keys = ApiKey.objects.filter(organization=request.organization).select_related(
        "customer", "created_by"
    )
    return render_page(
        request,
        "portal/api_key_list.html",
        {
            "keys": keys,
            "form": ApiKeyForm(customers=_key_customers(request)),
            "may_change": access.can(
                request.user, CHANGE, ApiKey(organization=request.organization)
            ),
        },
    )


@require_POST
@in_organization
def api_key_create(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    access.require(request.user, CHANGE, ApiKey(organization=organization))
    form = ApiKeyForm(request.POST, customers=_key_customers(request))
    if not form.is_valid():
        keys = ApiKey.objects.filter(organization=organization).select_related("customer")
        return render_page(
            request,
            "portal/api_key_list.html",
            {"keys": keys, "form": form, "may_change": True},
            status=400,
        )
    with transaction.atomic():
        key, plaintext = ApiKey.issue(
            organization=organization, created_by=request.user, **form.cleaned_data
        )
        audit.record(
            request.user,
            "api_key.create",
            key,
            request=request,
            read_only=key.read_only,
            customer=str(key.customer or ""),
        )
    # Shown in this response only; the page tells the user it cannot be shown again.
    response = render_page(
        request, "portal/api_key_created.html", {"key": key, "plaintext": plaintext}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@require_POST
@staff_page
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = access.get_visible_or_404(request.user, ApiKey, pk=pk)
    access.require(request.user, CHANGE, key)
    with transaction.atomic():
        if key.revoke():
            audit.record(request.user, "api_key.revoke", key, request=request)
    if request.htmx:
        return render_page(
            request, "portal/partials/api_key_row.html", {"key": key, "may_change": True}
        )
    messages.success(request, f"Key “{key.name}” revoked.")
    return redirect("api_key_list")


# --- Audit log ----------------------------------------------------------------------------


@require_GET
@in_organization
def audit_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, VIEW, AuditEvent(organization=request.organization))
    events = access.visible(request.user, AuditEvent).filter(organization=request.organization)
    form = AuditFilterForm(request.GET or None, events=events)
    return render_page(
        request,
        "portal/audit_list.html",
        {
            "form": form,
            "page": paginate(request, form.filter(events)),
            "query": request.GET.urlencode(),
        },
        partial="portal/partials/audit_rows.html",
    )


# --- Accounts -----------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view keeps this session alive and ends the user's other sessions; we audit it."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit.record(
            self.request.user, "auth.password_change", self.request.user, request=self.request
        )
        return response
