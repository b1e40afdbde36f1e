"""REST framework permission: a logged-in user whose second factor is verified."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class IsVerifiedMember(BasePermission):
    message = "Authentification à deux facteurs requise."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and getattr(user, "is_verified", lambda: False)()
        )
