"""Reads of organisations, users and buildings, always starting from what the actor may see."""

from typing import Any

from django.db.models import QuerySet

from .models import Membership


def membership_list_for_user(*, actor: Any) -> QuerySet[Membership]:
    """The actor's own memberships, with organisation and territory, for the home page."""
    return (
        Membership.objects.filter(user=actor, organisation__is_active=True)
        .select_related("organisation")
        .prefetch_related("organisation__departements")
        .order_by("organisation__name")
    )
