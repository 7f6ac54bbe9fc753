"""Request-wide pieces: the current organization and the security headers."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from portal import access
from portal.models import Organization

SESSION_KEY = "organization_id"

# Everything the pages load comes from this origin (htmx, the CSS and charts are vendored), so
# the policy can forbid inline scripts and any other origin outright.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # Swagger UI and ReDoc set inline styles
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",  # ReDoc runs a worker from a blob
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)


def current_organization(request: HttpRequest) -> Organization | None:
    """The organization the user is working in: the one picked in the switcher, else the first
    they belong to. Users who see everything (supporters, superusers) may pick any."""
    user = request.user
    if not user.is_authenticated:
        return None
    scope = access.scope_of(user)
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None and (scope.read_all or chosen in scope.organization_ids):
        org = Organization.objects.filter(pk=chosen).first()
        if org is not None:
            return org
    member_orgs = [g.organization_id for g in scope.grants if g.customer_ids is None]
    if member_orgs:
        return Organization.objects.filter(pk__in=member_orgs).order_by("name").first()
    return None


class CurrentOrganizationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Eager, not lazy: a lazy None is not `None`, and pages test `organization is None`.
        request.organization = current_organization(request)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set (Django 5.2 has no CSP support)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        return response
