"""Jobs and their replies are records of what happened: read-only in the admin, deletable by
those who may delete the organization's rows."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from pings.models import CallbackAttempt, PingBatch, PingJob, PingReply
from portal.admin_scoping import ScopedModelAdmin


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReplyInline(ReadOnly, admin.TabularInline):
    model = PingReply
    fields = ["sequence", "rtt_ms", "size", "ttl", "recorded_at"]
    readonly_fields = fields
    extra = 0

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CallbackAttemptInline(ReplyInline):
    model = CallbackAttempt
    fields = ["number", "at", "ok", "status_code", "error", "elapsed_ms"]
    readonly_fields = fields


@admin.register(PingJob)
class PingJobAdmin(ReadOnly, ScopedModelAdmin):
    list_display = [
        "id",
        "created_at",
        "status",
        "device",
        "customer",
        "vendor",
        "via",
        "launched_by_label",
        "received",
        "sent",
        "loss_percent",
        "rtt_avg",
    ]
    list_filter = ["status", "vendor", "via", "organization"]
    search_fields = ["device__name", "target", "launched_by_label", "vendor_reference", "error"]
    list_select_related = ["device", "customer"]
    date_hierarchy = "created_at"
    exclude = ["callback_secret_encrypted"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [ReplyInline, CallbackAttemptInline]
    show_full_result_count = False  # no COUNT(*) over millions of rows


@admin.register(PingBatch)
class PingBatchAdmin(ReadOnly, ScopedModelAdmin):
    list_display = ["created_at", "launched_by_label", "organization"]
    list_filter = ["organization"]
