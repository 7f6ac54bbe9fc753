from __future__ import annotations

from typing import Any

from rest_framework import permissions

from portal import access


class AccessPermission(permissions.BasePermission):
    """The API's gate into portal.access: reads need a login or key; writes need a role that
    writes somewhere (else 403 up front, e.g. read-only keys and global supporters) and then the
    right to change that very object."""

    message = "Your role or API key may not make changes here."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.may_write_anything(request.user)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        action = access.VIEW if request.method in permissions.SAFE_METHODS else access.CHANGE
        return access.can(request.user, action, obj)
