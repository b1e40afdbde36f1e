"""Staff pages of the reports: the call platform's intake, the landlords' reports on their
buildings, and the triage by the CROSS and Ofast analysts (design §4, §5).

Thin: check the capability, parse, call one service or selector, render or redirect with a
message. Whatever the actor may not see answers 404. An operator sees only the report it is
keying in (and its receipt, once); a landlord only the coarse status of its own reports.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable
from typing import Any, TypeVar

import django_filters
from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    QueryDict,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from dsfr.forms import DsfrBaseForm
from dsfr.widgets import InlineCheckboxSelectMultiple

from cartostup.access import policy
from cartostup.access import selectors as access_selectors
from cartostup.access.filters import filter_error_messages, unknown_choice_message_lazy
from cartostup.access.models import Building, User
from cartostup.access.services import stairwell_labels
from cartostup.core.dates import week_start
from cartostup.core.forms import DecimalNumberField
from cartostup.core.paging import paginate
from cartostup.core.shown_once import ShownOnce

from . import receipts, selectors, services
from .choices import (
    REJECTED,
    Activity,
    Channel,
    MessageAuthor,
    Precision,
    Product,
    Status,
    TimeOfDay,
    Weekday,
)
from .commune_search import commune_resolve
from .filters import ReportFilterSet
from .forms import LandlordReportForm, OperatorReportForm
from .models import Report

Capability = policy.Capability
R = TypeVar("R", bound=HttpResponseBase)

# The queue shown when no filter is chosen: what still needs an analyst.
DEFAULT_TRIAGE_STATUSES = (Status.NEW, Status.QUESTION)
# Markers drawn on the triage map at most (the newest); the table pages through the rest.
MAP_LIMIT = 2000
# Département boundaries drawn under the markers (the maps work offline, without tiles).
MAP_BOUNDARY_DEPARTEMENTS = 3
# Short labels for the queue's narrow table (the report's page gives the full ones).
CHANNEL_SHORT = {
    Channel.WEB: gettext_lazy("Web"),
    Channel.MOBILE: gettext_lazy("Appli"),
    Channel.PHONE: gettext_lazy("Appel"),
    Channel.LANDLORD: gettext_lazy("Bailleur"),
}
PRECISION_SHORT = {
    Precision.STAIRWELL: gettext_lazy("Cage, entrée"),
    Precision.BUILDING: gettext_lazy("Immeuble"),
    Precision.STREET: gettext_lazy("Rue"),
    Precision.AREA: gettext_lazy("Quartier"),
}
STATUS_SHORT = {
    Status.NEW: gettext_lazy("À trier"),
    Status.QUESTION: gettext_lazy("Question posée"),
    Status.ACCEPTED: gettext_lazy("Accepté"),
    Status.SPAM: gettext_lazy("Indésirable"),
    Status.UNFOUNDED: gettext_lazy("Infondé"),
}
# Characters per group when the receipt is read back to a caller.
RECEIPT_GROUP = 4


class AuthenticatedRequest(HttpRequest):
    """Every page here sits behind the login and second-factor middleware."""

    user: User


def _post_only(request: HttpRequest) -> HttpResponse | None:
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def _no_store(response: R) -> R:
    """Never kept by a browser or a proxy (a receipt, a photo, a report)."""
    patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
    return response


def _map_settings() -> dict[str, str]:
    return {
        "tile_url": settings.CARTOSTUP_TILE_URL,
        "tile_attribution": settings.CARTOSTUP_TILE_ATTRIBUTION,
    }


def _labels(values: Iterable[str], choices: Any) -> list[str]:
    """Labels of stored choice values (an unknown value is shown as stored)."""
    names = dict(choices.choices)
    return [str(names.get(value, value)) for value in values]


# --- call platform -------------------------------------------------------------------------------


def receipt_groups(receipt: str) -> list[str]:
    """The receipt in short groups to read out one at a time: its own groups if it has some
    (separated by dashes or spaces), else groups of four characters."""
    parts = [part for part in receipt.replace(" ", "-").split("-") if part]
    if len(parts) > 1:
        return parts
    return [receipt[i : i + RECEIPT_GROUP] for i in range(0, len(receipt), RECEIPT_GROUP)]


def _commune_from_query(data: QueryDict) -> str:
    """Without the map's script the commune is typed, not chosen in the search: resolve it
    here (as the public form does). Returns an error message, or "" (resolved, or not
    needed)."""
    query = (data.get("commune_query") or "").strip()
    has_pin = bool(data.get("latitude")) and bool(data.get("longitude"))
    if data.get("commune_code") or not query or has_pin:
        return ""
    chosen, candidates = commune_resolve(query)
    if chosen is not None:
        data["commune_code"] = chosen.code
        return ""
    if not candidates:
        return _("Aucune commune ne correspond à « %(query)s ».") % {"query": query[:100]}
    return _("Plusieurs communes correspondent : %(names)s. Précisez le nom ou le code postal.") % {
        "names": ", ".join(result.label for result in candidates[:5])
    }


# The operator's receipt crosses the redirect after the call is saved in two shares
# (`core.shown_once`): one in the staff session, one in a short-lived cookie.
RECEIPT_SHOWN_ONCE = ShownOnce(
    session_key="reports.operator_receipt",
    cookie="cartostup_receipt",
    page="reports:operator_receipt",
    valid=receipts.receipt_is_wellformed,
)


def operator_intake(request: AuthenticatedRequest) -> HttpResponse:
    """A call-platform operator keys in a call; once saved, the receipt page (a GET after a
    redirect: reloading it never saves the call twice)."""
    policy.require(request.user, Capability.KEY_IN_CALLS)
    data = request.POST.copy() if request.method == "POST" else None
    commune_error = _commune_from_query(data) if data is not None else ""
    form = OperatorReportForm(data)
    if data is not None and form.is_valid() and not commune_error:
        try:
            submitted = services.report_submit_by_operator(actor=request.user, data=form.to_input())
        except ValidationError as error:
            form.add_service_error(error)
        else:
            # Neither share alone is the receipt: the database (the session) and the browser
            # (the cookie) each hold one until it is shown, never the receipt itself; the
            # redirect's URL carries nothing.
            return RECEIPT_SHOWN_ONCE.hand_over(
                request, redirect("reports:operator_receipt"), submitted.receipt
            )
    if commune_error:
        # On the commune: the summary names it "Lieu" and links to the commune search.
        form.add_error("commune_code", commune_error)
    return _no_store(
        render(
            request,
            "reports/staff/operator_intake.html",
            {
                "page_title": _("Saisir un appel"),
                "form": form,
                "commune_query": (data.get("commune_query") or "")[:100] if data else "",
                **_map_settings(),
            },
        )
    )


def operator_receipt(request: AuthenticatedRequest) -> HttpResponse:
    """The receipt of the call just saved, shown once to be read back: both shares are
    forgotten as the page is made, so that reloading it (or coming back) does not show it
    again."""
    policy.require(request.user, Capability.KEY_IN_CALLS)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    receipt = RECEIPT_SHOWN_ONCE.take(request)
    if receipt is None:
        messages.info(
            request,
            _(
                "Le code de suivi n'est affiché qu'une fois : il ne peut plus être montré. Le "
                "signalement, lui, est bien enregistré."
            ),
        )
        response: HttpResponse = redirect("reports:operator_intake")
    else:
        response = render(
            request,
            "reports/staff/operator_receipt.html",
            {
                "page_title": _("Code de suivi à lire à l'appelant"),
                "groups": receipt_groups(receipt),
                "receipt": receipt,
            },
        )
    return RECEIPT_SHOWN_ONCE.forget(response)


# --- landlords -----------------------------------------------------------------------------------


class BuildingReportForm(LandlordReportForm):
    """The landlord's form for one building: the stairwell is chosen among the building's."""

    place_label = django_forms.ChoiceField(  # type: ignore[assignment]
        label=gettext_lazy("Cage d'escalier ou entrée"),
        required=False,
        help_text=gettext_lazy("Les cages d'escalier déclarées pour ce bâtiment."),
    )

    def __init__(self, *args: Any, building: Building, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("Tout le bâtiment, ou je ne sais pas"))]
        choices += [
            (name, _("Cage %(name)s") % {"name": name})
            for name in stairwell_labels(building.stairwells)
        ]
        self.fields["place_label"].choices = choices  # type: ignore[attr-defined]


def landlord_report_create(request: AuthenticatedRequest, building_pk: int) -> HttpResponse:
    """A landlord referent reports on one of its own buildings (404 on anyone else's)."""
    policy.require(request.user, Capability.MANAGE_BUILDINGS)
    building = access_selectors.access_building(actor=request.user, pk=building_pk)
    form = BuildingReportForm(request.POST or None, building=building)
    if request.method == "POST" and form.is_valid():
        try:
            report = services.report_submit_by_landlord(
                actor=request.user, building=building, data=form.to_input()
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("Signalement %(reference)s transmis à la CROSS du département.")
                % {"reference": report.reference},
            )
            return redirect("reports:landlord_report_list")
    return render(
        request,
        "reports/staff/landlord_report_form.html",
        {
            "page_title": _("Signaler sur « %(name)s »") % {"name": building.name},
            "building": building,
            "form": form,
        },
    )


def landlord_report_list(request: AuthenticatedRequest) -> HttpResponse:
    """The landlord's own reports: coarse status and the week received, nothing else."""
    policy.require(request.user, Capability.MANAGE_BUILDINGS)
    page = paginate(request, selectors.landlord_report_list(actor=request.user))
    names = dict(
        access_selectors.building_managed_list(actor=request.user).values_list("pk", "name")
    )
    rows = [
        {
            "reference": row["reference"],
            "building": names.get(row.get("building_id"), "—"),
            "week": week_start(row["received_at"]),
            "status": row["public_status"],
            "status_label": row["public_status_label"],
        }
        for row in page.object_list
    ]
    return render(
        request,
        "reports/staff/landlord_report_list.html",
        {"page_title": _("Mes signalements"), "page_obj": page, "rows": rows},
    )


# --- triage --------------------------------------------------------------------------------------


class TriageFilterSet(ReportFilterSet):
    """The reports filter set, with the widgets of the triage page (check boxes; the dates'
    calendars and the yes/no select are the shared set's)."""

    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices,
        label=gettext_lazy("Statut"),
        widget=InlineCheckboxSelectMultiple,
        error_messages={"invalid_choice": unknown_choice_message_lazy(Status.choices)},
    )


