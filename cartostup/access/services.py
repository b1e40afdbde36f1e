"""Writes on organisations, users, memberships and buildings."""

from __future__ import annotations

from django.db import transaction

from cartostup.core.personas import ORGANISATIONS, PERSONAS
from cartostup.territories.models import Departement

from .models import Membership, Organisation, User


@transaction.atomic
def demo_organisations_ensure() -> dict[str, Organisation]:
    """Create the demo organisations if missing (idempotent); returns them by key.

    Départements not loaded are skipped, so the demo works on a partial load."""
    by_key: dict[str, Organisation] = {}
    for spec in ORGANISATIONS:
        organisation, _created = Organisation.objects.get_or_create(
            name=spec.name, defaults={"kind": spec.kind, "national_scope": spec.national}
        )
        if spec.departements and not organisation.departements.exists():
            organisation.departements.set(Departement.objects.filter(code__in=spec.departements))
        by_key[spec.key] = organisation
    return by_key


@transaction.atomic
def demo_persona_ensure(*, username: str) -> User:
    """Create one demo persona (user, membership) if missing; returns the user."""
    spec = next(p for p in PERSONAS if p.username == username)
    organisations = demo_organisations_ensure()
    user, created = User.objects.get_or_create(
        username=spec.username,
        defaults={"first_name": spec.first_name, "last_name": spec.last_name},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(
        user=user, organisation=organisations[spec.organisation], role=spec.role
    )
    return user
