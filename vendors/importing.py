"""CSV import of devices: every row validated exactly as the form would, reported row by row,
and created all together or not at all."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from portal.models import Customer
from portal.validators import parse_uuid
from vendors.models import Credential, Device, DeviceKind

COLUMNS = [
    "customer",
    "kind",
    "name",
    "credential",
    "iccid",
    "serial",
    "host",
    "model",
    "network_id",
    "notes",
]
REQUIRED = {"customer", "kind", "name"}
MAX_ROWS = 5000


@dataclass
class Row:
    line: int
    values: dict[str, str]
    device: Device | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    rows: list[Row]
    problems: list[str] = field(default_factory=list)  # whole-file problems

    @property
    def ok(self) -> bool:
        return not self.problems and all(not r.errors for r in self.rows)

    @property
    def error_count(self) -> int:
        return len(self.problems) + sum(1 for r in self.rows if r.errors)


def plan(text: str, customers: QuerySet[Customer], credentials: QuerySet[Credential]) -> ImportPlan:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = REQUIRED - set(header)
    unknown = set(header) - set(COLUMNS)
    result = ImportPlan(rows=[])
    if missing:
        result.problems.append(f"Missing column(s): {', '.join(sorted(missing))}.")
    if unknown:
        result.problems.append(
            f"Unknown column(s): {', '.join(sorted(unknown))}. Known: {', '.join(COLUMNS)}."
        )
    if result.problems:
        return result
    reader.fieldnames = header
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            result.problems.append(f"More than {MAX_ROWS} rows; split the file.")
            break
        values = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        row = Row(line=number, values=values)
        result.rows.append(row)
        _build(row, customers, credentials)
        if row.device is not None and not row.errors:
            for key in (("iccid", row.device.iccid), ("serial", row.device.serial)):
                if key[1] and (key, row.device.organization_id) in seen:
                    row.errors.append(
                        f"{key[0]} {key[1]} repeats line {seen[(key, row.device.organization_id)]}."
                    )
                elif key[1]:
                    seen[(key, row.device.organization_id)] = number
    return result


def _build(row: Row, customers: QuerySet[Customer], credentials: QuerySet[Credential]) -> None:
    v = row.values
    ref = v.get("customer", "")
    public_id = parse_uuid(ref)
    match = Q(name__iexact=ref) | (Q(public_id=public_id) if public_id else Q(pk__in=[]))
    customer = customers.filter(match).first() if ref else None
    if customer is None:
        row.errors.append(f"customer: no customer {ref!r} that you may add devices to.")
        return
    kind = v.get("kind", "")
    if kind not in DeviceKind.values:
        row.errors.append(f"kind: use one of {', '.join(DeviceKind.values)}.")
        return
    credential = None
    if v.get("credential"):
        credential = credentials.filter(
            organization=customer.organization, name__iexact=v["credential"]
        ).first()
        if credential is None:
            row.errors.append(
                f"credential: no credential named {v['credential']!r} in {customer.organization}."
            )
            return
    device = Device(
        customer=customer,
        organization=customer.organization,
        kind=kind,
        name=v.get("name", ""),
        credential=credential,
        iccid=v.get("iccid", ""),
        serial=v.get("serial", ""),
        host=v.get("host", ""),
        model=v.get("model", ""),
        network_id=v.get("network_id", ""),
        notes=v.get("notes", ""),
    )
    try:
        device.full_clean(exclude=["organization"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            row.errors.extend(f"{name}: {m}" for m in messages)
    row.device = device


def apply(result: ImportPlan) -> list[Device]:
    if not result.ok:
        raise ValueError("the plan has errors")
    with transaction.atomic():
        created = []
        for row in result.rows:
            assert row.device is not None
            row.device.save()
            created.append(row.device)
    return created


def as_dicts(result: ImportPlan) -> list[dict[str, Any]]:
    return [{"line": r.line, **r.values, "errors": r.errors} for r in result.rows]
