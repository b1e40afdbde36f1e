"""The map (/carte/) and its side panel: thin views, access decided by the policy (VIEW_MAP,
then each layer's selector in `map_layers`)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Max, Min
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render, resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartostup.access import policy
from cartostup.access import selectors as access_selectors
from cartostup.access.filters import unknown_parameters
from cartostup.access.models import User
from cartostup.core.api import REPEATED_PARAMETER
from cartostup.core.dates import week_start
from cartostup.reports.choices import Status as ReportStatus
from cartostup.territories import selectors as territory_selectors

from . import exchange, map_layers
from .choices import (
    ACTIVE_STATUSES,
    DealPointStatus,
    OperationKind,
    Product,
    ProposalStatus,
    hours_labels,
)
from .filters import (
    WIDE_FILTERS,
    DealPointCountFilterSet,
    DealPointFilterSet,
    DealPointPageFilterSet,
    filter_error_messages,
    told_status_field,
)
from .models import DealPoint, normalise_partner_code
from .selectors import (
    access_dealpoint,
    access_dealpoint_by_code,
    dealpoint_allowed_filters,
    dealpoint_merged_into,
    dealpoint_name_field,
    dealpoint_queryset,
    dealpoint_refused_filters,
    dealpoint_status_choices,
    told_value,
    unknown_status_message,
)

# Boundaries drawn at once when the page is not opened on one département.
MAP_BOUNDARY_DEPARTEMENTS = 3
FILTER_FIELDS = ("status", "product", "channel", "active_from", "active_to")
PERIOD_FIELDS = ("active_from", "active_to")
# What the page's address may carry: its filters, the département it opens on, a point.
MAP_PARAMETERS = frozenset(FILTER_FIELDS) | {"departement", "point"}
# The page's parameters that take one value.
SINGLE_PARAMETERS = (*PERIOD_FIELDS, "departement", "point")


class AuthenticatedRequest(HttpRequest):
    user: User


def _reverse_or(name: str, fallback: str, *args: Any) -> str:
    # Pages written by other parts of the issue may not be routed yet.
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def dealpoint_detail_url(pk: int) -> str:
    return _reverse_or("dealpoints:detail", f"/points-de-deal/{pk}/", pk)


def _repeated(request: HttpRequest, name: str) -> bool:
    """A parameter that takes one value given two different ones."""
    return len(set(request.GET.getlist(name))) > 1


def map_page(request: AuthenticatedRequest) -> HttpResponse:
    """The map of deal points: layers the actor's role allows, filters, side panel."""
    actor = request.user
    policy.require(actor, policy.Capability.VIEW_MAP)
    # Written as the list reads it: « 2a » is Corse-du-Sud, as « 2A » (the codes are stored in
    # capitals; a lower-case Corsican code answered 404 where the list took it).
    # Given twice, none is opened on (the page says the parameter was repeated).
    asked = "" if _repeated(request, "departement") else (request.GET.get("departement") or "")
    asked = asked.strip()
    code = asked[:3].upper()
    if code:
        try:
            code = territory_selectors.departement_get(actor=actor, code=code).code
        except Http404:
            # A hand-made link: the map opens on the whole territory and says why, rather
            # than « Page introuvable » (unknown and outside the territory alike).
            messages.warning(
                request,
                _(
                    "Département « %(code)s » inconnu ou hors de votre territoire : la carte "
                    "s'ouvre sur tout votre territoire."
                )
                % {"code": asked[:10]},
            )
            code = ""
    if code:
        boundary_codes = [code]
    else:
        codes = [
            departement.code
            for departement in territory_selectors.departement_list(actor=actor)
            if getattr(departement, "commune_count", 0)
        ][: MAP_BOUNDARY_DEPARTEMENTS + 1]
        boundary_codes = codes if len(codes) <= MAP_BOUNDARY_DEPARTEMENTS else []
    scope = policy.aggregate_scope(dealpoint_queryset().none(), actor=actor)
    counts_only = not scope.coordinates
    filterset_class = DealPointCountFilterSet if scope.one_value_each else DealPointPageFilterSet
    # The filters map.js sends the dealpoints layer: one the actor may not use (a hand-made
    # link) or a reversed period is said in the form, as the layer's 400 will say it.
    sent = QueryDict(mutable=True)
    for name in FILTER_FIELDS:
        if name in request.GET:
            # A value given twice is one (« Statut : Confirmé, Confirmé » was said).
            sent.setlist(name, list(dict.fromkeys(request.GET.getlist(name))))
    # A misspelt filter (`?statut=confirmed`) is said, as the list says it, and sent to the
    # dealpoints layer, which refuses it: the points the filter was meant to select are not
    # drawn as if it had applied.
    unknown = unknown_parameters(
        request.GET,
        known=MAP_PARAMETERS,
        hint=_("Choisissez les filtres dans le formulaire au-dessus de la carte."),
    )
    statuses = dealpoint_status_choices(actor=actor)

    def bound(data: QueryDict | None) -> DealPointPageFilterSet:
        filterset = filterset_class(data, queryset=dealpoint_queryset().none())
        # A reduced view (a landlord) filters on the statuses it can be told; any other is
        # refused like an unknown one, as the layer refuses it (set before any validation).
        told_status_field(
            filterset.form,
            choices=statuses,
            message=unknown_status_message(actor=actor, codes=False),
        )
        return filterset

    filterset = bound(sent or None)
    if filterset.is_bound and filterset.form.is_valid():
        # A period typed the French way (01/11/2026, a hand-made link) is sent to the layers,
        # and shown by the date inputs, as the ISO date they read.
        for name in PERIOD_FIELDS:
            # (Given twice, both are sent: the layer refuses them as the page says.)
            if (
                filterset.form.cleaned_data.get(name)
                and name in sent
                and not _repeated(request, name)
            ):
                sent[name] = filterset.form.cleaned_data[name].isoformat()
        filterset = bound(sent)
    form = filterset.form
    allowed = dealpoint_allowed_filters(actor=actor)
    # Two statuses in a hand-made link of a counts-only role: the single-choice form would
    # keep the last one and say it applied, while the layer refuses both.
    refused = {
        **unknown,
        # Two periods' starts, two départements, two points: the last one was kept, unsaid (the
        # API refuses them alike).
        **{
            name: [
                str(REPEATED_PARAMETER)
                if name in filterset.base_filters
                # Not a filter: no label says which (« Paramètre répété » alone).
                else _("Paramètre « %(name)s » répété : une seule valeur est attendue.")
                % {"name": name}
            ]
            for name in SINGLE_PARAMETERS
            if _repeated(request, name)
        },
        **map_layers.several_values_refused(scope=scope, data=sent),
        **dealpoint_refused_filters(actor=actor, data=sent),
    }
    filter_errors = filter_error_messages(filterset, refused)
    api = {
        "dealpoints": reverse("map-dealpoints"),
        "boundaries": reverse("map-boundaries"),
    }
    if map_layers.may_see_report_layer(actor):
        api["reports"] = reverse("map-reports")
    if map_layers.may_see_proposal_layer(actor):
        api["proposals"] = reverse("map-proposals")
    detailed = policy.visible_fields(actor, DealPoint) is None
    by_code = dealpoint_name_field(actor=actor) == "partner_code"
    point, point_error = _linked_point(
        "" if _repeated(request, "point") else request.GET.get("point", ""), by_code=by_code
    )
    if detailed:
        api["operations"] = reverse("map-operations")
        api["hotspots"] = reverse("map-hotspots")
    # The page's filters the other layers take (renamed by map.js), those this role may use:
    # a filter refused to it is said by the dealpoints layer, never sent to the others.
    layer_filters = [name for name in FILTER_FIELDS if name in allowed]
    # The hotspots count the points the dealpoints layer counts, with the same filters (map.js
    # sends them, the period renamed), of a valid form: one the dealpoints layer refuses is
    # said there, and the hotspots then count, and say, the département's points unfiltered.
    usable = not filterset.is_bound or (form.is_valid() and not refused)
    hotspot_filters = layer_filters if usable else []
    # The filters fold away so that the map shows on arrival; their title counts those sent.
    active = [name for name in FILTER_FIELDS if any(sent.getlist(name))]
    config = {
        "api": api,
        "boundaryDepartements": boundary_codes,
        # Whether the QPV layer can draw anything anywhere (map.js says which it is).
        "qpvImported": territory_selectors.qpv_imported(),
        "focusDepartement": code,
        # The page's filters as the layers receive them (map.js reads them here, not in the
        # address: a period typed the French way is sent as the ISO date the layers read).
        "filters": {
            **{name: sent.getlist(name) for name in FILTER_FIELDS if name in sent},
            **{name: request.GET.getlist(name) for name in unknown},
        },
        "layerFilters": layer_filters,
        # The page's filters the hotspots take (map.js renames the period: period_from...).
        "hotspotFilters": hotspot_filters,
        # A link to one point: by id, or by partner code for a reduced view (a landlord).
        "point": point,
        # A reduced view (a landlord) names points by their partner code, never their id.
        "panelUrl": reverse("dealpoints:map_panel", args=[0]).replace("/0/", "/{pk}/")
        if not by_code
        else reverse("dealpoints:map_panel_by_code", args=["0"]).replace("/0/", "/{pk}/"),
        "createUrl": _reverse_or("dealpoints:create", "/points-de-deal/nouveau/")
        if policy.can(actor, policy.Capability.EDIT_DEALPOINTS)
        else "",
        # Where a session ended while the page was open is renewed (map.js: endSession).
        "loginUrl": resolve_url(settings.LOGIN_URL),
        "tileUrl": settings.CARTOSTUP_TILE_URL,
        "tileAttribution": settings.CARTOSTUP_TILE_ATTRIBUTION,
        "statuses": dict(statuses),
        # What a hexagon's breakdown counts, per layer: statuses, or kinds of operation.
        "categoryLabels": {
            "dealpoints": dict(statuses),
            "reports": {value: str(label) for value, label in ReportStatus.choices},
            "operations": {value: str(label) for value, label in OperationKind.choices},
            # The proposals layer's hexagons count open proposals (« À examiner : 1 », not
            # the code « open »).
            "proposals": {value: str(label) for value, label in ProposalStatus.choices},
        },
        "activeStatuses": sorted(set(ACTIVE_STATUSES) & set(dict(statuses))),
        "startBounds": None if detailed else _buildings_bounds(actor),
        # To say a layer's 400 next to the filters: « Produit : ... ».
        "filterLabels": {name: str(filterset.base_filters[name].label) for name in FILTER_FIELDS},
        # The page has said what is wrong with its filters in the words of its fields (French
        # labels): a layer's 400 (the API's, with the codes its clients send) does not
        # replace those lines.
        "pageFilterErrors": bool(filter_errors),
    }
    return render(
        request,
        "dealpoints/map/map.html",
        {
            "page_title": _("Carte des points de deal"),
            "filter_form": form,
            "filters_title": _filters_title(len(active)),
            # Open when the filters came back with an error (said beside the fields).
            "filters_open": bool(filter_errors),
            "filters_summary": _filters_summary(filterset, names=active) if usable else [],
            "focus_departement": boundary_codes[0] if code else "",
            "filter_errors": filter_errors,
            # A reduced view (a landlord) filters only on what it receives.
            "filter_fields": [
                form[name] for name in FILTER_FIELDS if name in form.fields and name in allowed
            ],
            # Check boxes on their own line, as on the list page (a counts-only role's single
            # status is a select, beside the others).
            "wide_filters": [
                name
                for name in WIDE_FILTERS
                if name in form.fields
                and isinstance(form.fields[name].widget, forms.CheckboxSelectMultiple)
            ],
            "point_error": point_error,
            # « Créer un point au centre de la carte »: the keyboard's way to « Créer un
            # point ici » (a click on the map).
            "may_create": bool(config["createUrl"]),
            "statuses": statuses,
            "map_config": json.dumps(config),
            "has_reports": "reports" in api,
            "has_operations": "operations" in api,
            "has_proposals": "proposals" in api,
            "has_hotspots": "hotspots" in api,
            # Reports and operations take the period only: said when another filter applies
            # (operations on dismantled points were drawn under « Statut : Confirmé »).
            "period_only": usable and any(name not in PERIOD_FIELDS for name in active),
            "hotspot_scope": _hotspot_scope(
                filterset, names=hotspot_filters, offered=layer_filters
            ),
            "aggregate_hint": counts_only,
            # A landlord (`selectors.ListMode.REDUCED`: coordinates, some fields): its points,
            # at every zoom (the page says so, and why a view is empty).
            "reduced_view": not counts_only and not detailed,
            # The smallest count a counts-only role is shown (CARTOSTUP_MIN_AGGREGATE).
            "min_aggregate": scope.min_count,
            # The legend shows what this role receives: markers for those who receive points
            # (never the counts-only roles), hexagons for those who receive counts (never a
            # landlord, who receives its points one by one at every zoom).
            "legend_points": scope.coordinates,
            "legend_hexagons": detailed,
        },
    )


