"""REST permissions: only superusers use the Data pipeline API."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class IsSuperuser(BasePermission):
    """Allow authenticated superusers; anyone else authenticated gets 403 "Insufficient permissions"."""

    message = "Insufficient permissions"

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)
