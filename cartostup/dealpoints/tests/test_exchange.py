"""Exports (GeoJSON, CSV, XLSX) read back, and imports: valid files, invalid lines, partial
imports, unreadable files, and a fuzzed parser that never fails unexpectedly."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
import time
import zlib
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cartostup.access.choices import Marking
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import exchange, exchange_views, services
from cartostup.dealpoints.choices import DealPointStatus, EventKind
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.rules import LANDLORD_FIELDS
from cartostup.dealpoints.tests.factories import dealpoint, dealpoint_input

EXPORT = "/points-de-deal/export.{}"
IMPORT = "/points-de-deal/importer/"
SAINT_DENIS = (48.936, 2.357)


@pytest.fixture
def point(analyst, building):
    return dealpoint(
        actor=analyst,
        building_id=building.pk,
        name='=HYPERLINK("http://x")',
        address="@SUM(A1)",
        latitude=43.3460,
        longitude=5.3960,
    )


# --- export --------------------------------------------------------------------------------------


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    assert content.startswith("\ufeff".encode())
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_geojson_export_reads_back_and_is_audited(client_for, analyst, point):
    response = client_for("cross13_analyst").get(EXPORT.format("geojson"), {"status": "reported"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    collection = json.loads(response.content)
    (feature,) = collection["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [5.3960, 43.3460]}
    properties = feature["properties"]
    assert properties["reference"] == point.reference
    assert properties["products"] == ["cannabis"]
    assert properties["commune_code"].startswith("132")
    assert properties["departement"] == "13"
    assert properties["reports_count"] == 0
    event = AuditEvent.objects.get(action=AuditAction.EXPORT, actor_id=analyst.pk)
    assert event.details == {"format": "geojson", "filters": {"status": "reported"}, "count": 1}


def test_csv_export_is_french_spreadsheet_ready_and_neutralises_formulas(client_for, point):
    response = client_for("cross13_analyst").get(EXPORT.format("csv"))
    assert response.status_code == 200
    (row,) = _csv_rows(response.content)
    # French headers and labels: what an analyst reads in a spreadsheet.
    assert list(row)[:4] == ["Référence", "Code partenaire", "Statut", "Marquage de diffusion"]
    assert len(row) == len(exchange.COLUMNS)
    assert row["Référence"] == point.reference
    assert row["Statut"] == "Signalé"
    assert row["Précision"] == "Immeuble"
    assert row["Mode de distribution"] == "Point fixe"
    assert row["Produits"] == "Cannabis (résine, herbe)"
    assert row["Horaires d'ouverture"] == "Vendredi : soirée, Samedi : soirée"
    assert row["Rôles observés"] == "Guetteurs (« chouffs »), Vendeurs (« charbonneurs »)"
    assert row["Nom d'usage"] == '\'=HYPERLINK("http://x")'
    assert row["Adresse"] == "'@SUM(A1)"
    assert float(row["Latitude"]) == pytest.approx(43.3460)


def test_xlsx_export_reads_back_with_openpyxl(client_for, point):
    from openpyxl import load_workbook

    response = client_for("cross13_analyst").get(EXPORT.format("xlsx"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    header, values = list(sheet.iter_rows(values_only=True))
    row = dict(zip(header, values, strict=True))
    assert row["Référence"] == point.reference
    assert row["Statut"] == "Signalé"
    assert row["Nom d'usage"].startswith("'=")
    assert row["Adresse"] == "'@SUM(A1)"
    assert row["Chiffre d'affaires quotidien estimé (euros)"] == 5000
    assert row["Longitude"] == pytest.approx(5.3960)


# A first report in summer time and a last activity in winter time (UTC+2 and UTC+1 in Paris).
FIRST = datetime(2026, 7, 14, 6, 30, tzinfo=UTC)
LAST = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def _dated(point):
    DealPoint.objects.filter(pk=point.pk).update(
        first_reported_at=FIRST, last_activity_at=LAST, last_reported_at=LAST
    )
    point.refresh_from_db()
    return point


def test_spreadsheets_write_local_dates_and_geojson_iso_8601(client_for, point):
    """User audit: « Premier signalement » and « Dernière activité » read
    `2026-11-23T08:00:00+01:00` in the CSV and the XLSX. A spreadsheet now shows the local
    date and time to the minute; the GeoJSON, read by tools, keeps ISO 8601."""
    from openpyxl import load_workbook

    _dated(point)
    client = client_for("cross13_analyst")
    (row,) = _csv_rows(client.get(EXPORT.format("csv")).content)
    assert row["Premier signalement"] == "14/07/2026 08:30"
    assert row["Dernière activité"] == "23/11/2026 08:00"
    sheet = load_workbook(io.BytesIO(client.get(EXPORT.format("xlsx")).content)).active
    header, cells = list(sheet.iter_rows(min_row=1, max_row=2))
    named = {title.value: cell for title, cell in zip(header, cells, strict=True)}
    for name, expected in (
        ("Premier signalement", datetime(2026, 7, 14, 8, 30)),
        ("Dernière activité", datetime(2026, 11, 23, 8, 0)),
    ):
        cell = named[name]
        assert cell.is_date and cell.value == expected, name  # a date cell, Paris time
        assert cell.number_format == "dd/mm/yyyy hh:mm"
    (feature,) = json.loads(client.get(EXPORT.format("geojson")).content)["features"]
    assert feature["properties"]["first_reported_at"] == "2026-07-14T08:30:00+02:00"
    assert feature["properties"]["last_activity_at"] == "2026-11-23T08:00:00+01:00"
    # A landlord's week (its Monday) is a day the same way.
    week = _csv_rows(client_for("landlord_13h").get(EXPORT.format("csv")).content)[0]
    assert week["Dernier signalement (semaine du)"] == "23/11/2026"


def test_landlord_exports_its_reduced_view_on_its_building(client_for, point, building):
    response = client_for("landlord_13h").get(EXPORT.format("geojson"))
    assert response.status_code == 200
    (feature,) = json.loads(response.content)["features"]
    assert feature["geometry"]["coordinates"] == [building.longitude, building.latitude]
    assert set(feature["properties"]) == {
        "partner_code", "status", "last_activity_week", "building"
    }  # fmt: skip
    assert feature["properties"]["partner_code"] == point.partner_code
    assert set(exchange.REDUCED_COLUMNS) <= set(LANDLORD_FIELDS)
    text = client_for("landlord_13h").get(EXPORT.format("csv")).content
    assert point.reference.encode() not in text
    rows = _csv_rows(text)
    assert set(rows[0]) == {
        "Code partenaire",
        "Statut",
        "Dernier signalement (semaine du)",
        "Bâtiment du bailleur",
        "Latitude",
        "Longitude",
    }
    assert rows[0]["Statut"] == "Signalé"
    assert float(rows[0]["Latitude"]) == pytest.approx(building.latitude)


def test_red_point_is_exported_by_its_owner_only(client_for, point):
    DealPoint.objects.filter(pk=point.pk).update(marking=Marking.RED)
    owner = json.loads(client_for("cross13_analyst").get(EXPORT.format("geojson")).content)
    assert len(owner["features"]) == 1
    police = json.loads(client_for("police13_investigator").get(EXPORT.format("geojson")).content)
    assert police["features"] == []
    # Seen, but not exported.
    assert (
        client_for("police13_investigator").get(f"/api/v1/dealpoints/{point.pk}/").status_code
        == 200
    )
    # The list beside the export buttons says so: a shorter file would read as complete.
    withheld = (
        "1 point de cette liste n'est pas exporté : marqué TLP:RED ou TLP:AMBER+STRICT par une "
        "autre organisation, il reste chez elle."
    )
    listed = client_for("police13_investigator").get("/points-de-deal/")
    assert withheld in html.unescape(listed.content.decode())
    # Not to its owner, who exports it; nor once the list is filtered without it.
    owner_list = client_for("cross13_analyst").get("/points-de-deal/")
    assert "dealpoints-export-withheld" not in owner_list.content.decode()
    filtered = client_for("police13_investigator").get("/points-de-deal/", {"status": "dismantled"})
    assert "dealpoints-export-withheld" not in filtered.content.decode()


def test_export_refused_to_who_only_counts_points(client_for, point):
    assert client_for("prefecture_13").get(EXPORT.format("csv")).status_code == 404
    assert client_for("caller_operator").get(EXPORT.format("csv")).status_code == 404
    assert client_for("cross13_analyst").get(EXPORT.format("pdf")).status_code == 404
    assert (
        client_for("cross13_analyst").get(EXPORT.format("csv"), {"status": "x"}).status_code == 400
    )
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


@pytest.mark.parametrize(
    ("params", "lines"),
    [
        (
            {"active_from": "2026-12-01", "active_to": "2026-11-01"},
            ["Actif jusqu'au : La fin de la période précède son début."],
        ),
        (
            {"status": "bogus"},
            [
                "Statut : Valeur inconnue (valeurs acceptées : Signalé, Confirmé, En cours "
                "d'enquête, Démantelé, Déplacé, Résurgent)."
            ],
        ),
        (
            # The words of an unknown status, not Django's « Sélectionnez un choix valide ».
            {"status": "confirmed", "product": "fentanyl"},
            [
                "Produit : Valeur inconnue (valeurs acceptées : Cannabis (résine, herbe), "
                "Cocaïne, Crack, Héroïne, Drogues de synthèse, Autre ou inconnu)."
            ],
        ),
        (
            {"channel": "pigeon"},
            ["Mode de distribution : Valeur inconnue (valeurs acceptées : Point fixe,"],
        ),
        # The user audit: « zzz » read as "either" exported every point unfiltered.
        (
            {"qpv": "zzz"},
            ["En QPV : Valeur inconnue (valeurs acceptées : true (Oui), false (Non))."],
        ),
        # A département that does not exist exported an empty file, as if it had no point.
        ({"departement": "99"}, ["Département (code) : Département inconnu (ex. : 13, 2A, 974)."]),
        # The user audit: a misspelt filter exported every point, as if it had been applied.
        (
            {"statut": "confirmed"},
            [
                "Filtre inconnu : « statut ». Exportez depuis la liste, dont les liens "
                "d'export reprennent les filtres choisis."
            ],
        ),
        (
            {"active_from": "31/02/2026"},
            [
                "Actif à partir du : Date invalide : indiquez une date au format JJ/MM/AAAA "
                "(ou AAAA-MM-JJ)."
            ],
        ),
    ],
)
def test_an_export_whose_filters_cannot_apply_is_the_sites_400_page(
    client_for, point, params, lines
):
    """Not raw text with the filters' codes (« active_to : La fin… »): the site's 400 page in
    French, each error under its filter's label, and a link back to the list with the same
    filters (which shows them beside the fields). Nothing is exported or audited."""
    response = client_for("cross13_analyst").get(EXPORT.format("csv"), params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Export impossible" in html and "Erreur 400" in html
    assert 'class="fr-header' in html  # the site's layout, not a bare page
    found = [
        line.strip()
        for line in html.split('role="alert"', 1)[1].split("</ul>", 1)[0].split("<li>")[1:]
    ]
    for line in lines:
        assert escape(line) + "</li>" in found or escape(line) in "".join(found), (line, found)
    for name in params:
        assert f"{name} :" not in html, name
    back = "/points-de-deal/?" + escape(urlencode(params))
    assert f'href="{back}"' in html, html
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_an_export_link_copied_from_a_paged_list_exports(client_for, point):
    """The list's export links carry its whole address, its page too: not a filter, not
    refused."""
    response = client_for("cross13_analyst").get(
        EXPORT.format("csv"), {"status": point.status, "page": "1"}
    )
    assert response.status_code == 200
    assert point.reference in response.content.decode("utf-8-sig")


# --- import --------------------------------------------------------------------------------------

HEADER = "reference;status;name;latitude;longitude;precision;products;opening_hours;confidence"


def _csv(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("utf-8")


VALID = "OLD-1;confirmed;Le four;43,3452;5,3949;building;cannabis|cocaine;fri:evening;high"
VALID_2 = "OLD-2;;Parking;43.3460;5.3960;street;;;"
OUTSIDE = f"OLD-3;reported;Hors zone;{SAINT_DENIS[0]};{SAINT_DENIS[1]};street;;;"
BAD_CHOICES = "OLD-4;closed;X;43.3460;abc;somewhere;sugar;;"


def test_a_csv_saved_by_a_french_excel_is_read(analyst):
    """What Excel writes by default on a French Windows: « ; », Windows-1252 accents, decimal
    commas and French labels. It was refused as « not encoded in UTF-8 »."""
    text = (
        "Nom d'usage;Latitude;Longitude;Précision;Produits;Statut;Fiabilité;Dernière activité\r\n"
        "Le four du bât. B;43,3452;5,3949;Immeuble;Cocaïne;Confirmé;Élevée;05/11/2026\r\n"
    )
    (row,) = exchange.parse_rows(text.encode("cp1252"), "carte.csv")
    assert row.values["name"] == "Le four du bât. B"
    result = exchange.dealpoints_import(actor=analyst, rows=[row])
    assert result.imported, result.errors
    point = DealPoint.objects.get(reference=result.created[0])
    assert (point.name, point.status, point.products) == (
        "Le four du bât. B",
        DealPointStatus.CONFIRMED,
        ["cocaine"],
    )
    assert point.latitude == pytest.approx(43.3452)


def test_valid_csv_creates_points_with_import_history(analyst):
    rows = exchange.parse_rows(_csv(VALID, VALID_2), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows, source="csv")
    assert result.imported and result.errors == []
    assert len(result.created) == 2
    point = DealPoint.objects.get(reference=result.created[0])
    assert point.status == DealPointStatus.CONFIRMED
    assert point.products == ["cannabis", "cocaine"]
    assert point.latitude == pytest.approx(43.3452)
    event = point.events.get()
    assert event.kind == EventKind.IMPORTED
    assert "OLD-1" in event.note
    second = DealPoint.objects.get(reference=result.created[1])
    assert second.status == DealPointStatus.REPORTED
    summary = AuditEvent.objects.get(action=AuditAction.IMPORT, details__has_key="rows")
    assert summary.details["created"] == 2
    assert summary.details["invalid"] == 0


def test_one_bad_line_imports_nothing_and_reports_each_line(analyst):
    rows = exchange.parse_rows(_csv(VALID, OUTSIDE, BAD_CHOICES), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert not result.imported
    assert result.created == []
    assert not DealPoint.objects.exists()
    assert [error.line for error in result.errors] == [3, 4]
    assert result.errors[0].messages == ["latitude : Ce lieu est hors de votre territoire."]
    bad = " ".join(result.errors[1].messages)
    assert "Statut inconnu" in bad
    assert "Un nombre est attendu" in bad
    refused = AuditEvent.objects.get(action=AuditAction.IMPORT, details__has_key="rows")
    assert refused.details["created"] == 0


def test_partial_import_keeps_only_the_valid_lines(analyst):
    rows = exchange.parse_rows(_csv(VALID, BAD_CHOICES, VALID_2), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows, partial=True)
    assert result.imported
    assert len(result.created) == 2
    assert DealPoint.objects.count() == 2
    assert [error.line for error in result.errors] == [3]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0001-01-01", "postérieure au 1er janvier 1990"),
        ("0001-01-01T00:00+05:00", "postérieure au 1er janvier 1990"),
        ("1989-12-31", "postérieure au 1er janvier 1990"),
        ("2999-01-01", "dans le futur"),
        ("2024-02-30", "Date invalide"),
    ],
)
def test_activity_dates_out_of_range_are_explained(analyst, value, message):
    """Found by fuzzing: year 1 passed as a date and broke the conversion to UTC (a 500)."""
    header = "reference;status;name;latitude;longitude;precision;last_activity_at"
    rows = exchange.parse_rows(
        _csv(f"OLD-1;confirmed;Le four;43.3452;5.3949;building;{value}", header=header),
        "carte.csv",
    )
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert not result.imported and not DealPoint.objects.exists()
    assert message in " ".join(result.errors[0].messages)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("01/11/2025", (2025, 11, 1, 0, 0)),
        ("1/11/2025", (2025, 11, 1, 0, 0)),
        ("01/11/2025 18:30", (2025, 11, 1, 18, 30)),
        ("01/11/2025 18:30:00", (2025, 11, 1, 18, 30)),
        ("2025-11-01", (2025, 11, 1, 0, 0)),
        ("2025-11-01T18:30", (2025, 11, 1, 18, 30)),
    ],
)
def test_activity_dates_are_read_the_french_way_too(analyst, value, expected):
    """User audit: « Dernière activité » 01/11/2025, as a French spreadsheet writes it, was
    « Date invalide », while the list and the map read JJ/MM/AAAA and the import « 43,3452 »."""
    header = "reference;status;name;latitude;longitude;precision;last_activity_at"
    rows = exchange.parse_rows(
        _csv(f"OLD-1;confirmed;Le four;43,3452;5,3949;building;{value}", header=header),
        "carte.csv",
    )
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert result.imported, result.errors
    moment = timezone.localtime(DealPoint.objects.get().last_activity_at)
    assert (moment.year, moment.month, moment.day, moment.hour, moment.minute) == expected


@pytest.mark.parametrize("value", ["31/02/2025", "2025-02-31", "01/13/2025", "01/11/2025 25:00"])
def test_impossible_activity_dates_name_both_accepted_formats(analyst, value):
    header = "reference;status;name;latitude;longitude;precision;last_activity_at"
    rows = exchange.parse_rows(
        _csv(f"OLD-1;confirmed;Le four;43.3452;5.3949;building;{value}", header=header),
        "carte.csv",
    )
    result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    assert result.errors[0].messages == [
        "dernière activité : Date invalide : indiquez une date au format JJ/MM/AAAA (ou "
        "JJ/MM/AAAA HH:MM) ou AAAA-MM-JJ (ou AAAA-MM-JJTHH:MM)."
    ]


def test_import_page_takes_a_french_date(client_for):
    header = "reference;status;name;latitude;longitude;precision;last_activity_at"
    upload = SimpleUploadedFile(
        "carte.csv",
        _csv("OLD-1;confirmed;Le four;43,3452;5,3949;building;01/11/2025", header=header),
        content_type="text/csv",
    )
    response = client_for("cross13_analyst").post(IMPORT, {"file": upload, "action": "import"})
    assert response.status_code == 200
    assert "Date invalide" not in response.content.decode()
    point = DealPoint.objects.get()
    assert timezone.localdate(point.last_activity_at).isoformat() == "2025-11-01"


def test_a_first_report_after_the_last_activity_is_refused_on_its_line(analyst):
    """User audit: first_reported_at 2026-11-20 and last_activity_at 2026-11-01 was « Fichier
    valide »; a point cannot be reported for the first time after its last activity."""
    header = "reference;status;name;latitude;longitude;precision;first_reported_at;last_activity_at"
    rows = exchange.parse_rows(
        _csv(
            "OLD-1;confirmed;Le four;43.3452;5.3949;building;2026-11-20;2026-11-01",
            # The same day, as a day and as a time: consistent.
            "OLD-2;confirmed;Parking;43.3460;5.3960;street;2026-11-01T18:30;2026-11-01",
            header=header,
        ),
        "carte.csv",
    )
    result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    assert result.valid == 1
    assert [error.line for error in result.errors] == [2]
    assert result.errors[0].messages == [
        "premier signalement : Le 20/11/2026, après la dernière activité (01/11/2026) : un point "
        "est signalé avant sa dernière activité. Vérifiez les deux dates, ou laissez vide celle "
        "que vous ne connaissez pas."
    ]


def test_dry_run_keeps_nothing_and_is_audited_as_a_check(analyst):
    """« Vérifier sans importer » tells which references exist: it is audited as a check (it
    wrote no audit event before)."""
    rows = exchange.parse_rows(_csv(VALID), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True, source="csv")
    assert result.valid == 1 and not result.imported
    assert not DealPoint.objects.exists()
    (event,) = AuditEvent.objects.filter(
        action=AuditAction.IMPORT, object_type="dealpoints.dealpoint"
    )
    assert event.actor_id == analyst.pk
    assert (event.details["check"], event.details["created"], event.details["rows"]) == (
        True,
        0,
        1,
    )
    exchange.dealpoints_import(actor=analyst, rows=rows, source="csv")
    kept = AuditEvent.objects.filter(action=AuditAction.IMPORT, details__has_key="rows")
    assert sorted(event.details["check"] for event in kept) == [False, True]


def test_geojson_and_comma_csv_with_bom_are_read():
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [5.3949, 43.3452]},
                "properties": {"name": "A", "products": ["cannabis"], "status": "reported"},
            }
        ],
    }
    (row,) = exchange.parse_rows(json.dumps(collection).encode(), "carte.geojson")
    assert row.values["latitude"] == 43.3452 and row.values["products"] == ["cannabis"]
    data = '\ufefflatitude,longitude,name\n43.3452,5.3949,"Le four, bât. B"\n'.encode()
    (row,) = exchange.parse_rows(data, "carte.csv")
    assert row.values["name"] == "Le four, bât. B"


def _reimported(analyst, table: list[list[str]]) -> DealPoint:
    """The export's lines imported again without their references (those of the platform's
    points, skipped as already present), as the one point they create."""
    for line in table[1:]:
        line[0] = ""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(table)
    rows = exchange.parse_rows(buffer.getvalue().encode(), "export.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert result.imported, result.errors
    (created,) = result.created
    return DealPoint.objects.get(reference=created)


def _read_back_the_same(copy: DealPoint, point: DealPoint) -> None:
    assert copy.name == point.name  # the apostrophe that neutralised the formula is removed
    # The French headers and labels read back as the same values.
    for name in ("status", "precision", "channel", "confidence", "address", "building_label"):
        assert getattr(copy, name) == getattr(point, name), name
    # « Vendredi : soirée, Samedi : soirée », « Guetteurs (« chouffs »), Vendeurs (…) »
    assert copy.opening_hours == point.opening_hours
    assert copy.products == point.products and copy.observed_roles == point.observed_roles
    assert copy.estimated_daily_turnover == point.estimated_daily_turnover
    # « 14/07/2026 08:30 », local time, is the same moment.
    assert (copy.first_reported_at, copy.last_activity_at) == (FIRST, LAST)


def test_export_then_import_round_trip(client_for, analyst, point):
    point = _dated(dealpoint(actor=analyst, products=["cannabis", "cocaine"], name="=1+1"))
    DealPoint.objects.exclude(pk=point.pk).delete()
    exported = client_for("cross13_analyst").get(EXPORT.format("csv")).content
    table = list(csv.reader(io.StringIO(exported.decode("utf-8-sig")), delimiter=";"))
    assert table[1][table[0].index("Produits")] == "Cannabis (résine, herbe), Cocaïne"
    _read_back_the_same(_reimported(analyst, table), point)


def test_an_xlsx_export_imports_back(client_for, analyst, point):
    """The XLSX export, its references emptied in the sheet, is read back as the same point:
    date cells, numbers, French labels and the neutralised formula."""
    from openpyxl import load_workbook

    point = _dated(dealpoint(actor=analyst, products=["cannabis", "cocaine"], name="=1+1"))
    DealPoint.objects.exclude(pk=point.pk).delete()
    exported = client_for("cross13_analyst").get(EXPORT.format("xlsx")).content
    workbook = load_workbook(io.BytesIO(exported))
    sheet = workbook.active
    for (cell,) in sheet.iter_rows(min_row=2, max_col=1):
        cell.value = None
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = exchange.parse_rows(buffer.getvalue(), "export.xlsx")
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert result.imported, result.errors
    (created,) = result.created
    _read_back_the_same(DealPoint.objects.get(reference=created), point)


def test_an_xlsx_export_saved_as_csv_imports_back(client_for, analyst, point):
    """An analyst saves the XLSX export as CSV. Its date cells are then written as they are
    shown (« dd/mm/yyyy hh:mm »), which the import reads."""
    from openpyxl import load_workbook

    point = _dated(dealpoint(actor=analyst, products=["cannabis", "cocaine"], name="=1+1"))
    DealPoint.objects.exclude(pk=point.pk).delete()
    exported = client_for("cross13_analyst").get(EXPORT.format("xlsx")).content
    sheet = load_workbook(io.BytesIO(exported)).active
    dates = [cell for cell in sheet[2] if cell.is_date]
    assert [cell.number_format for cell in dates] == ["dd/mm/yyyy hh:mm"] * 2
    shown = {"dd/mm/yyyy hh:mm": "%d/%m/%Y %H:%M", "dd/mm/yyyy": "%d/%m/%Y"}
    table = [
        [
            cell.value.strftime(shown[cell.number_format])
            if cell.is_date
            else ("" if cell.value is None else str(cell.value))
            for cell in line
        ]
        for line in sheet.iter_rows()
    ]
    _read_back_the_same(_reimported(analyst, table), point)


# The user audit's line: a bad date and French words, some of which are not values at all.
AUDIT_HEADER = (
    "reference;status;latitude;longitude;precision;channel;products;opening_hours;"
    "estimated_daily_turnover;confidence;first_reported_at"
)
AUDIT_LINE = "OLD-9;;43.3452;5.3949;Immeuble;Point fixe;Cocaïne;lundi;-5;haute;2024-13-45"


def test_every_error_of_a_line_is_reported_at_once(analyst):
    rows = exchange.parse_rows(_csv(AUDIT_LINE, header=AUDIT_HEADER), "carte.csv")
    (error,) = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True).errors
    text = "\n".join(error.messages)
    assert "Date invalide" in text
    assert "Indiquez un montant en euros" in text  # -5
    assert "Valeurs inconnues : lundi" in text and "mon (Lundi)" in text
    assert "Choisissez un niveau de fiabilité" in text and "high (Élevée)" in text
    # French labels are values: « Cocaïne », « Point fixe », « Immeuble » are not errors.
    assert "Cocaïne" not in text.split("valeurs acceptées")[0]
    assert "précision" not in text and "distribution" not in text
    assert len(error.messages) == 4


def test_an_unreadable_and_a_missing_coordinate_are_both_said(analyst):
    """A new user's audit: latitude « abc » and an empty longitude said only the latitude's
    error, where the guide promises every error of a line at once."""
    line = "OLD-8;;abc;;Immeuble;Point fixe;Cocaïne;;;;"
    rows = exchange.parse_rows(_csv(line, header=AUDIT_HEADER), "carte.csv")
    (error,) = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True).errors
    assert error.messages == [
        "latitude : Un nombre est attendu.",
        "longitude : Indiquez la position du point (latitude, longitude).",
    ]
    # Both empty: one message, on the latitude (the service's), not two.
    rows = exchange.parse_rows(
        _csv("OLD-7;;;;Immeuble;Point fixe;Cocaïne;;;;", header=AUDIT_HEADER), "carte.csv"
    )
    (error,) = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True).errors
    assert error.messages == ["latitude : Indiquez la position du point (latitude, longitude)."]
    assert not DealPoint.objects.exists()


def test_unknown_values_are_all_reported_with_the_accepted_ones(analyst):
    line = "OLD-9;closed;43.3452;abc;partout;à pied;sucre|cocaine;fri;x;;hier"
    rows = exchange.parse_rows(_csv(line, header=AUDIT_HEADER), "carte.csv")
    (error,) = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True).errors
    text = "\n".join(error.messages)
    for expected in (
        "Statut inconnu (valeurs acceptées : reported (Signalé)",
        "longitude : Un nombre est attendu",
        "Choisissez une précision (valeurs acceptées : stairwell",
        "Choisissez un mode de distribution (valeurs acceptées : fixed (Point fixe)",
        "Valeurs inconnues : sucre (valeurs acceptées : cannabis",
        "Valeurs inconnues : fri (valeurs acceptées : jour:moment",
        "Date invalide",
    ):
        assert expected in text, (expected, text)
    # An unreadable longitude does not also say the position is missing.
    assert "Indiquez la position" not in text


def test_french_labels_are_read_as_values(analyst):
    line = (
        "OLD-1;DÉMANTELÉ;43.3452;5.3949;immeuble;point fixe;Cocaïne|Cannabis;"
        "lundi:soirée|FRI:Nuit;120;elevee;2024-05-01"
    )
    rows = exchange.parse_rows(_csv(line, header=AUDIT_HEADER), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert result.imported, result.errors
    point = DealPoint.objects.get(reference=result.created[0])
    assert point.status == DealPointStatus.DISMANTLED
    assert (point.precision, point.channel, point.confidence) == ("building", "fixed", "high")
    assert point.products == ["cannabis", "cocaine"]  # kept in the choices' order
    assert point.opening_hours == ["mon:evening", "fri:night"]


def _moved_point(analyst):
    old = dealpoint(actor=analyst, name="Ancien")
    new = dealpoint(actor=analyst, name="Nouveau")
    services.dealpoint_change_status(actor=analyst, dealpoint=old, status=DealPointStatus.CONFIRMED)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=old, status=DealPointStatus.MOVED, successor=new
    )
    return old


def test_the_platforms_own_export_is_skipped_as_already_present(client_for, analyst):
    moved = _moved_point(analyst)
    exported = client_for("cross13_analyst").get(EXPORT.format("csv")).content
    rows = exchange.parse_rows(exported, "export.csv")
    checked = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    # The moved point is no error: it is there already, like the others.
    assert checked.errors == []
    assert {skipped.reference for skipped in checked.skipped} == set(
        DealPoint.objects.values_list("reference", flat=True)
    )
    assert moved.reference in {skipped.existing for skipped in checked.skipped}
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert result.created == [] and not result.imported
    assert DealPoint.objects.count() == 2
    page = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(exported, "export.csv"), "action": "check"}
    )
    body = page.content.decode()
    assert "2 lignes déjà présentes, ignorées" in body
    assert f"déjà présent : {moved.reference}" in body
    assert "Rien à importer" in body


def test_a_file_imported_twice_is_not_duplicated(analyst):
    rows = exchange.parse_rows(_csv(VALID, VALID_2), "carte.csv")
    first = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert len(first.created) == 2
    third = "OLD-5;;Cour;43.3455;5.3955;street;;;"
    rows = exchange.parse_rows(_csv(VALID, VALID_2, third), "carte.csv")
    again = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert [(s.line, s.reference) for s in again.skipped] == [(2, "OLD-1"), (3, "OLD-2")]
    assert again.skipped[0].existing == first.created[0]
    assert again.imported and len(again.created) == 1
    assert DealPoint.objects.count() == 3


def test_a_reference_twice_in_the_file_is_an_error(analyst):
    rows = exchange.parse_rows(_csv(VALID, VALID.replace("Le four", "Autre")), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert not result.imported
    assert result.errors[0].line == 3
    assert "déjà celle de la ligne 2" in " ".join(result.errors[0].messages)


def test_a_point_the_actor_cannot_see_is_not_told_present(persona):
    hidden = dealpoint(
        actor=persona("cross93_analyst"), latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1]
    )
    line = f"{hidden.reference};;Le four;43.3452;5.3949;building;;;"
    rows = exchange.parse_rows(_csv(line), "carte.csv")
    result = exchange.dealpoints_import(actor=persona("cross13_analyst"), rows=rows, dry_run=True)
    assert result.skipped == [] and result.valid == 1


def test_a_platform_reference_in_small_letters_is_present(client_for, analyst, persona):
    """« pd-13-0001 » in a file became a new point « à 0 m » of PD-13-0001 (user audit): the
    platform reads a reference typed without case elsewhere (a merge's target), so does the
    import."""
    existing = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949)
    written = existing.reference.lower()
    line = f"{written};;Le four;43.3452;5.3949;building;;;"
    rows = exchange.parse_rows(_csv(line), "carte.csv")
    checked = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    assert [(s.line, s.reference, s.existing) for s in checked.skipped] == [
        (2, written, existing.reference)
    ]
    assert (checked.valid, checked.errors, checked.warnings) == (0, [], [])
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert result.created == [] and DealPoint.objects.count() == 1
    page = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(_csv(line)), "action": "check"}
    )
    assert f"déjà présent : {existing.reference}" in html.unescape(page.content.decode())
    # A point the actor may not see is still not told present, whatever the case.
    hidden = dealpoint(
        actor=persona("cross93_analyst"), latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1]
    )
    line = f"{hidden.reference.lower()};;Le four;43.3452;5.3949;building;;;"
    rows = exchange.parse_rows(_csv(line), "carte.csv")
    unseen = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    assert unseen.skipped == [] and unseen.valid == 1


def test_import_page_documents_each_column_and_its_values(client_for):
    body = client_for("cross13_analyst").get(IMPORT).content.decode()
    for column in exchange.import_columns():
        assert f"<code>{column.name}</code>" in body
        assert f"<td>{escape(column.header)}</td>" in body
    assert escape(";".join(exchange.spreadsheet_headers())) in body
    assert "« Cocaïne » ou cocaine" in body and "« Point fixe » ou fixed" in body
    assert "« Démantelé » ou dismantled" in body
    assert "n&#x27;est pas une source d&#x27;import" in body or "n'est pas une source" in body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # Neither UTF-8 nor Windows-1252 (0x81 has no character in either).
        (b"latitude;longitude\n43,5\x81\x8d;5\n", "ni en UTF-8 ni en Windows-1252 (ligne 2)"),
        (b"", "vide"),
        (b"\x00\x01\x02garbage", "n'est pas un texte CSV ni un GeoJSON"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00\x0b", "contenu binaire"),
        (b"{" * 100_000, "GeoJSON est mal formé"),
        (b"[" * 100_000 + b"]" * 100_000, "GeoJSON est mal formé"),
        (b'{"type": "FeatureCollection", "features": NaN}', "GeoJSON est mal formé"),
        (b'{"type": "Feature"}', "FeatureCollection"),
        (b"latitude;longitude;secret\n1;2;3\n", "Colonnes inconnues"),
        (b"latitude;longitude\n", "aucune ligne"),
        (b"x" * (exchange.MAX_IMPORT_BYTES + 1), "dépasse"),
        (
            b"latitude;longitude\n" + b"43.3;5.3\n" * (exchange.MAX_IMPORT_ROWS + 1),
            "plus de",
        ),
    ],
)
def test_unreadable_files_are_refused_clearly(data, message):
    """A binary file renamed .csv is said to be one (it was « not encoded in UTF-8 », and the
    analyst re-saved it in UTF-8 in vain)."""
    name = "carte.json" if data.startswith((b"{", b"[")) else "carte.csv"
    with pytest.raises(exchange.ImportFileError) as raised:
        exchange.parse_rows(data, name)
    assert message in raised.value.message


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda text: (HEADER + "\n" + text).encode("utf-8")),
        st.lists(st.lists(st.text(max_size=20), max_size=10), max_size=6).map(
            lambda rows: "\n".join(
                [HEADER.replace(";", ","), *(",".join(row) for row in rows)]
            ).encode("utf-8")
        ),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
            lambda children: st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "type",
                        "features",
                        "geometry",
                        "coordinates",
                        "properties",
                        "latitude",
                        "status",
                        "products",
                        "name",
                    ]
                ),
                children,
                max_size=5,
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode("utf-8")),
    ),
    filename=st.sampled_from(["carte.csv", "carte.geojson", "carte", "x.json"]),
)
def test_parser_fuzzed_never_fails_unexpectedly(analyst, data, filename):
    try:
        rows = exchange.parse_rows(data, filename)
    except exchange.ImportFileError as error:
        assert error.message and isinstance(error.message, str)
        return
    assert rows and all(isinstance(row.values, dict) for row in rows)
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert result.imported == (not result.errors)
    if not result.imported:
        assert not DealPoint.objects.exists()
        assert all(error.messages for error in result.errors)
    DealPoint.objects.all().delete()


# --- pages and command ---------------------------------------------------------------------------


def _upload(data: bytes, name: str = "carte.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_import_page_checks_then_imports(client_for):
    client = client_for("cross13_analyst")
    page = client.get(IMPORT)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()
    checked = client.post(IMPORT, {"file": _upload(_csv(VALID, BAD_CHOICES)), "action": "check"})
    assert checked.status_code == 200
    body = checked.content.decode()
    assert "ligne 3" in body and "Statut inconnu" in body
    assert not DealPoint.objects.exists()
    refused = client.post(IMPORT, {"file": _upload(_csv(VALID, BAD_CHOICES)), "action": "import"})
    assert "Rien n'a été importé" in refused.content.decode()
    assert not DealPoint.objects.exists()
    partial = client.post(
        IMPORT, {"file": _upload(_csv(VALID, BAD_CHOICES)), "action": "import", "partial": "on"}
    )
    assert partial.status_code == 200
    assert DealPoint.objects.count() == 1
    garbage = client.post(IMPORT, {"file": _upload(b"\xff\xfe\x00"), "action": "import"})
    assert "UTF-8" in garbage.content.decode()
    assert DealPoint.objects.count() == 1


def test_import_page_lists_the_points_it_created(client_for):
    """The result named no point (« 2 points importés »): the analyst could not find them,
    nor tell which line gave which point."""
    client = client_for("cross13_analyst")
    response = client.post(
        IMPORT,
        {"file": _upload(_csv(VALID, BAD_CHOICES, VALID_2)), "action": "import", "partial": "on"},
    )
    body = response.content.decode()
    created = {point.reference: point.pk for point in DealPoint.objects.all()}
    assert len(created) == 2
    table = body.split('id="import-created"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<td>(ligne \d+)</td>\s*<td><a href="([^"]+)">([^<]+)</a>', table)
    first = DealPoint.objects.get(name="Le four")
    second = DealPoint.objects.get(name="Parking")
    assert rows == [
        ("ligne 2", f"/points-de-deal/{first.pk}/", first.reference),
        ("ligne 4", f"/points-de-deal/{second.pk}/", second.reference),
    ]
    # Said once, not also in a message above the page's own report.
    assert body.count("2 points importés") == 1


def test_import_page_refused_without_edit_capability(client_for):
    assert client_for("police13_investigator").get(IMPORT).status_code == 404
    response = client_for("landlord_13h").post(IMPORT, {"file": _upload(_csv(VALID))})
    assert response.status_code == 404
    assert not DealPoint.objects.exists()


def test_import_command(tmp_path, analyst, capsys):
    path = tmp_path / "carte.csv"
    path.write_bytes(_csv(VALID, BAD_CHOICES))
    call_command("import_dealpoints", str(path), user=analyst.username)
    out = capsys.readouterr().out
    assert "ligne 3" in out and "Rien n'a été importé" in out
    assert not DealPoint.objects.exists()
    call_command("import_dealpoints", str(path), user=analyst.username, dry_run=True, partial=True)
    assert not DealPoint.objects.exists()
    call_command("import_dealpoints", str(path), user=analyst.username, partial=True)
    assert DealPoint.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("import_dealpoints", str(path), user="nobody")


def test_import_page_refuses_an_oversized_file(client_for):
    data = _csv(VALID) + b"#" * exchange.MAX_IMPORT_BYTES
    response = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(data), "action": "import", "partial": "on"}
    )
    assert response.status_code == 200
    assert "Le fichier dépasse 5 Mo." in response.content.decode()
    assert not DealPoint.objects.exists()


def _sealed(body: str) -> str:
    """The verified file the page carries back in its « Importer ce fichier » form."""
    form = body.split('id="import-verified"', 1)[1].split("</form>", 1)[0]
    (sealed,) = re.findall(r'name="verified" value="([^"]+)"', form)
    return html.unescape(sealed)


def test_a_verified_file_is_imported_without_choosing_it_again(client_for):
    """After « Vérifier sans importer » the analyst had to choose the file again: the page now
    carries it back (signed), and importing it creates the points, audited as any import."""
    client = client_for("cross13_analyst")
    checked = client.post(IMPORT, {"file": _upload(_csv(VALID, VALID_2)), "action": "check"})
    body = checked.content.decode()
    assert "Choisissez à nouveau le fichier" not in body
    assert "Le fichier « carte.csv » vérifié ci-dessus" in body
    assert ">Importer ce fichier</button>" in body
    assert checked["Cache-Control"] == "no-store"
    assert not DealPoint.objects.exists()
    imported = client.post(IMPORT, {"verified": _sealed(body), "action": "import"})
    assert imported.status_code == 200
    assert "2 points importés" in imported.content.decode()
    assert DealPoint.objects.count() == 2
    check, audit = AuditEvent.objects.filter(
        action=AuditAction.IMPORT, details__has_key="rows"
    ).order_by("pk")
    assert check.details["check"] and not audit.details["check"]
    assert (audit.details["format"], audit.details["created"]) == ("csv", 2)
    # Sent twice (a double click): the lines are already present, nothing is duplicated.
    again = client.post(IMPORT, {"verified": _sealed(body), "action": "import"})
    assert "Rien à importer" in again.content.decode()
    assert DealPoint.objects.count() == 2


def test_a_workbook_is_checked_then_imported_from_the_page(client_for):
    """An XLSX file (the same lines in a sheet) goes through the page as a CSV does: checked,
    carried back, imported, audited as « xlsx »."""
    from openpyxl import Workbook

    workbook = Workbook()
    for line in csv.reader(io.StringIO(_csv(VALID, VALID_2).decode("utf-8-sig")), delimiter=";"):
        workbook.active.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = SimpleUploadedFile(
        "carte.xlsx", buffer.getvalue(), content_type=exchange.CONTENT_TYPES["xlsx"]
    )
    client = client_for("cross13_analyst")
    checked = client.post(IMPORT, {"file": upload, "action": "check"})
    body = checked.content.decode()
    assert "Le fichier « carte.xlsx » vérifié ci-dessus" in body
    assert not DealPoint.objects.exists()
    imported = client.post(IMPORT, {"verified": _sealed(body), "action": "import"})
    assert "2 points importés" in imported.content.decode()
    assert DealPoint.objects.count() == 2
    audit = AuditEvent.objects.filter(action=AuditAction.IMPORT, details__has_key="rows").last()
    assert audit is not None and audit.details["format"] == "xlsx"


def test_a_file_with_invalid_lines_offers_to_import_its_valid_lines(client_for):
    client = client_for("cross13_analyst")
    checked = client.post(IMPORT, {"file": _upload(_csv(VALID, BAD_CHOICES)), "action": "check"})
    body = checked.content.decode()
    assert "Importer la ligne valide de ce fichier et ignorer les autres" in body
    # Its invalid lines are the page's errors, said as a form's are: « Erreur : » in the
    # title, the report focused on load (#error-summary, cartostup/forms.js).
    assert "<title>Erreur : Importer des points de deal – Cartostup</title>" in body
    assert body.count('id="error-summary"') == 1
    assert 'role="alert" id="error-summary" tabindex="-1"' in body
    # Counted in full: « 0 ligne(s) valide(s) sur 3 » hid the lines already present.
    assert (
        "Lignes du fichier : 2 ; valides à importer : 1 ; déjà présentes : 0 ; invalides : 1."
        in body
    )
    form = body.split('id="import-verified"', 1)[1].split("</form>", 1)[0]
    assert 'name="partial" value="on"' in form
    # A failed import (the box unticked) offers the same.
    refused = client.post(IMPORT, {"file": _upload(_csv(VALID, BAD_CHOICES)), "action": "import"})
    assert "Rien n'a été importé" in refused.content.decode()
    assert not DealPoint.objects.exists()
    imported = client.post(
        IMPORT, {"verified": _sealed(refused.content.decode()), "partial": "on", "action": "import"}
    )
    page = imported.content.decode()
    assert "1 point importé" in page and "1 ligne invalide a été ignorée." in page
    assert DealPoint.objects.get().name == "Le four"
    assert 'id="import-verified"' not in page


def test_nothing_is_offered_when_no_line_can_be_imported(client_for):
    client = client_for("cross13_analyst")
    body = client.post(IMPORT, {"file": _upload(_csv(BAD_CHOICES)), "action": "check"})
    assert 'id="import-verified"' not in body.content.decode()


def test_the_carried_file_is_validated_again_when_imported(client_for, analyst):
    """Between the check and the import, another analyst imported the same lines: they are
    skipped as already present, not created twice."""
    client = client_for("cross13_analyst")
    checked = client.post(IMPORT, {"file": _upload(_csv(VALID, VALID_2)), "action": "check"})
    exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(_csv(VALID), "a.csv"))
    imported = client.post(IMPORT, {"verified": _sealed(checked.content.decode())})
    body = imported.content.decode()
    assert "1 point importé" in body and "déjà présent" in body
    assert DealPoint.objects.count() == 2


def _refused_verified(response) -> str:
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="error-summary"' in body and 'href="#id_file"' in body
    assert not DealPoint.objects.exists()
    # Only the check (« Vérifier sans importer ») was recorded: no import was attempted.
    assert all(
        event.details.get("check")
        for event in AuditEvent.objects.filter(
            action=AuditAction.IMPORT, object_type="dealpoints.dealpoint"
        )
    )
    return html.unescape(body)


def test_a_changed_carried_file_is_refused(client_for, analyst):
    client = client_for("cross13_analyst")
    checked = client.post(IMPORT, {"file": _upload(_csv(VALID)), "action": "check"})
    packed, stamp, signature = _sealed(checked.content.decode()).rsplit(":", 2)
    # Another content under the signature of the file verified.
    other = exchange.verified_file_seal(
        actor=analyst,
        data=_csv(VALID_2),
        filename="carte.csv",
    )
    assert other is not None
    forged = f"{other.rsplit(':', 2)[0]}:{stamp}:{signature}"
    for sealed in (forged, f"{packed}:{stamp}:{signature[:-2]}xx", "n'importe quoi"):
        body = _refused_verified(client.post(IMPORT, {"verified": sealed, "action": "import"}))
        assert (
            "Fichier à importer : Le fichier vérifié n'est pas reconnu : il a été modifié dans "
            "la page, ou vérifié depuis un autre compte. Choisissez-le à nouveau." in body
        )
    body = _refused_verified(client.post(IMPORT, {"verified": "", "action": "import"}))
    assert "Fichier à importer : Choisissez le fichier à importer." in body


def test_a_file_verified_from_another_account_is_refused(client_for):
    checked = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(_csv(VALID)), "action": "check"}
    )
    sealed = _sealed(checked.content.decode())
    body = _refused_verified(client_for("antenna13_analyst").post(IMPORT, {"verified": sealed}))
    assert "vérifié depuis un autre compte" in body


def test_a_file_verified_more_than_an_hour_ago_is_refused(client_for, monkeypatch):
    client = client_for("cross13_analyst")
    an_hour_ago = int(time.time()) - exchange.VERIFIED_FILE_MAX_AGE - 1
    with monkeypatch.context() as patched:
        # Sealed an hour and a second ago (the session itself stays valid).
        patched.setattr(
            signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(an_hour_ago)
        )
        checked = client.post(IMPORT, {"file": _upload(_csv(VALID)), "action": "check"})
    sealed = _sealed(checked.content.decode())
    body = _refused_verified(client.post(IMPORT, {"verified": sealed, "action": "import"}))
    assert (
        "Ce fichier a été vérifié il y a plus d'une heure : choisissez-le à nouveau, puis "
        "« Vérifier sans importer » ou « Importer »." in body
    )


def test_a_carried_file_larger_than_an_upload_is_refused(client_for, analyst):
    """The signature vouches for the content, and the size limit of an upload still holds
    (a compressed file is never inflated beyond it)."""
    data = _csv(VALID) + b"#" * exchange.MAX_IMPORT_BYTES
    packed = base64.urlsafe_b64encode(zlib.compress(b'{"name": "carte.csv"}\n' + data)).decode()
    sealed = signing.TimestampSigner(salt=f"{exchange.VERIFIED_FILE_SALT}:{analyst.pk}").sign(
        packed
    )
    body = _refused_verified(
        client_for("cross13_analyst").post(IMPORT, {"verified": sealed, "action": "import"})
    )
    assert "Fichier à importer : Le fichier dépasse 5 Mo." in body


# Room for a form post of 100 characters besides its other fields.
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096 + 100)
def test_a_file_too_large_to_carry_is_chosen_again(client_for):
    """A file that would not fit in a form post (one that hardly compresses, near 5 Mo) is
    not carried: the page says to choose it again, as before."""
    client = client_for("cross13_analyst")
    checked = client.post(IMPORT, {"file": _upload(_csv(VALID)), "action": "check"})
    body = html.unescape(checked.content.decode())
    assert "Fichier valide" in body
    assert 'id="import-verified"' not in body
    assert "Choisissez à nouveau le fichier puis « Importer »." in body


def test_list_page_links_to_exports_with_its_filters(client_for):
    page = client_for("cross13_analyst").get("/points-de-deal/", {"status": "confirmed"})
    body = page.content.decode()
    assert "/points-de-deal/export.csv?status=confirmed" in body
    assert IMPORT in body
    landlord = client_for("landlord_13h").get("/points-de-deal/").content.decode()
    assert "/points-de-deal/export.geojson" in landlord
    assert IMPORT not in landlord


# --- every column fuzzed (bad input, issue 5) ----------------------------------------------------

FUZZ_COLUMNS = (
    "reference;status;name;latitude;longitude;precision;address;building_label;stairwell_label;"
    "channel;products;opening_hours;observed_roles;estimated_daily_turnover;confidence;"
    "first_reported_at;last_activity_at"
)
_tricky_text = st.one_of(
    st.sampled_from(["", " ", "=1+1", "@SUM(A1)", "'=x", "\x00", "é" * 301, "x" * 2001]),
    st.text(max_size=12),
)
_tricky_number = st.one_of(
    st.sampled_from(["", "nan", "inf", "-0", "1e309", "43,3452", "9" * 60, "0x10", "1_000"]),
    st.floats().map(str),
    st.integers().map(str),
)
_tricky_moment = st.one_of(
    st.sampled_from(
        [
            "",
            "0001-01-01",
            "0001-01-01T00:00",
            "9999-12-31T23:59:59",
            "2024-02-30",
            "2024-03-31T02:30",  # does not exist in Paris (summer time)
            "2024-10-27T02:30",  # exists twice in Paris
            "2024-01-01T00:00+14:00",
            "2024-01-01T25:00",
            "20240101",
        ]
    ),
    st.datetimes().map(lambda moment: moment.isoformat()),
)


# A valid line (in Marseille, in the analyst's territory) in which a few cells are replaced.
FUZZ_VALID_CELLS = [
    ["OLD-1", ""],
    ["", "reported", "confirmed", "dismantled"],
    ["Le four", "", "Parking"],
    ["43.3452", "43,3460"],
    ["5.3949", "5,3960"],
    ["building", "street", "stairwell", ""],
    ["", "12 allée des Amandiers"],
    ["", "B"],
    ["", "3"],
    ["fixed", "delivery", ""],
    ["cannabis", "cannabis|cocaine", ""],
    ["fri:evening", "mon:night|sat:day", ""],
    ["lookouts", ""],
    ["8000", "0", ""],
    ["low", "medium", "high", ""],
    ["2024-01-05", "2024-01-05T10:00", ""],
    ["2024-02-01T18:30", ""],
]
_any_tricky = st.one_of(_tricky_text, _tricky_number, _tricky_moment)
_fuzz_line = st.tuples(
    st.tuples(*(st.sampled_from(cells) for cells in FUZZ_VALID_CELLS)),
    st.lists(st.tuples(st.integers(0, len(FUZZ_VALID_CELLS) - 1), _any_tricky), max_size=2),
).map(lambda line: [dict(line[1]).get(index, cell) for index, cell in enumerate(line[0])])


@settings(
    max_examples=600 if os.environ.get("CARTOSTUP_FUZZ_LONG") == "1" else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(_fuzz_line, min_size=1, max_size=3), partial=st.booleans())
def test_every_column_fuzzed_imports_whole_lines_or_explains(analyst, rows, partial):
    """Valid-looking files with a bad value anywhere: each line is imported whole or refused
    with its messages, nothing else is kept (all or nothing unless partial), never a crash."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(FUZZ_COLUMNS.split(";"))
    writer.writerows(rows)
    try:
        parsed = exchange.parse_rows(buffer.getvalue().encode("utf-8"), "carte.csv")
    except exchange.ImportFileError as error:
        assert error.message
        return
    result = exchange.dealpoints_import(actor=analyst, rows=parsed, partial=partial)
    assert all(error.messages and all(error.messages) for error in result.errors)
    stored = DealPoint.objects.count()
    event("some lines imported" if stored else "nothing imported")
    if result.errors and not partial:
        assert stored == 0
    else:
        assert stored == len(parsed) - len(result.errors)
    for point in DealPoint.objects.all():
        assert -90 <= point.latitude <= 90 and -180 <= point.longitude <= 180
    DealPoint.objects.all().delete()


@pytest.mark.parametrize("reference", ["42", "true", "3.5"])
def test_a_sheet_numbered_like_numbers_is_not_duplicated(analyst, reference):
    """A CROSS sheet numbers its lines 1, 2, 3: read back from the JSON of the import event,
    "42" must still be "42" (SQLite gave 42, and the line was imported again)."""
    line = f"{reference};;Le four;43.3452;5.3949;building;;;"
    first = exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(_csv(line), "a.csv"))
    assert len(first.created) == 1
    again = exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(_csv(line), "a.csv"))
    assert [(s.line, s.reference) for s in again.skipped] == [(2, reference)]
    assert again.created == [] and DealPoint.objects.count() == 1


