"""Territory pages: the départements an actor may see, and each one's map and communes."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import selectors


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    departements = selectors.departement_list(actor=request.user)
    return render(
        request,
        "territories/index.html",
        {"departements": departements, "page_title": _("Territoires")},
    )


@require_GET
def departement(request: HttpRequest, code: str) -> HttpResponse:
    departement = selectors.departement_view(actor=request.user, code=code)
    communes = selectors.departement_communes(actor=request.user, departement=departement)
    neighbourhoods = selectors.departement_priority_neighbourhoods(
        actor=request.user, departement=departement
    )
    return render(
        request,
        "territories/departement.html",
        {
            "departement": departement,
            "communes": communes,
            "neighbourhoods": neighbourhoods,
            "antennas": list(departement.antennas.all()),
            "page_title": str(departement),
            "geojson_url": reverse("territories:departement_geojson", args=[departement.code]),
            "tile_url": settings.CARTOSTUP_TILE_URL,
            "tile_attribution": settings.CARTOSTUP_TILE_ATTRIBUTION,
        },
    )


@require_GET
def departement_geojson(request: HttpRequest, code: str) -> HttpResponse:
    # The page that loads this layer has recorded the consultation already.
    payload = selectors.departement_geojson(actor=request.user, code=code)
    response = HttpResponse(payload, content_type="application/geo+json")
    response["Cache-Control"] = "private, max-age=3600"
    return response
