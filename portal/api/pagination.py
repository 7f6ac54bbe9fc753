"""`?page=1&perPage=50` (perPage ≤ 200) → `{"items", "total", "page", "perPage"}`, the list shape
of the ICMP monitor API's contract, used by every list endpoint."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.db.models import Count, F, Func, IntegerField, QuerySet, Subquery, Window
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from portal import sqlcache


class PagePagination(pagination.BasePagination):
    default_per_page = 50
    max_per_page = 200

    def _int_param(self, request: Any, name: str, default: int, low: int, high: int) -> int:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return default
        problem = {name: [f"Must be a whole number from {low} to {high}."]}
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError(problem) from None
        if not low <= value <= high:
            raise ValidationError(problem)
        return value

    def read_params(self, request: Any) -> None:
        """`page` and `perPage` from the query, or a 400 with a field error."""
        self.per_page = self._int_param(
            request, "perPage", self.default_per_page, 1, self.max_per_page
        )
        self.page = self._int_param(request, "page", 1, 1, 10**9)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        self.read_params(request)
        self.total = queryset.count()
        start = (self.page - 1) * self.per_page
        return list(queryset[start : start + self.per_page])

    def paginate_values(
        self,
        queryset: QuerySet | Callable[[], QuerySet],
        request: Any,
        fields: list[str],
        cache_key: tuple[Hashable, ...] | None = None,
        **options: Any,
    ) -> list[dict]:
        """`paginate_queryset` as `.values(*fields)` rows, with the total counted by a window in
        the same query: one round trip instead of two. A page past the end has no row to carry
        the total, so only then is it counted apart. With `cache_key` — which must determine
        the queryset entirely, see portal.sqlcache — the page's SQL is compiled once per key,
        page and page size, and `queryset` may be a function that builds it (only when it is
        compiled, or counted); `options` (loaders, converters) go to `sqlcache.execute`."""
        if cache_key is None:
            self.read_params(request)
            start = (self.page - 1) * self.per_page
            build = queryset if callable(queryset) else lambda: queryset
            rows = list(self._page(build, fields, start))
            self.total = rows[0]["_total"] if rows else (build().count() if start else 0)
            for row in rows:
                del row["_total"]
            return rows
        return [
            dict(zip(fields, row, strict=False))
            for row in self.paginate_lists(queryset, request, fields, cache_key, **options)
        ]

    def paginate_lists(
        self,
        queryset: QuerySet | Callable[[], QuerySet],
        request: Any,
        fields: list[str],
        cache_key: tuple[Hashable, ...],
        counted: Callable[[], QuerySet] | None = None,
        **options: Any,
    ) -> list[list[Any]]:
        """`paginate_values` with a `cache_key`, each row a list of the values of `fields` in
        their order (and the total after them): no dict per row. `counted`: the same rows
        without what only the page needs (joins for names), counted by a subquery instead
        of a window over the page's joined rows — the window makes PostgreSQL join and
        project every matching row, the subquery only the page's (bench/api_profile.py: a
        third of the list's query)."""
        self.read_params(request)
        start = (self.page - 1) * self.per_page
        build = queryset if callable(queryset) else lambda: queryset
        key = ("page", *cache_key, tuple(fields), start, self.per_page, counted is not None)
        entry = sqlcache.compiled(key, lambda: self._page(build, fields, start, counted))
        if entry.names[: len(fields)] != tuple(fields):
            raise ValueError(f"sqlcache's columns {entry.names} are not in the order {fields}")
        rows = sqlcache.execute(entry, **options)
        self.total = rows[0][len(fields)] if rows else (build().count() if start else 0)
        return rows

    def _page(
        self,
        build: Callable[[], QuerySet],
        fields: list[str],
        start: int,
        counted: Callable[[], QuerySet] | None = None,
    ) -> QuerySet:
        if counted is None:
            total: Any = Window(Count("*"))
        else:
            # COUNT as a plain function: one row of the whole set (Django would GROUP BY).
            number = Func(F("pk"), function="COUNT", output_field=IntegerField())
            total = Subquery(counted().order_by().annotate(_n=number).values("_n"))
        return (
            build().annotate(_total=total).values(*fields, "_total")[start : start + self.per_page]
        )

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            {"items": data, "total": self.total, "page": self.page, "perPage": self.per_page}
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["items", "total", "page", "perPage"],
            "properties": {
                "items": schema,
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "perPage": {"type": "integer"},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "perPage",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            },
        ]