NO_REFERENCE = "status;name;latitude;longitude;products"


def test_a_file_without_references_imported_again_creates_no_point_twice(analyst):
    """Lines without a reference were imported again each time: the same file twice (a
    double click, a retry after a slow answer) doubled every point of the CROSS's map."""
    lines = ("confirmed;Le four;43,3452;5,3949;cannabis|cocaine", ";Parking;43.3460;5.3960;")
    first = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(_csv(*lines, header=NO_REFERENCE), "a.csv")
    )
    assert len(first.created) == 2
    # The same lines, written otherwise (labels, decimal point, list order): the same points.
    again = (
        "Confirmé;Le four;43.3452;5.3949;Cocaïne|Cannabis",
        ";Parking;43,3460;5,3960;",
    )
    second = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(_csv(*again, header=NO_REFERENCE), "a.csv")
    )
    assert second.created == [] and second.errors == []
    assert [(s.line, s.identical) for s in second.skipped] == [(2, True), (3, True)]
    assert {s.existing for s in second.skipped} == set(first.created)
    assert DealPoint.objects.count() == 2


def test_fixing_the_invalid_lines_and_importing_again_adds_only_them(analyst):
    """Import the valid lines, fix the others, import the whole file again: only the fixed
    lines are new (the others were imported a second time)."""
    good, bad = ";Le four;43.3452;5.3949;cannabis", ";Parking;43.3460;abc;"
    first = exchange.dealpoints_import(
        actor=analyst,
        rows=exchange.parse_rows(_csv(good, bad, header=NO_REFERENCE), "a.csv"),
        partial=True,
    )
    assert len(first.created) == 1 and first.invalid == 1
    fixed = exchange.dealpoints_import(
        actor=analyst,
        rows=exchange.parse_rows(
            _csv(good, bad.replace("abc", "5.3960"), header=NO_REFERENCE), "a.csv"
        ),
    )
    assert fixed.imported and len(fixed.created) == 1
    assert [s.line for s in fixed.skipped] == [2]
    assert DealPoint.objects.count() == 2


