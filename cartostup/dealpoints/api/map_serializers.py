"""Input and output of the map layers API (/api/v1/map/), one pair per layer."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cartostup.core.api import ErrorSerializer, PeriodQueryMixin, date_query_field
from cartostup.reports.choices import Status as ReportStatus

from ..hotspots import SOURCES
from ..map_layers import BOUNDARY_KINDS, MAX_ZOOM, MIN_ZOOM, BBox
from .serializers import (
    DealPointFilterQuerySerializer,
    dealpoint_channel_query_field,
    dealpoint_product_query_field,
    dealpoint_status_query_field,
    departement_field,
)


class LayerInputSerializer(serializers.Serializer):
    """The viewport: every layer but the boundaries and the hotspots takes it."""

    bbox = serializers.CharField(
        help_text=_("Emprise ouest,sud,est,nord en degrés WGS84 (ex. 5.30,43.30,5.45,43.38)."),
        max_length=200,
    )
    zoom = serializers.IntegerField(
        min_value=MIN_ZOOM,
        max_value=MAX_ZOOM,
        help_text=_(
            "Niveau de zoom (0 à 19) : jusqu'à 7 hexagones H3 rés. 5, jusqu'à 10 rés. 7, "
            "jusqu'à 13 rés. 9, à partir de 14 les points (si votre rôle y a droit)."
        ),
        error_messages={
            "invalid": _("Le zoom doit être un nombre entier entre 0 et 19."),
            "min_value": _("Le zoom doit être compris entre 0 et 19."),
            "max_value": _("Le zoom doit être compris entre 0 et 19."),
            "required": _("Indiquez le niveau de zoom (zoom)."),
        },
    )

    def validate_bbox(self, value: str) -> BBox:
        parts = [part.strip() for part in value.split(",")]
        if len(parts) != 4:
            raise serializers.ValidationError(
                _("L'emprise doit compter quatre nombres : ouest,sud,est,nord.")
            )
        try:
            west, south, east, north = (float(part) for part in parts)
        except ValueError:
            raise serializers.ValidationError(
                _("L'emprise doit compter quatre nombres : ouest,sud,est,nord.")
            ) from None
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            raise serializers.ValidationError(_("L'emprise doit compter des nombres finis."))
        if not (-180 <= west <= 180 and -180 <= east <= 180):
            raise serializers.ValidationError(
                _("Les longitudes de l'emprise doivent être comprises entre -180 et 180.")
            )
        if not (-90 <= south <= 90 and -90 <= north <= 90):
            raise serializers.ValidationError(
                _("Les latitudes de l'emprise doivent être comprises entre -90 et 90.")
            )
        if west >= east or south >= north:
            raise serializers.ValidationError(
                _("L'emprise est vide : l'ouest doit précéder l'est et le sud le nord.")
            )
        return BBox(west, south, east, north)


class DealPointLayerInputSerializer(LayerInputSerializer, DealPointFilterQuerySerializer):
    """The viewport and the deal points filter set's parameters (status, product, channel,
    active_from, active_to, departement...), checked strictly like the list's; which of them
    the actor may use is the policy's (`selectors.dealpoint_refused_filters`)."""

    def filter_data(self) -> dict[str, Any]:
        data = super().filter_data()
        for name in ("bbox", "zoom"):  # the viewport's, not filters
            data.pop(name, None)
        return data


class PeriodInputSerializer(PeriodQueryMixin, LayerInputSerializer):
    period_from = date_query_field(help_text=_("Du (AAAA-MM-JJ)."))
    period_to = date_query_field(help_text=_("Au (AAAA-MM-JJ)."))


class ReportLayerInputSerializer(PeriodQueryMixin, LayerInputSerializer):
    period_fields = ("received_from", "received_to")

    status = serializers.ListField(
        child=serializers.ChoiceField(choices=ReportStatus.choices),
        required=False,
        help_text=_("Statuts de tri (répétable)."),
    )
    received_from = date_query_field(help_text=_("Reçus à partir du."))
    received_to = date_query_field(help_text=_("Reçus jusqu'au."))


