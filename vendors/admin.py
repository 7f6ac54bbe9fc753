from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from portal.admin_scoping import ScopedModelAdmin, restrict_to_superusers
from vendors.models import ConnectionTest, Credential, Device, MerakiCallback, RateBucket


@admin.register(Credential)
class CredentialAdmin(ScopedModelAdmin):
    """Secrets are write-only here too: the admin shows whether each is set (and at most its
    last 4 characters); they are set on the portal's credential page."""

    list_display = ["name", "vendor", "organization", "base_url", "updated_at"]
    list_filter = ["vendor", "organization"]
    search_fields = ["name", "base_url", "organization__name"]
    fields = [
        "organization",
        "vendor",
        "name",
        "base_url",
        "simotel_method",
        "secret_status",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["organization", "vendor", "secret_status", "created_at", "updated_at"]
    list_select_related = ["organization"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="Secrets")
    def secret_status(self, obj: Credential) -> str:
        rows = format_html_join(
            "", "<li>{}: {}</li>", ((label, hint) for _, label, hint in obj.secret_hints())
        )
        link = reverse("credential_edit", args=[obj.pk])
        return format_html('<ul>{}</ul><a href="{}">Change secrets in the portal</a>', rows, link)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # created in the portal, where the vendor's secret fields are asked for


@admin.register(Device)
class DeviceAdmin(ScopedModelAdmin):
    list_display = ["name", "kind", "customer", "organization", "iccid", "serial", "host"]
    list_filter = ["kind", "organization"]
    search_fields = ["name", "iccid", "serial", "host", "customer__name", "public_id"]
    readonly_fields = ["public_id", "organization", "created_at", "updated_at"]
    list_select_related = ["customer", "organization"]


@admin.register(ConnectionTest)
class ConnectionTestAdmin(ScopedModelAdmin):
    list_display = ["credential", "started_at", "ok", "api_ms", "webhook_ms", "error_kind"]
    list_filter = ["ok", "error_kind"]
    search_fields = ["credential__name", "message"]
    list_select_related = ["credential"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RateBucket)
class RateBucketAdmin(admin.ModelAdmin):
    list_display = ["key", "tokens", "updated"]
    search_fields = ["key"]


restrict_to_superusers(RateBucket)


@admin.register(MerakiCallback)
class MerakiCallbackAdmin(ScopedModelAdmin):
    list_display = ["public_id", "credential", "serial", "ping_id", "created_at", "received_at"]
    list_filter = [("received_at", admin.EmptyFieldListFilter)]
    search_fields = ["serial", "ping_id", "public_id"]
    exclude = ["secret_hash"]
    list_select_related = ["credential"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
