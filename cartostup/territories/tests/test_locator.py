"""Point -> territory on real places (communes of 13, 69, 75 and 93 are loaded for the tests)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from cartostup.territories import locator
from cartostup.territories.models import Commune

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("latitude", "longitude", "code", "name", "departement", "antennas"),
    [
        # The Vieux-Port's quay by the town hall lies in the 1st arrondissement.
        (43.2951, 5.3740, "13201", "Marseille 1er Arrondissement", "13", ("Marseille",)),
        # Either side of the border between the 13th and 14th arrondissements (~120 m away).
        (43.3425, 5.4119, "13213", "Marseille 13e Arrondissement", "13", ("Marseille",)),
        (43.3425, 5.4089, "13214", "Marseille 14e Arrondissement", "13", ("Marseille",)),
        (45.7578, 4.8320, "69382", "Lyon 2e Arrondissement", "69", ("Lyon",)),  # Bellecour
        (48.9356, 2.3596, "93066", "Saint-Denis", "93", ("Versailles",)),  # the basilica
        (48.8530, 2.3499, "75104", "Paris 4e Arrondissement", "75", ("Versailles",)),
    ],
)
def test_real_places(latitude, longitude, code, name, departement, antennas):
    location = locator.locate(latitude, longitude)
    assert location.commune_code == code
    assert location.commune_name == name
    assert location.departement_code == departement
    assert location.antennas == antennas
    assert location.distance_m == 0
    assert location.qpv_code is None


def test_arrondissements_answer_not_their_city():
    location = locator.locate(45.7578, 4.8320)
    assert location.commune_kind == "ARM"
    index = locator.get_index()
    assert not {"13055", "69123", "75056"} & set(index.commune_codes)


def test_sea_within_tolerance_is_given_the_nearest_commune():
    # ~600 m off the Corniche: the 7th arrondissement.
    location = locator.locate(43.2700, 5.3550)
    assert location.commune_code == "13207"
    assert 500 < location.distance_m < 800


def test_point_just_off_the_coastline_gets_the_nearest_commune():
    # A few metres outside the simplified coastline of the 8th arrondissement.
    location = locator.locate(43.20851, 5.33842)
    assert location.commune_code == "13208"
    assert 0 < location.distance_m < 10


def test_tolerance_is_a_setting(settings):
    settings.CARTOSTUP_LOCATE_TOLERANCE_M = 100
    locator.invalidate()
    try:
        with pytest.raises(locator.OutsideTerritoryError):
            locator.locate(43.2700, 5.3550)
        assert locator.locate(43.20851, 5.33842).commune_code == "13208"
    finally:
        locator.invalidate()


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        (43.0, 5.0),  # far out at sea, south of Marseille
        (40.4168, -3.7038),  # Madrid
        (46.2044, 6.1432),  # Geneva
        (43.1, 12.5),  # Italy
    ],
)
def test_outside_france(latitude, longitude):
    with pytest.raises(locator.OutsideTerritoryError) as error:
        locator.locate(latitude, longitude)
    assert "hors du territoire français" in str(error.value)
    assert f"({latitude:.6g}, {longitude:.6g})" in str(error.value)


def test_unloaded_departement_says_so():
    # Toulouse exists but the tests load only 13, 69, 75 and 93: the message tells why.
    with pytest.raises(locator.OutsideTerritoryError) as error:
        locator.locate(43.6045, 1.4440)
    assert "13, 69, 75, 93" in str(error.value)


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        ("abc", 5.3),
        (None, 5.3),
        (math.nan, 5.3),
        (math.inf, 5.3),
        (91, 5.3),
        (-90.5, 5.3),
        (43.3, 180.01),
        (True, 5.3),
    ],
)
def test_invalid_coordinates(latitude, longitude):
    with pytest.raises(locator.InvalidCoordinatesError) as error:
        locator.locate(latitude, longitude)
    assert "Coordonnées invalides" in str(error.value)


def test_numeric_strings_are_accepted():
    assert locator.locate("43.2951", "5.3740").commune_code == "13201"


def test_index_holds_only_the_loaded_communes():
    index = locator.get_index()
    assert len(index.commune_codes) == Commune.objects.filter(geometry__isnull=False).count()
    assert {index.departement_codes[i] for i in set(index.commune_departements)} == {
        "13",
        "69",
        "75",
        "93",
    }
    assert index.loaded_departements == ("13", "69", "75", "93")
    assert not index.complete


def test_index_is_built_once_and_invalidated():
    first = locator.get_index()
    assert locator.get_index() is first
    locator.invalidate()
    second = locator.get_index()
    assert second is not first
    assert second.commune_codes == first.commune_codes


def test_locate_many_matches_locate():
    latitudes = [43.2951, 45.7578, 43.2700, 40.4168, "x", 91, 48.8530, 43.20851]
    longitudes = [5.3740, 4.8320, 5.3550, -3.7038, 5.0, 5.0, 2.3499, 5.33842]
    batch = locator.locate_many(latitudes, longitudes)
    assert len(batch) == len(latitudes)
    assert list(batch.error) == [0, 0, 0, 2, 1, 1, 0, 0]
    for row, (latitude, longitude) in enumerate(zip(latitudes, longitudes, strict=True)):
        result = batch.result(row)
        try:
            expected: object = locator.locate(latitude, longitude)
        except locator.LocateError as error:
            assert type(result) is type(error)
            continue
        assert result == expected


def test_locate_many_on_random_points_agrees_with_single_lookups():
    rng = np.random.default_rng(7)
    latitudes = rng.uniform(43.15, 43.45, 3000)
    longitudes = rng.uniform(5.2, 5.6, 3000)
    batch = locator.locate_many(latitudes, longitudes)
    assert (batch.error == 0).sum() > 1500
    for row in range(0, 3000, 10):
        try:
            code = locator.locate(latitudes[row], longitudes[row]).commune_code
        except locator.OutsideTerritoryError:
            assert batch.error[row] == batch.OUTSIDE
            continue
        assert batch.index.commune_codes[batch.commune[row]] == code


def test_single_lookup_is_well_under_a_millisecond():
    locator.locate(43.2951, 5.3740)  # builds the index
    calls = 2000
    started = time.perf_counter()
    for _ in range(calls):
        locator.locate(43.2951, 5.3740)
    assert (time.perf_counter() - started) / calls < 0.001


def test_index_notices_changes_made_by_another_process(settings):
    settings.CARTOSTUP_LOCATE_RECHECK_SECONDS = 0.000001
    first = locator.get_index()
    time.sleep(0.001)
    assert locator.get_index() is first  # nothing changed: same index
    Commune.objects.filter(code="13201").update(geometry=None)
    time.sleep(0.001)
    try:
        assert locator.get_index() is not first
        assert locator.locate(43.2951, 5.3740).commune_code != "13201"
    finally:
        locator.invalidate()
