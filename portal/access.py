"""The one place that answers "which objects may this actor see or change" and "may this actor
do this to that". Views, the admin and the API all go through it.

An actor is a User (anonymous included) or an API key principal. Its rights are a Scope: a set
of grants (organization, role, optionally limited to some customers) plus two global flags.
Lookups use `get_visible_or_404` so that another organization's object is a 404 (its existence
is not revealed); writes then call `require(actor, CHANGE, obj)`, a 403 for read-only actors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from portal.models import CustomerAccess, Membership, Organization
from portal.roles import AccessPolicy, Role

M = TypeVar("M", bound=Model)


class Action(StrEnum):
    VIEW = "view"
    CHANGE = "change"


VIEW = Action.VIEW
CHANGE = Action.CHANGE


@dataclass(frozen=True)
class Grant:
    organization_id: int
    role: Role
    # None: the whole organization. Otherwise only rows of these customers.
    customer_ids: frozenset[int] | None = None

    def permits(self, policy: AccessPolicy, action: Action) -> bool:
        needed = policy.view_role if action is VIEW else policy.change_role
        if not self.role.at_least(needed):
            return False
        if self.customer_ids is not None:
            if policy.customer is None:
                return False
            if action is CHANGE and not policy.customer_grants_may_change:
                return False
        return True


@dataclass(frozen=True)
class Scope:
    grants: tuple[Grant, ...] = ()
    read_all: bool = False  # global supporters and superusers
    write_all: bool = False  # superusers

    @property
    def organization_ids(self) -> set[int]:
        return {g.organization_id for g in self.grants}

    @property
    def is_customer_only(self) -> bool:
        """True for customer users: every grant is limited to customers."""
        return bool(self.grants) and all(g.customer_ids is not None for g in self.grants)

    def role_in(self, organization_id: int) -> Role | None:
        roles = [
            g.role
            for g in self.grants
            if g.organization_id == organization_id and g.customer_ids is None
        ]
        return max(roles, key=lambda r: r.rank) if roles else None


EMPTY_SCOPE = Scope()


def _user_scope(user: Any) -> Scope:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY_SCOPE
    grants = [
        Grant(m.organization_id, Role(m.role))
        for m in Membership.objects.filter(user=user).only("organization_id", "role")
    ]
    member_orgs = {g.organization_id for g in grants}
    by_org: dict[int, set[int]] = {}
    for org_id, customer_id in CustomerAccess.objects.filter(user=user).values_list(
        "customer__organization_id", "customer_id"
    ):
        if org_id not in member_orgs:  # a membership already covers the whole organization
            by_org.setdefault(org_id, set()).add(customer_id)
    grants += [Grant(org, Role.READONLY, frozenset(ids)) for org, ids in by_org.items()]
    return Scope(
        grants=tuple(grants),
        read_all=user.is_superuser or user.is_global_supporter,
        write_all=user.is_superuser,
    )


def scope_of(actor: Any) -> Scope:
    """The actor's rights, computed once per actor object (i.e. once per request)."""
    cached = getattr(actor, "_access_scope", None)
    if cached is not None:
        return cached
    if hasattr(actor, "api_key"):
        key = actor.api_key
        customers = frozenset({key.customer_id}) if key.customer_id else None
        scope = Scope(grants=(Grant(key.organization_id, key.role, customers),))
    else:
        scope = _user_scope(actor)
    with contextlib.suppress(AttributeError):  # objects that take no attributes: no cache
        actor._access_scope = scope
    return scope


def policy_of(model: type[Model]) -> AccessPolicy | None:
    return getattr(model, "access_policy", None)


def _id_path(path: str) -> str:
    return "pk" if path == "pk" else f"{path}_id"


