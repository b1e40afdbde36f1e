"""Input and output of the territories API (one pair per action)."""

from __future__ import annotations

import math

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cartostup.core.api import ErrorSerializer


class LocateInputSerializer(serializers.Serializer):
    latitude = serializers.FloatField(
        min_value=-90,
        max_value=90,
        help_text=_("Latitude WGS84 en degrés décimaux (ex. 43.2951)."),
    )
    longitude = serializers.FloatField(
        min_value=-180,
        max_value=180,
        help_text=_("Longitude WGS84 en degrés décimaux (ex. 5.3740)."),
    )

    def _finite(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError(_("Un nombre fini est requis."))
        return value

    def validate_latitude(self, value: float) -> float:
        return self._finite(value)

    def validate_longitude(self, value: float) -> float:
        return self._finite(value)


class LocateOutputSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    commune_code = serializers.CharField(
        help_text=_("Code INSEE de la commune ou de l'arrondissement.")
    )
    commune_name = serializers.CharField()
    commune_kind = serializers.CharField(
        help_text=_("COM (commune) ou ARM (arrondissement municipal).")
    )
    departement_code = serializers.CharField()
    departement_name = serializers.CharField()
    antennas = serializers.ListField(child=serializers.CharField(), help_text=_("Antennes Ofast."))
    qpv_code = serializers.CharField(allow_null=True)
    qpv_name = serializers.CharField(allow_null=True)
    distance_m = serializers.FloatField(
        help_text=_(
            "0 si le point est dans la commune ; sinon distance (m) à la commune la plus proche, "
            "dans la tolérance des contours simplifiés."
        )
    )


class LocateErrorSerializer(ErrorSerializer):
    """Invalid parameters (with `errors` per field) or a point outside the loaded territory."""

    schema_description = _(
        "Paramètres invalides (avec `errors` par champ) ou point hors du territoire chargé."
    )