def test_two_identical_lines_in_a_file_are_an_error(analyst):
    line = ";Le four;43.3452;5.3949;cannabis"
    result = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(_csv(line, line, header=NO_REFERENCE), "a.csv")
    )
    assert not result.imported and not DealPoint.objects.exists()
    (error,) = result.errors
    assert error.line == 3
    assert error.messages == [
        "Cette ligne est identique à la ligne 2 : un même point ne s'importe qu'une fois. "
        "Supprimez-la, ou donnez à chaque ligne sa référence si ce sont deux points."
    ]


@pytest.mark.parametrize("kind", ["geojson", "csv"])
def test_swapped_coordinates_are_said_to_be(analyst, kind):
    """A GeoJSON written [latitude, longitude] (or a sheet whose two columns are swapped) was
    « hors des territoires chargés », nothing more."""
    if kind == "geojson":
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [43.3452, 5.3949]},
            "properties": {"name": "Le four"},
        }
        data = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
        rows = exchange.parse_rows(data, "carte.geojson")
    else:
        rows = exchange.parse_rows(_csv(";;Le four;5,3949;43,3452;;;;"), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    (error,) = result.errors
    assert any(
        message.startswith("latitude : La latitude et la longitude semblent inversées")
        and "(43.3452, 5.3949)" in message
        for message in error.messages
    ), error.messages
    assert not DealPoint.objects.exists()


def test_a_position_simply_outside_is_not_said_swapped(analyst):
    rows = exchange.parse_rows(_csv(OUTSIDE), "carte.csv")
    (error,) = exchange.dealpoints_import(actor=analyst, rows=rows).errors
    assert not any("inversées" in message for message in error.messages)


def test_a_label_with_a_comma_is_one_value(analyst):
    """« Cannabis (résine, herbe) », the label the import page lists, is one product, with or
    without another after a comma."""
    line = "OLD-1;;Le four;43.3452;5.3949;building;Cannabis (résine, herbe), cocaïne;;"
    result = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(_csv(line), "a.csv")
    )
    assert result.imported, result.errors
    assert DealPoint.objects.get(reference=result.created[0]).products == ["cannabis", "cocaine"]