# The largest id a point may have (a 64-bit key): a longer number names no point.
MAX_POINT_ID = 2**63 - 1


def _linked_point(value: str, *, by_code: bool) -> tuple[str, str]:
    """The point a link (`/carte/?point=…`) opens: its id, or its partner code for a reduced
    view (a landlord), with "" as the error; or "" and what to say in the panel when the link
    names no point (« abc », « -1 », « 1e3 »: nothing happened, where a missing point is
    said)."""
    value = value.strip()
    if not value:
        return "", ""
    if by_code:
        code = normalise_partner_code(value)
        if code:
            return code, ""
        return "", _(
            "Lien vers un point invalide : « %(value)s » n’est pas un code de point de deal "
            "(10 lettres et chiffres, par exemple ABCDE-12345)."
        ) % {"value": value[:40]}
    if value.isascii() and value.isdigit():
        if int(value) <= MAX_POINT_ID:
            return value, ""
        return "", _("Point de deal introuvable : il n’existe pas ou vous ne pouvez pas le voir.")
    return "", _(
        "Lien vers un point invalide : « %(value)s » n’est pas un numéro de point de deal "
        "(un nombre entier positif, par exemple 42)."
    ) % {"value": value[:40]}


def _hotspot_scope(filterset: DealPointFilterSet, *, names: list[str], offered: list[str]) -> str:
    """What the hotspots layer counts, said under the map: the points of the département the
    dealpoints layer counts, through the page's filters it receives (`names`: those of a
    valid form this role may use), the period first (active during it), then the values of the
    others, or, when none is chosen, which of the page's filters (`offered`) it follows."""
    cleaned = filterset.form.cleaned_data if names and filterset.is_bound else {}
    start = cleaned.get("active_from") if "active_from" in names else None
    end = cleaned.get("active_to") if "active_to" in names else None
    days = {
        "start": date_format(start, "d/m/Y") if start else "",
        "end": date_format(end, "d/m/Y") if end else "",
    }
    if start and end:
        counted = _(
            "La couche « Points chauds » compte les points de deal du département actifs "
            "entre le %(start)s et le %(end)s."
        )
    elif start:
        counted = _(
            "La couche « Points chauds » compte les points de deal du département actifs le "
            "%(start)s ou après."
        )
    elif end:
        counted = _(
            "La couche « Points chauds » compte les points de deal du département déjà "
            "signalés le %(end)s ou avant."
        )
    else:
        counted = _(
            "La couche « Points chauds » compte les points de deal du département, quelle "
            "que soit leur période d'activité."
        )
    chosen = []
    for name in names:
        if name in PERIOD_FIELDS or not cleaned.get(name):
            continue
        values = cleaned[name] if isinstance(cleaned[name], list | tuple) else [cleaned[name]]
        labels = dict(filterset.form.fields[name].choices)
        chosen.append(
            f"{filterset.base_filters[name].label} : "
            + ", ".join(str(labels.get(value, value)) for value in values)
        )
    if chosen:
        return " ".join(
            [
                counted % days,
                _("Filtres appliqués, comme à la couche « Points de deal » : %(filters)s.")
                % {"filters": " ; ".join(chosen)},
            ]
        )
    followed = [
        f"« {filterset.base_filters[name].label} »" for name in offered if name not in PERIOD_FIELDS
    ]
    if not followed:
        return counted % days
    return " ".join(
        [
            counted % days,
            ngettext(
                "Elle suit le filtre %(filters)s de la carte, comme la couche « Points de deal ».",
                "Elle suit les filtres %(filters)s de la carte, comme la couche "
                "« Points de deal ».",
                len(followed),
            )
            % {"filters": join_names(followed)},
        ]
    )


