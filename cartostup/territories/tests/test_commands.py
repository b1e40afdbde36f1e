"""The `locate` and `import_qpv` commands."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from cartostup.territories.models import PriorityNeighbourhood

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_locate_prints_the_territory():
    output = run("locate", "43.2951", "5.3740")
    assert "Arrondissement : 13201 Marseille 1er Arrondissement" in output
    assert "Département : 13 Bouches-du-Rhône" in output
    assert "Antenne Ofast : Marseille" in output
    assert "QPV : aucun" in output


def test_locate_accepts_a_decimal_comma():
    assert "93066 Saint-Denis" in run("locate", "48,9356", "2,3596")


def test_locate_errors_are_french_and_fail():
    with pytest.raises(CommandError, match=r"Coordonnées invalides \(abc, 5.3\)"):
        run("locate", "abc", "5.3")
    with pytest.raises(CommandError, match=r"Ce point \(40.4168, -3.7038\) est hors du territoire"):
        run("locate", "40.4168", "-3.7038")
    with pytest.raises(CommandError, match="latitude et la longitude"):
        run("locate", "43.2")


def test_locate_exits_non_zero(capsys):
    from django.core.management import execute_from_command_line

    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "locate", "--", "40.4168", "-3.7038"])
    assert exit_info.value.code != 0
    assert "hors du territoire français" in capsys.readouterr().err


def test_locate_csv(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "id,latitude,longitude,note\n"
        "1,43.2951,5.3740,vieux-port\n"
        "2,abc,5.3740,illisible\n"
        "3,40.4168,-3.7038,madrid\n"
        "4,45.7578,4.8320,bellecour\n"
        "5,,,vide\n"
        "6,43.3563,5.4378,oliviers\n",
        encoding="utf-8",
    )
    target = tmp_path / "out.csv"
    run("locate", "--csv", str(source), str(target))
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert list(rows[0]) == [
        "id",
        "latitude",
        "longitude",
        "note",
        "commune_code",
        "commune_name",
        "departement_code",
        "antenna",
        "qpv_code",
        "error",
    ]
    assert (rows[0]["commune_code"], rows[0]["departement_code"], rows[0]["antenna"]) == (
        "13201",
        "13",
        "Marseille",
    )
    assert rows[0]["note"] == "vieux-port" and rows[0]["error"] == ""
    assert (
        rows[1]["commune_code"] == "" and "Coordonnées invalides (abc, 5.3740)" in rows[1]["error"]
    )
    assert "hors du territoire" in rows[2]["error"]
    assert rows[3]["commune_name"] == "Lyon 2e Arrondissement"
    assert "Coordonnées invalides" in rows[4]["error"]
    assert rows[5]["qpv_code"] == ""


def test_locate_csv_semicolon_and_qpv(tmp_path, qpv_imported):
    source = tmp_path / "in.csv"
    source.write_text("Latitude;Longitude\n43,3563;5,4378\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    run("locate", "--csv", str(source), str(target))
    rows = list(csv.DictReader(target.open(encoding="utf-8"), delimiter=";"))
    assert (rows[0]["commune_code"], rows[0]["qpv_code"]) == ("13213", "QN01391M")


def test_locate_csv_needs_the_columns(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("lat,lng\n43.3,5.4\n", encoding="utf-8")
    with pytest.raises(CommandError, match="colonnes « latitude » et « longitude »"):
        run("locate", "--csv", str(source), str(tmp_path / "out.csv"))


def test_import_qpv_then_locate(qpv_imported):
    assert PriorityNeighbourhood.objects.count() == 4
    assert "QPV : QN01391M Les Oliviers (fictif)" in run("locate", "43.3563", "5.4378")


def test_import_qpv_twice_updates(qpv_imported):
    from .conftest import QPV_FIXTURE

    assert "0 QPV créé(s), 4 mis à jour" in run("import_qpv", str(QPV_FIXTURE))
    assert PriorityNeighbourhood.objects.count() == 4


def test_import_qpv_rejects_bad_files(tmp_path):
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="rien n'a été importé.*pas du JSON valide"):
        run("import_qpv", str(broken))
    with pytest.raises(CommandError, match="Fichier illisible"):
        run("import_qpv", str(tmp_path / "absent.geojson"))
    assert not PriorityNeighbourhood.objects.exists()
