"""Validators shared by the apps: hosts (IP or DNS name) and vendor identifiers."""

from __future__ import annotations

import ipaddress
import re
import uuid

from django.core.exceptions import ValidationError

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def normalize_host(value: str) -> str:
    """An IPv4/IPv6 address or a DNS name, nothing else (no scheme, port, path or spaces).
    Returns it normalized (addresses compressed, names lower-case without a trailing dot)."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Enter an IP address or a hostname.")
    if any(c in value for c in "/:@ ?#") and not _is_ip(value):
        if "://" in value:
            raise ValidationError("Enter only the hostname or IP, without a scheme like https://.")
        if "/" in value:
            raise ValidationError("Enter only the hostname or IP, without a path.")
        raise ValidationError("Enter a bare hostname or IP address.")
    if _is_ip(value):
        return str(ipaddress.ip_address(value.strip("[]")))
    name = value.rstrip(".").lower()
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise ValidationError("Enter a valid hostname or IP address.")
    if name.replace(".", "").isdigit():
        raise ValidationError("Enter a valid IPv4 address.")
    return name


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def is_ip(value: str) -> bool:
    return _is_ip(value)


def is_digits(value: str) -> bool:
    """Whether `value` is ASCII digits only, so int() takes it: str.isdigit() also accepts "²"
    and other Unicode digits, which int() refuses (found by fuzzing the API: 500s)."""
    return value.isascii() and value.isdigit()


ICCID = re.compile(r"^\d{15,22}$")
MERAKI_SERIAL = re.compile(r"^Q[A-Z0-9]{3}-[A-Z0-9]{4}-[A-Z0-9]{4}$")


def normalize_iccid(value: str) -> str:
    """ICCIDs are 15 to 22 digits (the seed's example has 16); spaces and dashes are dropped."""
    digits = re.sub(r"[\s-]", "", value or "")
    if not ICCID.match(digits):
        raise ValidationError("An ICCID is 15 to 22 digits, e.g. 8912372646888991.")
    return digits


def normalize_meraki_serial(value: str) -> str:
    serial = (value or "").strip().upper()
    if not MERAKI_SERIAL.match(serial):
        raise ValidationError("A Meraki serial looks like Q234-ABCD-5678.")
    return serial


def parse_uuid(value: object) -> uuid.UUID | None:
    """The UUID in `value`, or None when it is not one (bad ids are "not found", not errors)."""
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None
