"""Writing the audit log. Every state-changing action calls `record` in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import HttpRequest

from portal.access import policy_of, resolve_id
from portal.clientip import client_ip  # behind proxies: only as far as settings trust them
from portal.models import AuditEvent, Organization

# Keys whose values never go into the log, whatever a caller passes in `details`.
_SECRET_WORDS = ("password", "secret", "token", "key", "authorization")


def _clean(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ("[redacted]" if any(w in k.lower() for w in _SECRET_WORDS) else v)
        for k, v in details.items()
    }


def actor_label(actor: Any) -> str:
    if isinstance(actor, str):  # a system actor, e.g. "manage.py create_api_key"
        return actor
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "anonymous"
    if hasattr(actor, "api_key"):
        return f"API key {actor.api_key.name} ({actor.api_key.prefix}…)"
    return actor.get_username()


def _organization_of(target: Model | None) -> Organization | None:
    if target is None:
        return None
    if isinstance(target, Organization):
        return target

    policy = policy_of(type(target))
    if policy is None:
        return None
    org_id = resolve_id(target, policy.organization)
    return Organization(pk=org_id) if org_id else None


def record(
    actor: Any,
    action: str,
    target: Model | None = None,
    *,
    organization: Organization | None = None,
    request: HttpRequest | None = None,
    **details: Any,
) -> AuditEvent:
    """Log `actor` doing `action` to `target` (e.g. "customer.create")."""
    details = _clean(details)
    user = None
    if getattr(actor, "is_authenticated", False):
        user = actor.api_key.created_by if hasattr(actor, "api_key") else actor
    if hasattr(actor, "api_key"):
        details["via_api_key_prefix"] = actor.api_key.prefix
    return AuditEvent.objects.create(
        actor=user,
        actor_label=actor_label(actor),
        organization=organization or _organization_of(target),
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_label=str(target)[:300] if target is not None else "",
        details=details,
        ip_address=client_ip(request),
    )
