"""Deal points in and out of Cartostup: exports (GeoJSON, CSV, XLSX) of what the actor may
export, and the import of an existing CROSS map (CSV, XLSX or GeoJSON) with a per-line report.

Exports read `selectors.dealpoint_list(action=EXPORT)` (TLP:RED and AMBER+STRICT points stay
with their owner), keep to the fields the actor may receive (`policy.visible_fields`: a
landlord gets the reduced view, placed on its building) and are audited with their format,
filters and size. Cells that a spreadsheet would read as a formula are neutralised.

Imports parse the file (`parse_rows`: rows, or `ImportFileError` with a French message), then
`dealpoints_import` creates the points through `services.dealpoint_create` in ONE transaction:
every line is validated by the service itself (inside a savepoint), and nothing is kept if a
line is invalid, unless `partial` (then only the valid lines are kept). A dry run validates and
keeps nothing.

A file verified (a dry run) comes back in the page's form, compressed and signed
(`verified_file_seal`), so that the analyst imports it without choosing it again; the server
keeps nothing between the two requests, and reads and validates the file again in full when it
is imported (`verified_file_open`).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import dataclasses
import functools
import hashlib
import io
import json
import math
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Count, F, Func, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cartostup.access import policy
from cartostup.access.choices import MARKING_ORDER, Marking
from cartostup.access.models import User
from cartostup.core.audit import audit_record, chained_at_the_end
from cartostup.core.choices import AuditAction
from cartostup.core.dates import week_start
from cartostup.core.forms import CURRENCY, THOUSANDS

from . import matching, selectors, services
from .choices import (
    ATTACHED_DECISIONS,
    Confidence,
    DealPointStatus,
    DistributionChannel,
    EventKind,
    ObservedRole,
    Precision,
    Product,
    TimeOfDay,
    Weekday,
    in_week_order,
)
from .filters import DealPointFilterSet
from .models import DealPoint, DealPointEvent, Operation, normalise_reference

# --- columns -------------------------------------------------------------------------------------

# Every column of a full export, in order (the import reads the same names). `marking` (TLP,
# e.g. « TLP:AMBER ») travels with each row so that whoever receives the file knows how far it
# may be shared; the import applies it to the point of its line (`row_input`).
COLUMNS: tuple[str, ...] = (
    "reference",
    "partner_code",
    "status",
    "marking",
    "name",
    "latitude",
    "longitude",
    "precision",
    "address",
    "building_label",
    "stairwell_label",
    "commune_code",
    "commune_name",
    "departement",
    "qpv_code",
    "channel",
    "products",
    "opening_hours",
    "observed_roles",
    "estimated_daily_turnover",
    "confidence",
    "first_reported_at",
    "last_activity_at",
    "reports_count",
    "operations_count",
)

# The columns of a reduced view, by the field the policy lets the actor receive. The
# `building` field brings the building's name and position (the point's own position is not
# part of the reduced view).
REDUCED_COLUMNS: dict[str, tuple[str, ...]] = {
    "partner_code": ("partner_code",),
    "status": ("status",),
    "last_activity_week": ("last_activity_week",),
    "building": ("building", "latitude", "longitude"),
}

# Lists (products, opening hours, observed roles) in CSV and XLSX cells: the export writes
# them for a person to read (« Cannabis (résine, herbe), Cocaïne »); the import splits on « | »,
# else on commas outside brackets, so both read back.
LIST_SEPARATOR = "|"
SPREADSHEET_LIST_SEPARATOR = ", "
LIST_COLUMNS = frozenset({"products", "opening_hours", "observed_roles"})

# Columns the import reads; the others (commune, counts...) are recomputed by the platform.
IMPORTED_COLUMNS = frozenset(
    {
        "reference",
        "status",
        "marking",
        "name",
        "latitude",
        "longitude",
        "precision",
        "address",
        "building_label",
        "stairwell_label",
        "channel",
        "products",
        "opening_hours",
        "observed_roles",
        "estimated_daily_turnover",
        "confidence",
        "first_reported_at",
        "last_activity_at",
    }
)
KNOWN_COLUMNS = frozenset(COLUMNS) | frozenset(
    name for names in REDUCED_COLUMNS.values() for name in names
)
# Columns of a reduced view only (a landlord's export): they say nothing a point can be
# imported from (the landlord's building, placed at its position), so they are refused, never
# dropped without a word.
REDUCED_ONLY_COLUMNS = KNOWN_COLUMNS - frozenset(COLUMNS)
# Columns of a full export that the import does not read (the platform recomputes them: the
# territory from the position, the counts, a partner code of its own): the report names them.
RECOMPUTED_COLUMNS = frozenset(COLUMNS) - IMPORTED_COLUMNS

# What a spreadsheet (CSV, XLSX) calls each column: people read them, so they are French, and
# choices are written as their French labels (« Démantelé », « Cocaïne », « Vendredi : soirée »)
# and moments as local dates (`SPREADSHEET_MOMENTS`). A GeoJSON keeps the column names, the
# codes and ISO 8601, for tools. The import reads either.
HEADERS: dict[str, Any] = {
    "reference": gettext_lazy("Référence"),
    "partner_code": gettext_lazy("Code partenaire"),
    "status": gettext_lazy("Statut"),
    "marking": gettext_lazy("Marquage de diffusion"),
    "name": gettext_lazy("Nom d'usage"),
    "latitude": gettext_lazy("Latitude"),
    "longitude": gettext_lazy("Longitude"),
    "precision": gettext_lazy("Précision"),
    "address": gettext_lazy("Adresse"),
    "building_label": gettext_lazy("Bâtiment"),
    "stairwell_label": gettext_lazy("Cage d'escalier"),
    "commune_code": gettext_lazy("Code commune"),
    "commune_name": gettext_lazy("Commune"),
    "departement": gettext_lazy("Département"),
    "qpv_code": gettext_lazy("Code QPV"),
    "channel": gettext_lazy("Mode de distribution"),
    "products": gettext_lazy("Produits"),
    "opening_hours": gettext_lazy("Horaires d'ouverture"),
    "observed_roles": gettext_lazy("Rôles observés"),
    "estimated_daily_turnover": gettext_lazy("Chiffre d'affaires quotidien estimé (euros)"),
    "confidence": gettext_lazy("Fiabilité"),
    "first_reported_at": gettext_lazy("Premier signalement"),
    "last_activity_at": gettext_lazy("Dernière activité"),
    "reports_count": gettext_lazy("Signalements rattachés"),
    "operations_count": gettext_lazy("Opérations"),
    "last_activity_week": gettext_lazy("Dernier signalement (semaine du)"),
    "building": gettext_lazy("Bâtiment du bailleur"),
}

# The choices a spreadsheet writes as French labels, by column.
CHOICE_COLUMNS: dict[str, Any] = {
    "status": DealPointStatus,
    "precision": Precision,
    "channel": DistributionChannel,
    "confidence": Confidence,
    "products": Product,
    "observed_roles": ObservedRole,
}

FORMATS = ("geojson", "csv", "xlsx")
CONTENT_TYPES = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# Import limits.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
# A workbook (a zip archive) is refused when its parts would be larger than this once opened
# (a zip bomb); an export of 5,000 points takes about a tenth of it.
MAX_WORKBOOK_OPEN_BYTES = 40 * 1024 * 1024
# A cell longer than this is refused (the longest field, the address, holds 300 characters).
MAX_CELL_LENGTH = 2000
# An original reference longer than this is refused, never cut.
MAX_REFERENCE_LENGTH = 100

# A spreadsheet runs a cell starting with one of these as a formula (CSV/XLSX injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _unneutralise(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


# --- export --------------------------------------------------------------------------------------


class ExportFiltersInvalid(ValidationError):
    """The export's filters are invalid: nothing is exported."""


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str
    count: int


