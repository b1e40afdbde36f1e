"""Files as spreadsheets and GIS tools write them, and what an import says of them: nothing is
stored wrong without a word, nothing ordinary is refused (new-user audit of 2026-12-05)."""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest

from cartostup.dealpoints import exchange
from cartostup.dealpoints.models import DealPoint

HEADER = "reference;name;latitude;longitude;estimated_daily_turnover"


def _check(analyst, data: bytes, filename: str = "carte.csv") -> exchange.ImportResult:
    rows = exchange.parse_rows(data, filename)
    return exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True, source="csv")


def _refused(data: bytes, filename: str = "carte.csv") -> str:
    with pytest.raises(exchange.ImportFileError) as refused:
        exchange.parse_rows(data, filename)
    return str(refused.value)


@pytest.mark.parametrize("turnover", ["99999999999999999999", "1e13", "1000000000000"])
def test_a_huge_turnover_is_an_error_of_its_line_not_dropped(analyst, turnover):
    result = _check(analyst, f"{HEADER}\nH-1;ok;43.3452;5.3949;{turnover}\n".encode())
    assert result.valid == 0
    assert result.errors[0].messages == [
        "chiffre d'affaires quotidien estimé (€) : Indiquez un montant en euros, entre 0 et "
        "100 000 000."
    ]


def test_a_thousands_separator_as_excel_writes_it_is_read(analyst):
    for space in (" ", "\u00a0", "\u202f"):
        data = f"{HEADER}\nH-1;ok;43.3452;5.3949;1{space}500\n".encode("cp1252", "replace")
        if space == "\u202f":
            data = f"{HEADER}\nH-1;ok;43.3452;5.3949;1{space}500\n".encode()
        result = _check(analyst, data)
        assert (result.valid, result.errors) == (1, []), space


def test_long_references_are_refused_never_cut_into_false_twins(analyst):
    stem = "CROSS13-CARTE-2024-QUARTIER-NORD-SECTEUR-A-"
    result = _check(
        analyst,
        f"{HEADER}\n{stem}001;un;43.3452;5.3949;\n{stem}002;deux;43.3460;5.3960;\n".encode(),
    )
    # 46 characters: two references, both kept whole.
    assert (result.valid, result.errors) == (2, [])
    long = "X" * 101
    result = _check(analyst, f"{HEADER}\n{long};un;43.3452;5.3949;\n".encode())
    assert result.errors[0].messages == ["référence : Cette référence dépasse 100 caractères."]


def test_utf8_with_one_stray_byte_is_refused_naming_its_line():
    data = (
        f"{HEADER}\nMX-1;Résidence Les Pins;43.3452;5.3949;\n".encode()
        + "MX-2;Café du coin;43.3460;5.3960;\n".encode("cp1252")
    )
    message = _refused(data)
    assert message.startswith("Le fichier est en UTF-8, sauf à la ligne 3,")
    # A whole Windows-1252 file is still read.
    rows = exchange.parse_rows(data.decode("utf-8", "replace").encode("cp1252", "replace"), "a.csv")
    assert len(rows) == 2


def test_excel_s_empty_trailing_columns_and_cells_are_ignored(analyst):
    data = b"reference;latitude;longitude;;\nTX-1;43.3412;5.4112;;\nTX-2;43.3460;5.3960;\n"
    result = _check(analyst, data)
    assert (result.valid, result.errors) == (2, [])
    # A value under no header is said, on its line.
    result = _check(analyst, b"reference;latitude;longitude;;\nTX-1;43.3412;5.4112;;oups\n")
    assert result.errors[0].messages == ["Cette ligne a plus de cellules que d'en-têtes."]
    result = _check(analyst, b"reference;;latitude;longitude\nTX-1;oups;43.3412;5.4112\n")
    assert result.errors[0].messages == [
        "Cette ligne a une valeur dans une colonne sans en-tête (colonne 2)."
    ]
    # Two columns of one name are named.
    message = _refused(b"latitude;longitude;Nom d'usage;name\n43.3412;5.4112;a;b\n")
    assert message == "Colonnes en double : Nom d'usage."


def test_an_unclosed_quote_is_said_not_swallowing_the_file():
    message = _refused(
        b'reference;name;latitude;longitude\nM-1;"unclosed;43.35;5.40\nM-2;ok;43.35;5.40\n'
    )
    assert message.startswith("Le fichier CSV est mal formé à partir de la ligne 2 : un guillemet")


