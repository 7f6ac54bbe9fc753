"""One JSON error shape for everything under /api/:

    {"statusCode": 400, "statusMessage": "Bad Request", "message": "...", "errors": {...}}

`errors` carries field errors (camelCase field names, as the request spelled them) when the
request body was invalid. The ICMP monitor API's seed documents the first three keys.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def error_body(code: int, message: str, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "statusCode": code,
        "statusMessage": HTTPStatus(code).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    return body


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field_name, value in detail.items():
            text = _first_message(value)
            return text if field_name in ("nonFieldErrors", "detail") else f"{field_name}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


class ApiError(exceptions.APIException):
    """An error whose message a contract fixes word for word (e.g. the ICMP monitor seed's
    "Invalid Customer identifier"), optionally with field errors."""

    def __init__(self, status_code: int, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.errors = errors


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(
            error_body(exc.status_code, exc.message, exc.errors), status=exc.status_code
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django's handler500 answers (JSON under /api/)
    detail = response.data
    errors = None
    if isinstance(exc, exceptions.ValidationError):
        errors = detail if isinstance(detail, dict) else {"nonFieldErrors": detail}
        message = _first_message(detail)
    else:
        message = _first_message(
            detail.get("detail", detail) if isinstance(detail, dict) else detail
        )
    response.data = error_body(response.status_code, message, errors)
    return response


def json_error(request: HttpRequest, code: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=code)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# Paths whose errors are in Meraki's dialect (pings/api/views.py, MerakiDialectView): Meraki's
# `errors` list, the portal's fields beside it.
MERAKI_DIALECT_PATHS = ("/api/devices", "/api/pings")


def meraki_error_body(code: int, message: str) -> dict[str, Any]:
    return {"errors": [message], **error_body(code, message), "fieldErrors": {}}


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return json_error(request, status.HTTP_404_NOT_FOUND, f"No API endpoint at {request.path}.")


class ApiErrorMiddleware:
    """An unexpected exception under /api/ becomes a JSON 500, in DEBUG too, after logging."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if not is_api(request) or isinstance(exception, Http404 | PermissionDenied):
            return None
        logger.error("Unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return json_error(request, 500, "Internal server error; the failure has been logged.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api(request):
        return json_error(request, status.HTTP_404_NOT_FOUND, "Not found.")
    from django.views import defaults

    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> Any:
    if is_api(request):
        return json_error(request, 500, "Internal server error; the failure has been logged.")
    from django.views import defaults

    return defaults.server_error(request)


def handler403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api(request):
        return json_error(request, 403, str(exception) or "Forbidden.")
    from django.views import defaults

    return defaults.permission_denied(request, exception)


def handler400(request: HttpRequest, exception: Exception | None = None) -> Any:
    if is_api(request):
        return json_error(request, 400, "Bad request.")
    from django.views import defaults

    return defaults.bad_request(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> Any:
    if is_api(request):
        return json_error(request, 403, f"CSRF check failed: {reason}")
    from django.views.csrf import csrf_failure as default

    return default(request, reason)
