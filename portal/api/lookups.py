"""Lookups that several APIs share."""

from __future__ import annotations

import uuid
from typing import Any

from portal import access
from portal.api.exceptions import ApiError
from portal.models import Customer
from portal.validators import is_digits


def resolve_customer(actor: Any, value: Any) -> Customer:
    """`customerId` is the numeric id or the customer's publicId; anything else is a 400 and a
    customer the caller cannot see is a 404."""
    customers = access.visible(actor, Customer)
    if isinstance(value, bool) or value is None:
        raise ApiError(400, "Invalid Customer identifier")
    if isinstance(value, int) or (isinstance(value, str) and is_digits(value.strip())):
        match = customers.filter(pk=int(value))
    elif isinstance(value, str):
        try:
            match = customers.filter(public_id=uuid.UUID(value.strip()))
        except ValueError as exc:
            raise ApiError(400, "Invalid Customer identifier") from exc
    else:
        raise ApiError(400, "Invalid Customer identifier")
    customer = match.select_related("organization").first()
    if customer is None:
        raise ApiError(404, "Customer not found")
    return customer
