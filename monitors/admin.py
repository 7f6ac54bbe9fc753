from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from monitors.models import (
    CheckResult,
    Incident,
    Location,
    MaintenanceWindow,
    Monitor,
    Notification,
    StatusPage,
)
from portal.admin_scoping import ScopedModelAdmin, restrict_to_superusers


@admin.register(Monitor)
class MonitorAdmin(ScopedModelAdmin):
    list_display = [
        "name",
        "hostname",
        "customer",
        "status",
        "health",
        "check_interval",
        "check_interval_seconds",
        "last_checked_at",
        "last_rtt_ms",
        "last_loss_percent",
    ]
    list_filter = ["status", "health", "organization"]
    search_fields = ["name", "hostname", "customer__name", "public_id"]
    readonly_fields = [
        "public_id",
        "organization",
        "next_check_at",
        "last_checked_at",
        "health",
        "failures_in_a_row",
        "last_rtt_ms",
        "last_loss_percent",
        "last_error",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["customer"]
    # Webhook URLs without a scheme are taken as https (Django 6's default, said out loud).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(CheckResult)
class CheckResultAdmin(ScopedModelAdmin):
    """Results are measurements: read-only (they may be deleted by admins)."""

    list_display = [
        "monitor",
        "due_at",
        "sent_at",
        "status",
        "sent",
        "received",
        "loss_percent",
        "rtt_avg",
        "location",
        "error",
    ]
    list_filter = ["status", "retrying", "location"]
    search_fields = ["monitor__name", "monitor__hostname", "error"]
    list_select_related = ["monitor", "location"]
    date_hierarchy = "due_at"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyRecord(ScopedModelAdmin):
    """Records of what happened: nobody adds or edits them; admins may delete."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NotificationInline(admin.TabularInline):
    model = Notification
    fields = ["event", "channel", "status", "attempts", "created_at", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyRecord):
    list_display = ["monitor", "severity", "state", "opened_at", "closed_at", "failed_checks"]
    list_filter = ["state", "severity"]
    search_fields = ["monitor__name", "last_error"]
    list_select_related = ["monitor"]
    date_hierarchy = "opened_at"
    inlines = [NotificationInline]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ScopedModelAdmin):
    list_display = ["__str__", "customer", "monitor", "starts_at", "ends_at", "weekday"]
    search_fields = ["reason", "customer__name", "monitor__name"]
    list_select_related = ["customer", "monitor"]
    readonly_fields = ["organization", "created_by", "created_at"]


@admin.register(StatusPage)
class StatusPageAdmin(ScopedModelAdmin):
    """Only organization admins may change a status page (its access policy says so)."""

    list_display = ["__str__", "customer", "mode", "slug", "updated_at"]
    list_filter = ["mode"]
    search_fields = ["title", "slug", "customer__name"]
    list_select_related = ["customer"]
    readonly_fields = ["token", "organization", "updated_at"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "cluster", "is_active"]
    list_filter = ["is_active", "country"]
    search_fields = ["code", "name", "cluster"]


# Probe locations are part of the platform, not of a tenant.
restrict_to_superusers(Location)
