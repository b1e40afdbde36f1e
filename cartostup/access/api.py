"""REST framework permission: the policy decides (a logged-in user whose second factor is
verified, holding a role that uses the workspace)."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from . import policy


class IsVerifiedMember(BasePermission):
    message = "Authentification à deux facteurs requise."

    def has_permission(self, request: Request, view: Any) -> bool:
        return policy.is_verified_member(request.user)
