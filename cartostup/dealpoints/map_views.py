"""The map (/carte/) and its side panel: thin views, access decided by the policy (VIEW_MAP,
then each layer's selector in `map_layers`)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import Max, Min
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from cartostup.access import policy
from cartostup.access import selectors as access_selectors
from cartostup.access.models import User
from cartostup.core.dates import week_start
from cartostup.territories import selectors as territory_selectors

from . import map_layers
from .choices import (
    ACTIVE_STATUSES,
    DealPointStatus,
    LinkDecision,
    Product,
    TimeOfDay,
    Weekday,
)
from .filters import (
    DealPointCountFilterSet,
    DealPointFilterSet,
    filter_error_messages,
    told_status_field,
)
from .models import DealPoint, normalise_partner_code
from .selectors import (
    access_dealpoint,
    access_dealpoint_by_code,
    dealpoint_allowed_filters,
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


def map_page(request: AuthenticatedRequest) -> HttpResponse:
    """The map of deal points: layers the actor's role allows, filters, side panel."""
    actor = request.user
    policy.require(actor, policy.Capability.VIEW_MAP)
    code = (request.GET.get("departement") or "").strip()[:3]
    if code:
        boundary_codes = [territory_selectors.departement_get(actor=actor, code=code).code]
    else:
        codes = [
            departement.code
            for departement in territory_selectors.departement_list(actor=actor)
            if getattr(departement, "commune_count", 0)
        ][: MAP_BOUNDARY_DEPARTEMENTS + 1]
        boundary_codes = codes if len(codes) <= MAP_BOUNDARY_DEPARTEMENTS else []
    point = request.GET.get("point", "")
    scope = policy.aggregate_scope(dealpoint_queryset().none(), actor=actor)
    counts_only = not scope.coordinates
    filterset_class = DealPointCountFilterSet if scope.one_value_each else DealPointFilterSet
    # The filters map.js sends the dealpoints layer: one the actor may not use (a hand-made
    # link) or a reversed period is said in the form, as the layer's 400 will say it.
    sent = QueryDict(mutable=True)
    for name in FILTER_FIELDS:
        if name in request.GET:
            sent.setlist(name, request.GET.getlist(name))
    filterset = filterset_class(sent or None, queryset=dealpoint_queryset().none())
    form = filterset.form
    allowed = dealpoint_allowed_filters(actor=actor)
    refused = dealpoint_refused_filters(actor=actor, data=sent)
    statuses = dealpoint_status_choices(actor=actor)
    # A reduced view (a landlord) filters on the statuses it can be told; any other is refused
    # like an unknown one, as the layer refuses it.
    told_status_field(
        form, choices=statuses, message=unknown_status_message(actor=actor, codes=False)
    )
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
    if detailed:
        api["operations"] = reverse("map-operations")
        api["hotspots"] = reverse("map-hotspots")
    config = {
        "api": api,
        "boundaryDepartements": boundary_codes,
        "focusDepartement": code,
        # A link to one point: by id, or by partner code for a reduced view (a landlord).
        "point": (normalise_partner_code(point) or "")
        if by_code
        else (point if point.isascii() and point.isdigit() else ""),
        # A reduced view (a landlord) names points by their partner code, never their id.
        "panelUrl": reverse("dealpoints:map_panel", args=[0]).replace("/0/", "/{pk}/")
        if not by_code
        else reverse("dealpoints:map_panel_by_code", args=["0"]).replace("/0/", "/{pk}/"),
        "createUrl": _reverse_or("dealpoints:create", "/points-de-deal/nouveau/")
        if policy.can(actor, policy.Capability.EDIT_DEALPOINTS)
        else "",
        "proposalsUrl": _reverse_or("dealpoints:matching", "/rapprochements/")
        if map_layers.may_see_proposal_layer(actor)
        else "",
        "tileUrl": settings.CARTOSTUP_TILE_URL,
        "tileAttribution": settings.CARTOSTUP_TILE_ATTRIBUTION,
        "statuses": dict(statuses),
        "activeStatuses": sorted(set(ACTIVE_STATUSES) & set(dict(statuses))),
        "startBounds": None if detailed else _buildings_bounds(actor),
        # To say a layer's 400 next to the filters: « Produit : ... ».
        "filterLabels": {name: str(filterset.base_filters[name].label) for name in FILTER_FIELDS},
    }
    return render(
        request,
        "dealpoints/map/map.html",
        {
            "page_title": _("Carte des points de deal"),
            "filter_form": form,
            "filter_errors": filter_error_messages(filterset, refused),
            # A reduced view (a landlord) filters only on what it receives.
            "filter_fields": [
                form[name] for name in FILTER_FIELDS if name in form.fields and name in allowed
            ],
            "statuses": statuses,
            "map_config": json.dumps(config),
            "has_reports": "reports" in api,
            "has_operations": "operations" in api,
            "has_proposals": "proposals" in api,
            "has_hotspots": "hotspots" in api,
            "aggregate_hint": counts_only,
        },
    )


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
        context.update(
            {
                "detail_url": dealpoint_detail_url(dealpoint.pk),
                "report_count": dealpoint.links.filter(
                    decision__in=[LinkDecision.AUTOMATIC, LinkDecision.CONFIRMED]
                ).count(),
                "operation_count": dealpoint.operations.count(),
                "products": _labels(dealpoint.products),
                "hours": _hours(dealpoint.opening_hours),
                "map_url": f"{reverse('dealpoints:map')}?{urlencode({'point': dealpoint.pk})}",
            }
        )
    response = render(request, "dealpoints/map/panel.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _labels(values: list[str]) -> list[str]:
    labels = dict(Product.choices)
    return [str(labels.get(value, value)) for value in values]


def _hours(tokens: list[str]) -> list[str]:
    """« fri:evening » → « Vendredi, soirée »."""
    days, times = dict(Weekday.choices), dict(TimeOfDay.choices)
    shown = []
    for token in tokens:
        day, _sep, time = str(token).partition(":")
        shown.append(f"{days.get(day, day)}, {str(times.get(time, time)).lower()}")
    return shown