def test_spreadsheet_headers_are_read_whatever_their_case_and_accents(analyst):
    text = (
        "LATITUDE;longitude;statut;Mode de distribution;produits;Horaires d'ouverture;"
        "Derniere activite;Cage d’escalier\n"
        "43.3452;5.3949;Confirmé;Livraison;Cocaïne|Crack;lundi:matin;2024-05-02;3\n"
    )
    (row,) = exchange.parse_rows(text.encode(), "carte.csv")
    parsed, errors = exchange.row_input(row)
    assert errors == {}
    assert parsed.status == DealPointStatus.CONFIRMED
    assert parsed.data.channel == "delivery"
    assert parsed.data.products == ["cocaine", "crack"]
    assert parsed.data.opening_hours == ["mon:morning"]
    assert parsed.data.stairwell_label == "3"
    assert parsed.last_activity_at is not None and parsed.last_activity_at.year == 2024
    with pytest.raises(exchange.ImportFileError) as refused:
        exchange.parse_rows(b"Latitude;Longitude;Code secret\n1;2;3\n", "carte.csv")
    assert "Colonnes inconnues : Code secret." in refused.value.message
    with pytest.raises(exchange.ImportFileError) as missing:
        exchange.parse_rows(b"Latitude;Statut\n1;2\n", "carte.csv")
    assert "Colonnes obligatoires absentes : Longitude." in missing.value.message


