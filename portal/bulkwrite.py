"""Writing many rows at once without Django's `bulk_update` and `bulk_create`.

`bulk_update` writes one CASE WHEN per field and row, which costs more to compile than the
database spends running it (a batch of 500 monitors: ~1 s of Python for 6 fields).
`bulk_create` prepares every value through its field (`get_db_prep_save` and friends): for a
check batch's 500 results and 1,500 rollup rows that was a third of the batch's time. Here the
caller hands plain values and only the column kinds that need it (JSON, datetimes on SQLite)
are adapted."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field, Model


def update_fields(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """UPDATE `fields` of each row by primary key: one statement sent with executemany
    (psycopg pipelines it; sqlite3 runs it in C). A row deleted meanwhile stays deleted."""
    if not rows:
        return
    model = type(rows[0])
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608 (names from the model)
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _adapter(field: Field, connection: Any) -> Callable[[Any], Any] | None:
    """How a plain Python value of `field` goes to the driver; None when it goes as it is."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        encoder = field.encoder  # type: ignore[attr-defined]
        return lambda value: connection.ops.adapt_json_value(value, encoder)
    if kind == "DateTimeField" and connection.vendor != "postgresql":
        return connection.ops.adapt_datetimefield_value
    return None


def insert_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
    unique_fields: Sequence[str] = (),
    update_fields: Sequence[str] = (),
) -> None:
    """INSERT `rows` (tuples of plain values in the order of `fields`, attribute names).
    `ignore_conflicts` skips rows that clash with a unique constraint; `unique_fields` with
    `update_fields` overwrites those fields of the row already there (ON CONFLICT ... DO
    UPDATE). Defaults are not applied: give every column that has no database default.

    On PostgreSQL the rows travel by COPY (into a temporary table first when conflicts are
    handled, then one INSERT ... SELECT): a multi-row VALUES of thousands of placeholders costs
    more to parse in psycopg than to run, and one statement per row costs PostgreSQL a parse
    and plan each (2.5 times the database CPU for a check batch). SQLite runs one statement
    per row through executemany, in C."""
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    names = ", ".join(quote(c.column) for c in columns)
    if ignore_conflicts:
        tail = " ON CONFLICT DO NOTHING"
    elif update_fields:
        keys = ", ".join(quote(meta.get_field(n).column) for n in unique_fields)
        sets = ", ".join(
            f"{(q := quote(meta.get_field(n).column))} = EXCLUDED.{q}" for n in update_fields
        )
        tail = f" ON CONFLICT ({keys}) DO UPDATE SET {sets}"
    else:
        tail = ""
    adapters = [(i, a) for i, c in enumerate(columns) if (a := _adapter(c, connection))]
    if adapters:
        adapted = []
        for row in rows:
            row = list(row)
            for i, adapt in adapters:
                row[i] = adapt(row[i])
            adapted.append(row)
        rows = adapted
    table = quote(meta.db_table)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            values = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({values}){tail}"  # noqa: S608
            cursor.executemany(sql, rows)
            return
        target = table
        if tail:
            # Emptied at the end of the transaction; made once per connection.
            digest = hashlib.sha1(f"{table}:{names}".encode(), usedforsecurity=False)
            target = quote(f"bulk_{meta.db_table}_{digest.hexdigest()[:8]}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} ON COMMIT DELETE ROWS "  # noqa: S608
                f"AS SELECT {names} FROM {table} WITH NO DATA"
            )
        with cursor.cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if tail:
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {target}{tail}"  # noqa: S608
            )
            # Rows left by an earlier statement of this transaction must not be sent twice.
            cursor.execute(f"DELETE FROM {target}")  # noqa: S608
