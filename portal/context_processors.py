from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal import access
from portal.models import ApiKey, AuditEvent, Customer, Membership
from portal.roles import Role

SWITCHER_LIMIT = 8


def scope_allows(user: Any, organization: Any, model_label: str) -> bool:
    from django.apps import apps

    model = apps.get_model(model_label)
    return access.can(user, access.VIEW, model(organization=organization))


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs: the user's kind, role, organizations and visible sections."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    scope = access.scope_of(user)
    organization = getattr(request, "organization", None)
    role = scope.role_in(organization.pk) if organization else None
    if user.is_superuser:
        kind = "superuser"
    elif user.is_global_supporter:
        kind = "supporter"
    elif scope.is_customer_only:
        kind = "customer"
    elif scope.grants:
        kind = "staff"
    else:
        kind = "none"
    # The menu lists a handful; people who see every organization pick on the list page.
    switchable = (
        list(access.organizations(user)[: SWITCHER_LIMIT + 1]) if kind != "customer" else []
    )
    can_manage = organization is not None and (
        user.is_superuser or (role is not None and role.at_least(Role.ADMIN))
    )
    return {
        "nav": {
            "kind": kind,
            "role": role,
            "role_label": Role(role).label
            if role
            else {
                "superuser": "Superuser",
                "supporter": "Global supporter",
                "customer": "Customer",
            }.get(kind, ""),
            "organization": organization,
            "organizations": switchable[:SWITCHER_LIMIT] if len(switchable) > 1 else [],
            "more_organizations": len(switchable) > SWITCHER_LIMIT,
            "sees_customers": access.visible(user, Customer).exists() if kind != "none" else False,
            "sees_members": organization is not None
            and access.can(user, access.VIEW, Membership(organization=organization)),
            "sees_audit": organization is not None
            and access.can(user, access.VIEW, AuditEvent(organization=organization)),
            "sees_api_keys": organization is not None
            and access.can(user, access.VIEW, ApiKey(organization=organization)),
            # Credentials are an admin matter (vendors app); asked through the access module by
            # the policy the model declares, without importing vendors here.
            "sees_credentials": organization is not None
            and scope_allows(user, organization, "vendors.Credential"),
            "can_manage": can_manage,
            "sees_all_organizations": kind in ("superuser", "supporter"),
            "admin_site": user.is_staff,
        },
    }
