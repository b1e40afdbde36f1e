"""Exporting deal points (GeoJSON, CSV, XLSX) and importing an existing CROSS map (CSV or
GeoJSON), under /points-de-deal/. Thin: the policy decides, `exchange` does the work.

The import keeps nothing between two requests: the file is read in memory (never written to
disk), validated line by line, and imported in the same request when asked (« Importer »);
« Vérifier » only shows the report. Nothing is imported if a line is invalid, unless the
analyst chose to import the valid lines and ignore the others."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from dsfr.forms import DsfrBaseForm

from cartostup.access import policy
from cartostup.access.models import User
from cartostup.core.errors import export_refused

from . import exchange
from .filters import DealPointFilterSet
from .models import DealPoint


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def dealpoint_export(request: HttpRequest, format: str) -> HttpResponse:
    """The deal points the actor may export, filtered like the list (`?status=...`). Filters
    that cannot apply answer the site's 400 page, each error with its filter's French label,
    and a link back to the list with the same filters (which says them beside the fields)."""
    try:
        exported = exchange.dealpoints_export(
            actor=_actor(request), format=format, filters=request.GET, codes=False
        )
    except exchange.ExportFiltersInvalid as error:
        return export_refused(
            request,
            filterset=DealPointFilterSet(queryset=DealPoint.objects.none()),
            errors=error.message_dict,
            list_name="dealpoints:list",
            correct_hint=_(
                "Corrigez les filtres sur la liste des points de deal, puis exportez de nouveau."
            ),
        )
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response["Cache-Control"] = "no-store"
    return response


class ImportForm(DsfrBaseForm):
    file = forms.FileField(
        label=gettext_lazy("Fichier à importer"),
        help_text=gettext_lazy(
            "CSV (séparateur « ; » ou « , », UTF-8 ou Windows-1252, l'encodage d'Excel) ou "
            "GeoJSON, avec les colonnes de l'export. "
            "5 Mo et 5 000 lignes au plus."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.geojson,.json,text/csv"}),
    )
    partial = forms.BooleanField(
        label=gettext_lazy("Importer les lignes valides et ignorer les autres"),
        required=False,
        help_text=gettext_lazy(
            "Sans cette case, rien n'est importé si une seule ligne est invalide."
        ),
    )


def dealpoint_import(request: HttpRequest) -> HttpResponse:
    """Upload, validate every line, and import when asked (one transaction)."""
    actor = _actor(request)
    policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
    result: exchange.ImportResult | None = None
    file_error = ""
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            dry_run = request.POST.get("action") != "import"
            if upload.size > exchange.MAX_IMPORT_BYTES:
                file_error = _("Le fichier dépasse %(size)s Mo.") % {
                    "size": exchange.MAX_IMPORT_BYTES // (1024 * 1024)
                }
            else:
                try:
                    result = exchange.import_file(
                        actor=actor,
                        data=upload.read(exchange.MAX_IMPORT_BYTES + 1),
                        filename=upload.name or "",
                        partial=form.cleaned_data["partial"],
                        dry_run=dry_run,
                    )
                except exchange.ImportFileError as error:
                    file_error = error.message
            if file_error:
                form.add_error("file", file_error)
    else:
        form = ImportForm()
    context: dict[str, Any] = {
        "page_title": _("Importer des points de deal"),
        "form": form,
        "result": result,
        "headers": exchange.spreadsheet_headers(),
        "import_columns": exchange.import_columns(),
    }
    return render(request, "dealpoints/exchange/import.html", context)