class ReportPlaceForm(DsfrBaseForm):
    """The analyst places a report given by its address alone: a click on the report's map
    sets the latitude and longitude (typing them moves the pin), and the precision is chosen
    (`services.report_place`)."""

    prefix = "place"

    latitude = DecimalNumberField(
        label=gettext_lazy("Latitude"),
        min_value=-90,
        max_value=90,
        help_text=gettext_lazy(
            "En degrés décimaux (WGS84), ex. 43.3452. Cliquez sur la carte pour la fixer."
        ),
        error_messages={
            "required": gettext_lazy(
                "Cliquez sur la carte à l'adresse indiquée, ou saisissez la latitude et la "
                "longitude."
            )
        },
    )
    longitude = DecimalNumberField(
        label=gettext_lazy("Longitude"),
        min_value=-180,
        max_value=180,
        help_text=gettext_lazy("En degrés décimaux (WGS84), ex. 5.3949."),
        error_messages={
            "required": gettext_lazy("Saisissez la longitude, ou cliquez sur la carte.")
        },
    )
    precision = django_forms.ChoiceField(
        label=gettext_lazy("Précision du lieu placé"),
        choices=Precision.choices,
        widget=django_forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choisissez la précision du lieu placé.")},
    )

    # A value that is not finite (« nan », « inf ») is refused by FloatField itself.

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's refusal on the field it concerns, or above the form."""
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        else:
            self.add_error(None, error.messages)


