"""What the deal-points app declares to the access policy (design §4)."""

from cartostup.access.choices import OrganisationKind, Role
from cartostup.access.policy import RecordRules, register_record_rules

from .choices import DealPointStatus
from .models import Alert, DealPoint, Proposal

# What a landlord referent receives of a deal point on one of its buildings: its status and
# the week of its last activity, nothing else (no position beyond its own building, no
# sources, no operations), named by its partner code: the id and the reference are
# sequences that would tell how many points were opened in between.
LANDLORD_FIELDS = ("partner_code", "status", "last_activity_week", "building")
# What a landlord is told of a status: an investigation is not told outside the services
# (secrecy of investigations, article 11 of the code of criminal procedure): the point stays
# "confirmed" for the landlord until it is dismantled, moves or comes back.
LANDLORD_VALUES: dict[str, dict[str, str]] = {
    "status": {DealPointStatus.INVESTIGATION.value: DealPointStatus.CONFIRMED.value}
}
# The statuses a landlord can be told (its API schema's enum).
LANDLORD_STATUSES = [
    (value, label)
    for value, label in DealPointStatus.choices
    if value not in LANDLORD_VALUES["status"]
]

OFAST = frozenset({OrganisationKind.OFAST_ANTENNA, OrganisationKind.OFAST_CENTRAL})


def register() -> None:
    # Deal points: the owning CROSS and Ofast edit; the law-enforcement services of the
    # territory see them (distribution TERRITORY, set by the services); a landlord sees
    # those on its own buildings that the services share beyond themselves, reduced, never
    # told of an investigation; a prefecture and a prosecutor's office count them per
    # hexagon on the map, never one by one, filtered by status and territory only.
    register_record_rules(
        DealPoint,
        RecordRules(
            roles=frozenset({Role.ANALYST, Role.INVESTIGATOR}),
            owner_roles=frozenset({Role.ANALYST}),
            fields_by_role={Role.LANDLORD_REFERENT: LANDLORD_FIELDS},
            values_by_role={Role.LANDLORD_REFERENT: LANDLORD_VALUES},
            scoped_by={OrganisationKind.LANDLORD: "building__owner_organisation"},
            # Only the points the services share with the territory or nationally, and
            # whose marking lets them leave the services (not AMBER+STRICT or RED).
            scoped_shared_only=True,
            territory_editor_kinds=OFAST,
            aggregate_roles=frozenset({Role.MAGISTRATE, Role.PREFECTURE_STAFF}),
            # Counts by status and territory only: a product, channel or day filter
            # differenced with the whole count of a hexagon would tell one point's.
            aggregate_filters=frozenset({"status", "departement"}),
        ),
    )
    # Matching work (proposed new points, resurgence and move alerts): analysts of the owning
    # CROSS and of Ofast (distribution CROSS).
    for model in (Proposal, Alert):
        register_record_rules(
            model,
            RecordRules(
                roles=frozenset({Role.ANALYST}),
                owner_roles=frozenset({Role.ANALYST}),
                territory_editor_kinds=OFAST,
            ),
        )
