"""Input no API field can hold, refused before any view sees it."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from portal.api.exceptions import MERAKI_DIALECT_PATHS, error_body, is_api, meraki_error_body

# "\u0000" inside a JSON string, unless its backslash is itself escaped ("\\u0000" is text).
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def has_nul(request: HttpRequest) -> bool:
    """Whether the path, the query or the JSON body carries a NUL character. (A raw NUL byte
    in a body is not valid JSON: the parser refuses it on its own.)"""
    if "\x00" in request.path:
        return True
    if any(
        "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
    ):
        return True
    return request.method not in ("GET", "HEAD") and bool(JSON_NUL.search(request.body))


class RefuseNulCharactersMiddleware:
    """A NUL character in the path, query or body under /api/ is a 400. PostgreSQL text
    cannot store one, so it reached the database as an error (a 500) wherever a view looked
    something up or saved it; Django's and DRF's form fields refuse it the same way. Found by
    fuzzing the API on PostgreSQL (tests/test_api_fuzz.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request) and has_nul(request):
            message = "Text may not contain NUL characters."
            meraki = request.path.startswith(MERAKI_DIALECT_PATHS)
            body = meraki_error_body(400, message) if meraki else error_body(400, message)
            return JsonResponse(body, status=400)
        return self.get_response(request)
