"""Territory pages: scope, map container, accessible table, audit."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.territories.models import Departement

pytestmark = pytest.mark.django_db


def views_of(departement: Departement):
    return AuditEvent.objects.filter(
        action=AuditAction.VIEW,
        object_type="territories.departement",
        object_id=str(departement.pk),
    )


def test_index_lists_only_the_departements_in_scope(client_for):
    response = client_for("cross13_analyst").get(reverse("territories:index"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Bouches-du-Rhône" in content
    assert reverse("territories:departement", args=["13"]) in content
    assert "Seine-Saint-Denis" not in content
    assert [d.code for d in response.context["departements"]] == ["13"]


def test_index_for_national_scope(client_for):
    response = client_for("ofast_analyst").get(reverse("territories:index"))
    assert len(response.context["departements"]) == 101


def test_departement_page_writes_numbers_the_french_way(client_for):
    """« 142482 » and « 13080,13090 » became « 142 482 » and « 13080, 13090 »; codes (INSEE,
    postcodes) are never grouped."""
    from cartostup.territories.models import Commune

    commune = (
        Commune.objects.filter(departement__code="13", population__gte=100_000)
        .exclude(postcodes="")
        .order_by("code")
        .first()
    )
    several = Commune.objects.filter(departement__code="13", postcodes__contains=",").first()
    assert commune is not None and commune.population is not None and several is not None
    page = client_for("cross13_analyst").get(reverse("territories:departement", args=["13"]))
    content = page.content.decode()
    population = commune.population
    grouped = f"{population // 1000}\xa0{population % 1000:03d}"
    assert f"<td>{grouped}</td>" in content
    assert f"<td>{population}</td>" not in content
    assert f"<td>{commune.code}</td>" in content
    assert f"<td>{several.postcodes.replace(',', ', ')}</td>" in content
    assert f"<td>{several.postcodes}</td>" not in content


def test_index_refused_without_the_capability(client_for):
    assert client_for("caller_operator").get(reverse("territories:index")).status_code == 404


def test_departement_page(client_for):
    departement = Departement.objects.get(code="13")
    response = client_for("cross13_analyst").get(reverse("territories:departement", args=["13"]))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="territory-map"' in content
    assert 'aria-label="Carte des communes du département Bouches-du-Rhône"' in content
    assert (
        f'data-geojson-url="{reverse("territories:departement_geojson", args=["13"])}"' in content
    )
    assert "<td>Marseille 1er Arrondissement</td>" in content
    assert "<td>13201</td>" in content
    assert "Antenne Ofast : Marseille" in content
    assert "leaflet/leaflet.js" in content and "territories/map.js" in content
    assert 'data-tile-url=""' in content
    # Content-Security-Policy: no inline script without nonce, no inline style.
    assert not re.search(r"<script(?![^>]*(src|nonce)=)[^>]*>", content)
    assert "style=" not in content.split("<main", 1)[-1].split("</main>")[0]
    events = views_of(departement)
    assert events.count() == 1
    assert events.get().actor_username == "cross13_analyst"


def test_departement_outside_scope_is_404_and_not_audited(client_for):
    departement = Departement.objects.get(code="93")
    client = client_for("cross13_analyst")
    assert client.get(reverse("territories:departement", args=["93"])).status_code == 404
    assert client.get(reverse("territories:departement_geojson", args=["93"])).status_code == 404
    assert client.get(reverse("territories:departement", args=["99"])).status_code == 404
    assert not views_of(departement).exists()


def test_departement_without_communes(client_for):
    response = client_for("ofast_analyst").get(reverse("territories:departement", args=["01"]))
    assert response.status_code == 200
    assert 'id="territory-map"' not in response.content.decode()
    assert "ne sont pas chargées" in response.content.decode()


def test_tile_layer_only_when_configured(client_for, settings):
    settings.CARTOSTUP_TILE_URL = "https://tuiles.example.gouv.fr/{z}/{x}/{y}.png"
    response = client_for("cross13_analyst").get(reverse("territories:departement", args=["13"]))
    assert (
        'data-tile-url="https://tuiles.example.gouv.fr/{z}/{x}/{y}.png"'
        in response.content.decode()
    )


def test_geojson_layer(client_for):
    response = client_for("cross13_analyst").get(
        reverse("territories:departement_geojson", args=["13"])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    collection = json.loads(response.content)
    communes = [f for f in collection["features"] if f["properties"]["layer"] == "commune"]
    codes = {f["properties"]["code"] for f in communes}
    # 118 communes with a geometry (Marseille itself has none) and 16 arrondissements.
    assert len(communes) >= 130
    assert "13201" in codes and "13055" not in codes
    assert all(f["geometry"]["type"] in {"Polygon", "MultiPolygon"} for f in communes)
    assert not [f for f in collection["features"] if f["properties"]["layer"] == "qpv"]


def test_geojson_includes_qpv_once_imported(client_for, qpv_imported):
    client = client_for("cross13_analyst")
    collection = json.loads(
        client.get(reverse("territories:departement_geojson", args=["13"])).content
    )
    qpv = {
        f["properties"]["code"] for f in collection["features"] if f["properties"]["layer"] == "qpv"
    }
    assert qpv == {"QN01391M", "QN01392M", "QN01393M"}
    page = client.get(reverse("territories:departement", args=["13"])).content.decode()
    assert "Les Oliviers (fictif) (QN01391M)" in page


def test_static_files_exist():
    from django.contrib.staticfiles import finders

    for path in (
        "territories/map.js",
        "territories/map.css",
        "leaflet/leaflet.js",
        "leaflet/leaflet.css",
    ):
        assert finders.find(path), path