def _filters_title(count: int) -> str:
    """The title of the folded filters: « Filtrer les couches (2 filtres actifs) »."""
    if not count:
        return _("Filtrer les couches")
    return ngettext(
        "Filtrer les couches (%(count)s filtre actif)",
        "Filtrer les couches (%(count)s filtres actifs)",
        count,
    ) % {"count": count}


def _filters_summary(filterset: DealPointFilterSet, *, names: list[str]) -> list[str]:
    """« Statut : Signalé, Confirmé », « Actif à partir du : 01/11/2026 »: the filters of a
    valid form that apply, said under the folded filters."""
    if not names or not filterset.is_bound:
        return []
    cleaned = filterset.form.cleaned_data
    said = []
    for name in names:
        value = cleaned.get(name)
        if not value:
            continue
        label = filterset.base_filters[name].label
        if name in PERIOD_FIELDS:
            said.append(f"{label} : {date_format(value, 'd/m/Y')}")
            continue
        values = value if isinstance(value, list | tuple) else [value]
        labels = dict(filterset.form.fields[name].choices)
        said.append(f"{label} : " + ", ".join(str(labels.get(v, v)) for v in values))
    return said


def join_names(items: list[str]) -> str:
    """« a », « b » et « c »."""
    if len(items) == 1:
        return items[0]
    return _("%(first)s et %(last)s") % {"first": ", ".join(items[:-1]), "last": items[-1]}


