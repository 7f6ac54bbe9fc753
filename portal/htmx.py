"""The one helper that decides "HTMX partial or full page"."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render `partial` for HTMX requests that target part of a page, the full `template`
    otherwise. Pages include their partial, so both stay in step."""
    htmx = getattr(request, "htmx", None)
    # Boosted navigation and the back button's history restore (on a cache miss) want the
    # whole page; other HTMX requests swap a part of it.
    is_partial = bool(htmx) and not htmx.boosted and not htmx.history_restore_request
    name = partial if (partial and is_partial) else template
    response = render(request, name, context, status=status)
    response.headers["Vary"] = "HX-Request"
    return response


def render_form(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A page around `context["form"]`: 400 when the form was refused, so clients (and tests)
    see the refusal in the status, not only in the page."""
    return render_page(request, template, context, status=400 if context["form"].errors else 200)
