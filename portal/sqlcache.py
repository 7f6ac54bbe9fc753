"""The compiled SQL of queries that API requests repeat, kept per process.

Building a queryset and compiling it to SQL is most of what Django spends on a small API query
(bench/api_profile.py: ~0.6 ms of a ~1 ms device lookup, ~0.8 ms of the monitor list's query),
and a poller or a dashboard sends the same request over and over. `dicts(key, build)` compiles
`build()` once per `key` and then only executes the SQL and applies the same converters
Django's iterator applies; the query still runs on every request, so what it reads — and
which rows the caller may see — is always the database's current answer.

`key` must determine the queryset completely: callers put in it everything `build` uses (the
actor's `access.Scope`, which alone decides `access.visible`, and every filter value, page and
page size). The SQL depends on nothing else but the schema, which changes only with a deploy
(and so with new processes). Only querysets that Django would send as one SELECT belong here:
no prefetch_related, and values() rows, which is what this returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Lookup, QuerySet

# Distinct requests in flight at once are far fewer; beyond it the oldest entries go first.
MAX_ENTRIES = 512


@dataclass(frozen=True)
class Compiled:
    using: str
    sql: str
    params: tuple[Any, ...]
    names: tuple[str, ...]  # of the selected columns, in the SQL's order (as values() names them)
    columns: tuple[Any, ...]  # the selected expressions, whose fields convert the values
    empty: bool = False  # the queryset is .none() (no grant): no SQL, no rows
    late: bool = False  # some parameter is a `Late`
    # Per database alias: (position, converters, column) for the columns that have any. They
    # depend on the backend and the fields only; each call gets the current connection.
    converters: dict[str, list[tuple[int, list[Any], Any]]] = field(
        default_factory=dict, compare=False
    )


class Late:
    """A parameter given only when a compiled query runs (`execute(entry, late={it: value})`):
    a query whose SQL is the same for every value, compiled once, with this in its place."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Late({self.name!r})"


class AnyOf(Lookup):
    """`field__any_of=values`: `field = ANY(%s)`, one array parameter however many values
    (PostgreSQL), so the SQL is the same for any list and a `Late` may stand for it."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [value]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} = ANY({rhs_sql})", [*lhs_params, *rhs_params]


_entries: dict[Hashable, Compiled] = {}
_lock = threading.Lock()


def compile_queryset(queryset: QuerySet) -> Compiled:
    """What running `queryset` (values or values_list rows) sends and how its values convert."""
    using = queryset.db
    query = queryset.query
    # The SQL's column order: values()' own order where Django keeps it (`selected`), else
    # extra, then fields, then annotations, as the compiler writes them.
    if query.selected is not None:
        names = tuple(query.selected)
    else:
        names = (*query.extra_select, *query.values_select, *query.annotation_select)
    compiler = query.get_compiler(using=using)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return Compiled(using, "", (), names, (), empty=True)
    columns = tuple(s[0] for s in compiler.select[: compiler.col_count])
    if len(columns) != len(names):
        raise ValueError("sqlcache takes values() querysets only")
    late = any(type(p) is Late for p in params)
    return Compiled(using, sql, tuple(params), names, columns, late=late)


def compiled(key: Hashable, build: Callable[[], QuerySet]) -> Compiled:
    entry = _entries.get(key)
    if entry is None:
        entry = compile_queryset(build())
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                del _entries[next(iter(_entries))]  # insertion order: the oldest
            _entries[key] = entry
    return entry


def dicts(key: Hashable, build: Callable[[], QuerySet], **options: Any) -> list[dict[str, Any]]:
    """The rows `build()` (a values() queryset) gives, as values() gives them; compiled once
    per key. `options`: see `execute`."""
    entry = compiled(key, build)
    return [dict(zip(entry.names, row, strict=True)) for row in execute(entry, **options)]


def execute(
    entry: Compiled,
    loaders: Mapping[str, type] | None = None,
    converters: Mapping[str, Callable[[Any, Any, Any], Any]] | None = None,
    late: Mapping[Late, Any] | None = None,
) -> list[list[Any]]:
    """Run it: the rows as lists of converted values, in the order of `entry.names`.
    `loaders`: psycopg loaders by PostgreSQL type name, for this query only (PostgreSQL).
    `converters`: by column name, used instead of Django's for that column (called as
    Django's are, with the value, the column and the connection). `late`: the value of each
    `Late` parameter the query was compiled with."""
    if entry.empty:
        return []
    params = entry.params
    if entry.late:
        given = late or {}
        params = tuple(given[p] if type(p) is Late else p for p in params)  # KeyError: not given
    connection = connections[entry.using]
    # The same SQL text every time: on PostgreSQL (portal.postgres) a prepared statement.
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cursor:
        for type_name, loader in (loaders or {}).items():
            cursor.cursor.adapters.register_loader(type_name, loader)
        cursor.execute(entry.sql, params)
        fetched = cursor.fetchall()
    found = entry.converters.get(entry.using)
    if found is None:
        found = entry.converters[entry.using] = _converters(entry, connection)
    if converters:
        django_own = {position: use for position, use, _ in found}
        found = []  # a new list: the cached one stays Django's
        for position, column in enumerate(entry.columns):
            name = entry.names[position]
            use = [converters[name]] if name in converters else django_own.get(position)
            if use:
                found.append((position, use, column))
    result = []
    for row in fetched:
        row = list(row)
        for position, use, column in found:
            value = row[position]
            for converter in use:
                value = converter(value, column, connection)
            row[position] = value
        result.append(row)
    return result


def _converters(entry: Compiled, connection: Any) -> list[tuple[int, list[Any], Any]]:
    # As SQLCompiler.get_converters does (no composite columns here).
    found = []
    for position, column in enumerate(entry.columns):
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((position, converters, column))
    return found


def clear() -> None:
    with _lock:
        _entries.clear()