def test_an_xls_or_ods_workbook_is_refused_with_what_to_do(client_for, point):
    """An XLSX is read (even named .csv: it is a zip archive); an XLS or ODS is not."""
    workbook = client_for("cross13_analyst").get(EXPORT.format("xlsx")).content
    assert len(exchange.parse_rows(workbook, "points.csv")) == 1
    for data, name in ((b"x;y", "a.ods"), (b"x;y", "a.xls")):
        with pytest.raises(exchange.ImportFileError) as refused:
            exchange.parse_rows(data, name)
        assert "enregistrez-le au format XLSX, ou la feuille au format CSV" in (
            refused.value.message
        )


def test_import_page_accepts_excel_s_unicode_text(client_for):
    """Excel's « Texte Unicode » is a .txt file, UTF-16 and tab-separated: the file input
    hid it, although the guide says it imports."""
    body = client_for("cross13_analyst").get(IMPORT).content.decode()
    assert 'accept=".csv,.txt,.xlsx,.geojson,.json,text/csv,text/plain,' in body
    help_text = str(exchange_views.ImportForm().fields["file"].help_text)
    assert "UTF-16" in help_text and "tabulation" in help_text and "Texte Unicode" in help_text
    assert "UTF-16 ou Windows-1252" in body and "« Texte Unicode » (.txt)" in body