class HotspotInputSerializer(PeriodQueryMixin, serializers.Serializer):
    """The département, what is counted, and the filters: the deal-points layer's status,
    product and channel (same names and values), and a period whose meaning depends on what
    is counted. Which of them the actor may use is the policy's
    (`map_layers.dealpoint_filter_data`)."""

    departement = departement_field(help_text=_("Code du département (ex. 13, 2A)."))
    counted = serializers.ChoiceField(
        choices=[(s, s) for s in SOURCES],
        default="dealpoints",
        help_text=_("Compter les points de deal (dealpoints) ou les signalements (reports)."),
    )
    status = dealpoint_status_query_field(
        help_text=_(
            "Statut des points de deal comptés (répétable ; une seule valeur pour la "
            "préfecture et le parquet). Avec counted=dealpoints seulement."
        )
    )
    product = dealpoint_product_query_field(
        help_text=_(
            "Produit vendu (répétable). Avec counted=dealpoints seulement ; refusé à la "
            "préfecture et au parquet."
        )
    )
    channel = dealpoint_channel_query_field(
        help_text=_(
            "Mode de distribution (répétable). Avec counted=dealpoints seulement ; refusé à la "
            "préfecture et au parquet."
        )
    )
    period_from = date_query_field(
        help_text=_(
            "Début de la période (AAAA-MM-JJ ou JJ/MM/AAAA). Points de deal : actifs à partir "
            "de ce jour (dernière activité ce jour ou après) ; signalements : reçus à partir "
            "de ce jour. Refusé à la préfecture et au parquet."
        )
    )
    period_to = date_query_field(
        help_text=_(
            "Fin de la période. Points de deal : déjà signalés ce jour ou avant (leur activité "
            "recoupe la période) ; signalements : reçus jusqu'à ce jour. Refusé à la "
            "préfecture et au parquet."
        )
    )


class BoundaryInputSerializer(serializers.Serializer):
    departement = departement_field(help_text=_("Code du département (ex. 13, 2A)."))
    kind = serializers.ChoiceField(
        choices=[(kind, kind) for kind in BOUNDARY_KINDS],
        default="communes",
        help_text=_("communes (et arrondissements), qpv ou departement (contour)."),
        error_messages={
            "invalid_choice": _("Type de limite inconnu : communes, qpv ou departement.")
        },
    )


# --- output --------------------------------------------------------------------------------------


class GeometrySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Point", "Polygon", "MultiPolygon"])
    coordinates = serializers.JSONField(help_text=_("Longitude puis latitude (GeoJSON)."))


class FeatureSerializer(serializers.Serializer):
    type = serializers.CharField(default="Feature")
    geometry = GeometrySerializer()
    properties = serializers.DictField(
        help_text=_(
            "Hexagone : kind=hexagon, cell, place (la commune qui en compte le plus, jamais "
            "celle du centre ; pour les comptes agrégés, une commune qui en compte au moins "
            "CARTOSTUP_MIN_AGGREGATE, sinon la ville ou le département, sinon vide), "
            "resolution, count, by_status ; pour les comptes agrégés, compté "
            "département par département, chaque part d'au moins CARTOSTUP_MIN_AGGREGATE. "
            "Point : kind, id, reference, status... selon le rôle (un point de deal ou un "
            "signalement donne l'adresse de sa page, url ; une opération celle de son point, "
            "dealpoint_url ; une proposition id, created, place, precision, precision_label, "
            "accept_url et queue_url) ; pour un bailleur : kind, code, status, status_label, "
            "last_activity_week (le lundi de la semaine du dernier signalement, AAAA-MM-JJ, "
            "comme dans l'API des points et les exports), building, url (sa page du point, par "
            "le code). Cellule des points chauds : kind=hotspot, cell, place (nommée comme un "
            "hexagone), resolution, count, z, p, class (hot, cold ou not_significant)."
        )
    )


class LayerMetaSerializer(serializers.Serializer):
    layer = serializers.CharField()
    zoom = serializers.IntegerField(allow_null=True, required=False)
    resolution = serializers.IntegerField(allow_null=True)
    representation = serializers.ChoiceField(choices=["points", "hexagons"], required=False)
    count = serializers.IntegerField(required=False)
    truncated = serializers.BooleanField(required=False)
    min_count = serializers.IntegerField(required=False)
    coordinates = serializers.BooleanField(required=False)


class LayerOutputSerializer(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    features = FeatureSerializer(many=True)
    meta = LayerMetaSerializer()


class HotspotMetaSerializer(serializers.Serializer):
    layer = serializers.CharField()
    resolution = serializers.IntegerField()
    departement = serializers.CharField()
    counted = serializers.CharField()
    inference = serializers.CharField(
        help_text=_("Calcul des p-valeurs : loi exacte sous l'hypothèse de répartition au hasard.")
    )
    alpha = serializers.FloatField()
    p_threshold = serializers.FloatField(
        help_text=_(
            "Seuil FDR (Benjamini-Hochberg, esda) : une cellule est significative si sa p-valeur "
            "lui est inférieure ; alpha / n (Bonferroni) quand aucune ne l'est."
        )
    )
    min_count = serializers.IntegerField()
    hot = serializers.IntegerField()
    cold = serializers.IntegerField()


class HotspotOutputSerializer(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    features = FeatureSerializer(many=True)
    meta = HotspotMetaSerializer()


class BoundaryOutputSerializer(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    features = FeatureSerializer(many=True)


class MapErrorSerializer(ErrorSerializer):
    pass
