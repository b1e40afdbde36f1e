"""Template context: what the navigation may show to the current user (decided by the policy)."""

from typing import Any

from django.apps import apps
from django.conf import settings
from django.http import HttpRequest

from cartostup.core.middleware import READER_LANGUAGE_PREFIXES

from . import policy
from .middleware import activity_granularity, idle_seconds, path_under, user_is_verified


def actor(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    context = policy.actor_context(user)
    capabilities = {capability.value: True for capability in context.capabilities}
    return {
        "actor_capabilities": capabilities,
        "actor_dealpoints_view": dealpoints_view(user) if capabilities else "",
    }


def dealpoints_view(user: Any) -> str:
    """What the map and the deal points' pages give this user, so that the menu and the home
    page's shortcuts offer them as it will find them: "counts" (a prefecture, a prosecutor's
    office: no list, no record), "buildings" (a landlord: its buildings' points), "records"."""
    dealpoint = apps.get_model("dealpoints", "DealPoint")
    if policy.counts_only(user, dealpoint):
        return "counts"
    if policy.visible_fields(user, dealpoint) is not None:
        return "buildings"
    return "records"


def session_timeout(request: HttpRequest) -> dict[str, Any]:
    """The idle limit and the warning's lead time for partials/session_timeout.html: on staff
    pages of a verified session only (a public page never carries the staff script)."""
    user = getattr(request, "user", None)
    if user is None or not user_is_verified(user):
        return {}
    if path_under(request.path_info, READER_LANGUAGE_PREFIXES):
        return {}
    # The session ends between `idle - granularity` and `idle` after the last request (its last
    # activity is kept rounded down): the warning comes before the earliest end, the page says
    # "expired" only after the latest.
    idle = idle_seconds()
    warning = min(settings.CARTOSTUP_SESSION_WARNING_SECONDS, idle // 2) + activity_granularity()
    return {"session_timeout": {"idle": idle, "warning": warning}}