# --- the sharing of imported points (new-user audit of 2026-12-06) ------------------------------


MARKED_HEADER = "reference;Marquage de diffusion;name;latitude;longitude"


def test_a_lines_marking_is_applied_to_its_point(analyst):
    """A TLP:RED line was imported TLP:AMBER, shared with the territory: the marking column
    was never read."""
    data = _csv(
        "M-1;TLP:RED;Rouge;43.3452;5.3949",
        "M-2;;Sans marquage;43.3460;5.3960",
        "M-3;amber+strict;Strict;43.3455;5.3955",
        header=MARKED_HEADER,
    )
    result = exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(data, "c.csv"))
    assert result.imported, result.errors
    markings = {
        point.name: point.marking
        for point in DealPoint.objects.filter(reference__in=result.created)
    }
    assert markings == {
        "Rouge": Marking.RED,
        "Sans marquage": Marking.AMBER,
        "Strict": Marking.AMBER_STRICT,
    }
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [5.3949, 43.3440]},
                "properties": {"name": "GeoJSON rouge", "marking": "TLP:RED"},
            }
        ],
    }
    rows = exchange.parse_rows(json.dumps(collection).encode(), "carte.geojson")
    result = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert DealPoint.objects.get(reference=result.created[0]).marking == Marking.RED
    # A line never loosens what the analyst chose for the file: the stricter of the two.
    data = _csv(
        "S-1;TLP:GREEN;Vert;43.3470;5.3970",
        "S-2;TLP:RED;Rouge aussi;43.3480;5.3980",
        header=MARKED_HEADER,
    )
    result = exchange.dealpoints_import(
        actor=analyst,
        rows=exchange.parse_rows(data, "s.csv"),
        sharing=services.SharingInput(marking=Marking.AMBER_STRICT),
    )
    assert {
        point.name: point.marking
        for point in DealPoint.objects.filter(reference__in=result.created)
    } == {"Vert": Marking.AMBER_STRICT, "Rouge aussi": Marking.RED}
    # The auditor reads each point's marking as created (new-user review: the import's own
    # event says the form's only).
    audited = {
        event.details["reference"]: event.details["marking"]
        for event in AuditEvent.objects.filter(
            action=AuditAction.IMPORT, details__reference__in=result.created
        )
    }
    assert sorted(audited.values()) == [Marking.AMBER_STRICT, Marking.RED]


def test_an_unknown_marking_is_an_error_of_its_line_naming_the_accepted_ones(analyst):
    data = _csv("M-1;TLP:ROUGE;Rouge;43.3452;5.3949", header=MARKED_HEADER)
    result = exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(data, "c.csv"))
    assert not result.imported and not DealPoint.objects.exists()
    assert result.errors[0].messages == [
        "marquage : Marquage inconnu : « TLP:ROUGE » (valeurs acceptées : TLP:CLEAR, "
        "TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED)."
    ]


def test_the_import_form_chooses_the_sharing_of_the_points(client_for, persona):
    """The import form had no diffusion or marking: every point was shared with the
    territory's services (the police read it at once)."""
    client = client_for("cross13_analyst")
    data = _csv(
        "S-1;;Gardé;43.3452;5.3949", "S-2;TLP:RED;Rouge;43.3460;5.3960", header=MARKED_HEADER
    )
    sharing = {"sharing-distribution": "organisation", "sharing-marking": "amber_strict"}
    response = client.post(IMPORT, {"file": _upload(data), "action": "import", **sharing})
    assert response.status_code == 200
    points = {point.name: point for point in DealPoint.objects.all()}
    assert {name: (p.distribution, p.marking) for name, p in points.items()} == {
        "Gardé": ("organisation", Marking.AMBER_STRICT),
        "Rouge": ("organisation", Marking.RED),
    }
    assert "TLP:RED" in response.content.decode()
    police = client_for("police13_investigator")
    assert police.get(f"/points-de-deal/{points['Gardé'].pk}/").status_code == 404
    audit = AuditEvent.objects.get(action=AuditAction.IMPORT, details__has_key="rows")
    assert (audit.details["distribution"], audit.details["marking"]) == (
        "organisation",
        "amber_strict",
    )


