"""Files as spreadsheets and GIS tools write them, and what an import says of them: nothing is
stored wrong without a word, nothing ordinary is refused (new-user audit of 2026-12-05)."""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime
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
    # An amount as Excel saves a currency cell to CSV (new-user review: « 1 500,00 € »).
    for amount in ("1\u00a0500,00\u00a0€", "1500 €", "€1500", "1 500 EUR"):
        rows = exchange.parse_rows(f"{HEADER}\nE-1;ok;43.3452;5.3949;{amount}\n".encode(), "c.csv")
        result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
        assert (result.valid, result.errors) == (1, []), amount
    # Another currency, or a euro sign on a coordinate, is no number.
    rows = exchange.parse_rows(f"{HEADER}\nE-1;ok;€43.3452;5.3949;1 500 $\n".encode(), "c.csv")
    (error,) = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True).errors
    assert error.messages == [
        "latitude : Un nombre est attendu.",
        "chiffre d'affaires quotidien estimé (€) : Un nombre est attendu.",
    ]


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


# --- workbooks ------------------------------------------------------------------------------------


def _workbook(rows: list[list[Any]], *, sheets: int = 1) -> bytes:
    """A workbook as Excel or LibreOffice saves it: `rows` in its first sheet."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Carte"
    for row in rows:
        sheet.append(row)
    for index in range(1, sheets):
        workbook.create_sheet(f"Autre {index}").append(["latitude", "longitude"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_workbook_is_read_as_its_cells_say(analyst):
    """A workbook was refused (« enregistrez la feuille au format CSV »): an analyst
    re-imported the XLSX export, or the CROSS's own Excel map, only through a CSV. Its first
    sheet is now read: numbers and dates as cells, the header on its first non-empty row, and
    an error names the sheet's own row."""
    data = _workbook(
        [
            [],
            [
                "Référence",
                "Nom d'usage",
                "Latitude",
                "Longitude",
                "Chiffre d'affaires quotidien estimé (euros)",
                "Premier signalement",
            ],
            ["X-1", "Tour 12", 43.3452, 5.3949, 1500, datetime(2026, 7, 14, 8, 30)],
            [None, None, None, None, None, None],
            ["X-2", "Bât. B", 43.346, 5.396, 2500.0, date(2026, 7, 15)],
            ["X-3", "Loin", 48.85, "x", None, None],
        ],
        sheets=2,
    )
    rows = exchange.parse_rows(data, "carte.xlsx")
    assert [row.line for row in rows] == [3, 5, 6]
    assert rows[0].values["latitude"] == "43.3452"
    assert rows[0].values["first_reported_at"] == "14/07/2026 08:30"
    assert rows[1].values["first_reported_at"] == "15/07/2026"
    assert rows[1].values["estimated_daily_turnover"] == "2500"
    result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True, source="xlsx")
    assert result.valid == 2
    ((line, messages),) = [(error.line, error.messages) for error in result.errors]
    assert line == 6 and messages == ["longitude : Un nombre est attendu."]
    # Named otherwise (or not named at all), a zip archive is read as a workbook.
    assert len(exchange.parse_rows(data, "carte")) == 3


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_what_is_not_a_readable_workbook_is_said():
    way_out = "Enregistrez-le au format XLSX, ou la feuille au format CSV UTF-8"
    for name, data in (
        ("carte.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100)),
        ("carte.ods", _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})),
    ):
        message = _refused(data, name)
        assert message.startswith("Un classeur XLS ou ODS ne s'importe pas"), name
    # An ODS named .xlsx, a damaged workbook, an empty sheet.
    assert _refused(_zip({"content.xml": b"<x/>"}), "carte.xlsx").startswith(
        "Ce fichier compressé n'est pas un classeur XLSX (un ODS ?)."
    )
    assert way_out in _refused(_zip({"content.xml": b"<x/>"}), "carte.xlsx")
    damaged = _zip({"xl/workbook.xml": b"<workbook"})
    assert _refused(damaged, "carte.xlsx").startswith("Le classeur XLSX est illisible")
    assert _refused(b"PK\x03\x04" + bytes(60), "carte.xlsx").startswith(
        "Le classeur XLSX est illisible"
    )
    assert _refused(_workbook([]), "carte.xlsx") == "Le fichier est vide."
    assert _refused(_workbook([["latitude", "longitude"]]), "carte.xlsx") == (
        "Le fichier ne contient aucune ligne de données."
    )
    assert _refused(_workbook([["lat", "longitude"], [43.3, 5.4]]), "carte.xlsx") == (
        "Colonnes obligatoires absentes : Latitude."
    )


