"""API authentication: `Authorization: Bearer <API key>`, or the browser session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from portal.models import ApiKey


@dataclass(eq=False)
class ApiKeyPrincipal:
    """Stands in for request.user when a request authenticates with an API key."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_superuser: bool = False
    is_staff: bool = False
    is_global_supporter: bool = False
    pk: None = None
    _access_scope: Any = field(default=None, repr=False)

    def get_username(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: HttpRequest) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        credential = credential.strip()
        if not credential:
            raise exceptions.AuthenticationFailed("Missing API key after 'Bearer'.")
        key = ApiKey.authenticate(credential)
        if key is None:
            # One message for unknown, malformed and revoked keys: nothing to learn from it.
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        key.touch()
        return ApiKeyPrincipal(api_key=key), key

    def authenticate_header(self, request: HttpRequest) -> str:
        # Its presence makes DRF answer 401 (not 403) to unauthenticated requests.
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema how API keys travel."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the portal's API keys page or "
            "`manage.py create_api_key`.",
        }
