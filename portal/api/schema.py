"""What every operation's schema shares, filled in once after drf-spectacular has built it.

Every error under /api/ has one of two bodies (portal/api/exceptions.py): the portal's
`{"statusCode", "statusMessage", "message", "errors"}` and, on the Meraki-dialect paths,
Meraki's `{"errors": [...]}` with the portal's fields beside it. Which errors an operation can
answer follows from its shape: every operation needs a key (401), every write can be refused
(403), a path parameter can name nothing visible (404), input can be wrong (400). Documenting
them here keeps each view's `extend_schema` to what is particular to it.

Paths are written as the contracts write them, without the trailing slash (one is accepted).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import serializers

from portal.api.exceptions import MERAKI_DIALECT_PATHS

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
WRITE_METHODS = ("put", "post", "patch", "delete")

# The field errors: a field's messages, or (nested objects) its sub-fields' errors.
FIELD_ERRORS: dict[str, Any] = {
    "type": "object",
    "description": "Field name (camelCase, as the request spelled it) → messages; nested "
    "objects carry their own fields' errors.",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]
    },
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["statusCode", "statusMessage", "message"],
    "properties": {
        "statusCode": {"type": "integer", "example": 400},
        "statusMessage": {"type": "string", "example": "Bad Request"},
        "message": {"type": "string", "example": "Invalid hostname"},
        "errors": FIELD_ERRORS,
    },
}
MERAKI_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Meraki's error envelope (`errors`); the portal's fields beside it, except "
    "on 429 which is exactly Meraki's.",
    "required": ["errors"],
    "properties": {
        "errors": {"type": "array", "items": {"type": "string"}},
        "statusCode": {"type": "integer"},
        "statusMessage": {"type": "string"},
        "message": {"type": "string"},
        "fieldErrors": {
            "type": "object",
            "description": "Field (dotted for nested ones, e.g. `callback.url`) → messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the message says what, `errors` (or `fieldErrors`) per field.",
    "401": "No valid API key (`Authorization: Bearer <key>`) or login.",
    "403": "The key or role may not make this change.",
    "404": "Nothing the caller may see has this id.",
    "409": "The change conflicts with what exists.",
    "429": "Too many pings of this device; `Retry-After` says how many seconds to wait.",
}


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 253,
        "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"format": "hostname"}],
        "description": "An IPv4 or IPv6 address or a host name only: no scheme, port or path.",
    }
)
class HostField(serializers.CharField):
    """A host to ping, as portal.validators.normalize_host takes it (for the schema only)."""


# For a view's own error answers (e.g. with an example): `responses={409: ERROR}`.
ERROR = {"$ref": "#/components/schemas/Error"}
MERAKI_ERROR = {"$ref": "#/components/schemas/MerakiError"}

# `{"success": true}`: what DELETE answers (the ICMP monitor contract's completion).
SUCCESS = OpenApiResponse(
    inline_serializer("Success", {"success": serializers.BooleanField()}),
    description="Deleted.",
)


def _error_response(status: str, schema_name: str, existing: dict[str, Any]) -> dict[str, Any]:
    content = existing.get("content", {}).get("application/json", {})
    answer: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS.get(status, "Error."),
        "content": {
            "application/json": {
                **{k: v for k, v in content.items() if k != "schema"},
                "schema": {"$ref": f"#/components/schemas/{schema_name}"},
            }
        },
    }
    if status == "429":
        answer["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return answer


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the error envelopes as components, every
    operation's error answers, and the paths without their trailing slash."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["MerakiError"] = MERAKI_ERROR_SCHEMA
    paths: dict[str, Any] = {}
    for path, item in result.get("paths", {}).items():
        envelope = "MerakiError" if path.startswith(MERAKI_DIALECT_PATHS) else "Error"
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            codes = {"401"}
            if method in WRITE_METHODS:
                codes.add("403")
            if any(p.get("in") == "path" for p in parameters):
                codes.add("404")
            if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
                codes.add("400")
            # The views' own error answers (e.g. 409, 429) keep their examples.
            codes |= {code for code in responses if code.startswith("4")}
            for code in sorted(codes):
                responses[code] = _error_response(code, envelope, responses.get(code, {}))
        paths[path.rstrip("/") or "/"] = item
    result["paths"] = paths
    return result
