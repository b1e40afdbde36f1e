"""Demo data of the access app: personas with their credentials, landlords' buildings.

Buildings stand at real positions in Marseille's northern and central arrondissements and in
Saint-Denis; their names are invented."""

from __future__ import annotations

from dataclasses import dataclass

from cartostup.core.personas import PERSONAS

from .account_services import demo_account_credentials_ensure
from .models import Building, User
from .services import demo_persona_ensure


@dataclass(frozen=True)
class DemoBuilding:
    landlord: str  # username of the landlord referent who records it
    name: str
    address: str
    latitude: float
    longitude: float
    stairwells: str


DEMO_BUILDINGS: tuple[DemoBuilding, ...] = (
    DemoBuilding(
        "landlord_13h",
        "Résidence Les Amandiers – bâtiment A",
        "12 allée des Amandiers, 13014 Marseille",
        43.3452,
        5.3949,
        "A1, A2",
    ),
    DemoBuilding(
        "landlord_13h",
        "Résidence Les Amandiers – bâtiment B",
        "14 allée des Amandiers, 13014 Marseille",
        43.3458,
        5.3961,
        "B1, B2, B3",
    ),
    DemoBuilding(
        "landlord_13h",
        "Cité du Vallon – tour 3",
        "3 montée du Vallon, 13013 Marseille",
        43.3312,
        5.4158,
        "unique",
    ),
    DemoBuilding(
        "landlord_13h",
        "Les Hauts de Saint-Antoine – bâtiment K",
        "8 chemin des Bastides, 13015 Marseille",
        43.3690,
        5.3580,
        "K1, K2",
    ),
    DemoBuilding(
        "landlord_13l",
        "Résidence du Littoral – bâtiment C",
        "40 boulevard du Littoral, 13015 Marseille",
        43.3625,
        5.3640,
        "C",
    ),
    DemoBuilding(
        "landlord_13l",
        "Îlot Belle-de-Mai – bâtiment 2",
        "22 rue des Tisserands, 13003 Marseille",
        43.3117,
        5.3772,
        "2A, 2B",
    ),
    DemoBuilding(
        "landlord_13l",
        "Résidence Les Calanques – bâtiment E",
        "5 avenue des Pins, 13009 Marseille",
        43.2520,
        5.4140,
        "E1",
    ),
)


def demo_accounts_ensure() -> list[User]:
    """Every persona, with the demo password and a confirmed second factor."""
    users = []
    for spec in PERSONAS:
        user = demo_persona_ensure(username=spec.username)
        demo_account_credentials_ensure(user=user)
        users.append(user)
    return users


def demo_buildings_ensure() -> int:
    """Each landlord records its demo buildings through the same service as in the UI."""
    from .services import building_create

    count = 0
    for spec in DEMO_BUILDINGS:
        actor = demo_persona_ensure(username=spec.landlord)
        exists = Building.objects.filter(
            owner_organisation__memberships__user=actor, name=spec.name
        ).exists()
        if not exists:
            building_create(
                actor=actor,
                name=spec.name,
                address=spec.address,
                latitude=spec.latitude,
                longitude=spec.longitude,
                stairwells=spec.stairwells,
            )
        count += 1
    return count