def test_the_import_forms_sharing_is_checked_as_the_creation_forms(client_for):
    client = client_for("cross13_analyst")
    response = client.post(
        IMPORT,
        {
            "file": _upload(_csv(VALID)),
            "action": "import",
            "sharing-distribution": "sharing_group",
            "sharing-marking": "tlp-noir",
        },
    )
    body = html.unescape(response.content.decode())
    assert "Sélectionnez un choix valide" in body  # the marking, as the creation form says
    assert not DealPoint.objects.exists()
    response = client.post(
        IMPORT,
        {"file": _upload(_csv(VALID)), "action": "import", "sharing-distribution": "sharing_group"},
    )
    body = html.unescape(response.content.decode())
    assert "Choisissez un groupe de partage dont votre organisation est membre." in body
    assert not DealPoint.objects.exists()


def test_the_verified_file_keeps_the_sharing_chosen(client_for):
    client = client_for("cross13_analyst")
    sharing = {"sharing-distribution": "cross", "sharing-marking": "red"}
    checked = client.post(IMPORT, {"file": _upload(_csv(VALID)), "action": "check", **sharing})
    body = checked.content.decode()
    assert 'name="sharing-distribution" value="cross"' in body
    assert 'name="sharing-marking" value="red"' in body
    client.post(IMPORT, {"verified": _sealed(body), "action": "import", **sharing})
    point = DealPoint.objects.get()
    assert (point.distribution, point.marking) == ("cross", Marking.RED)


def test_a_landlords_columns_are_refused_and_recomputed_ones_named(client_for, analyst):
    """« Bâtiment du bailleur » and « Code partenaire » were dropped without a word."""
    with pytest.raises(exchange.ImportFileError) as refused:
        exchange.parse_rows(
            "Code partenaire;Statut;Bâtiment du bailleur;Latitude;Longitude\n"
            "AB;Signalé;Tour 7;43.3452;5.3949\n".encode(),
            "bailleur.csv",
        )
    assert str(refused.value).startswith(
        "Colonnes d'un export réduit (celui d'un bailleur), qui ne s'importent pas : "
        "Bâtiment du bailleur."
    )
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [5.3949, 43.3452]},
                "properties": {"building": "Tour 7"},
            }
        ],
    }
    rows = exchange.parse_rows(json.dumps(collection).encode(), "bailleur.geojson")
    (error,) = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True).errors
    assert "Bâtiment du bailleur" in error.messages[0]
    data = b"Code partenaire;Commune;Latitude;Longitude\nAB;Marseille;43.3452;5.3949\n"
    page = client_for("cross13_analyst").post(IMPORT, {"file": _upload(data), "action": "check"})
    assert (
        "Colonnes du fichier non lues, que la plateforme calcule elle-même : Code partenaire, "
        "Commune." in html.unescape(page.content.decode())
    )


# --- what the report says of lines already on the platform (new-user audit of 2026-12-06) -------


def test_a_line_where_a_point_exists_is_warned_not_refused(client_for, analyst):
    """The exact position of a point already on the platform (not imported) became a second
    point 0 m away without a word."""
    existing = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949, precision="building")
    far = "F-2;;Loin;43.3600;5.4100;building;;;"
    rows = exchange.parse_rows(_csv(VALID, far), "carte.csv")
    checked = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    assert checked.errors == [] and checked.valid == 2
    assert checked.warnings == [
        exchange.RowWarning(
            2, [f"Un point existe à 0 m : {existing.reference}"], (existing.reference,)
        )
    ]
    # The points the report names are audited with the check.
    event = AuditEvent.objects.filter(action=AuditAction.IMPORT).latest("pk")
    assert event.details["check"] is True and event.details["nearby"] == [existing.reference]
    page = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(_csv(VALID, far)), "action": "check"}
    )
    body = html.unescape(page.content.decode())
    assert f"Un point existe à 0 m : {existing.reference}" in body
    assert "1 ligne proche d'un point de la plateforme" in body
    imported = exchange.dealpoints_import(actor=analyst, rows=rows)
    assert imported.imported and len(imported.created) == 2  # a warning refuses nothing
    assert [warning.line for warning in imported.warnings] == [2]


def test_a_point_nearby_is_warned_within_the_precisions_reach_only(analyst, persona):
    existing = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949, precision="stairwell")
    # About 40 m north: within the reach of a building-level line (43 m from a stairwell-level
    # point: `matching.sigma_m`), not of a stairwell-level one (21 m).
    near = "N-1;;Près;43.34556;5.3949;{precision};;;"
    for precision, warned in (("building", True), ("stairwell", False)):
        rows = exchange.parse_rows(_csv(near.format(precision=precision)), "carte.csv")
        result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
        assert bool(result.warnings) is warned, precision
    said = exchange.dealpoints_import(
        actor=analyst,
        rows=exchange.parse_rows(_csv(near.format(precision="building")), "c.csv"),
        dry_run=True,
    ).warnings[0]
    assert said.messages == [f"Un point existe à 40 m : {existing.reference}"]
    # A point the actor may not see (kept by its organisation) is not told to exist.
    services.dealpoint_create(
        actor=analyst,
        data=dealpoint_input(latitude=43.3300, longitude=5.4000),
        sharing=services.SharingInput(distribution="organisation"),
    )
    line = "H-1;;X;43.3300;5.4000;building;;;"
    rows = exchange.parse_rows(_csv(line), "c.csv")
    other = persona("antenna13_analyst")
    assert exchange.dealpoints_import(actor=other, rows=rows, dry_run=True).warnings == []
    assert exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True).warnings


def test_two_close_lines_of_one_file_warn_of_no_point_not_on_the_platform(analyst):
    rows = exchange.parse_rows(_csv(VALID, VALID.replace("OLD-1", "OLD-9")), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    assert result.valid == 2 and result.warnings == []


def test_a_changed_line_imported_before_is_said_to_differ(client_for, analyst):
    """A line imported before and since changed in the file was « déjà présente » as if it
    were the same; the point is still not changed."""
    exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(_csv(VALID), "c.csv"))
    point = DealPoint.objects.get()
    changed = VALID.replace("confirmed", "dismantled").replace("Le four", "Le four neuf")
    rows = exchange.parse_rows(_csv(changed, VALID_2), "carte.csv")
    result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    (skipped,) = result.skipped
    assert skipped.differs == ("statut", "nom d'usage")
    # The same line, unchanged, differs in nothing.
    same = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(_csv(VALID), "c.csv"), dry_run=True
    )
    assert same.skipped[0].differs == ()
    page = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(_csv(changed, VALID_2)), "action": "import"}
    )
    body = html.unescape(page.content.decode())
    assert (
        f"déjà importée ({point.reference}) ; le fichier diffère : statut, nom d'usage. "
        "Le point n'est pas modifié." in body
    )
    point.refresh_from_db()
    assert (point.status, point.name) == (DealPointStatus.CONFIRMED, "Le four")
    # A marked line imported with a stricter form's marking, then again the same way, does
    # not differ (the point holds the stricter one, as the import applies it).
    marked = _csv("R-1;TLP:GREEN;Vert;43.3470;5.3970", header=MARKED_HEADER)
    strict = services.SharingInput(marking=Marking.RED)
    exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(marked, "m.csv"), sharing=strict
    )
    again = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(marked, "m.csv"), sharing=strict, dry_run=True
    )
    assert again.skipped[0].differs == ()


def test_another_map_s_line_with_a_reference_imported_before_is_an_error_not_present(analyst):
    """New-user review: a second map numbered 1, 2 like the first had all its lines « déjà
    présentes » (« le fichier diffère : position »), points kilometres away that could not be
    imported. A line far from the point its reference became is an error of the line, which
    says how to import it; moved less than a kilometre, it is the same point, said to differ."""
    header = "reference;name;latitude;longitude"
    first = _csv("1;La Castellane;43.3722;5.3603", "2;La Busserine;43.3390;5.3930", header=header)
    exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(first, "a.csv"))
    castellane = DealPoint.objects.get(name="La Castellane")
    other = _csv("1;Frais-Vallon;43.3300;5.4170", "2;La Busserine;43.3400;5.3935", header=header)
    result = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(other, "b.csv"), dry_run=True
    )
    ((line, messages),) = [(error.line, error.messages) for error in result.errors]
    assert line == 2
    assert messages == [
        f"référence : La référence « 1 » est celle d'une ligne importée avant, devenue "
        f"{castellane.reference}, qui est à 6,6 km de la position de cette ligne. Si c'est un "
        "autre point (une autre carte qui numérote aussi ses lignes), donnez "
        "aux références de ce fichier un préfixe qui les distingue (« B-1 ») ou videz la "
        "colonne « Référence » ; si c'est le même point, dont la position a changé depuis, "
        "retirez la ligne du fichier ou importez sans elle (import partiel) : une ligne déjà "
        "importée ne modifie jamais son point."
    ]
    ((skipped, differs),) = [(row.line, row.differs) for row in result.skipped]
    assert skipped == 3 and differs == ("position",)
    prefixed = other.replace(b"\n1;", b"\nB-1;")
    result = exchange.dealpoints_import(actor=analyst, rows=exchange.parse_rows(prefixed, "b.csv"))
    assert result.imported and len(result.created) == 1 and not result.errors


def _edited_export(content: bytes, edits: dict[str, dict[str, str]]) -> bytes:
    """A CSV export with some cells changed, by reference then French header."""
    table = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    for line in table:
        line.update(edits.get(line["Référence"], {}))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue().encode()


