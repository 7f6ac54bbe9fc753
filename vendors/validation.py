"""Device rules, shared by the model, the forms, the CSV import and the API."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from portal.validators import (
    is_ip,
    normalize_host,
    normalize_iccid,
    normalize_meraki_serial,
)
from vendors.models import Device, DeviceKind


def clean_device(device: Device) -> None:
    """Normalize a device's fields in place; raise ValidationError with field errors."""
    errors: dict[str, str] = {}
    if device.customer_id:
        device.organization_id = device.customer.organization_id
    kind = DeviceKind(device.kind) if device.kind in DeviceKind.values else None
    if kind is None:
        raise ValidationError({"kind": "Pick a device kind."})

    def check(field: str, normalize) -> None:
        try:
            setattr(device, field, normalize(getattr(device, field)))
        except ValidationError as exc:
            errors[field] = exc.messages[0]

    if kind is DeviceKind.MONOGOTO_THING:
        check("iccid", normalize_iccid)
        if device.host:  # optional: fetched from the Thing information call when blank
            check("host", normalize_host)
            if "host" not in errors and not is_ip(device.host):
                errors["host"] = "A Thing's address is an IP address."
    elif kind is DeviceKind.MERAKI_DEVICE:
        check("serial", normalize_meraki_serial)
    elif kind is DeviceKind.HOST:
        check("host", normalize_host)
    # Identifiers of other kinds are cleared, so a device never carries a stale one.
    if kind is not DeviceKind.MONOGOTO_THING:
        device.iccid = ""
    if kind is not DeviceKind.MERAKI_DEVICE:
        device.serial = ""
    if kind is DeviceKind.SIMOTEL_SERVER:
        device.host = ""

    if kind.vendor is None:
        device.credential = None
    elif device.credential_id is None:
        errors["credential"] = f"A {kind.label} needs a {kind.vendor.title()} credential."
    else:
        credential = device.credential
        if credential.vendor != kind.vendor:
            errors["credential"] = f"Pick a {kind.vendor.title()} credential."
        elif device.customer_id and credential.organization_id != device.customer.organization_id:
            errors["credential"] = "Pick a credential of the customer's organization."
    if errors:
        raise ValidationError(errors)
