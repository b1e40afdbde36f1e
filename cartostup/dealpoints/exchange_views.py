"""Exporting deal points (GeoJSON, CSV, XLSX) and importing an existing CROSS map (CSV or
GeoJSON), under /points-de-deal/. Thin: the policy decides, `exchange` does the work.

The import keeps nothing between two requests: the file is read in memory (never written to
disk), validated line by line, and imported in the same request when asked (« Importer »);
« Vérifier » only shows the report. Nothing is imported if a line is invalid, unless the
analyst chose to import the valid lines and ignore the others. After a report, the page
carries the file back, signed (`exchange.verified_file_seal`), in a second form that imports
it without choosing it again (`VerifiedImportForm`); it is read and validated again in full."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from dsfr.forms import DsfrBaseForm

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking
from cartostup.access.filters import unknown_parameters
from cartostup.access.models import User
from cartostup.core.errors import export_refused, upload_limit

from . import exchange, services
from .filters import DealPointFilterSet
from .forms import SharingForm
from .models import DealPoint


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def dealpoint_export(request: HttpRequest, format: str) -> HttpResponse:
    """The deal points the actor may export, filtered like the list (`?status=...`). Filters
    that cannot apply answer the site's 400 page, each error with its filter's French label,
    and a link back to the list with the same filters (which says them beside the fields)."""
    try:
        unknown = unknown_parameters(request.GET, DealPointFilterSet)
        if unknown:
            # Refused before anything is read: nothing exported, nothing audited.
            exchange.points_reader_require(_actor(request))
            raise exchange.ExportFiltersInvalid(unknown)
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
            "CSV (séparateur « ; », « , » ou tabulation ; UTF-8, UTF-16 ou Windows-1252 : "
            "les « CSV » et « Texte Unicode » (.txt) d'Excel), classeur XLSX (sa première "
            "feuille) ou GeoJSON, avec les colonnes de l'export. 5 Mo et 5 000 lignes au plus."
        ),
        # .txt: Excel's « Texte Unicode » (UTF-16, tabs), which the import reads.
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".csv,.txt,.xlsx,.geojson,.json,text/csv,text/plain,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )
    partial = forms.BooleanField(
        label=gettext_lazy("Importer les lignes valides et ignorer les autres"),
        required=False,
        help_text=gettext_lazy(
            "Sans cette case, rien n'est importé si une seule ligne est invalide."
        ),
    )


class VerifiedImportForm(DsfrBaseForm):
    """The file verified just before, carried back by the page (signed): « Importer ce
    fichier » without choosing it again. Its errors are placed on the file field."""

    verified = forms.CharField(
        widget=forms.HiddenInput,
        strip=False,
        error_messages={"required": gettext_lazy("Choisissez le fichier à importer.")},
    )
    partial = forms.BooleanField(required=False, widget=forms.HiddenInput)
    error_places = {"verified": (gettext_lazy("Fichier à importer"), "id_file")}

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean_verified(self) -> exchange.VerifiedFile:
        try:
            return exchange.verified_file_open(
                actor=self.actor, sealed=self.cleaned_data["verified"]
            )
        except exchange.ImportFileError as error:
            raise forms.ValidationError(error.message, code="verified") from error


def _import(
    *,
    actor: User,
    data: bytes,
    filename: str,
    partial: bool,
    dry_run: bool,
    sharing: services.SharingInput,
) -> tuple[exchange.ImportResult, str | None]:
    """The import's result and, when the page should offer to import the same file (valid
    lines not imported yet), the file sealed for the form that carries it back."""
    result = exchange.import_file(
        actor=actor,
        data=data,
        filename=filename,
        partial=partial,
        dry_run=dry_run,
        sharing=sharing,
    )
    sealed = None
    if result.valid and not result.imported:
        sealed = exchange.verified_file_seal(actor=actor, data=data, filename=filename)
    return result, sealed


def _import_too_large() -> str:
    return _(
        "Le fichier à importer dépasse la taille acceptée (%(size)s Mo et %(rows)s lignes au "
        "plus). Rien n'a été enregistré ni importé. Découpez la carte en plusieurs fichiers "
        "(ou retirez-en les colonnes inutiles), puis importez-les un à un depuis la page "
        "d'import."
    ) % {
        "size": exchange.MAX_IMPORT_BYTES // (1024 * 1024),
        "rows": f"{exchange.MAX_IMPORT_ROWS:,}".replace(",", "\u00a0"),
    }


@upload_limit(limit=exchange.MAX_IMPORT_BYTES, message=_import_too_large)
def dealpoint_import(request: HttpRequest) -> HttpResponse:
    """Upload (or the file verified before, carried back by the page), validate every line,
    and import when asked (one transaction). The points are shared as the page's sharing
    form says (the creation form's choices and checks), each with its line's marking when
    the file gives one."""
    actor = _actor(request)
    policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
    result: exchange.ImportResult | None = None
    sealed: str | None = None
    filename = ""
    verified_form: VerifiedImportForm | None = None
    form = ImportForm()
    groups = policy.distributable_sharing_groups(actor)
    sharing_form = SharingForm(request.POST or None, groups=groups)
    sharing = services.SharingInput()
    if request.method == "POST" and "verified" in request.POST and "file" not in request.FILES:
        verified_form = VerifiedImportForm(request.POST, actor=actor)
        if verified_form.is_valid() and sharing_form.is_valid():
            verified = verified_form.cleaned_data["verified"]
            filename = verified.filename
            sharing = sharing_form.to_input()
            try:
                result, sealed = _import(
                    actor=actor,
                    data=verified.data,
                    filename=verified.filename,
                    partial=verified_form.cleaned_data["partial"],
                    dry_run=False,
                    sharing=sharing,
                )
            except exchange.ImportFileError as error:
                verified_form.add_error("verified", error.message)
            except exchange.ImportSharingInvalid as error:
                sharing_form.add_service_error(error)
    elif request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid() and sharing_form.is_valid():
            sharing = sharing_form.to_input()
            upload = form.cleaned_data["file"]
            filename = upload.name or ""
            file_error = ""
            if upload.size > exchange.MAX_IMPORT_BYTES:
                file_error = _("Le fichier dépasse %(size)s Mo.") % {
                    "size": exchange.MAX_IMPORT_BYTES // (1024 * 1024)
                }
            else:
                try:
                    result, sealed = _import(
                        actor=actor,
                        data=upload.read(exchange.MAX_IMPORT_BYTES + 1),
                        filename=filename,
                        partial=form.cleaned_data["partial"],
                        dry_run=request.POST.get("action") != "import",
                        sharing=sharing,
                    )
                except exchange.ImportFileError as error:
                    file_error = error.message
                except exchange.ImportSharingInvalid as error:
                    sharing_form.add_service_error(error)
            if file_error:
                form.add_error("file", file_error)
    context: dict[str, Any] = {
        "page_title": _("Importer des points de deal"),
        "form": form,
        "sharing_form": sharing_form,
        "sharing": sharing,
        "sharing_labels": {
            "distribution": Distribution(sharing.distribution).label,
            "marking": Marking(sharing.marking).label,
        },
        "verified_form": verified_form,
        "accepted_markings": exchange.accepted_markings(),
        "result": result,
        # Invalid lines are the page's errors, as a form's: « Erreur : » in its title.
        "page_errors": bool(result and result.invalid),
        "sealed": sealed,
        "filename": filename,
        "headers": exchange.spreadsheet_headers(),
        "import_columns": exchange.import_columns(),
    }
    response = render(request, "dealpoints/exchange/import.html", context)
    # The page may carry the file itself (sealed): the browser keeps no copy of it.
    response["Cache-Control"] = "no-store"
    return response
