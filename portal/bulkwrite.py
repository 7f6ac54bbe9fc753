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
    """UPDATE `fields` of each row by primary key. A row deleted meanwhile stays deleted.

    PostgreSQL gets one statement for all rows, the new values as one array per column joined
    by `unnest`: one parse, one plan and one pass, where an UPDATE per row (even pipelined by
    executemany) cost the database a parse, plan and round of locking each — at 100,000
    monitors two such updates per check were most of PostgreSQL's CPU. SQLite runs one
    statement per row through executemany, in C, which is cheap in process."""
    if not rows:
        return
    model = type(rows[0])
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    if connection.vendor == "postgresql":
        arrays = [
            [c.get_db_prep_save(getattr(row, c.attname), connection) for row in rows]
            for c in columns
        ]
        arrays.append([row.pk for row in rows])
        types = [c.db_type(connection) for c in columns] + [meta.pk.rel_db_type(connection)]
        names = [quote(f"v{i}") for i in range(len(arrays))]
        assignments = ", ".join(
            f"{quote(c.column)} = v.{name}" for c, name in zip(columns, names, strict=False)
        )
        unnest = ", ".join(f"%s::{kind}[]" for kind in types)
        sql = (
            f"UPDATE {table} SET {assignments} "  # noqa: S608 (names from the model)
            f"FROM unnest({unnest}) AS v({', '.join(names)}) WHERE {table}.{pk} = v.{names[-1]}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, arrays)
        return
    assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 (names from the model)
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
    report_inserted: bool = False,
) -> list[int] | None:
    """INSERT `rows` (tuples of plain values in the order of `fields`, attribute names).
    `ignore_conflicts` skips rows that clash with a unique constraint (`unique_fields`, the
    constraint's fields, when `report_inserted`); `unique_fields` with
    `update_fields` overwrites those fields of the row already there (ON CONFLICT ... DO
    UPDATE). Defaults are not applied: give every column that has no database default.
    With `report_inserted` (and `ignore_conflicts`) it returns the positions in `rows` of the
    rows that went in, so the caller can deal with the ones that clashed.

    On PostgreSQL the rows travel by COPY (into a temporary table first when conflicts are
    handled, then one INSERT ... SELECT): a multi-row VALUES of thousands of placeholders costs
    more to parse in psycopg than to run, and one statement per row costs PostgreSQL a parse
    and plan each (2.5 times the database CPU for a check batch). SQLite runs one statement
    per row through executemany, in C."""
    if not rows:
        return [] if report_inserted else None
    assert not report_inserted or (ignore_conflicts and unique_fields), "rows told by key"
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    names = ", ".join(quote(c.column) for c in columns)
    original = rows
    key_names = ", ".join(quote(meta.get_field(n).column) for n in unique_fields)
    if ignore_conflicts:
        tail = " ON CONFLICT DO NOTHING"
    elif update_fields:
        sets = ", ".join(
            f"{(q := quote(meta.get_field(n).column))} = EXCLUDED.{q}" for n in update_fields
        )
        tail = f" ON CONFLICT ({key_names}) DO UPDATE SET {sets}"
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
            if report_inserted:  # a row at a time: each statement's rowcount says if it went in
                return [i for i, row in enumerate(rows) if cursor.execute(sql, row).rowcount]
            cursor.executemany(sql, rows)
            return None
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
        inserted = None
        if tail:
            if report_inserted:
                # RETURNING names the rows that went in by their unique key.
                cursor.execute(
                    f"INSERT INTO {table} ({names}) SELECT {names} FROM {target}{tail} "  # noqa: S608
                    f"RETURNING {key_names}"
                )
                where = [fields.index(name) for name in unique_fields]
                positions = {tuple(row[i] for i in where): n for n, row in enumerate(original)}
                inserted = sorted(positions[tuple(key)] for key in cursor.fetchall())
            else:
                cursor.execute(
                    f"INSERT INTO {table} ({names}) SELECT {names} FROM {target}{tail}"  # noqa: S608
                )
            # Rows left by an earlier statement of this transaction must not be sent twice.
            cursor.execute(f"DELETE FROM {target}")  # noqa: S608
        return inserted if report_inserted else None
