"""What the reports app declares to the access policy."""

from cartostup.access.choices import OrganisationKind, Role
from cartostup.access.policy import RecordRules, register_record_rules

from .models import Report


def register() -> None:
    # Analysts of the owning CROSS and of Ofast see reports (distribution CROSS, set by the
    # services); a landlord referent sees only the coarse status of its own organisation's
    # reports (those it filed on its buildings).
    register_record_rules(
        Report,
        RecordRules(
            roles=frozenset({Role.ANALYST}),
            owner_roles=frozenset({Role.ANALYST}),
            fields_by_role={
                Role.LANDLORD_REFERENT: ("id", "reference", "received_at", "building", "status"),
            },
            scoped_by={OrganisationKind.LANDLORD: "building__owner_organisation"},
            # The issue: "Triage (CROSS analysts of the département; Ofast of the territory)".
            territory_editor_kinds=frozenset(
                {OrganisationKind.OFAST_ANTENNA, OrganisationKind.OFAST_CENTRAL}
            ),
        ),
    )