def test_excel_s_unicode_text_is_read(analyst):
    """Excel's « Texte Unicode »: UTF-16 with its byte order mark, separated by tabs."""
    text = "reference\tname\tlatitude\tlongitude\r\nU-1\tCafé\t43,3452\t5,3949\r\n"
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        result = _check(analyst, bom + text.encode(codec), "carte.txt")
        assert (result.valid, result.errors) == (1, [])
    rows = exchange.parse_rows(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "carte.csv")
    assert rows[0].values["name"] == "Café"


def _point_collection(crs: str, coordinates: list[float]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": crs}},
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": coordinates},
            }
        ],
    }


def test_a_geojson_in_lambert_93_is_refused_with_the_way_out():
    document = _point_collection("urn:ogc:def:crs:EPSG::2154", [893500.0, 6250500.0])
    message = _refused(json.dumps(document).encode(), "carte.geojson")
    assert "« urn:ogc:def:crs:EPSG::2154 »" in message and "WGS 84 (EPSG:4326" in message
    assert _refused(
        json.dumps(_point_collection("EPSG:14326", [5.3949, 43.3452])).encode(), "c.geojson"
    ).startswith("Le fichier GeoJSON est en projection « EPSG:14326 »")
    for name in (
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "EPSG:4326",
        "urn:ogc:def:crs:EPSG::4326",
        "urn:ogc:def:crs:EPSG:6.6:4326",
    ):
        document = _point_collection(name, [5.3949, 43.3452])
        assert len(exchange.parse_rows(json.dumps(document).encode(), "carte.geojson")) == 1


def test_a_missing_longitude_is_said_on_the_longitude(analyst):
    result = _check(analyst, b"reference;latitude;longitude\nC-6;43.35;\n")
    assert result.errors[0].messages == [
        "longitude : Indiquez la position du point (latitude, longitude)."
    ]
    assert not DealPoint.objects.exists()


# --- new-user audit of 2026-12-06 ----------------------------------------------------------------


def test_leading_empty_lines_are_skipped_and_lines_keep_their_numbers(analyst):
    """An empty first line (or a spreadsheet's empty row, « ;;; ») was « Le fichier est
    vide. »."""
    data = b"\r\n;;;\r\nreference;latitude;longitude\r\nE-1;43.3452;5.3949\r\nE-2;43.35;abc\r\n"
    result = _check(analyst, data)
    assert result.valid == 1
    assert [error.line for error in result.errors] == [5]


@pytest.mark.parametrize(
    ("separator", "encoding"), [(";", "utf-8"), (",", "cp1252"), ("\t", "utf-16")]
)
def test_an_excel_separator_line_is_honoured(analyst, separator, encoding):
    """Excel writes « sep=; » before the header: it was read as the header (« Colonnes
    obligatoires absentes »)."""
    lines = [f"sep={separator}", "reference;name;latitude;longitude".replace(";", separator)]
    name = '"Le four, B"' if separator == "," else "Le four, B"
    lines.append(separator.join(["S-1", name, "43.3452", "5.3949"]))
    lines.append(separator.join(["S-2", "Cour", "43.35", "abc"]))
    data = "\r\n".join(lines).encode(encoding)
    result = _check(analyst, data)
    assert result.valid == 1
    assert [error.line for error in result.errors] == [4]
    message = _refused(b"sep=|\r\nreference|latitude|longitude\r\nP-1|43.3452|5.3949\r\n")
    assert message.startswith("La ligne « sep=| » nomme un séparateur que l'import ne lit pas")


def test_every_error_of_a_line_is_said_lengths_included(analyst):
    """A 150-character name, a 61-character building and a future date: only the date was
    reported (the lengths came from `full_clean`, after every other check)."""
    header = "reference;name;building_label;latitude;longitude;first_reported_at"
    line = f"L-1;{'n' * 150};{'b' * 61};43.3452;5.3949;01/01/2999"
    (error,) = _check(analyst, f"{header}\n{line}\n".encode()).errors
    assert error.messages == [
        "premier signalement : La date ne peut pas être dans le futur.",
        "nom d'usage : Ce texte dépasse 120 caractères (il en compte 150).",
        "bâtiment : Ce texte dépasse 60 caractères (il en compte 61).",
    ]
    # Alone, a long name is said the same way (not by `full_clean`'s message).
    (error,) = _check(analyst, f"{header}\nL-2;{'n' * 121};;43.3452;5.3949;\n".encode()).errors
    assert error.messages == ["nom d'usage : Ce texte dépasse 120 caractères (il en compte 121)."]


def test_the_import_page_states_the_length_of_each_text(client_for):
    body = client_for("cross13_analyst").get("/points-de-deal/importer/").content.decode()
    assert "Texte libre, 120 caractères au plus." in body
    assert "Texte libre, 300 caractères au plus." in body
