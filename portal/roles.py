"""Roles inside an organization, ordered: each role can do everything the roles below it can."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    READONLY = "readonly", "Read-only"

    @property
    def rank(self) -> int:
        return {Role.READONLY: 1, Role.OPERATOR: 2, Role.ADMIN: 3}[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank

    @property
    def is_rw(self) -> bool:
        return self is not Role.READONLY


@dataclass(frozen=True)
class AccessPolicy:
    """How the access module decides who may see and change rows of one model.

    Every model that users reach declares one as `access_policy`; a model without one is
    reachable by superusers only, so forgetting it fails closed.
    """

    # ORM path from the model to its Organization ("pk" for Organization itself).
    organization: str
    # ORM path to its Customer ("pk" for Customer itself); None when the rows do not belong to
    # a customer, which keeps them away from customer users and customer-limited API keys.
    customer: str | None = None
    view_role: Role = Role.READONLY
    change_role: Role = Role.OPERATOR
    # Whether a customer-limited grant (a customer user is read-only anyway; a customer-limited
    # read-write API key) may change these rows, or only the organization-wide roles may.
    customer_grants_may_change: bool = True