def _triage_filters(request: HttpRequest) -> QueryDict:
    """The filters asked for, or the default queue (new reports and pending questions) when
    the form has not been used yet."""
    if set(request.GET) - {"page"}:
        return request.GET
    filters = QueryDict(mutable=True)
    filters.setlist("status", [status.value for status in DEFAULT_TRIAGE_STATUSES])
    return filters


def _triage_queue(
    request: AuthenticatedRequest, *, view: str
) -> tuple[TriageFilterSet, QuerySet[Report]]:
    """The filter set shown on the page and the reports it selects from what the actor may see
    (the selector audits the listing). Invalid filters (`?status=zzz`, a reversed period)
    select nothing: the form says why beside each field, and the unfiltered queue would read
    as filtered."""
    filterset = TriageFilterSet(_triage_filters(request), queryset=Report.objects.none())
    if not filterset.is_valid():
        return filterset, Report.objects.none()
    reports = selectors.report_list(actor=request.user, filters=filterset, view=view)
    return filterset, reports


def triage_list(request: AuthenticatedRequest) -> HttpResponse:
    """The triage queue of the analyst's territory, filtered, paginated, with its map."""
    policy.require(request.user, Capability.TRIAGE_REPORTS)
    filterset, reports = _triage_queue(request, view="table")
    page = paginate(request, reports)
    for report in page.object_list:
        report.channel_short = CHANNEL_SHORT.get(report.channel, report.channel)  # type: ignore[attr-defined]
        # A report given by its address alone stands at its commune until placed: its
        # stored precision (« Quartier ») is the stand-in's, not what the reporter said.
        report.precision_short = (  # type: ignore[attr-defined]
            _("Adresse seule")
            if report.placed_at_commune
            else PRECISION_SHORT.get(report.precision, report.precision)
        )
        report.status_short = STATUS_SHORT.get(report.status, report.status)  # type: ignore[attr-defined]
    query = filterset.data.copy()
    query.pop("page", None)
    boundaries = [
        reverse("territories:departement_geojson", args=[code])
        for code in reports.order_by()
        .values_list("departement__code", flat=True)
        .distinct()[:MAP_BOUNDARY_DEPARTEMENTS]
    ]
    return render(
        request,
        "reports/staff/triage_list.html",
        {
            "page_title": _("Signalements à trier"),
            "filter_form": filterset.form,
            "filter_errors": filter_error_messages(filterset),
            "page_obj": page,
            "reports": page.object_list,
            "statuses": Status.choices,
            # The reporters' messages no analyst has read, whatever the filters (a report
            # already triaged is out of the default queue).
            "unread": selectors.report_unread_count(actor=request.user),
            "geojson_url": f"{reverse('reports:triage_geojson')}?{query.urlencode()}",
            "boundary_urls": json.dumps(boundaries),
            **_map_settings(),
        },
    )


