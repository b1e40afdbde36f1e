"""Template context: what the navigation may show to the current user (decided by the policy)."""

from typing import Any

from django.http import HttpRequest

from . import policy


def actor(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    context = policy.actor_context(user)
    capabilities = {capability.value: True for capability in context.capabilities}
    return {"actor_capabilities": capabilities}