def test_a_workbook_s_xml_is_read_defused():
    """An imported workbook is someone else's XML: openpyxl parses it with defusedxml, a
    dependency of the project's own (it came only with a development tool)."""
    import openpyxl
    from openpyxl.xml import functions

    assert openpyxl.DEFUSEDXML is True
    assert functions.iterparse.__module__.startswith("defusedxml")


def test_a_workbook_that_opens_too_large_is_refused_unread():
    """A zip bomb: a few kilobytes that would be tens of megabytes once opened."""
    bomb = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": bytes(41 << 20)})
    assert len(bomb) < 100_000
    assert _refused(bomb, "carte.xlsx") == (
        "Le classeur est trop volumineux une fois ouvert (40 Mo au plus)."
    )


def _with_sheet_edited(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """The workbook with its first sheet's XML edited (as another writer would have saved it)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in source.infolist():
            content = source.read(part.filename)
            if part.filename == "xl/worksheets/sheet1.xml":
                edited = edit(content)
                assert edited != content
                content = edited
            archive.writestr(part, content)
    return buffer.getvalue()


def _with_dimension(data: bytes, ref: str) -> bytes:
    """The workbook with its first sheet's <dimension> rewritten (a streaming writer's)."""
    return _with_sheet_edited(
        data,
        lambda xml: re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), xml),
    )


def test_a_sheet_s_rows_are_read_whatever_its_dimension_says(analyst):
    """A code review: openpyxl trusted the sheet's declared dimension, so a wrong one cut
    rows and columns without a word, or made a million empty rows of one stray cell."""
    rows = [["reference", "latitude", "longitude"]] + [
        [f"D-{n}", 43.3452 + n / 1000, 5.3949] for n in range(5)
    ]
    for ref in ("A1:C3", "A1:B6"):
        read = exchange.parse_rows(_with_dimension(_workbook(rows), ref), "carte.xlsx")
        assert [row.values["reference"] for row in read] == [f"D-{n}" for n in range(5)]
        assert all(row.values["longitude"] == "5.3949" for row in read)


def test_a_hidden_sheet_is_passed_and_merged_cells_are_refused():
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["interne"])
    workbook.active.sheet_state = "hidden"
    shown = workbook.create_sheet("Carte")
    shown.append(["Titre de la carte"])
    shown.merge_cells("A1:C1")  # a title above the header: no matter
    shown.append(["reference", "latitude", "longitude", "name"])
    for n in range(3):
        shown.append([f"M-{n}", 43.3452, 5.3949, "Les Flamants" if n == 0 else None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert len(exchange.parse_rows(buffer.getvalue(), "carte.xlsx")) == 3
    shown.merge_cells("D3:D5")
    buffer = io.BytesIO()
    workbook.save(buffer)
    message = _refused(buffer.getvalue(), "carte.xlsx")
    assert message.startswith("La feuille a des cellules fusionnées sous son en-tête (D3:D5)")


def test_formulas_never_computed_and_hidden_rows_are_refused_naming_them(analyst):
    """A workbook written by a script holds formulas without their value, which read empty;
    a filtered sheet's hidden rows were imported unseen. Both are refused, naming the cells
    and rows; a formula computed (an empty text included), a hidden row above the header or
    without values, are read as before."""
    from openpyxl import Workbook

    def saved(workbook) -> bytes:
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Carte du 13"])
    sheet.append(["reference", "latitude", "longitude", "estimated_daily_turnover"])
    for n in range(3):
        sheet.append([f"F-{n}", 43.3452, 5.3949, 100 * n])
    sheet.row_dimensions[1].hidden = True  # above the header
    sheet.row_dimensions[8].hidden = True  # no value in it
    assert len(exchange.parse_rows(saved(workbook), "carte.xlsx")) == 3

    sheet["D4"] = "=D3*2"
    sheet["D5"] = "=SUM(D3:D4)"
    message = _refused(saved(workbook), "carte.xlsx")
    assert message.startswith(
        "La feuille a des formules qui n'ont jamais été calculées (D4, D5) : leur valeur "
        "serait lue vide."
    )
    # Computed, as a spreadsheet saves them: each formula's value beside it, read.
    computed = _with_sheet_edited(saved(workbook), lambda xml: xml.replace(b"<v />", b"<v>0</v>"))
    read = exchange.parse_rows(computed, "carte.xlsx")
    assert [row.values["estimated_daily_turnover"] for row in read] == ["0", "0", "0"]
    # A formula whose value is an empty text (t="str"), computed too.
    empty_text = _with_sheet_edited(
        saved(workbook), lambda xml: re.sub(rb'(<c r="D[45]")>', rb'\1 t="str">', xml)
    )
    assert len(exchange.parse_rows(empty_text, "carte.xlsx")) == 3

    # A value written with its spacing kept (xml:space), in single quotes: read as computed.
    spaced = _with_sheet_edited(
        saved(workbook),
        lambda xml: xml.replace(b"<v />", b"<v xml:space='preserve'>0</v>").replace(
            b'<c r="D4">', b"<c r='D4'>"
        ),
    )
    assert len(exchange.parse_rows(spaced, "carte.xlsx")) == 3

    sheet["D4"], sheet["D5"] = 100, 200
    sheet.row_dimensions[4].hidden = True
    sheet.row_dimensions[5].hidden = True
    message = _refused(saved(workbook), "carte.xlsx")
    assert message.startswith(
        "La feuille a des lignes masquées sous son en-tête (lignes 4, 5) : elles seraient "
        "importées comme les autres, sans que vous les voyiez."
    )
    # A hidden column (code review): refused when it holds values under the header, read
    # when it holds its header alone.
    sheet.row_dimensions[4].hidden = sheet.row_dimensions[5].hidden = False
    sheet.column_dimensions["D"].hidden = True
    assert _refused(saved(workbook), "carte.xlsx").startswith(
        "La feuille a des colonnes masquées qui portent des valeurs (colonnes D) : elles "
        "seraient importées sans que vous les voyiez."
    )
    for row in (3, 4, 5):
        sheet[f"D{row}"] = None
    assert len(exchange.parse_rows(saved(workbook), "carte.xlsx")) == 3


def test_the_sheet_that_names_the_position_is_read_and_none_is_said(analyst):
    """New-user review: a workbook with a « Notice » sheet before its map was refused with
    « Colonnes obligatoires absentes : Latitude, Longitude », as if the map had none. The
    first sheet shown whose header names them is read; when none does, the sheets are named."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Notice"
    workbook.active.append(["Carte des points de deal de la CROSS 13, mise à jour mensuelle"])
    points = workbook.create_sheet("Points")
    points.append(["reference", "latitude", "longitude"])
    points.append(["N-1", 43.3452, 5.3949])
    buffer = io.BytesIO()
    workbook.save(buffer)
    (row,) = exchange.parse_rows(buffer.getvalue(), "carte.xlsx")
    assert (row.line, row.values["reference"]) == (2, "N-1")
    points["C1"] = "lng"
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert _refused(buffer.getvalue(), "carte.xlsx") == (
        "Aucune feuille du classeur ne nomme les colonnes Latitude et Longitude dans ses "
        "premières lignes (feuilles : « Notice », « Points »). Nommez-les dans la ligne "
        "d'en-tête de la feuille à importer."
    )


def test_a_csv_with_a_title_above_its_header_is_read(analyst):
    """New-user review: the sheet a CROSS saves as CSV from Excel has its title above the
    header (« Carte CROSS 13 – extraction du 01/12/2026;;; »). The workbook was read, the CSV
    refused (« Colonnes obligatoires absentes »): the header is now looked for the same way."""
    text = (
        "Carte CROSS 13 – extraction du 01/12/2026;;;\r\n"
        ";;;\r\n"
        "Référence;Nom d'usage;Latitude;Longitude\r\n"
        "T-1;Tour 12;43,3452;5,3949\r\n"
    )
    rows = exchange.parse_rows(text.encode("cp1252"), "carte.csv")
    assert [(row.line, row.values["reference"], row.values["name"]) for row in rows] == [
        (4, "T-1", "Tour 12")
    ]
    assert _check(analyst, text.encode("cp1252")).valid == 1
    # No header naming the position: the first line is the header, its missing columns said.
    assert _refused(b"Titre\nlat;lng\n43,3;5,4\n") == (
        "Colonnes obligatoires absentes : Latitude, Longitude."
    )