def triage_geojson(request: AuthenticatedRequest) -> HttpResponse:
    """The filtered reports as GeoJSON points for the triage map (same filters and policy as
    the list, audited the same way). Only what a marker needs: no free text. Invalid filters
    answer 400 with no point, each error by field (the page says them beside its fields)."""
    policy.require(request.user, Capability.TRIAGE_REPORTS)
    filterset, reports = _triage_queue(request, view="map")
    if filterset.errors:
        payload: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": [],
            "truncated": False,
            "errors": {
                name: [str(message) for message in messages]
                for name, messages in filterset.errors.items()
            },
        }
        return _no_store(
            HttpResponse(json.dumps(payload), content_type="application/geo+json", status=400)
        )
    rows = list(
        reports.values("pk", "reference", "status", "latitude", "longitude", "received_at")[
            : MAP_LIMIT + 1
        ]
    )
    labels = dict(Status.choices)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
            "properties": {
                "reference": row["reference"],
                "status": row["status"],
                "status_label": str(labels.get(row["status"], row["status"])),
                "received": timezone.localtime(row["received_at"]).strftime("%d/%m/%Y %Hh"),
                "url": reverse("reports:report_detail", args=[row["pk"]]),
            },
        }
        for row in rows[:MAP_LIMIT]
    ]
    payload = {
        "type": "FeatureCollection",
        "features": features,
        "truncated": len(rows) > MAP_LIMIT,
    }
    response = HttpResponse(json.dumps(payload), content_type="application/geo+json")
    return _no_store(response)


def _may_triage(actor: User, report: Report) -> bool:
    """Whether the actor may change the report (its owner organisation's analysts); others
    who see it (Ofast) read it only."""
    return policy.restrict(
        Report.objects.filter(pk=report.pk), actor=actor, action=policy.Action.CHANGE
    ).exists()