def points_reader_require(actor: User) -> None:
    """404 unless the actor receives deal points one by one (a prefecture or a prosecutor's
    office only counts them on the map; an operator or an auditor not at all)."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    if not policy.aggregate_scope(DealPoint.objects.none(), actor=actor).coordinates:
        # Said to the API's client (« Non trouvé. » told it nothing), as the list page says it.
        raise Http404(
            _(
                "Votre rôle donne accès au nombre de points de deal par zone de votre "
                "territoire, pas aux points eux-mêmes : voir les couches de la carte "
                "(/api/v1/map/)."
            )
        )


def export_columns(actor: User) -> tuple[str, ...]:
    """The columns this actor exports: every one, or those of its reduced view."""
    visible = policy.visible_fields(actor, DealPoint)
    if visible is None:
        return COLUMNS
    return tuple(
        column for name, columns in REDUCED_COLUMNS.items() if name in visible for column in columns
    )


def with_counts(queryset: QuerySet[DealPoint], *, actor: User) -> QuerySet[DealPoint]:
    """Each point with its number of attached reports and of standing operations: its own and
    those of the points merged into it that the actor may see, as its page lists them
    (`selectors.dealpoint_operations`; the merged points' reports are lent to it already)."""
    merged_seen = policy.restrict(DealPoint.objects.filter(merged_root__isnull=False), actor=actor)
    operations = (
        Operation.objects.standing()
        .filter(
            Q(dealpoint=OuterRef("pk"))
            | Q(dealpoint__merged_root=OuterRef("pk"), dealpoint__in=merged_seen.values("pk"))
        )
        .order_by()
        .annotate(count=Func(F("pk"), function="COUNT"))
        .values("count")
    )
    return queryset.annotate(
        reports_count=Count(
            "links", filter=Q(links__decision__in=ATTACHED_DECISIONS), distinct=True
        ),
        operations_count=Coalesce(Subquery(operations), 0),
    )


def _iso(moment: date | None) -> str | None:
    """ISO 8601, a moment in local time with its offset (« 2026-11-23T08:00:00+01:00 »)."""
    if isinstance(moment, datetime):
        return timezone.localtime(moment).isoformat()
    return moment.isoformat() if moment is not None else None


def row_values(point: DealPoint) -> dict[str, Any]:
    """Every column of one point, as plain values (lists stay lists, moments datetimes and a
    week its Monday, which each format writes its own way)."""
    building = point.building
    week = week_start(point.last_reported_at)  # a landlord's week: reports only
    return {
        "reference": point.reference,
        "partner_code": point.partner_code,
        "status": point.status,
        "marking": point.get_marking_display(),
        "name": point.name,
        "latitude": point.latitude,
        "longitude": point.longitude,
        "precision": point.precision,
        "address": point.address,
        "building_label": point.building_label,
        "stairwell_label": point.stairwell_label,
        "commune_code": point.commune.code if point.commune_id else "",
        "commune_name": point.commune.name if point.commune_id else "",
        "departement": point.departement.code if point.departement_id else "",
        "qpv_code": point.priority_neighbourhood.code if point.priority_neighbourhood else "",
        "channel": point.channel,
        "products": list(point.products or []),
        "opening_hours": list(point.opening_hours or []),
        "observed_roles": list(point.observed_roles or []),
        "estimated_daily_turnover": point.estimated_daily_turnover,
        "confidence": point.confidence,
        "first_reported_at": point.first_reported_at,
        "last_activity_at": point.last_activity_at,
        "reports_count": getattr(point, "reports_count", 0),
        "operations_count": getattr(point, "operations_count", 0),
        "last_activity_week": week,
        "building": building.name if building else "",
        "building_latitude": building.latitude if building else None,
        "building_longitude": building.longitude if building else None,
    }


def _export_row(values: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """The row restricted to `columns`; a reduced view is placed on its building."""
    row = {column: values[column] for column in columns}
    if "building" in columns:
        row["latitude"] = values["building_latitude"]
        row["longitude"] = values["building_longitude"]
    return row


def _short(label: Any) -> str:
    """A label without its precision in brackets: « Soirée » for « Soirée (18 h – 0 h) »."""
    return str(label).split(" (")[0]


def _label_of(code: str, choices: Any) -> str:
    """The French label of a code; the code itself if it is not one (never lose a value)."""
    try:
        return str(choices(code).label)
    except ValueError:
        return code


def _hour_label(token: str) -> str:
    """« fri:evening » as « Vendredi : soirée »: the import (`_hours`) reads a day and a time
    of day on either side of the colon, so the colon stays (« Vendredi soirée » would not
    read back)."""
    day, separator, moment = token.partition(":")
    if not separator:
        return token
    return f"{_label_of(day, Weekday)} : {_short(_label_of(moment, TimeOfDay)).lower()}"


def _spreadsheet_value(column: str, value: Any) -> Any:
    """A value as a spreadsheet shows it: choices by their French label."""
    choices = CHOICE_COLUMNS.get(column)
    if column == "opening_hours" and isinstance(value, list):
        return [_hour_label(str(token)) for token in in_week_order(value)]
    if choices is None:
        return value
    if isinstance(value, list):
        return [_label_of(str(item), choices) for item in value]
    return _label_of(value, choices) if isinstance(value, str) and value else value


def _cell(column: str, value: Any) -> Any:
    """A spreadsheet's cell: a list joined, a formula neutralised; a date or a moment as it
    is, for each format to write (`_csv_text`, `write_xlsx`)."""
    value = _spreadsheet_value(column, value)
    if isinstance(value, list):
        value = SPREADSHEET_LIST_SEPARATOR.join(str(item) for item in value)
    if value is None:
        return ""
    if isinstance(value, date):
        return value
    return neutralise(value)


# Moments in a spreadsheet: the local time (Europe/Paris) to the minute, as a French
# spreadsheet shows a date. In CSV, text the import reads back (`FRENCH_MOMENT_FORMATS`); in
# XLSX, date cells with the same display (Excel's dates have no time zone: naive, local).
SPREADSHEET_MOMENTS = {"csv": "%d/%m/%Y %H:%M", "xlsx": "dd/mm/yyyy hh:mm"}
SPREADSHEET_DAYS = {"csv": "%d/%m/%Y", "xlsx": "dd/mm/yyyy"}


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment).replace(tzinfo=None)


def _csv_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return _local(value).strftime(SPREADSHEET_MOMENTS["csv"])
    if isinstance(value, date):
        return value.strftime(SPREADSHEET_DAYS["csv"])
    return value


def _headers(columns: Sequence[str]) -> list[str]:
    return [str(HEADERS.get(column, column)) for column in columns]


def spreadsheet_headers() -> list[str]:
    """The header line of a full export's spreadsheet (the import page shows it)."""
    return _headers(COLUMNS)


def write_geojson(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> bytes:
    features = []
    for row in rows:
        latitude, longitude = row.get("latitude"), row.get("longitude")
        geometry = (
            {"type": "Point", "coordinates": [longitude, latitude]}
            if latitude is not None and longitude is not None
            else None
        )
        properties = {
            column: _iso(row[column]) if isinstance(row[column], date) else row[column]
            for column in columns
            if column not in ("latitude", "longitude")
        }
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False).encode("utf-8")


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """UTF-8 with a byte order mark and `;` between cells: what French spreadsheets open."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(_headers(columns))
    for row in rows:
        writer.writerow([_csv_text(_cell(column, row[column])) for column in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_xlsx(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> bytes:
    """A workbook of one sheet; moments and days are date cells shown the French way."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Points de deal")[:31])
    sheet.append(_headers(columns))
    for row in rows:
        cells: list[Any] = []
        for column in columns:
            value = _cell(column, row[column])
            if isinstance(value, str):
                value = _XLSX_ILLEGAL.sub("", value)
            elif isinstance(value, datetime):
                value = WriteOnlyCell(sheet, value=_local(value))
                value.number_format = SPREADSHEET_MOMENTS["xlsx"]
            elif isinstance(value, date):
                value = WriteOnlyCell(sheet, value=value)
                value.number_format = SPREADSHEET_DAYS["xlsx"]
            cells.append(value)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


WRITERS = {"geojson": write_geojson, "csv": write_csv, "xlsx": write_xlsx}


def dealpoints_export(
    *, actor: User, format: str, filters: Any = None, codes: bool = True
) -> ExportFile:
    """The deal points the actor may export, filtered by `DealPointFilterSet` (raw data, e.g.
    `request.GET`), written in `format` (geojson, csv or xlsx). Audited (EXPORT: format,
    filters, count). Invalid filters, filters the actor may not use, or a status it may not
    filter on (`selectors.dealpoint_refused_values`, whose message lists the statuses by their
    label, and their code with `codes`) raise `ExportFiltersInvalid` and export nothing; an
    actor who does not receive points one by one gets a 404."""
    if format not in WRITERS:
        raise Http404
    points_reader_require(actor)
    refused = {
        **selectors.dealpoint_refused_values(actor=actor, data=filters, codes=codes),
        **selectors.dealpoint_refused_filters(actor=actor, data=filters),
    }
    if refused:
        raise ExportFiltersInvalid(refused)
    filterset = DealPointFilterSet(filters or None, queryset=DealPoint.objects.none())
    if filters and not filterset.is_valid():
        raise ExportFiltersInvalid(filterset.errors)
    applied = filterset.applied_filters() if filters else {}
    queryset = selectors.dealpoint_list(
        actor=actor, filters=filters, action=policy.Action.EXPORT, audit=False
    )
    columns = export_columns(actor)
    points = list(
        with_counts(queryset, actor=actor).order_by(selectors.dealpoint_name_field(actor=actor))
    )
    told = policy.told_values(actor, DealPoint)
    rows = [policy.told_row(_export_row(row_values(point), columns), told) for point in points]
    content = WRITERS[format](rows, columns)
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        object_type=DealPoint._meta.label_lower,
        details={"format": format, "filters": applied, "count": len(rows)},
    )
    stamp = timezone.localdate().isoformat()
    return ExportFile(
        content=content,
        content_type=CONTENT_TYPES[format],
        filename=f"points-de-deal-{stamp}.{format}",
        count=len(rows),
    )


# --- import: parsing -----------------------------------------------------------------------------


class ImportFileError(Exception):
    """The file cannot be read as a whole (encoding, format, size): nothing is imported."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SourceRow:
    """One line (CSV) or feature (GeoJSON) of an imported file, as read."""

    line: int
    values: dict[str, Any]


def parse_rows(data: bytes, filename: str) -> list[SourceRow]:
    """The rows of a CSV (`;` or `,`, UTF-8 with or without BOM, or Windows-1252), XLSX (the
    first visible sheet, as the export writes it) or GeoJSON file (a FeatureCollection of
    Points whose properties are the export's columns). Raises `ImportFileError` (a French
    message) when the file as a whole cannot be read."""
    if not isinstance(data, bytes | bytearray):
        raise ImportFileError(_("Le fichier est illisible."))
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(
            _("Le fichier dépasse %(size)s Mo.") % {"size": MAX_IMPORT_BYTES // (1024 * 1024)}
        )
    workbook = workbook_kind(bytes(data[:4]), filename)
    if workbook == "xlsx":
        return _parse_xlsx(bytes(data))
    if workbook:
        # XLS (an OLE file) and ODS (a zip archive without a workbook part): not read.
        raise ImportFileError(
            _(
                "Un classeur XLS ou ODS ne s'importe pas : enregistrez-le au format XLSX, ou "
                "la feuille au format CSV UTF-8 (séparateur « ; »)."
            )
        )
    text = _decoded(bytes(data))
    if not text.strip():
        raise ImportFileError(_("Le fichier est vide."))
    if file_format(filename, text) == "geojson":
        return _parse_geojson(text)
    return _parse_csv(text)


def workbook_kind(start: bytes, filename: str) -> str:
    """ "xlsx" for a zip archive not named .ods (XLSX is one; whether it holds a workbook is
    checked when it is read), "other" for an XLS (an OLE file) or a file named .xls or .ods,
    "" for a text file (CSV, GeoJSON)."""
    name = (filename or "").lower()
    if name.endswith((".xls", ".ods")) or start == b"\xd0\xcf\x11\xe0":
        return "other"
    if name.endswith(".xlsx") or start == b"PK\x03\x04":
        return "xlsx"
    return ""


def _unreadable_workbook() -> ImportFileError:
    return ImportFileError(
        _(
            "Le classeur XLSX est illisible (endommagé, protégé par un mot de passe, ou d'un "
            "autre format). Enregistrez-le à nouveau au format XLSX, ou la feuille au format "
            "CSV UTF-8 (séparateur « ; »)."
        )
    )


def _parse_xlsx(data: bytes) -> list[SourceRow]:
    """The rows of a workbook's first visible sheet, read as the CSV import reads its lines
    (under a header found below a title, if any; a row's number is the sheet's): numbers as
    numbers, date cells as JJ/MM/AAAA (HH:MM), formulas by their last computed value; what
    would be read otherwise than it is seen (merged cells, formulas never computed, hidden
    rows or columns under the header) is refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise _unreadable_workbook() from error
    with archive:
        return _read_workbook(data, archive)