def _buildings_bounds(actor: User) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the buildings a landlord manages: its map opens on
    them (it sees only the points there) rather than on the whole département, where they
    would lie on top of one another."""
    box = access_selectors.building_managed_list(actor=actor).aggregate(
        south=Min("latitude"), west=Min("longitude"), north=Max("latitude"), east=Max("longitude")
    )
    if box["south"] is None:
        return None
    return [[box["south"], box["west"]], [box["north"], box["east"]]]


def map_panel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The side panel of one deal point (an HTML fragment): the record as the actor may see
    it (404 if not), with links to its page. The read is audited."""
    policy.require(request.user, policy.Capability.VIEW_MAP)
    return _panel(request, access_dealpoint(actor=request.user, pk=pk))


def map_panel_by_code(request: AuthenticatedRequest, code: str) -> HttpResponse:
    """The side panel of a point found by its partner code (a landlord's map)."""
    policy.require(request.user, policy.Capability.VIEW_MAP)
    return _panel(request, access_dealpoint_by_code(actor=request.user, code=code))


def _panel(request: AuthenticatedRequest, dealpoint: DealPoint) -> HttpResponse:
    actor = request.user
    reduced = policy.visible_fields(actor, DealPoint) is not None
    status = told_value(actor=actor, name="status", value=dealpoint.status)
    context: dict[str, Any] = {
        "dealpoint": dealpoint,
        # A merged point says so, and names the point it went into if the actor sees it (a
        # landlord never reaches a merged point: it finds points standing on their own).
        "merged": dealpoint.merged_into_id is not None,
        # What names the point: its partner code for a reduced view, never its reference.
        "point_label": getattr(dealpoint, dealpoint_name_field(actor=actor)),
        "reduced": reduced,
        "status": status,
        "status_label": DealPointStatus(status).label,
    }
    if reduced:
        # The week of the last report (never of an operation), as the list says it.
        context["last_report_week"] = week_start(dealpoint.last_reported_at)
    else:
        # Counted as the API and the export count them (a merged record's raids included).
        counted = exchange.with_counts(DealPoint.objects.filter(pk=dealpoint.pk), actor=actor).get()
        context.update(
            {
                "detail_url": dealpoint_detail_url(dealpoint.pk),
                "report_count": getattr(counted, "reports_count"),  # noqa: B009 (annotated)
                "operation_count": getattr(counted, "operations_count"),  # noqa: B009
                # No address is said as none ("—"): the commune is not an address.
                "address": _address(dealpoint),
                "products": _labels(dealpoint.products),
                "hours": hours_labels(dealpoint.opening_hours),
                "map_url": _map_url(dealpoint.pk),
            }
        )
        merged_into = (
            dealpoint_merged_into(actor=actor, dealpoint=dealpoint)
            if dealpoint.merged_into_id
            else None
        )
        if merged_into is not None:
            context["merged_into"] = merged_into
            context["merged_into_url"] = _map_url(merged_into.pk)
    response = render(request, "dealpoints/map/panel.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _address(dealpoint: DealPoint) -> str:
    """« 12 rue X – bât. B, cage 2 », the parts the point has ("" if none)."""
    place = []
    if dealpoint.building_label:
        place.append(_("bât. %(label)s") % {"label": dealpoint.building_label})
    if dealpoint.stairwell_label:
        place.append(_("cage %(label)s") % {"label": dealpoint.stairwell_label})
    return " – ".join(part for part in (dealpoint.address, ", ".join(place)) if part)


def _map_url(pk: int) -> str:
    return f"{reverse('dealpoints:map')}?{urlencode({'point': pk})}"


def _labels(values: list[str]) -> list[str]:
    labels = dict(Product.choices)
    return [str(labels.get(value, value)) for value in values]