def visible(actor: Any, queryset: QuerySet[M] | type[M], action: Action = VIEW) -> QuerySet[M]:
    """Rows of `queryset` the actor may see (or, with CHANGE, change)."""
    qs = queryset if isinstance(queryset, QuerySet) else queryset._default_manager.all()
    scope = scope_of(actor)
    if scope.write_all or (action is VIEW and scope.read_all):
        return qs
    policy = policy_of(qs.model)
    if policy is None:
        return qs.none()
    whole_orgs: set[int] = set()
    condition = Q()
    for grant in scope.grants:
        if not grant.permits(policy, action):
            continue
        if grant.customer_ids is None:
            whole_orgs.add(grant.organization_id)
        else:
            condition |= Q(
                **{
                    _id_path(policy.organization): grant.organization_id,
                    f"{_id_path(policy.customer)}__in": sorted(grant.customer_ids),
                }
            )
    if whole_orgs:
        condition |= Q(**{f"{_id_path(policy.organization)}__in": sorted(whole_orgs)})
    if not condition:
        return qs.none()
    return qs.filter(condition)


def resolve_id(obj: Model, path: str) -> int | None:
    """Follow an ORM path like "customer__organization" on an instance to the final id."""
    if path == "pk":
        return obj.pk
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


def can(actor: Any, action: Action, obj: Model) -> bool:
    """May the actor do `action` to `obj`? Works on unsaved instances too (creation checks)."""
    scope = scope_of(actor)
    if scope.write_all or (action is VIEW and scope.read_all):
        return True
    policy = policy_of(type(obj))
    if policy is None:
        return False
    org_id = resolve_id(obj, policy.organization)
    if org_id is None:
        return False
    customer_id = resolve_id(obj, policy.customer) if policy.customer else None
    return _granted(scope, policy, action, org_id, customer_id)


def can_ids(
    actor: Any, action: Action, model: type[Model], organization_id: int, customer_id: int | None
) -> bool:
    """`can` for a row of `model` known by its organization and customer ids only (a cached
    row: pings.jobcache), with the same grants."""
    scope = scope_of(actor)
    if scope.write_all or (action is VIEW and scope.read_all):
        return True
    policy = policy_of(model)
    if policy is None or organization_id is None:
        return False
    return _granted(
        scope, policy, action, organization_id, customer_id if policy.customer else None
    )


def _granted(
    scope: Scope, policy: AccessPolicy, action: Action, org_id: int, customer_id: int | None
) -> bool:
    for grant in scope.grants:
        if grant.organization_id != org_id or not grant.permits(policy, action):
            continue
        if grant.customer_ids is None or customer_id in grant.customer_ids:
            return True
    return False


def require(actor: Any, action: Action, obj: Model) -> None:
    """Raise PermissionDenied (403) unless the actor may do `action` to `obj`."""
    if not can(actor, action, obj):
        raise PermissionDenied(f"You may not {action} this {type(obj)._meta.verbose_name}.")


def get_visible_or_404(actor: Any, queryset: QuerySet[M] | type[M], **lookup: Any) -> M:
    """The object if the actor may see it; a 404 whether it is missing or someone else's."""
    qs = visible(actor, queryset)
    try:
        return qs.get(**lookup)
    except qs.model.DoesNotExist as exc:
        raise Http404("Not found.") from exc
    except (ValueError, TypeError, ValidationError) as exc:  # a malformed id is "not found"
        raise Http404("Not found.") from exc


def may_write_anything(actor: Any) -> bool:
    """Whether the actor has any grant above read-only (used to hide write controls early)."""
    scope = scope_of(actor)
    return scope.write_all or any(g.role.is_rw for g in scope.grants)


def organizations(actor: Any, action: Action = VIEW, model: type[Model] | None = None):
    """Organizations in which the actor may `action` rows of `model` (default: Organization)."""
    scope = scope_of(actor)
    qs = Organization.objects.all()
    if scope.write_all or (action is VIEW and scope.read_all):
        return qs
    policy = policy_of(model) if model is not None else Organization.access_policy
    if policy is None:
        return qs.none()
    ids: Iterable[int] = {g.organization_id for g in scope.grants if g.permits(policy, action)}
    return qs.filter(pk__in=sorted(ids))


def customers_for(actor: Any, model: type[Model], organization: Any = None) -> QuerySet:
    """Customers for which the actor may create `model` rows (devices, monitors, ...),
    within `organization` when given."""
    from portal.models import Customer

    customers = visible(actor, Customer).select_related("organization")
    if organization is not None:
        customers = customers.filter(organization=organization)
    ids = [
        c.pk
        for c in customers
        if can(actor, CHANGE, model(customer=c, organization=c.organization))
    ]
    return Customer.objects.filter(pk__in=ids).select_related("organization")