def test_an_edited_export_is_said_to_differ_from_its_points(
    client_for, analyst, persona, tmp_path, capsys
):
    """An export's line changed (status, name) and imported again was only « déjà présent »
    (user audit): what it says otherwise is told, as for a line imported before, and the
    point is still not changed. Only a point the importer may read is compared."""
    first = dealpoint(actor=analyst, name="Le four", latitude=43.3452, longitude=5.3949)
    # Imported TLP:GREEN with its dates: an export gives them back as they are.
    imported = exchange.dealpoints_import(
        actor=analyst,
        rows=exchange.parse_rows(
            _csv(
                "D-1;;Daté;43.3470;5.3970;2026-03-01;2026-04-02T18:30",
                header="reference;marking;name;latitude;longitude;"
                "first_reported_at;last_activity_at",
            ),
            "c.csv",
        ),
        sharing=services.SharingInput(marking=Marking.GREEN),
    )
    second = DealPoint.objects.get(reference=imported.created[0])
    assert second.marking == Marking.GREEN and second.first_reported_at is not None
    exported = client_for("cross13_analyst").get(EXPORT.format("csv")).content
    edited = _edited_export(
        exported, {first.reference: {"Statut": "Démantelé", "Nom d'usage": "Le four neuf"}}
    )
    rows = exchange.parse_rows(edited, "export.csv")
    checked = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    said = {skipped.existing: skipped for skipped in checked.skipped}
    assert said[first.reference].differs == ("statut", "nom d'usage")
    assert said[first.reference].platform
    # A line left as exported differs in nothing (its marking and dates are the point's).
    assert said[second.reference].differs == ()
    for kind in ("csv", "geojson"):
        content = client_for("cross13_analyst").get(EXPORT.format(kind)).content
        unchanged = exchange.dealpoints_import(
            actor=analyst, rows=exchange.parse_rows(content, f"export.{kind}"), dry_run=True
        )
        assert [skipped.differs for skipped in unchanged.skipped] == [(), ()], kind
    page = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(edited, "export.csv"), "action": "import"}
    )
    body = html.unescape(page.content.decode())
    assert (
        f"déjà présent : {first.reference} ; le fichier diffère : statut, nom d'usage. "
        "Le point n'est pas modifié." in body
    )
    path = tmp_path / "export.csv"
    path.write_bytes(edited)
    call_command("import_dealpoints", str(path), user=analyst.username, dry_run=True)
    assert (
        f"déjà présente ({first.reference}) ; le fichier diffère : statut, nom d'usage. "
        "Le point n'est pas modifié." in capsys.readouterr().out
    )
    first.refresh_from_db()
    assert (first.status, first.name) == (DealPointStatus.REPORTED, "Le four")
    # A point the importer may not read is neither compared nor named.
    hidden = services.dealpoint_create(
        actor=analyst,
        data=dealpoint_input(name="Caché", latitude=43.3300, longitude=5.4000),
        sharing=services.SharingInput(distribution="organisation"),
    )
    exported = client_for("cross13_analyst").get(EXPORT.format("csv")).content
    edited = _edited_export(exported, {hidden.reference: {"Nom d'usage": "Caché neuf"}})
    other = persona("antenna13_analyst")
    result = exchange.dealpoints_import(
        actor=other, rows=exchange.parse_rows(edited, "export.csv"), dry_run=True
    )
    assert hidden.reference not in {skipped.existing for skipped in result.skipped}
    assert {skipped.existing for skipped in result.skipped} == {first.reference, second.reference}


def test_every_point_the_report_names_is_audited(analyst, persona):
    """The import's audit entry kept the points named near a line, not those named for the
    lines skipped (ANCIEN-1 → PD-13-0040) nor those a line was said to differ from (user
    audit): each is a point read, audited with the import or its check."""
    platform_point = dealpoint(actor=analyst, name="Le four", latitude=43.3452, longitude=5.3949)
    old = "ANCIEN-1;;Ancien;43.3600;5.4100;building;;;"
    unnamed = ";;Sans référence;43.3700;5.4200;street;;;"
    ancient, same = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(_csv(old, unnamed), "c.csv")
    ).created
    hidden = services.dealpoint_create(
        actor=analyst,
        data=dealpoint_input(name="Caché", latitude=43.3300, longitude=5.4000),
        sharing=services.SharingInput(distribution="organisation"),
    )
    lines = (
        old,
        unnamed,
        f"{platform_point.reference.lower()};dismantled;Le four;43.3452;5.3949;building;;;",
        f"{hidden.reference};;Caché;43.3300;5.4000;building;;;",
    )
    rows = exchange.parse_rows(_csv(*lines), "carte.csv")
    for dry_run in (True, False):
        exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=dry_run)
        event = AuditEvent.objects.filter(action=AuditAction.IMPORT).latest("pk")
        assert event.details["check"] is dry_run
        assert event.details["already_present"] == sorted(
            [ancient, same, platform_point.reference, hidden.reference]
        )
        assert event.details["differs"] == [platform_point.reference]
    # An importer who may not read a point is told nothing of it: nothing is audited of it.
    other = persona("antenna13_analyst")
    exchange.dealpoints_import(actor=other, rows=rows, dry_run=True)
    event = AuditEvent.objects.filter(action=AuditAction.IMPORT).latest("pk")
    assert event.actor_id == other.pk
    assert hidden.reference not in event.details["already_present"]
    assert hidden.reference not in event.details["nearby"]


def test_an_imported_point_is_found_by_its_original_reference(client_for, analyst, persona):
    """`?q=ANCIEN-1` found nothing: the reference a point had in its CROSS's map was told in
    its history only (user audit). The list, the API, the map and the export find it, as they
    find a platform reference, among the points the reader may see only."""
    lines = (
        "ANCIEN-1;;Le four;43.3452;5.3949;building;;;",
        "42;;Parking;43.3460;5.3960;street;;;",
    )
    ancient, numbered = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(_csv(*lines), "c.csv")
    ).created
    other = dealpoint(actor=analyst, name="Autre", latitude=43.3470, longitude=5.3970)
    client = client_for("cross13_analyst")

    def api(asked: str, who=client) -> list[str]:
        response = who.get("/api/v1/dealpoints/", {"q": asked})
        assert response.status_code == 200, response.content
        return [row["reference"] for row in response.json()["results"]]

    for asked in ("ANCIEN-1", "ancien-1", "cien"):
        assert api(asked) == [ancient], asked
    assert api("42") == [numbered]  # a sheet numbered 1, 2, 3: read as text
    page = client.get("/points-de-deal/", {"q": "ancien-1"}).content.decode()
    assert ancient in page and other.reference not in page and numbered not in page
    exported = client.get(EXPORT.format("csv") + "?" + urlencode({"q": "ANCIEN-1"})).content
    assert [row["Référence"] for row in _csv_rows(exported)] == [ancient]
    layer = client.get(
        "/api/v1/map/dealpoints/", {"bbox": "5.30,43.28,5.45,43.38", "zoom": 16, "q": "ANCIEN-1"}
    )
    assert layer.status_code == 200, layer.content
    assert [f["properties"]["reference"] for f in layer.json()["features"]] == [ancient]
    # A point kept from a reader is not found by its original reference either.
    exchange.dealpoints_import(
        actor=analyst,
        rows=exchange.parse_rows(_csv("SECRET-1;;Caché;43.3300;5.4000;building;;;"), "c.csv"),
        sharing=services.SharingInput(distribution="organisation"),
    )
    (kept,) = api("SECRET-1")
    assert api("SECRET-1", who=client_for("antenna13_analyst")) == []


def test_partial_import_without_a_valid_new_line_says_so(client_for):
    """With « Importer les lignes valides… » ticked, the page told to tick it."""
    response = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(_csv(OUTSIDE)), "action": "import", "partial": "on"}
    )
    body = html.unescape(response.content.decode())
    assert "le fichier n'a aucune ligne valide nouvelle à importer" in body
    assert "cochez « Importer les lignes valides" not in body
    unticked = client_for("cross13_analyst").post(
        IMPORT, {"file": _upload(_csv(OUTSIDE)), "action": "import"}
    )
    assert "cochez « Importer les lignes valides" in html.unescape(unticked.content.decode())


def test_an_oversized_import_says_the_imports_own_limit(client_for, settings):
    """A 20 MB import answered the site's 413 page, which speaks of a smaller photo."""
    settings.CARTOSTUP_MAX_REQUEST_BYTES = 50_000  # as 20 MB is to the site's limit
    client = client_for("cross13_analyst")
    client.raise_request_exception = False
    response = client.post(IMPORT, {"file": _upload(b"x" * 60_000), "action": "import"})
    assert response.status_code == 413
    body = html.unescape(response.content.decode())
    assert "Le fichier à importer dépasse la taille acceptée (5 Mo et 5\u00a0000 lignes" in body
    assert f'href="{IMPORT}"' in body and "Revenir à la page d'envoi" in body
    assert "une photo plus petite" not in body
    assert not DealPoint.objects.exists()
    # Elsewhere, the site's page is unchanged.
    other = client.post("/points-de-deal/nouveau/", {"name": "x" * 60_000})
    assert other.status_code == 413
    assert "une photo plus petite" in html.unescape(other.content.decode())


def test_an_unchanged_export_differs_in_nothing_whatever_its_points_times(client_for, analyst):
    """New-user review: an export imported again unchanged said « le fichier diffère :
    premier signalement » of a point whose times have seconds (every report's), or fall in
    the hour repeated when the clocks go back (02:00 CEST, compared aware, is never equal to
    another zone's 02:00; 02:30 CET is read back as CEST). A spreadsheet writes the local time
    to the minute: a line left as exported is that, whatever the time."""
    moments = [
        datetime(2026, 3, 1, 14, 0, 42, 123456, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),  # 02:00, the first time (CEST)
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30, the second time (CET)
    ]
    for n, moment in enumerate(moments):
        point = dealpoint(actor=analyst, latitude=43.3452 + n / 100, longitude=5.3949)
        DealPoint.objects.filter(pk=point.pk).update(
            first_reported_at=moment, last_activity_at=moment, last_reported_at=moment
        )
    for kind in ("csv", "xlsx"):
        content = client_for("cross13_analyst").get(EXPORT.format(kind)).content
        checked = exchange.dealpoints_import(
            actor=analyst, rows=exchange.parse_rows(content, f"export.{kind}"), dry_run=True
        )
        assert [skipped.differs for skipped in checked.skipped] == [()] * 3, kind
    # A moment the file writes otherwise (another minute) still differs.
    exported = client_for("cross13_analyst").get(EXPORT.format("csv")).content
    reference = DealPoint.objects.get(first_reported_at=moments[0]).reference
    edited = _edited_export(exported, {reference: {"Premier signalement": "01/03/2026 15:01"}})
    checked = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(edited, "export.csv"), dry_run=True
    )
    said = {skipped.existing: skipped.differs for skipped in checked.skipped}
    assert said[reference] == ("premier signalement",)


def test_a_cell_too_long_to_read_says_its_limit_and_length(analyst):
    """A 3,000-character cell said « Ce texte est trop long. », where 150 characters said
    the limit and the count."""
    rows = exchange.parse_rows(
        _csv(
            f"L-1;{'x' * 3000};43.3452;5.3949;{'Cannabis, ' * 300}",
            header=("reference;name;latitude;longitude;products"),
        ),
        "c.csv",
    )
    result = exchange.dealpoints_import(actor=analyst, rows=rows, dry_run=True)
    ((error,),) = [result.errors]
    assert error.messages == [
        "nom d'usage : Ce texte dépasse 120 caractères (il en compte 3000).",
        "produits : Ce texte dépasse 2000 caractères (il en compte 3000).",
    ]
