"""Fixtures the deal-point tests share: the CROSS 13 analyst and a landlord's building in
Marseille 14e (a module defining its own keeps it)."""

from __future__ import annotations

import pytest

from cartostup.access.services import building_create
from cartostup.dealpoints.tests.factories import MARSEILLE_14


@pytest.fixture
def analyst(persona):
    return persona("cross13_analyst")


@pytest.fixture
def building(persona):
    return building_create(
        actor=persona("landlord_13h"),
        name="Bâtiment B",
        address="12 allée des Amandiers, 13014 Marseille",
        latitude=MARSEILLE_14[0],
        longitude=MARSEILLE_14[1],
    )
