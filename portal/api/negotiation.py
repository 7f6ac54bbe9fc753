"""DRF's content negotiation, with its answer to the commonest request given without parsing.

A request with no Accept header, or `Accept: */*` (curl, wrk, most HTTP libraries, pollers),
and no `?format=` gets the view's first renderer and that renderer's own media type: what
DefaultContentNegotiation answers after parsing the header (`*/*` matches every renderer and
has the lowest precedence). Parsing it was ~0.05 ms of a ~0.4 ms API request
(bench/api_profile.py). Everything else goes to DRF as before.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Any, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        if (
            format_suffix is None
            and renderers
            and request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