def _read_workbook(data: bytes, archive: zipfile.ZipFile) -> list[SourceRow]:
    from openpyxl import load_workbook

    parts = archive.infolist()
    if not any(part.filename == "xl/workbook.xml" for part in parts):
        raise ImportFileError(
            _(
                "Ce fichier compressé n'est pas un classeur XLSX (un ODS ?). Enregistrez-le au "
                "format XLSX, ou la feuille au format CSV UTF-8 (séparateur « ; »)."
            )
        )
    if sum(part.file_size for part in parts) > MAX_WORKBOOK_OPEN_BYTES:
        raise ImportFileError(
            _("Le classeur est trop volumineux une fois ouvert (%(size)s Mo au plus).")
            % {"size": MAX_WORKBOOK_OPEN_BYTES // (1024 * 1024)}
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    # openpyxl says a damaged part with whatever its XML or zip reader raised: any of them
    # means the same to the analyst, who is told so (nothing was read).
    except Exception as error:
        raise _unreadable_workbook() from error
    try:
        # The sheets shown (a hidden one is a workbook's own machinery): the first whose
        # header names the position's columns (a « Notice » sheet may come before the map).
        visible = [sheet for sheet in workbook.worksheets if sheet.sheet_state == "visible"]
        if not visible:
            raise ImportFileError(_("Le classeur ne contient aucune feuille."))
        chosen: tuple[Any, tuple[int, list[str], bool], Iterator[tuple[int, list[str]]]] | None
        chosen = None
        for sheet in visible:
            # The rows the sheet holds, not those its <dimension> declares: written wrong (by
            # a streaming writer), it cut rows and columns, or made a million empty ones.
            sheet.reset_dimensions()
            lines = (
                (number, [_sheet_text(value) for value in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), 1)
            )
            found = _header(lines)
            if found is not None and (chosen is None or found[2]):
                chosen = (sheet, found, lines)
            if found is not None and found[2]:
                break
        if chosen is None:
            raise ImportFileError(_("Le fichier est vide."))
        sheet, (number, cells, named), lines = chosen
        if not named and len(visible) > 1:
            raise ImportFileError(
                _(
                    "Aucune feuille du classeur ne nomme les colonnes Latitude et Longitude "
                    "dans ses premières lignes (feuilles : %(sheets)s). Nommez-les dans la "
                    "ligne d'en-tête de la feuille à importer."
                )
                % {"sheets": _first_few([f"« {sheet.title} »" for sheet in visible])}
            )
        _refuse_what_would_read_wrong(archive, sheet._worksheet_path, header_row=number)
        return _table_rows(cells, lines)
    except ImportFileError:
        raise
    except Exception as error:  # a damaged sheet, found as it is read
        raise _unreadable_workbook() from error
    finally:
        workbook.close()


# How far below the first non-empty row of a sheet its header is looked for.
_HEADER_SEARCH_ROWS = 10


def _names_position(cells: Iterable[str]) -> bool:
    return {"latitude", "longitude"} <= {_column_name(cell) for cell in cells}


def _header(lines: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str], bool] | None:
    """A sheet's header: the first row that names the position's columns, within the first
    few (a title, a date of extraction may stand above it); else its first non-empty row,
    whose missing columns are then said. With its number and whether it names them; None for
    an empty sheet. `lines` is left at the row after it."""
    first: tuple[int, list[str]] | None = None
    for number, cells in lines:
        if not any(cell.strip() for cell in cells):
            continue
        first = first or (number, cells)
        if _names_position(cells):
            return number, cells, True
        if number - first[0] >= _HEADER_SEARCH_ROWS:
            break
    return (*first, False) if first is not None else None


_TRUE = ("1", "true")


def _column_of(reference: str | None) -> int | None:
    """The column number of a cell reference (« AB12 » → 28); None if it is not one."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    try:
        return column_index_from_string(coordinate_from_string(reference or "")[0])
    except ValueError:
        return None


@dataclass
class _SheetSeen:
    """What `_refuse_what_would_read_wrong` found under a sheet's header."""

    merged: list[str] = field(default_factory=list)
    uncomputed: list[str] = field(default_factory=list)
    hidden_rows: list[str] = field(default_factory=list)
    hidden_columns: set[int] = field(default_factory=set)
    filled_columns: set[int] = field(default_factory=set)


def _sheet_seen(stream: Any, *, header_row: int) -> _SheetSeen:
    """One streaming pass over a sheet's XML (defused, linear whatever it holds)."""
    from defusedxml.ElementTree import iterparse
    from openpyxl.utils.cell import range_boundaries

    seen = _SheetSeen()
    number, hidden, filled = 0, False, False
    for event, element in iterparse(stream, events=("start", "end")):
        name = element.tag.rpartition("}")[2]
        if event == "start":
            if name == "row":
                given = element.get("r")
                number = int(given) if given and given.isdigit() else number + 1
                hidden, filled = element.get("hidden") in _TRUE, False
            elif name == "col" and element.get("hidden") in _TRUE:
                first, last = element.get("min", ""), element.get("max", "")
                if first.isdigit() and last.isdigit():
                    seen.hidden_columns.update(range(int(first), min(int(last), 16384) + 1))
            elif name == "mergeCell":
                ref = element.get("ref", "")
                try:
                    left, top, right, bottom = range_boundaries(ref)
                except (TypeError, ValueError):
                    continue
                if bottom is not None and bottom > header_row and (left, top) != (right, bottom):
                    seen.merged.append(ref)
            continue
        if name == "c":
            if number >= header_row:
                children = {child.tag.rpartition("}")[2]: child for child in element}
                value = "v" in children and bool((children["v"].text or "").strip())
                # Computed, a formula keeps its value in <v>: an empty one is an empty text
                # only when its type says so (t="str").
                if "f" in children and not value and element.get("t") != "str":
                    seen.uncomputed.append(element.get("r") or str(number))
                if (value or "is" in children) and number > header_row:
                    filled = True
                    column = _column_of(element.get("r"))
                    if column is not None:
                        seen.filled_columns.add(column)
            element.clear()
        elif name == "row":
            if filled and hidden and number > header_row:
                seen.hidden_rows.append(str(number))
            element.clear()
    return seen


def _refuse_what_would_read_wrong(archive: zipfile.ZipFile, part: str, *, header_row: int) -> None:
    """What a sheet holds from its header down that would be imported otherwise than the
    analyst sees it is refused, naming the cells, rows or columns, rather than read wrong:
    - a merged cell holds its value in its first cell only: the others would be imported
      empty (a « Quartier » typed once for three points); a merged title above the header is
      no matter;
    - a formula never computed (a workbook written by a program without its formulas'
      values, never opened in a spreadsheet) has no value to read: it would be imported empty;
    - a hidden row (a filter, a row put away) or a hidden column that holds values would be
      imported unseen."""
    from openpyxl.utils.cell import get_column_letter

    try:
        stream = archive.open(part.lstrip("/"))
    except KeyError:
        return
    with stream:
        seen = _sheet_seen(stream, header_row=header_row)
    if seen.merged:
        raise ImportFileError(
            _(
                "La feuille a des cellules fusionnées sous son en-tête (%(cells)s) : seule la "
                "première cellule de chacune en porte la valeur, les autres seraient lues vides. "
                "Annulez la fusion en recopiant la valeur dans chaque cellule, puis importez à "
                "nouveau."
            )
            % {"cells": _first_few(seen.merged)}
        )
    if seen.uncomputed:
        raise ImportFileError(
            _(
                "La feuille a des formules qui n'ont jamais été calculées (%(cells)s) : leur "
                "valeur serait lue vide. Ouvrez le classeur dans un tableur et enregistrez-le "
                "(il calcule alors les formules), ou remplacez les formules par leurs valeurs, "
                "puis importez à nouveau."
            )
            % {"cells": _first_few(seen.uncomputed)}
        )
    if seen.hidden_rows:
        raise ImportFileError(
            _(
                "La feuille a des lignes masquées sous son en-tête (lignes %(rows)s) : elles "
                "seraient importées comme les autres, sans que vous les voyiez. Affichez-les "
                "(et supprimez celles à ne pas importer), ou retirez le filtre, puis importez "
                "à nouveau."
            )
            % {"rows": _first_few(seen.hidden_rows)}
        )
    hidden_columns = sorted(seen.hidden_columns & seen.filled_columns)
    if hidden_columns:
        raise ImportFileError(
            _(
                "La feuille a des colonnes masquées qui portent des valeurs (colonnes "
                "%(columns)s) : elles seraient importées sans que vous les voyiez. Affichez-les "
                "(et supprimez celles à ne pas importer), puis importez à nouveau."
            )
            % {"columns": _first_few([get_column_letter(number) for number in hidden_columns])}
        )


def _first_few(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" …" if len(names) > 5 else "")


def _sheet_text(value: Any) -> str:
    """A sheet's cell as the CSV import reads it: a date cell the French way (JJ/MM/AAAA,
    with HH:MM when it has a time), a whole number without « .0 »."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y" if value.time() == time.min else "%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Control characters no CSV or JSON text holds (tab, line feed and carriage return aside):
# a file that has them is binary (a PDF, an image, a workbook renamed .csv).
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _decoded(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM), UTF-16 with its BOM (Excel's « Texte
    Unicode ») or, failing those, Windows-1252, what Excel writes by default on a French
    Windows (« CSV (séparateur : point-virgule) »): an analyst's accents (« Démantelé »,
    « Cocaïne ») must not stop the import. A file in UTF-8 but for a few bytes (lines pasted
    from another file) is refused, naming the first such line: read as Windows-1252 it would
    garble every other accent. A byte that is neither, or a binary file, is refused with a
    message that says which."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ImportFileError(
                _("Le fichier UTF-16 est mal formé. Enregistrez-le en « CSV UTF-8 ».")
            ) from error
    if _BINARY.search(data[:8192].decode("latin-1")):
        raise ImportFileError(
            _(
                "Ce fichier n'est pas un texte CSV ni un GeoJSON (contenu binaire : un PDF, une "
                "image, un classeur renommé ?). Enregistrez la carte au format CSV UTF-8 "
                "(séparateur « ; ») ou GeoJSON."
            )
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        if any(ord(char) > 0x7F for char in data.decode("utf-8", errors="ignore")):
            raise ImportFileError(
                _(
                    "Le fichier est en UTF-8, sauf à la ligne %(line)s, dont un caractère est "
                    "écrit dans un autre encodage (Windows-1252 ?), sans doute copiée d'un autre "
                    "fichier. Corrigez ce caractère, ou enregistrez tout le fichier en « CSV "
                    "UTF-8 »."
                )
                % {"line": line}
            ) from error
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise ImportFileError(
                _(
                    "Le fichier n'est encodé ni en UTF-8 ni en Windows-1252 (ligne %(line)s). "
                    "Enregistrez-le en « CSV UTF-8 »."
                )
                % {"line": line}
            ) from error


def file_format(filename: str, text: str) -> str:
    """ "geojson" (by its extension, or a JSON object without one) or "csv"."""
    name = (filename or "").lower()
    if name.endswith((".geojson", ".json")) or (
        not name.endswith(".csv") and text.lstrip().startswith("{")
    ):
        return "geojson"
    return "csv"


_SEPARATORS = (";", ",", "\t")


def _delimiter(first_line: str) -> str:
    """The separator of a CSV file: the one its header line holds most of (« ; » by Excel
    in French, « , » elsewhere, a tab in Excel's « Texte Unicode »)."""
    return max(_SEPARATORS, key=first_line.count)


# The line Excel writes before the header to name the separator (« sep=; »).
_SEPARATOR_LINE = re.compile(r"sep=([^\r\n]) *$", re.IGNORECASE)


def _csv_start(text: str) -> tuple[str, int, str | None]:
    """The text from the header line on, the number of lines before it, and the separator
    a « sep=X » line names (Excel writes one): the empty lines before the header (blank,
    or only separators: a spreadsheet's empty rows) are skipped."""
    lines = text.splitlines(keepends=True)
    skipped = 0
    while skipped < len(lines) and not lines[skipped].strip(" \t;,\r\n\ufeff"):
        skipped += 1
    separator = None
    if skipped < len(lines):
        named = _SEPARATOR_LINE.match(lines[skipped].rstrip("\r\n").lstrip(" \ufeff"))
        if named:
            separator = named.group(1)
            if separator not in _SEPARATORS:
                raise ImportFileError(
                    _(
                        "La ligne « sep=%(separator)s » nomme un séparateur que l'import ne lit "
                        "pas : enregistrez le fichier avec « ; », « , » ou des tabulations."
                    )
                    % {"separator": separator}
                )
            skipped += 1
            while skipped < len(lines) and not lines[skipped].strip(" \t;,\r\n"):
                skipped += 1
    # A title above the header (a sheet saved as CSV: « Carte de la CROSS – extraction du
    # … ;;; »): the header is the first line that names the position's columns, within the
    # first few, as in a workbook; else the first line, whose missing columns are then said.
    for ahead in range(skipped, min(len(lines), skipped + _HEADER_SEARCH_ROWS + 1)):
        if _names_position(_line_cells(lines[ahead], separator)):
            skipped = ahead
            break
    return "".join(lines[skipped:]), skipped, separator


def _line_cells(line: str, separator: str | None) -> list[str]:
    """One line's cells, read with the separator named, or the one it holds most of."""
    try:
        return next(csv.reader([line], delimiter=separator or _delimiter(line)), [])
    except csv.Error:
        return []


def _parse_csv(text: str) -> list[SourceRow]:
    text, offset, separator = _csv_start(text)
    first_line = text.splitlines()[0] if text.splitlines() else ""
    # Strict: an unclosed quote is an error, not the rest of the file read as one cell.
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=separator or _delimiter(first_line),
        strict=True,
    )
    start = 1 + offset

    def lines() -> Iterator[tuple[int, list[str]]]:
        nonlocal start
        start = reader.line_num + 1 + offset
        for cells in reader:
            index, start = start, reader.line_num + 1 + offset
            yield index, cells

    try:
        header = next(reader, None)
        if not header:
            raise ImportFileError(_("Le fichier est vide."))
        return _table_rows(header, lines())
    except csv.Error as error:
        raise ImportFileError(
            _(
                "Le fichier CSV est mal formé à partir de la ligne %(line)s : un guillemet "
                "n'y est pas fermé, ou du texte suit un guillemet fermant."
            )
            % {"line": start}
        ) from error


def _table_rows(
    header: Sequence[str], lines: Iterable[tuple[int, Sequence[str]]]
) -> list[SourceRow]:
    """The rows of a table (a CSV file, a sheet) under its header line, each line with its
    number: empty lines skipped, a cell under no header said (`__extra__`, `__unnamed__`)."""
    columns = [_column_name(column) for column in header]
    # Empty headers at the end: cells a spreadsheet once held (Excel writes « ;; »).
    while columns and not columns[-1]:
        columns.pop()
    _check_columns(columns)
    rows: list[SourceRow] = []
    for index, cells in lines:
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= MAX_IMPORT_ROWS:
            raise ImportFileError(
                _("Le fichier compte plus de %(count)s lignes.") % {"count": MAX_IMPORT_ROWS}
            )
        values: dict[str, Any] = {}
        if any(cell.strip() for cell in cells[len(columns) :]):
            values["__extra__"] = True
        for position, (column, cell) in enumerate(zip(columns, cells, strict=False), 1):
            if column:
                values[column] = cell
            elif cell.strip():
                values.setdefault("__unnamed__", []).append(position)
        rows.append(SourceRow(line=index, values=values))
    if not rows:
        raise ImportFileError(_("Le fichier ne contient aucune ligne de données."))
    return rows


def _column_name(header: str) -> str:
    """The column a header names: its name (« last_activity_at ») or its spreadsheet header
    (« Dernière activité »), without regard to case or accents; an unknown header as written."""
    header = header.strip().lstrip("\ufeff")
    names = {_folded(str(text)): name for name, text in HEADERS.items()}
    names.update({name: name for name in KNOWN_COLUMNS})
    return names.get(_folded(header), header)


def _check_columns(columns: Sequence[str]) -> None:
    missing = [name for name in ("latitude", "longitude") if name not in columns]
    if missing:
        raise ImportFileError(
            _("Colonnes obligatoires absentes : %(columns)s.")
            % {"columns": ", ".join(str(HEADERS[name]) for name in missing)}
        )
    unknown = [column for column in columns if column and column not in KNOWN_COLUMNS]
    if unknown:
        raise ImportFileError(
            _("Colonnes inconnues : %(columns)s.") % {"columns": ", ".join(unknown[:10])[:300]}
        )
    reduced = [column for column in columns if column in REDUCED_ONLY_COLUMNS]
    if reduced:
        raise ImportFileError(_reduced_message(reduced))
    named = [column for column in columns if column]
    twice = sorted({column for column in named if named.count(column) > 1})
    if twice:
        raise ImportFileError(
            _("Colonnes en double : %(columns)s.")
            % {"columns": ", ".join(str(HEADERS.get(name, name)) for name in twice)[:300]}
        )


def _reduced_message(names: Iterable[str]) -> str:
    return _(
        "Colonnes d'un export réduit (celui d'un bailleur), qui ne s'importent pas : "
        "%(columns)s. Retirez-les : un point s'importe de sa latitude, de sa longitude et "
        "des colonnes de l'export complet."
    ) % {"columns": ", ".join(str(HEADERS.get(name, name)) for name in names)}


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# The names of WGS 84 longitude/latitude a GeoJSON « crs » member may give (the 2008 format).
_WGS84 = re.compile(r"(CRS84|EPSG:(?:[\d.]+:|:)?4326|CRS:84)$", re.IGNORECASE)


def _crs_name(crs: Any) -> str | None:
    """The name a GeoJSON « crs » member gives (`{"type": "name", "properties": {"name":
    ...}}`), None when it gives none."""
    properties = crs.get("properties") if isinstance(crs, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    return str(name).strip() if isinstance(name, str | int) else None


def _parse_geojson(text: str) -> list[SourceRow]:
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise ImportFileError(_("Le fichier GeoJSON est mal formé (JSON invalide).")) from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFileError(_("Le fichier GeoJSON doit être une FeatureCollection."))
    crs = _crs_name(document.get("crs"))
    if crs is not None and not _WGS84.search(crs):
        # Lambert-93 (EPSG:2154) is common in French GIS files: its metres are no degrees.
        raise ImportFileError(
            _(
                "Le fichier GeoJSON est en projection « %(crs)s » : reprojetez-le en WGS 84 "
                "(EPSG:4326, longitude et latitude en degrés), comme le veut le format GeoJSON."
            )
            % {"crs": crs[:100]}
        )
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportFileError(_("La FeatureCollection n'a pas de liste « features »."))
    if len(features) > MAX_IMPORT_ROWS:
        raise ImportFileError(
            _("Le fichier compte plus de %(count)s points.") % {"count": MAX_IMPORT_ROWS}
        )
    if not features:
        raise ImportFileError(_("Le fichier ne contient aucun point."))
    rows = []
    for index, feature in enumerate(features, start=1):
        values: dict[str, Any] = {}
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            values["__invalid__"] = _("Cet élément n'est pas une « Feature ».")
            rows.append(SourceRow(line=index, values=values))
            continue
        properties = feature.get("properties")
        if isinstance(properties, dict):
            for key, value in properties.items():
                key = _column_name(str(key))
                if key in REDUCED_ONLY_COLUMNS:
                    values.setdefault("__reduced__", []).append(key)
                elif key in KNOWN_COLUMNS and key not in ("latitude", "longitude"):
                    values[key] = value
                elif key not in KNOWN_COLUMNS:
                    values.setdefault("__unknown__", []).append(key)
        elif properties is not None:
            values["__invalid__"] = _("Les « properties » doivent être un objet.")
        geometry = feature.get("geometry")
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(coordinates, list)
            or len(coordinates) < 2
        ):
            values["__invalid__"] = _("La géométrie doit être un « Point » [longitude, latitude].")
        else:
            values["longitude"], values["latitude"] = coordinates[0], coordinates[1]
        rows.append(SourceRow(line=index, values=values))
    return rows


# --- import: one row to the service's input ------------------------------------------------------


def _label(name: str) -> str:
    try:
        return str(getattr(DealPoint._meta.get_field(name), "verbose_name", name))
    except FieldDoesNotExist:
        return {
            "building_id": _("bâtiment du bailleur"),
            "reports": _("signalements"),
            "__all__": _("ligne"),
            "position": _("position"),
        }.get(name, name)


def _text(value: Any, name: str, errors: dict[str, list[str]]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors.setdefault(name, []).append(_("Un texte est attendu."))
        return ""
    text = _unneutralise(str(value).strip())
    if len(text) > MAX_CELL_LENGTH:
        errors.setdefault(name, []).append(_too_long(name, len(text)))
        return ""
    return text


def _too_long(name: str, length: int) -> str:
    """A cell too long to be read at all, said as a text too long for its field is: with the
    field's limit (the cell's, for a column that is no text field) and the length."""
    try:
        limit = services.text_max_length(name) or MAX_CELL_LENGTH
    except FieldDoesNotExist:
        limit = MAX_CELL_LENGTH
    return _("Ce texte dépasse %(limit)s caractères (il en compte %(length)s).") % {
        "limit": min(limit, MAX_CELL_LENGTH),
        "length": length,
    }


def _blank(value: Any) -> bool:
    """An empty cell: nothing, or only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any, name: str, errors: dict[str, list[str]]) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        errors.setdefault(name, []).append(_("Un nombre est attendu."))
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 50:
        try:
            # Thousands separated by a space, a no-break space (French Excel) or a narrow one;
            # the turnover as a currency cell saves it (« 1 500,00 € »).
            text = value.strip()
            if name == "estimated_daily_turnover":
                text = CURRENCY.sub("", text)
            digits = THOUSANDS.sub("", text)
            number = float(digits.replace(",", "."))
        except ValueError:
            number = math.nan
    else:
        number = math.nan
    if not math.isfinite(number):
        errors.setdefault(name, []).append(_("Un nombre est attendu."))
        return None
    return number


def _list(value: Any, name: str, errors: dict[str, list[str]]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            errors.setdefault(name, []).append(_("Une liste de codes est attendue."))
            return []
        return [item.strip() for item in value if item.strip()]
    if isinstance(value, str):
        if len(value) > MAX_CELL_LENGTH:
            errors.setdefault(name, []).append(_too_long(name, len(value)))
            return []
        # « | » as the export writes; else a comma outside brackets (« Cannabis (résine,
        # herbe) » is one label).
        if LIST_SEPARATOR in value:
            items = value.split(LIST_SEPARATOR)
        else:
            items = re.split(r",(?![^()]*\))", value)
        return [item.strip() for item in items if item.strip()]
    errors.setdefault(name, []).append(_("Une liste de codes est attendue."))
    return []


def _folded(text: str) -> str:
    """A word as compared with the choices: no case, no accents, one kind of apostrophe."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.casefold().split())


def _choice_names(choices: Any) -> dict[str, str]:
    """Every way a CROSS map may write a choice, folded, to its code: the code, the French
    label (« Cocaïne ») and the label without its precision in brackets (« Soirée » for
    « Soirée (18 h – 0 h) », « Guetteurs » for « Guetteurs (« chouffs ») »). Built once per
    choice and language (an import asked it for every cell: a sixth of its parsing)."""
    return _choice_names_in(choices, translation.get_language())


@functools.lru_cache(maxsize=64)
def _choice_names_in(choices: Any, language: str | None) -> dict[str, str]:
    names: dict[str, str] = {}
    for value, label in choices.choices:
        for name in (str(label), str(label).split(" (")[0], value):
            names.setdefault(_folded(name), value)
    return names


def _choice(text: str, choices: Any) -> str:
    """The code of a choice written as its code or its French label; as written if it is
    neither (the service then says which values it accepts)."""
    return _choice_names(choices).get(_folded(text), text) if text else text


def _hours(tokens: list[str]) -> list[str]:
    """Opening hours written « day:time », each part as its code or its French label
    (« lundi:soirée » is « mon:evening »)."""
    days, times = _choice_names(Weekday), _choice_names(TimeOfDay)
    hours = []
    for token in tokens:
        day, separator, moment = token.partition(":")
        if separator and _folded(day) in days and _folded(moment) in times:
            hours.append(f"{days[_folded(day)]}:{times[_folded(moment)]}")
        else:
            hours.append(token)
    return hours


# Imported activity dates older than this are refused (typing errors, placeholder dates).
EARLIEST_YEAR = 1990


# The French ways a spreadsheet writes a date (what the list and the map read too,
# `core.dates.DATE_INPUT_FORMATS`), besides ISO 8601.
FRENCH_MOMENT_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")


def _parse_moment(text: str) -> datetime | None:
    """`text` as a moment: ISO 8601 (a date, or a date and time) or the French JJ/MM/AAAA
    (with HH:MM); None if it is neither, or an impossible date (31/02/2026, 2026-02-31)."""
    try:
        moment = parse_datetime(text)
        if moment is not None:
            return moment
        day = parse_date(text)
        if day is not None:
            return datetime.combine(day, time.min)
    except ValueError:
        return None
    for fmt in FRENCH_MOMENT_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _moment(value: Any, name: str, errors: dict[str, list[str]]) -> datetime | None:
    text = _text(value, name, errors)
    if not text:
        return None
    moment = _parse_moment(text)
    if moment is None:
        errors.setdefault(name, []).append(
            _(
                "Date invalide : indiquez une date au format JJ/MM/AAAA (ou JJ/MM/AAAA HH:MM) "
                "ou AAAA-MM-JJ (ou AAAA-MM-JJTHH:MM)."
            )
        )
        return None
    if moment.year < EARLIEST_YEAR:
        # Also keeps clear of year 1, which no time zone conversion survives.
        errors.setdefault(name, []).append(
            _("La date doit être postérieure au 1er janvier %(year)s.") % {"year": EARLIEST_YEAR}
        )
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now() + timedelta(days=1):
        errors.setdefault(name, []).append(_("La date ne peut pas être dans le futur."))
        return None
    return moment


def _day_of(moment: datetime) -> date:
    return timezone.localdate(moment)


def _day_text(moment: datetime) -> str:
    return _day_of(moment).strftime("%d/%m/%Y")


@dataclass(frozen=True)
class RowInput:
    data: services.DealPointInput
    status: str
    reference: str
    first_reported_at: datetime | None
    last_activity_at: datetime | None
    # The line's own TLP marking (a code), None when it gives none.
    marking: str | None = None


def _marking_names() -> dict[str, str]:
    """Every way a file may write a TLP marking, folded, to its code: « TLP:RED », « RED »,
    « red »; « TLP:WHITE », TLP 1.0's name of TLP:CLEAR."""
    names: dict[str, str] = {}
    for value, label in Marking.choices:
        for name in (str(label), str(label).removeprefix("TLP:"), value):
            names.setdefault(_folded(name), value)
    names.update({_folded("TLP:WHITE"): Marking.CLEAR, _folded("WHITE"): Marking.CLEAR})
    return names


def accepted_markings() -> str:
    """The markings a file may give, as the import says them."""
    return ", ".join(str(label) for label in Marking.labels)


def _marking(text: str, errors: dict[str, list[str]]) -> str | None:
    """The code of the marking a cell gives (None if empty); an unknown one is an error of
    its line, never the default: a marking misspelt is no reason to share a point wider."""
    if not text:
        return None
    marking = _marking_names().get(_folded(re.sub(r"\s*:\s*", ":", text)))
    if marking is None:
        errors.setdefault("marking", []).append(
            _("Marquage inconnu : « %(value)s » (valeurs acceptées : %(values)s).")
            % {"value": text[:50], "values": accepted_markings()}
        )
    return marking


def row_input(row: SourceRow) -> tuple[RowInput, dict[str, list[str]]]:
    """The service's input for one row, and the errors found while reading it (types,
    dates, statuses). Every cell is read on its own, so that one bad cell hides no other; a
    cell in error gives its default. Choices may be written as codes or French labels;
    whether they exist, the position and the territory are checked by the service."""
    values = row.values
    errors: dict[str, list[str]] = {}
    if "__invalid__" in values:
        errors["__all__"] = [str(values["__invalid__"])]
    if values.get("__extra__"):
        errors.setdefault("__all__", []).append(_("Cette ligne a plus de cellules que d'en-têtes."))
    if values.get("__unnamed__"):
        errors.setdefault("__all__", []).append(
            _("Cette ligne a une valeur dans une colonne sans en-tête (colonne %(columns)s).")
            % {"columns": ", ".join(map(str, values["__unnamed__"][:5]))}
        )
    if values.get("__reduced__"):
        errors.setdefault("__all__", []).append(_reduced_message(values["__reduced__"]))
    if values.get("__unknown__"):
        errors.setdefault("__all__", []).append(
            _("Propriétés inconnues : %(names)s.")
            % {"names": ", ".join(map(str, values["__unknown__"][:5]))[:200]}
        )
    latitude = _number(values.get("latitude"), "latitude", errors)
    longitude = _number(values.get("longitude"), "longitude", errors)
    # One coordinate given (even unreadable), the other empty: the empty one is said too (the
    # service names one missing coordinate, on the latitude, already refused as « abc »).
    given = {name: not _blank(values.get(name)) for name in ("latitude", "longitude")}
    if any(given.values()):
        for name, present in given.items():
            if not present:
                errors.setdefault(name, []).append(
                    _("Indiquez la position du point (latitude, longitude).")
                )
    turnover = _number(values.get("estimated_daily_turnover"), "estimated_daily_turnover", errors)
    if turnover is not None and not turnover.is_integer():
        errors.setdefault("estimated_daily_turnover", []).append(_("Un nombre entier est attendu."))
    status = _choice(_text(values.get("status"), "status", errors), DealPointStatus)
    status = status or DealPointStatus.REPORTED
    if status not in DealPointStatus.values:
        errors.setdefault("status", []).append(
            _("Statut inconnu (valeurs acceptées : %(values)s).")
            % {"values": services.accepted_values(DealPointStatus)}
        )
    elif status == DealPointStatus.MOVED:
        errors.setdefault("status", []).append(
            _(
                "Un point « déplacé » ne s'importe pas : son successeur est inconnu. Importez-le "
                "avec le statut « démantelé », puis désignez son successeur sur la plateforme."
            )
        )
    defaults = services.DealPointInput()

    def text(name: str) -> str:
        return _text(values.get(name), name, errors)

    def choice(name: str, choices: Any, default: str) -> str:
        return _choice(text(name), choices) or default

    data = services.DealPointInput(
        latitude=latitude,
        longitude=longitude,
        precision=choice("precision", Precision, defaults.precision),
        name=text("name"),
        address=text("address"),
        building_label=text("building_label"),
        stairwell_label=text("stairwell_label"),
        channel=choice("channel", DistributionChannel, defaults.channel),
        products=[
            _choice(item, Product) for item in _list(values.get("products"), "products", errors)
        ],
        opening_hours=_hours(_list(values.get("opening_hours"), "opening_hours", errors)),
        observed_roles=[
            _choice(item, ObservedRole)
            for item in _list(values.get("observed_roles"), "observed_roles", errors)
        ],
        # Out of range, the service says which range (a huge number is not dropped).
        estimated_daily_turnover=int(turnover)
        if turnover is not None and turnover.is_integer()
        else None,
        confidence=choice("confidence", Confidence, defaults.confidence),
    )
    first = _moment(values.get("first_reported_at"), "first_reported_at", errors)
    last = _moment(values.get("last_activity_at"), "last_activity_at", errors)
    if first is not None and last is not None and _day_of(first) > _day_of(last):
        # A point is first reported before its last activity (compared by day: a file often
        # gives a day for one and a time for the other).
        errors.setdefault("first_reported_at", []).append(
            _(
                "Le %(first)s, après la dernière activité (%(last)s) : un point est signalé "
                "avant sa dernière activité. Vérifiez les deux dates, ou laissez vide celle "
                "que vous ne connaissez pas."
            )
            % {"first": _day_text(first), "last": _day_text(last)}
        )
    reference = text("reference")
    if "\x00" in reference:
        errors.setdefault("reference", []).append(_("Ce texte contient un caractère invalide."))
        reference = ""
    elif len(reference) > MAX_REFERENCE_LENGTH:
        # Never cut: two long references alike at the start would become one.
        errors.setdefault("reference", []).append(
            _("Cette référence dépasse %(limit)s caractères.") % {"limit": MAX_REFERENCE_LENGTH}
        )
        reference = ""
    marking = _marking(text("marking"), errors)
    return RowInput(data, status, reference, first, last, marking), errors


@dataclass(frozen=True)
class ImportColumn:
    name: str
    meaning: str
    accepted: str

    @property
    def header(self) -> str:
        """What the export's spreadsheets call the column."""
        return str(HEADERS[self.name])


def import_columns() -> list[ImportColumn]:
    """The columns an import reads, what they mean and the values they accept (the import
    page shows them). Choices are written as their code or their French label."""
    label = _("« %(label)s » ou %(code)s")

    def choices(kind: Any) -> str:
        return ", ".join(label % {"label": text, "code": code} for code, text in kind.choices)

    def free_text(name: str) -> str:
        return _("Texte libre, %(limit)s caractères au plus.") % {
            "limit": services.text_max_length(name)
        }

    listed = _(
        "Plusieurs valeurs séparées par des virgules, comme l'export les écrit, ou par « | ». "
    )
    moment = _(
        "JJ/MM/AAAA (ou JJ/MM/AAAA HH:MM) ou AAAA-MM-JJ (ou AAAA-MM-JJTHH:MM), depuis "
        "%(year)s, pas dans le futur."
    ) % {"year": EARLIEST_YEAR}
    return [
        ImportColumn(
            "reference",
            _("Référence du point dans la carte d'origine (facultative)"),
            _(
                "Texte libre. Une référence que la plateforme connaît déjà (celle d'un point "
                "de Cartostup, ou d'une ligne importée auparavant) : ligne ignorée, « déjà "
                "présente »."
            ),
        ),
        ImportColumn("latitude", _("Latitude (obligatoire)"), _("Degrés décimaux (WGS 84).")),
        ImportColumn("longitude", _("Longitude (obligatoire)"), _("Degrés décimaux (WGS 84).")),
        ImportColumn(
            "status",
            _("Statut (par défaut : signalé)"),
            choices(DealPointStatus)
            + ". "
            + _("Un point déplacé ne s'importe pas (son successeur est inconnu)."),
        ),
        ImportColumn(
            "marking",
            _("Marquage TLP du point (par défaut : celui choisi pour l'import)"),
            _(
                "%(values)s (« TLP: » peut s'omettre). Le plus strict de ce marquage et de celui "
                "choisi pour l'import s'applique au point de sa ligne ; une valeur inconnue est "
                "une erreur de la ligne."
            )
            % {"values": accepted_markings()},
        ),
        ImportColumn(
            "precision", _("Précision de la position (par défaut : immeuble)"), choices(Precision)
        ),
        ImportColumn("name", _("Nom d'usage du point"), free_text("name")),
        ImportColumn("address", _("Adresse"), free_text("address")),
        ImportColumn("building_label", _("Bâtiment"), free_text("building_label")),
        ImportColumn("stairwell_label", _("Cage d'escalier"), free_text("stairwell_label")),
        ImportColumn(
            "channel",
            _("Mode de distribution (par défaut : point fixe)"),
            choices(DistributionChannel),
        ),
        ImportColumn("products", _("Produits"), listed + choices(Product)),
        ImportColumn(
            "opening_hours",
            _("Horaires d'ouverture"),
            listed
            + _(
                "Un jour et un moment séparés par « : » (ex. « Vendredi : soirée », comme "
                "l'export l'écrit, ou fri:evening). "
            )
            + _("Jours : %(days)s. Moments : %(times)s.")
            % {"days": choices(Weekday), "times": choices(TimeOfDay)},
        ),
        ImportColumn("observed_roles", _("Rôles observés"), listed + choices(ObservedRole)),
        ImportColumn(
            "estimated_daily_turnover",
            _("Chiffre d'affaires quotidien estimé (euros)"),
            _("Nombre entier de 0 à 100 000 000."),
        ),
        ImportColumn(
            "confidence",
            _("Fiabilité de l'information (par défaut : faible)"),
            choices(Confidence),
        ),
        ImportColumn("first_reported_at", _("Premier signalement"), moment),
        ImportColumn("last_activity_at", _("Dernière activité"), moment),
    ]


# --- import: the service -------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    messages: list[str]


@dataclass(frozen=True)
class RowSkipped:
    """A line already on the platform: its reference is that of a point (an export of
    Cartostup) or the original reference of a point imported before; or, without a
    reference, the same content as a line imported before (`identical`)."""

    line: int
    reference: str
    existing: str
    identical: bool = False
    # A line that now says otherwise than its point (imported before from its reference, or
    # named by its platform reference): the labels of what differs (the point is not
    # changed: an import only creates).
    differs: tuple[str, ...] = ()
    # The line names the point by its platform reference (an export of Cartostup), not by the
    # original reference of a line imported before.
    platform: bool = False


@dataclass(frozen=True)
class RowWarning:
    """A line imported (or importable) that may be a point the platform already holds: the
    points the actor may see near its position (`selectors.points_near`). Not an error."""

    line: int
    messages: list[str]
    # The points it names (audited with the import).
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowCreated:
    """A line imported: the point created from it, and the marking it was given."""

    line: int
    reference: str
    pk: int
    marking: str = ""

    @property
    def marking_label(self) -> str:
        return str(Marking(self.marking).label) if self.marking in Marking.values else ""


class ImportSharingInvalid(ValidationError):
    """The sharing chosen for the imported points is refused (`services.sharing_input_check`):
    nothing is read."""


@dataclass
class ImportResult:
    """What an import did: lines read, lines valid, references created (empty when nothing
    was kept), the errors per line and the lines skipped as already present."""

    total: int = 0
    valid: int = 0
    created: list[str] = field(default_factory=list)
    created_rows: list[RowCreated] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped: list[RowSkipped] = field(default_factory=list)
    imported: bool = False
    dry_run: bool = False
    # The headers of the file's columns the import does not read (`RECOMPUTED_COLUMNS`).
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    partial: bool = False

    @property
    def invalid(self) -> int:
        return len(self.errors)


class _Rollback(Exception):
    pass


def _messages(errors: dict[str, list[str]]) -> list[str]:
    return [
        f"{_label(name)} : {message}" if name != "__all__" else str(message)
        for name, messages in errors.items()
        for message in messages
    ]


def _error_dict(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {name: list(messages) for name, messages in error.message_dict.items()}
    return {"__all__": list(error.messages)}


def _fingerprint(parsed: RowInput) -> str:
    """What a line without a reference says, as a short hash: two lines that say the same
    (the same point, whichever way its values were written: codes or labels, « 43,3 » or
    « 43.3 », lists in any order) have the same fingerprint."""
    data = dataclasses.asdict(parsed.data)
    for name in ("latitude", "longitude"):
        if isinstance(data[name], float):
            data[name] = round(data[name], 6)
    for name, value in data.items():
        if isinstance(value, list):
            data[name] = sorted(map(str, value))
    content = {
        "data": data,
        "status": parsed.status,
        "first_reported_at": _iso(parsed.first_reported_at),
        "last_activity_at": _iso(parsed.last_activity_at),
    }
    encoded = json.dumps(content, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


def _imported_with(*, actor: User, key: str, wanted: set[str]) -> dict[str, str]:
    """Each value of `wanted` that the IMPORTED event of a point the actor may see holds
    under `key`, with the point's reference."""
    if not wanted:
        return {}
    visible = policy.restrict(DealPoint.objects.all(), actor=actor)
    # The key is read in Python: SQLite's JSON extraction gives "42" back as 42 and "true" as
    # True, and a CROSS sheet numbers its lines 1, 2, 3...
    return {
        str(details.get(key)): reference
        for details, reference in DealPointEvent.objects.filter(
            kind=EventKind.IMPORTED,
            **{f"details__{key}__in": sorted(wanted)},
            dealpoint__in=visible.values("pk"),
        ).values_list("details", "dealpoint__reference")
        if isinstance(details, dict)
    }


def _platform_points(*, actor: User, references: Iterable[str]) -> dict[str, DealPoint]:
    """The points the actor may see that references of the file name by their platform
    reference (an export of Cartostup), by the reference as the file writes it: read without
    case or spaces around (« pd-13-0001 » is PD-13-0001), as the platform reads a reference
    typed anywhere else (`normalise_reference`). A point the actor may not see is not found
    (an invisible point is not confirmed to exist)."""
    written: dict[str, set[str]] = {}
    for reference in references:
        if reference:
            written.setdefault(normalise_reference(reference), set()).add(reference)
    if not written:
        return {}
    found = policy.restrict(DealPoint.objects.filter(reference__in=sorted(written)), actor=actor)
    return {reference: point for point in found for reference in written[point.reference]}


def _already_present(
    *, actor: User, references: Iterable[str], platform: dict[str, DealPoint]
) -> dict[str, str]:
    """Each reference of the file that the platform already holds, with the point that holds
    it: a point of that reference (`platform`, from `_platform_points`), or a point imported
    from a line of that reference. Among the points the actor may see only (an invisible
    point is not confirmed to exist)."""
    wanted = {reference for reference in references if reference}
    if not wanted:
        return {}
    present = _imported_with(actor=actor, key="origin_reference", wanted=wanted)
    present.update((reference, point.reference) for reference, point in platform.items())
    return present


def _nearby_warning(
    *, actor: User, line: int, data: services.DealPointInput, exclude: Collection[str]
) -> RowWarning | None:
    found = selectors.points_near(
        actor=actor,
        latitude=data.latitude,
        longitude=data.longitude,
        precision=data.precision,
        exclude=exclude,
    )
    if not found:
        return None
    return RowWarning(
        line,
        [
            _("Un point existe à %(distance)s m : %(reference)s")
            % {"distance": round(distance), "reference": reference}
            for distance, reference in found
        ],
        tuple(reference for _distance, reference in found),
    )


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str | list) and not value)


def _differences(
    parsed: RowInput, values: dict[str, Any], point: DealPoint, *, marking: str | None
) -> tuple[str, ...]:
    """What a line says otherwise than a point, by label: only the cells the line fills are
    compared (an empty cell says nothing). The point imported from the line's reference:
    `marking` is the one chosen for this import, and the line's marking counts as the import
    would apply it; its dates, as the file gave them. The point the line names by its
    platform reference (an export's line): `marking` None, the line's marking and dates are
    compared with the point's own, as the export writes them."""
    exported = marking is None
    names: list[str] = []
    if _given(values.get("status")) and parsed.status != point.status:
        names.append("status")
    if parsed.marking:
        applied = parsed.marking if marking is None else stricter_marking(marking, parsed.marking)
        if applied != point.marking:
            names.append("marking")
    data = parsed.data
    if (
        data.latitude is not None
        and data.longitude is not None
        and matching.haversine_m(data.latitude, data.longitude, point.latitude, point.longitude) > 1
    ):
        names.append("position")
    for name in (
        "precision",
        "name",
        "address",
        "building_label",
        "stairwell_label",
        "channel",
        "estimated_daily_turnover",
        "confidence",
    ):
        if _given(values.get(name)) and getattr(data, name) != getattr(point, name):
            names.append(name)
    for name in ("products", "opening_hours", "observed_roles"):
        if _given(values.get(name)) and sorted(getattr(data, name)) != sorted(
            getattr(point, name) or []
        ):
            names.append(name)
    for name, moment, stored in (
        (
            "first_reported_at",
            parsed.first_reported_at,
            point.first_reported_at if exported else point.imported_first_reported_at,
        ),
        (
            "last_activity_at",
            parsed.last_activity_at,
            point.last_activity_at if exported else point.imported_last_activity_at,
        ),
    ):
        if moment is not None and not _same_moment(moment, stored):
            names.append(name)
    return tuple(_label(name) for name in names)


def _same_moment(given: datetime, stored: datetime | None) -> bool:
    """Whether a file's moment is the stored one as a spreadsheet writes it: in local time
    (compared aware, a time in the hour repeated when the clocks go back is never equal to
    another zone's), to the minute when the file gives no seconds (an export's)."""
    if stored is None:
        return False
    written, kept = _local(given), _local(stored)
    if not (written.second or written.microsecond):
        kept = kept.replace(second=0, microsecond=0)
    return written == kept


def _elsewhere_message(parsed: RowInput, earlier: DealPoint) -> str | None:
    """Said of a line whose reference was imported before as a point far from the line's
    position: two maps that both number their lines 1, 2, 3 (new-user review: the second
    map's points were all « déjà présentes », and could not be imported)."""
    data = parsed.data
    if data.latitude is None or data.longitude is None:
        return None
    distance = matching.haversine_m(
        data.latitude, data.longitude, earlier.latitude, earlier.longitude
    )
    if distance <= matching.SAME_PLACE_MAX_M:
        return None
    return _(
        "La référence « %(reference)s » est celle d'une ligne importée avant, devenue "
        "%(point)s, qui est à %(distance)s km de la position de cette ligne. Si c'est un "
        "autre point (une autre carte qui numérote aussi ses lignes), "
        "donnez aux références de ce fichier un préfixe qui les distingue (« B-%(reference)s ») "
        "ou videz la colonne « Référence » ; si c'est le même point, dont la position a changé "
        "depuis, retirez la ligne du fichier ou importez sans elle (import partiel) : une ligne "
        "déjà importée ne modifie jamais son point."
    ) % {
        "reference": parsed.reference,
        "point": earlier.reference,
        "distance": services.kilometres_said(distance),
    }


def _imported_points(*, actor: User, references: Iterable[str]) -> dict[str, DealPoint]:
    """The points imported before from each of these original references, among those the
    actor may see."""
    imported = _imported_with(
        actor=actor,
        key="origin_reference",
        wanted={reference for reference in references if reference},
    )
    points = {
        point.reference: point
        for point in policy.restrict(
            DealPoint.objects.filter(reference__in=set(imported.values())), actor=actor
        )
    }
    return {
        origin: points[reference] for origin, reference in imported.items() if reference in points
    }


def _swapped_hint(
    *, actor: User, data: services.DealPointInput, errors: dict[str, list[str]]
) -> dict[str, list[str]]:
    """`errors` with, when the position is refused but latitude and longitude exchanged
    would be accepted, a message that says so: a GeoJSON writes [longitude, latitude], and
    « hors de votre territoire » alone leaves the analyst searching."""
    if not ({"latitude", "longitude"} & set(errors)) or data.latitude is None:
        return errors
    if data.longitude is None:
        return errors
    swapped = dataclasses.replace(data, latitude=data.longitude, longitude=data.latitude)
    refused = services.dealpoint_input_check(actor=actor, data=swapped)
    if {"latitude", "longitude"} & set(refused):
        return errors
    hint = _(
        "La latitude et la longitude semblent inversées : échangées, elles placeraient le "
        "point dans votre territoire (%(latitude)s, %(longitude)s). En GeoJSON, les "
        "coordonnées s'écrivent [longitude, latitude]."
    ) % {"latitude": swapped.latitude, "longitude": swapped.longitude}
    return {**errors, "latitude": [*errors.get("latitude", []), hint]}


def stricter_marking(first: str, second: str) -> str:
    """The stricter of two TLP markings (`MARKING_ORDER`, most open first)."""
    order = [str(marking) for marking in MARKING_ORDER]
    return max(first, second, key=lambda marking: order.index(str(marking)))


def dealpoints_import(
    *,
    actor: User,
    rows: Sequence[SourceRow],
    partial: bool = False,
    dry_run: bool = False,
    source: str = "",
    sharing: services.SharingInput | None = None,
) -> ImportResult:
    """Create one deal point per row (history IMPORTED, status from the file), in ONE
    transaction, through `services.dealpoint_create`, which validates each row (choices,
    position inside the actor's territory...); a row's errors are all reported at once. If a
    row is invalid nothing is kept, unless `partial` (the valid rows are kept). A row whose
    reference the platform already holds (`_already_present`: an export of Cartostup, a file
    imported before) is skipped and reported, never duplicated; a reference twice in the
    file is an error. `dry_run` validates and keeps nothing. Audited (IMPORT: format,
    counts, sharing; `check` for a dry run; every existing point its report names: `nearby`,
    `already_present`, `differs`), in the same transaction.

    Every point is shared as `sharing` says (the import form's choice, checked as the
    creation form's: `ImportSharingInvalid`), with the stricter of the form's marking and the
    one its line gives (column « Marquage de diffusion »): a TLP:RED line is imported TLP:RED,
    and a TLP:AMBER line of a file the analyst imports as TLP:RED stays TLP:RED."""
    policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
    sharing = sharing or services.SharingInput()
    refused = services.sharing_input_check(actor=actor, data=sharing)
    if refused:
        raise ImportSharingInvalid(refused)
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportFileError(
            _("Le fichier compte plus de %(count)s lignes.") % {"count": MAX_IMPORT_ROWS}
        )
    result = ImportResult(total=len(rows), dry_run=dry_run, partial=partial)
    given = {name for row in rows for name in row.values}
    result.ignored_columns = [
        str(HEADERS[name]) for name in COLUMNS if name in RECOMPUTED_COLUMNS and name in given
    ]
    # One transaction: the points of the valid lines (in a savepoint, rolled back unless
    # kept), then the audit event, written whether the points are kept, refused or only
    # checked (a check tells which references exist: it is recorded too).
    # The points' audit events are chained when the lines are done (`chained_at_the_end`):
    # the chain's head, which every audited request of the platform locks, is not held for
    # the whole import.
    with transaction.atomic():
        try:
            with transaction.atomic(), chained_at_the_end():
                parsed_rows = [(row, *row_input(row)) for row in rows]
                # The sequences of every département the points will take their reference from,
                # before the first creation writes its audit event (`locks`).
                services.reference_sequences_lock(
                    (parsed.data.latitude, parsed.data.longitude)
                    for _row, parsed, _e in parsed_rows
                )
                platform = _platform_points(
                    actor=actor, references=(parsed.reference for _row, parsed, _e in parsed_rows)
                )
                present = _already_present(
                    actor=actor,
                    references=(parsed.reference for _row, parsed, _e in parsed_rows),
                    platform=platform,
                )
                imported_before = _imported_points(
                    actor=actor, references=(parsed.reference for _row, parsed, _e in parsed_rows)
                )
                # A line without a reference is known by what it says: the same file imported
                # again (or again after fixing its invalid lines) creates no point twice.
                fingerprints = {
                    row.line: _fingerprint(parsed)
                    for row, parsed, _errors in parsed_rows
                    if not parsed.reference
                }
                present_content = _imported_with(
                    actor=actor, key="origin_fingerprint", wanted=set(fingerprints.values())
                )
                seen: dict[str, int] = {}
                seen_content: dict[str, int] = {}
                created_here: set[str] = set()
                for row, parsed, errors in parsed_rows:
                    fingerprint = fingerprints.get(row.line, "")
                    earlier = imported_before.get(parsed.reference)
                    elsewhere = (
                        _elsewhere_message(parsed, earlier)
                        if earlier is not None and parsed.reference not in platform
                        else None
                    )
                    if elsewhere:
                        # Another map's line that happens to bear the same reference: an
                        # error of the line, never « déjà présente ».
                        errors.setdefault("reference", []).append(elsewhere)
                    elif parsed.reference in present:
                        # Compared with a point the actor may see only (`platform` and
                        # `imported_before` are restricted by the policy).
                        named = platform.get(parsed.reference)
                        differs: tuple[str, ...] = ()
                        if named is not None:
                            differs = _differences(parsed, row.values, named, marking=None)
                        elif earlier is not None:
                            differs = _differences(
                                parsed, row.values, earlier, marking=sharing.marking
                            )
                        result.skipped.append(
                            RowSkipped(
                                row.line,
                                parsed.reference,
                                present[parsed.reference],
                                differs=differs,
                                platform=named is not None,
                            )
                        )
                        continue
                    if fingerprint in present_content:
                        result.skipped.append(
                            RowSkipped(row.line, "", present_content[fingerprint], identical=True)
                        )
                        continue
                    if parsed.reference in seen:
                        errors.setdefault("reference", []).append(
                            _("Cette référence est déjà celle de la ligne %(line)s.")
                            % {"line": seen[parsed.reference]}
                        )
                    elif parsed.reference:
                        seen[parsed.reference] = row.line
                    elif fingerprint in seen_content:
                        errors.setdefault("__all__", []).append(
                            _(
                                "Cette ligne est identique à la ligne %(line)s : un même point ne "
                                "s'importe qu'une fois. Supprimez-la, ou donnez à chaque ligne sa "
                                "référence si ce sont deux points."
                            )
                            % {"line": seen_content[fingerprint]}
                        )
                    else:
                        seen_content[fingerprint] = row.line
                    if errors:
                        # The service checks the rest of the line too: every error at once.
                        for name, messages in services.dealpoint_input_check(
                            actor=actor, data=parsed.data
                        ).items():
                            if name not in errors and not (
                                name == "latitude"
                                and ("longitude" in errors or "__all__" in errors)
                            ):
                                errors[name] = messages
                        errors = _swapped_hint(actor=actor, data=parsed.data, errors=errors)
                        result.errors.append(RowError(row.line, _messages(errors)))
                        continue
                    # Said, never refused: the analyst knows whether it is the same point.
                    warning = _nearby_warning(
                        actor=actor,
                        line=row.line,
                        data=parsed.data,
                        exclude=created_here,
                    )
                    line_sharing = (
                        dataclasses.replace(
                            sharing, marking=stricter_marking(sharing.marking, parsed.marking)
                        )
                        if parsed.marking
                        else sharing
                    )
                    try:
                        # A line refused rolls back its savepoint: its gathered events too.
                        with chained_at_the_end():
                            point = services.dealpoint_create(
                                actor=actor,
                                data=parsed.data,
                                sharing=line_sharing,
                                status=parsed.status,
                                kind=EventKind.IMPORTED,
                                note=_("Référence d'origine : %(reference)s")
                                % {"reference": parsed.reference}
                                if parsed.reference
                                else "",
                                origin_reference=parsed.reference,
                                origin_fingerprint=fingerprint,
                                imported_first_reported_at=parsed.first_reported_at,
                                imported_last_activity_at=parsed.last_activity_at,
                            )
                    except ValidationError as error:
                        found = _swapped_hint(
                            actor=actor, data=parsed.data, errors=_error_dict(error)
                        )
                        result.errors.append(RowError(row.line, _messages(found)))
                        continue
                    if warning is not None:
                        result.warnings.append(warning)
                    result.valid += 1
                    result.created.append(point.reference)
                    created_here.add(point.reference)
                    result.created_rows.append(
                        RowCreated(row.line, point.reference, point.pk, point.marking)
                    )
                if dry_run or (result.errors and not partial) or not result.created:
                    raise _Rollback
                result.imported = True
        except _Rollback:
            result.created = []
            result.created_rows = []
            result.imported = False
        audit_record(
            actor=actor,
            action=AuditAction.IMPORT,
            object_type=DealPoint._meta.label_lower,
            details={
                "format": source,
                "rows": result.total,
                "created": len(result.created),
                "invalid": result.invalid,
                "skipped": len(result.skipped),
                "partial": partial,
                "distribution": sharing.distribution,
                "marking": sharing.marking,
                # « Vérifier sans importer »: nothing was kept, by choice.
                "check": dry_run,
                # The points its report names as near a line (« Un point existe à N m »).
                "nearby": sorted(
                    {ref for warning in result.warnings for ref in warning.references}
                ),
                # The points its report names as holding a line already (« déjà présent :
                # PD-13-0001 », « déjà importée (PD-13-0040) », the same content)...
                "already_present": sorted({skipped.existing for skipped in result.skipped}),
                # ... and, of them, those it said a line differs from (« le fichier diffère :
                # statut, nom d'usage »: what the point holds is not what the line says).
                "differs": sorted(
                    {skipped.existing for skipped in result.skipped if skipped.differs}
                ),
            },
        )
    return result


def import_file(
    *,
    actor: User,
    data: bytes,
    filename: str,
    partial: bool = False,
    dry_run: bool = False,
    sharing: services.SharingInput | None = None,
) -> ImportResult:
    """Parse then import (`parse_rows`, `dealpoints_import`); `ImportFileError` if the file
    cannot be read."""
    rows = parse_rows(data, filename)
    source = workbook_kind(bytes(data[:4]), filename) or file_format(
        filename, bytes(data[:64]).decode("utf-8-sig", errors="replace")
    )
    return dealpoints_import(
        actor=actor,
        rows=rows,
        partial=partial,
        dry_run=dry_run,
        source=source,
        sharing=sharing,
    )


# --- import: the verified file, carried back by the page -----------------------------------------

# After « Vérifier sans importer » the page offers to import the same file: browsers cannot fill a
# file field again, and the server keeps nothing between two requests (no file on disk, no row).
# The file travels in the page's form instead, compressed and signed for the actor who verified
# it (the signature tells the server it is the file it read), for an hour.
VERIFIED_FILE_SALT = "cartostup.dealpoints.import.verified"
VERIFIED_FILE_MAX_AGE = 60 * 60
# Room left in a form post for the other fields (CSRF token, options).
_VERIFIED_FILE_MARGIN = 4096
# The file's name, ahead of its bytes in the sealed payload.
_VERIFIED_NAME_MAX = 255


@dataclass(frozen=True)
class VerifiedFile:
    """A file verified earlier and carried back by the page: its bytes and its name."""

    data: bytes
    filename: str


def _verified_signer(actor: User) -> signing.TimestampSigner:
    # One salt per account: a sealed file verified by one analyst is refused to another.
    return signing.TimestampSigner(salt=f"{VERIFIED_FILE_SALT}:{actor.pk}")


def verified_file_max_length() -> int:
    """The longest sealed file a form post may carry: Django refuses a body of form fields
    longer than DATA_UPLOAD_MAX_MEMORY_SIZE (then nothing is offered: choose the file again)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return 2 * MAX_IMPORT_BYTES
    return max(limit - _VERIFIED_FILE_MARGIN, 0)


def _too_large() -> ImportFileError:
    return ImportFileError(
        _("Le fichier dépasse %(size)s Mo.") % {"size": MAX_IMPORT_BYTES // (1024 * 1024)}
    )


def verified_file_seal(*, actor: User, data: bytes, filename: str) -> str | None:
    """The file, compressed and signed for `actor`, to be carried back by the page's form
    (`verified_file_open` reads it); None when it would not fit in a form post (a file that
    hardly compresses, near 5 Mo): the analyst then chooses it again."""
    if len(data) > MAX_IMPORT_BYTES:
        return None
    name = (filename or "")[:_VERIFIED_NAME_MAX]
    header = json.dumps({"name": name}).encode("utf-8")  # JSON escapes line feeds
    packed = base64.urlsafe_b64encode(zlib.compress(header + b"\n" + bytes(data), 6)).decode()
    sealed = _verified_signer(actor).sign(packed)
    return sealed if len(sealed) <= verified_file_max_length() else None


def verified_file_open(*, actor: User, sealed: str) -> VerifiedFile:
    """The file `verified_file_seal` sealed for `actor`, unchanged; `ImportFileError` (a French
    message saying to choose the file again) when it was changed, sealed for another account
    or more than an hour ago, or is larger than an upload may be."""
    if len(sealed) > verified_file_max_length():
        raise _too_large()
    try:
        packed = _verified_signer(actor).unsign(sealed, max_age=VERIFIED_FILE_MAX_AGE)
    except signing.SignatureExpired as error:
        raise ImportFileError(
            _(
                "Ce fichier a été vérifié il y a plus d'une heure : choisissez-le à nouveau, "
                "puis « Vérifier sans importer » ou « Importer »."
            )
        ) from error
    except signing.BadSignature as error:
        raise ImportFileError(
            _(
                "Le fichier vérifié n'est pas reconnu : il a été modifié dans la page, ou "
                "vérifié depuis un autre compte. Choisissez-le à nouveau."
            )
        ) from error
    try:
        decompressor = zlib.decompressobj()
        # Never more than an upload may hold (the name's header aside): no zip bomb.
        content = decompressor.decompress(
            base64.urlsafe_b64decode(packed), MAX_IMPORT_BYTES + _VERIFIED_NAME_MAX * 6 + 16
        )
        if decompressor.unconsumed_tail:
            raise _too_large()
        header, _separator, data = content.partition(b"\n")
        name = json.loads(header)["name"]
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError) as error:
        # Signed by the server yet unreadable: a sealed file of an older version.
        raise ImportFileError(
            _("Le fichier vérifié est illisible. Choisissez-le à nouveau.")
        ) from error
    if len(data) > MAX_IMPORT_BYTES:
        raise _too_large()
    return VerifiedFile(data=data, filename=str(name))
