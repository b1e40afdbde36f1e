"""What the access app declares about its own protected records (applied by the policy)."""

from .choices import OrganisationKind, Role
from .models import Building
from .policy import RecordRules, register_record_rules


def register() -> None:
    # A building belongs to its landlord; law-enforcement services of its territory see it when
    # it is distributed to them; prefectures and prosecutors see address and position only.
    register_record_rules(
        Building,
        RecordRules(
            roles=frozenset({Role.ANALYST, Role.INVESTIGATOR}),
            fields_by_role={
                Role.LANDLORD_REFERENT: (
                    "id",
                    "name",
                    "address",
                    "latitude",
                    "longitude",
                    "stairwells",
                    "commune",
                ),
            },
            scoped_by={OrganisationKind.LANDLORD: "owner_organisation"},
        ),
    )
