from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitors.models import CheckResult, Location, Monitor
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


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "cluster", "is_active"]
    list_filter = ["is_active", "country"]
    search_fields = ["code", "name", "cluster"]


# Probe locations are part of the platform, not of a tenant.
restrict_to_superusers(Location)