def report_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The whole report, its messages and the triage actions."""
    policy.require(request.user, Capability.TRIAGE_REPORTS)
    report = selectors.access_report(actor=request.user, pk=pk)
    return _report_page(request, report)


def _report_page(
    request: AuthenticatedRequest, report: Report, *, place_form: ReportPlaceForm | None = None
) -> HttpResponse:
    """The report's page (read through `selectors.access_report` by the caller); with the
    placing form as sent when it was refused (400)."""
    # In the order written: the reporter's messages are dated to the day only, so their date
    # would put an answer before the question it answers.
    thread = [
        {
            "author": message.author,
            "author_label": message.get_author_display(),
            "analyst": (message.analyst.get_full_name() or message.analyst.get_username())
            if message.analyst
            else "",
            # The reporter's messages are dated to the day only (see the model).
            "sent": date_format(
                timezone.localtime(message.sent_at),
                "d/m/Y" if message.author == MessageAuthor.REPORTER else "d/m/Y H:i",
            ),
            "text": message.text,
        }
        # In the order written: the reporter's day-precision dates would put an answer before
        # the question it answers.
        for message in report.messages.select_related("analyst").order_by("sequence")
    ]
    is_open = report.status in {Status.NEW, Status.QUESTION}
    may_change = _may_triage(request.user, report)
    # Shown to an analyst who may triage it: what the reporter wrote is read now.
    if may_change and report.message_unread:
        services.report_messages_read(actor=request.user, report=report)
    may_triage = is_open and may_change
    # Only a report given by its address alone is placed (or placed again, when an analyst
    # placed it), never a rejected one, nor a reporter's pin.
    can_place = (
        may_change
        and (report.placed_at_commune or report.placed_by_analyst)
        and report.status not in REJECTED
    )
    facts = {
        "activities": _labels(report.activities, Activity),
        "products": _labels(report.products, Product),
        "days": _labels(report.days, Weekday),
        "times_of_day": _labels(report.times_of_day, TimeOfDay),
    }
    triaged_by = report.triaged_by
    matching = None
    # Where it is attached, seen or not (only an accepted report is): the check the flow
    # refuses a placing by (`flows.report_place_and_match`), read once for the placing and
    # for the matching's « attached to a point your profile does not see ».
    attached = None
    if report.status == Status.ACCEPTED:
        from cartostup.dealpoints import selectors as dealpoint_selectors  # depends on reports

        matching = dealpoint_selectors.report_matching(actor=request.user, report=report)
        attached = dealpoint_selectors.report_attached_elsewhere(actor=request.user, report=report)
    # Placed again only once detached, and the page says so.
    place_blocked = attached if can_place and report.placed_by_analyst else None
    can_place = can_place and place_blocked is None
    response = render(
        request,
        "reports/staff/report_detail.html",
        {
            "page_title": _("Signalement %(reference)s") % {"reference": report.reference},
            "report": report,
            "facts": facts,
            "thread": thread,
            "triaged_by": (triaged_by.get_full_name() or triaged_by.get_username())
            if triaged_by
            else _("un analyste"),
            "is_open": is_open,
            "matching": matching,
            "can_triage": may_triage,
            # Only a report with a receipt has a reporter who can read a question.
            "can_ask": may_triage and bool(report.receipt_key),
            "can_place": can_place,
            "place_blocked": place_blocked,
            "attached_unseen": attached is not None and attached.dealpoint is None,
            # A refused placing says why even when the form is gone (a pin, placed meanwhile).
            "place_form": place_form or (ReportPlaceForm() if can_place else None),
            "boundary_urls": json.dumps(
                [reverse("territories:departement_geojson", args=[report.departement.code])]
            ),
            "spam": Status.SPAM.value,
            "unfounded": Status.UNFOUNDED.value,
            **_map_settings(),
        },
        status=400 if place_form is not None and place_form.errors else 200,
    )
    return _no_store(response)


def report_photo(request: AuthenticatedRequest, pk: int) -> FileResponse:
    """The report's (re-encoded) photo, to those who may see the report; never a public media
    URL. Opening it is audited like the report."""
    policy.require(request.user, Capability.TRIAGE_REPORTS)
    report = selectors.access_report(actor=request.user, pk=pk)
    if not report.photo:
        raise Http404
    try:
        handle = report.photo.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    content_type = mimetypes.guess_type(report.photo.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = "inline"
    return _no_store(response)


def _triage_action(request: AuthenticatedRequest, pk: int) -> Report | HttpResponse:
    """Common start of the triage actions: capability, POST, the report (404 if not seen)."""
    policy.require(request.user, Capability.TRIAGE_REPORTS)
    refused = _post_only(request)
    if refused is not None:
        return refused
    return selectors.access_report(actor=request.user, pk=pk)


def _refused(request: HttpRequest, error: ValidationError) -> None:
    for text in error.messages:
        messages.error(request, text)


def _matching_message(*, actor: User, report: Report, lead: str) -> str:
    """What the matching just did with `report` (accepted, or placed once accepted), after
    `lead` (« Signalement … accepté », « … placé »): attached, proposed, waiting for the
    clustering or, given by its address alone, left to the analyst; then its resurgence
    alerts. Said alike after each action that matches."""
    from cartostup.dealpoints import selectors as dealpoint_selectors  # depends on reports
    from cartostup.dealpoints.choices import LinkDecision

    found = dealpoint_selectors.report_matching(actor=actor, report=report)
    if found.attached is not None and found.attached.decision != LinkDecision.AUTOMATIC:
        text = _("%(lead)s ; il était déjà rattaché au point %(point)s.") % {
            "lead": lead,
            "point": found.attached.dealpoint.reference,
        }
    elif found.attached is not None:
        text = _(
            "%(lead)s et rattaché automatiquement au point %(point)s (à défaire depuis la "
            "fiche du point si c'est une erreur)."
        ) % {"lead": lead, "point": found.attached.dealpoint.reference}
    elif found.proposed:
        text = _(
            "%(lead)s et proposé au(x) point(s) %(points)s : à confirmer dans « Rapprochements »."
        ) % {
            "lead": lead,
            "points": ", ".join(link.dealpoint.reference for link in found.proposed),
        }
    elif report.placed_at_commune:
        text = _(
            "%(lead)s. Donné par son adresse seulement, il est placé au point de sa commune : il "
            "n'est ni rattaché ni proposé automatiquement. Placez-le depuis sa page (« Placer le "
            "signalement »), ou rattachez-le depuis la fiche du point qu'il concerne."
        ) % {"lead": lead}
    else:
        text = _(
            "%(lead)s. Il n'est rattaché à aucun point : il attend le regroupement en "
            "propositions de nouveaux points."
        ) % {"lead": lead}
    if found.alerts:
        text += " " + _("Alerte de résurgence : point(s) démantelé(s) à proximité, %(points)s.") % {
            "points": ", ".join(alert.dealpoint.reference for alert in found.alerts)
        }
    return text


def report_accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    report = _triage_action(request, pk)
    if isinstance(report, HttpResponse):
        return report
    from cartostup.dealpoints import flows  # the deal-points app depends on the reports app

    try:
        accepted = flows.report_accept_and_match(
            actor=request.user, report=report, note=request.POST.get("note", "").strip()
        )
    except ValidationError as error:
        _refused(request, error)
    else:
        lead = _("Signalement %(reference)s accepté") % {"reference": report.reference}
        messages.success(request, _matching_message(actor=request.user, report=accepted, lead=lead))
    return redirect("reports:report_detail", pk=report.pk)


def report_place(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The analyst places a report given by its address alone (`Report.placed_at_commune`),
    or places again one placed wrongly (`Report.placed_by_analyst`): the pin and its
    precision; an accepted report is matched at once from there. Refused, the page comes
    back with its error summary and what was typed."""
    report = _triage_action(request, pk)
    if isinstance(report, HttpResponse):
        return report
    from cartostup.dealpoints import flows  # the deal-points app depends on the reports app

    form = ReportPlaceForm(request.POST)
    if form.is_valid():
        try:
            placed = flows.report_place_and_match(
                actor=request.user,
                report=report,
                latitude=form.cleaned_data["latitude"],
                longitude=form.cleaned_data["longitude"],
                precision=form.cleaned_data["precision"],
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            lead = _("Signalement %(reference)s placé") % {"reference": report.reference}
            if placed.status == Status.ACCEPTED:
                text = _matching_message(actor=request.user, report=placed, lead=lead)
            else:
                text = _("%(lead)s. Il sera rapproché des points de deal une fois accepté.") % {
                    "lead": lead
                }
            messages.success(request, text)
            return redirect("reports:report_detail", pk=report.pk)
    return _report_page(request, report, place_form=form)


def report_reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    report = _triage_action(request, pk)
    if isinstance(report, HttpResponse):
        return report
    status = request.POST.get("status", "")
    if status not in REJECTED:
        messages.error(request, _("Choisissez « indésirable » ou « infondé »."))
        return redirect("reports:report_detail", pk=report.pk)
    try:
        services.report_reject(
            actor=request.user,
            report=report,
            status=status,
            note=request.POST.get("note", "").strip(),
        )
    except ValidationError as error:
        _refused(request, error)
        return redirect("reports:report_detail", pk=report.pk)
    if status == Status.SPAM:
        text = _("Signalement %(reference)s marqué comme indésirable.")
    else:
        text = _("Signalement %(reference)s marqué comme infondé.")
    messages.success(request, text % {"reference": report.reference})
    return redirect("reports:triage_list")


def report_question(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    report = _triage_action(request, pk)
    if isinstance(report, HttpResponse):
        return report
    text = request.POST.get("text", "").strip()
    if not text:
        messages.error(request, _("Écrivez la question à poser au signalant."))
        return redirect("reports:report_detail", pk=report.pk)
    try:
        services.report_ask_question(actor=request.user, report=report, text=text)
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(
            request,
            _(
                "Question envoyée. Le signalant la lira avec son code de suivi ; sa réponse "
                "apparaîtra ici."
            ),
        )
    return redirect("reports:report_detail", pk=report.pk)
