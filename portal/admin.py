from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from portal import access
from portal.admin_scoping import (
    AuditedAdminMixin,
    NotFoundMixin,
    ScopedModelAdmin,
    restrict_to_superusers,
)
from portal.models import (
    ApiKey,
    AuditEvent,
    Customer,
    CustomerAccess,
    Membership,
    Organization,
    User,
)

admin.site.site_header = "Ping portal administration"
admin.site.site_title = "Ping portal admin"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(ScopedModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser  # new tenants are a platform decision

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


@admin.register(Customer)
class CustomerAdmin(ScopedModelAdmin):
    list_display = ["name", "organization", "public_id", "contact_email", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "description", "public_id", "contact_email"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    list_select_related = ["organization"]


@admin.register(Membership)
class MembershipAdmin(ScopedModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user"]


@admin.register(CustomerAccess)
class CustomerAccessAdmin(ScopedModelAdmin):
    list_display = ["user", "customer", "organization", "created_at"]
    list_filter = ["customer__organization"]
    search_fields = ["user__username", "user__email", "customer__name"]
    list_select_related = ["user", "customer__organization"]
    autocomplete_fields = ["user"]

    @admin.display(ordering="customer__organization__name")
    def organization(self, obj: CustomerAccess) -> Organization:
        return obj.customer.organization


@admin.register(ApiKey)
class ApiKeyAdmin(ScopedModelAdmin):
    """Keys are issued in the portal (the plaintext is shown once there); here they can be
    inspected and revoked. The hash is never displayed."""

    list_display = [
        "name",
        "prefix",
        "organization",
        "customer",
        "read_only",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["read_only", "organization", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "organization__name", "customer__name"]
    fields = [
        "name",
        "organization",
        "customer",
        "read_only",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = [
        "organization",
        "customer",
        "read_only",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_select_related = ["organization", "customer"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        from portal import audit

        for key in queryset:
            if access.can(request.user, access.CHANGE, key) and key.revoke():
                audit.record(request.user, "api_key.revoke", key, request=request, via="admin")


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedModelAdmin):
    list_display = [
        "created_at",
        "actor_label",
        "organization",
        "action",
        "target_type",
        "target_label",
        "ip_address",
    ]
    list_filter = ["action", "target_type", "organization"]
    search_fields = ["actor_label", "action", "target_label", "target_id"]
    date_hierarchy = "created_at"
    list_select_related = ["organization"]

    # The log is evidence: nobody edits or deletes it through the admin.
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(NotFoundMixin, AuditedAdminMixin, DjangoUserAdmin):
    """Superusers manage accounts; other staff see (read-only) the people of their
    organizations and customers, so that accounts are never edited across tenants."""

    list_display = [
        "username",
        "email",
        "first_name",
        "last_name",
        "is_staff",
        "is_global_supporter",
        "is_active",
        "last_login",
    ]
    list_filter = ["is_staff", "is_superuser", "is_global_supporter", "is_active"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Portal", {"fields": ["is_global_supporter"]}),
    )
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        users = super().get_queryset(request)
        if access.scope_of(request.user).read_all:
            return users
        org_ids = access.organizations(request.user, access.VIEW, Membership).values("pk")
        return users.filter(
            Q(memberships__organization__in=org_ids)
            | Q(customer_accesses__customer__organization__in=org_ids)
        ).distinct()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        # Django's view saves the password without save_model, so AuditedAdminMixin never sees
        # it; a password set for someone else is a change the audit log must show. (Their
        # sessions end by themselves: the session auth hash follows the password.)
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            from portal import audit

            user = self.get_object(request, unquote(id))
            audit.record(request.user, "auth.password_set", user, request=request, via="admin")
        return response


for _model in [Group, *apps.get_app_config("django_q").get_models()]:
    restrict_to_superusers(_model)
