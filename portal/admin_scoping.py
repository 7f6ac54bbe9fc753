"""Makes Django's admin ask portal.access instead of Django's model permissions.

Staff who are not superusers see only their organizations' rows, and may change what their
role allows; models without an access policy (django-q2's, auth groups) are superuser-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from portal import access, audit


class NotFoundMixin:
    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str):
        # Django redirects to the index with "doesn't exist"; the portal's rule is a plain 404
        # for anything missing or belonging to another organization.
        raise Http404("Not found.")


class AuditedAdminMixin:
    """Every add, change and delete made in the admin lands in the portal's audit log."""

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        action = "update" if change else "create"
        fields = sorted(form.changed_data) if change else []
        audit.record(
            request.user,
            f"{obj._meta.model_name}.{action}",
            obj,
            request=request,
            via="admin",
            fields=fields,
        )

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        audit.record(
            request.user, f"{obj._meta.model_name}.delete", obj, request=request, via="admin"
        )
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            audit.record(
                request.user, f"{obj._meta.model_name}.delete", obj, request=request, via="admin"
            )
        super().delete_queryset(request, queryset)  # type: ignore[misc]


class ScopedAdminMixin(NotFoundMixin, AuditedAdminMixin):
    model: type[Model]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return access.visible(request.user, super().get_queryset(request))  # type: ignore[misc]

    def _allowed(self, request: HttpRequest, action: access.Action, obj: Model | None) -> bool:
        if not request.user.is_active or not request.user.is_staff:
            return False
        if obj is not None:
            return access.can(request.user, action, obj)
        return access.organizations(request.user, action, self.model).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, access.VIEW, None)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, access.VIEW, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, access.CHANGE, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, access.CHANGE, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, access.CHANGE, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Offer only rows the user may see, so a form cannot point at another organization.
        related = db_field.remote_field.model
        if access.policy_of(related) is not None:
            kwargs["queryset"] = access.visible(request.user, related)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        # A form could still name another organization; check the object as it will be saved.
        access.require(request.user, access.CHANGE, obj)
        super().save_model(request, obj, form, change)  # type: ignore[misc]


class ScopedModelAdmin(ScopedAdminMixin, admin.ModelAdmin):
    pass


class SuperuserOnlyMixin(NotFoundMixin, AuditedAdminMixin):
    """For models outside the tenancy (job queue internals, auth groups)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return (
            request.user.is_active
            and request.user.is_superuser
            and super().has_add_permission(request, *args)
        )  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            request.user.is_active
            and request.user.is_superuser
            and (
                super().has_change_permission(request, obj)  # type: ignore[misc]
            )
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            request.user.is_active
            and request.user.is_superuser
            and (
                super().has_delete_permission(request, obj)  # type: ignore[misc]
            )
        )


def restrict_to_superusers(model: type[Model]) -> None:
    """Re-register an app's own ModelAdmin for `model` with superuser-only permissions."""
    site = admin.site
    if not site.is_registered(model):
        return
    current = type(site._registry[model])
    site.unregister(model)
    site.register(model, type(f"Superuser{current.__name__}", (SuperuserOnlyMixin, current), {}))
