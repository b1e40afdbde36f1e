"""The home page, and the audit trail's pages (browse, open one event, export as CSV)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from cartostup.access import policy
from cartostup.access import selectors as access_selectors
from cartostup.access.filters import filter_error_messages, unknown_parameters

from . import selectors
from .errors import export_refused
from .filters import AuditEventFilterSet
from .models import AuditEvent
from .paging import paginate


def home(request: HttpRequest) -> HttpResponse:
    memberships = access_selectors.membership_list_for_user(actor=request.user)
    return render(
        request, "core/home.html", {"memberships": memberships, "page_title": _("Accueil")}
    )


def _page_number(request: HttpRequest) -> int | None:
    value = request.GET.get("page", "")
    return int(value) if value.isdigit() else None


def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, filtered and paginated (capability BROWSE_AUDIT)."""
    policy.require(request.user, policy.Capability.BROWSE_AUDIT)
    # A misspelt filter (`?acteur=`) is said, and nothing listed: the whole trail would read
    # as filtered.
    unknown = unknown_parameters(request.GET, AuditEventFilterSet, export=False)
    if unknown:
        filterset = AuditEventFilterSet(queryset=AuditEvent.objects.none())
    else:
        filterset = selectors.audit_event_list(
            actor=request.user, filters=request.GET, page=_page_number(request)
        )
    page = paginate(request, filterset.qs)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "core/audit_list.html",
        {
            "page_title": _("Journal d'audit"),
            "filter_form": filterset.form,
            "filter_errors": filter_error_messages(filterset, unknown),
            "page_obj": page,
            "events": page.object_list,
            "export_query": query.urlencode(),
        },
    )


def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    policy.require(request.user, policy.Capability.BROWSE_AUDIT)
    event = selectors.access_audit_event(actor=request.user, pk=pk)
    return render(
        request,
        "core/audit_detail.html",
        {
            "page_title": _("Événement d'audit n° %(number)s") % {"number": event.sequence},
            "event": event,
            "details_json": json.dumps(event.details, indent=2, ensure_ascii=False, sort_keys=True),
        },
    )


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


EXPORT_HEADER = (
    "numero",
    "date",
    "acteur",
    "organisation",
    "action",
    "type_objet",
    "reference",
    "motif",
    "pour_le_compte_de",
    "details",
    "empreinte",
)


def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered events as CSV (streamed; recorded as an EXPORT event); invalid filters
    answer the site's 400 page (« Export impossible ») with their errors."""
    policy.require(request.user, policy.Capability.BROWSE_AUDIT)
    try:
        unknown = unknown_parameters(request.GET, AuditEventFilterSet)
        if unknown:
            raise ValidationError(unknown)
        _count, rows = selectors.audit_event_export(actor=request.user, filters=request.GET)
    except ValidationError as error:
        return export_refused(
            request,
            filterset=AuditEventFilterSet(queryset=AuditEvent.objects.none()),
            errors=error.message_dict,
            list_name="core:audit_list",
            correct_hint=_(
                "Corrigez les filtres sur le journal d'audit, puis exportez de nouveau."
            ),
        )
    writer = csv.writer(_Echo(), delimiter=";")

    def lines() -> Iterator[str]:
        yield "\ufeff"  # so that spreadsheets read UTF-8
        yield writer.writerow(EXPORT_HEADER)
        for row in rows:
            yield writer.writerow([_cell(row[name]) for name in selectors.EXPORT_FIELDS])

    filename = f"journal-audit-{timezone.localdate().isoformat()}.csv"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
