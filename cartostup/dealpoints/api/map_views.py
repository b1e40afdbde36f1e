"""Map layers API (/api/v1/map/): thin views, parse, call one selector of `map_layers` or
`hotspots`, answer GeoJSON. Access is decided by the policy inside the selectors."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from cartostup.access.models import User
from cartostup.core.api import READS_QUERY, CartostupAPIView, strict_query
from cartostup.dealpoints import hotspots, map_layers, selectors

from .map_serializers import (
    BoundaryInputSerializer,
    BoundaryOutputSerializer,
    DealPointLayerInputSerializer,
    HotspotInputSerializer,
    HotspotOutputSerializer,
    LayerInputSerializer,
    LayerOutputSerializer,
    MapErrorSerializer,
    PeriodInputSerializer,
    ReportLayerInputSerializer,
)

TAGS = ["carte"]
ERRORS = {
    400: OpenApiResponse(MapErrorSerializer, description="Paramètres invalides (en français)."),
    403: OpenApiResponse(
        MapErrorSerializer, description="Session sans second facteur vérifié, ou jeton CSRF absent."
    ),
    404: OpenApiResponse(
        MapErrorSerializer,
        description=(
            "Couche non accessible à votre rôle, ou (points chauds, limites) département "
            "inconnu ou hors de votre territoire : l'un et l'autre répondent de même."
        ),
    ),
}


def _request(params: Any) -> map_layers.LayerRequest:
    return map_layers.LayerRequest(
        bbox=params.validated_data["bbox"], zoom=params.validated_data["zoom"]
    )


class DealPointLayerView(CartostupAPIView):
    query_methods = READS_QUERY
    # Its parameters (the need-to-know tests check that each is placed in their matrix).
    query_serializer = DealPointLayerInputSerializer

    @extend_schema(
        operation_id="map_dealpoints",
        summary="Couche des points de deal",
        description=(
            "Points de deal visibles dans l'emprise : hexagones H3 (comptes par statut) aux "
            "zooms larges, points à partir du zoom 14. Les rôles qui ne voient que des agrégats "
            "(préfecture, parquet) ne reçoivent que des hexagones (rés. 9 au plus fin) d'au "
            "moins CARTOSTUP_MIN_AGGREGATE points, comptés département par département ; un "
            "bailleur ne reçoit que les points de ses "
            "bâtiments, placés sur le bâtiment. Les filtres sont ceux de la liste ; un filtre "
            "que votre rôle ne peut pas utiliser (produit, mode de distribution ou période pour "
            "les comptes agrégés, qui ne se filtrent que par statut et département ; tout "
            "autre que le statut pour un bailleur), un paramètre inconnu ou une période dont "
            "la fin précède le début répondent 400, jamais un filtre ignoré. Consultation "
            "journalisée."
        ),
        parameters=[query_serializer],
        responses={200: LayerOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = strict_query(
            self.query_serializer,
            request,
            refused=selectors.dealpoint_refused_values(
                actor=cast(User, request.user), data=request.query_params
            ),
        )
        layer = map_layers.dealpoint_layer(
            actor=request.user, request=_request(params), filters=params.filter_data()
        )
        return Response(layer.as_geojson())


class ReportLayerView(CartostupAPIView):
    query_methods = READS_QUERY
    # Its parameters (the need-to-know tests check that each is placed in their matrix).
    query_serializer = ReportLayerInputSerializer

    @extend_schema(
        operation_id="map_reports",
        summary="Couche des signalements",
        description=(
            "Signalements visibles dans l'emprise (analystes seulement), en hexagones ou en "
            "points selon le zoom. Consultation journalisée."
        ),
        parameters=[query_serializer],
        responses={200: LayerOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = strict_query(self.query_serializer, request)
        data = params.validated_data
        layer = map_layers.report_layer(
            actor=request.user,
            request=_request(params),
            statuses=data.get("status", []),
            received_from=data.get("received_from"),
            received_to=data.get("received_to"),
        )
        return Response(layer.as_geojson())


class OperationLayerView(CartostupAPIView):
    query_methods = READS_QUERY
    # Its parameters (the need-to-know tests check that each is placed in their matrix).
    query_serializer = PeriodInputSerializer

    @extend_schema(
        operation_id="map_operations",
        summary="Couche des opérations",
        description=(
            "Opérations sur les points de deal visibles, placées sur leur point (hexagones aux "
            "zooms larges et pour les rôles qui ne voient que des agrégats : comptées "
            "département par département, une part ou un type n'apparaît qu'à partir de "
            "CARTOSTUP_MIN_AGGREGATE points distincts). La période "
            "(period_from, period_to) n'est pas ouverte aux comptes agrégés (préfecture, "
            "parquet) : 400, jamais un filtre ignoré. Journalisée."
        ),
        parameters=[query_serializer],
        responses={200: LayerOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = strict_query(self.query_serializer, request)
        layer = map_layers.operation_layer(
            actor=request.user,
            request=_request(params),
            period_from=params.validated_data.get("period_from"),
            period_to=params.validated_data.get("period_to"),
        )
        return Response(layer.as_geojson())


class ProposalLayerView(CartostupAPIView):
    query_methods = READS_QUERY
    # Its parameters (the need-to-know tests check that each is placed in their matrix).
    query_serializer = LayerInputSerializer

    @extend_schema(
        operation_id="map_proposals",
        summary="Couche des propositions de points à examiner",
        description=(
            "Propositions ouvertes de nouveaux points de deal (analystes) : chacune donne sa "
            "commune (place), sa précision (precision, precision_label), la page qui crée le "
            "point à partir d'elle (accept_url) et sa ligne dans la file des rapprochements "
            "(queue_url). Journalisée."
        ),
        parameters=[query_serializer],
        responses={200: LayerOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = strict_query(self.query_serializer, request)
        layer = map_layers.proposal_layer(actor=request.user, request=_request(params))
        return Response(layer.as_geojson())


class HotspotLayerView(CartostupAPIView):
    query_methods = READS_QUERY
    # Its parameters (the need-to-know tests check that each is placed in their matrix).
    query_serializer = HotspotInputSerializer

    @extend_schema(
        operation_id="map_hotspots",
        summary="Points chauds (Getis-Ord Gi*)",
        description=(
            "Cellules H3 rés. 9 d'un département : Gi* avec p-valeur bilatérale exacte sous "
            "l'hypothèse de répartition au hasard et correction FDR (alpha 0,05) ; classes hot "
            "(significatif, z > 0), cold (significatif, z < 0), not_significant avec z et p. "
            "Filtres selon ce qui est compté. Points de deal (counted=dealpoints) : les mêmes "
            "que la couche des points de deal, avec les mêmes refus : statut, produit, mode "
            "de distribution (status, product, channel, répétables) et période "
            "(period_from, period_to : points actifs pendant la période, c'est-à-dire vus "
            "au plus tard à sa fin et actifs depuis son début). Signalements "
            "(counted=reports, analystes) : la période seule (jour de réception) ; status, "
            "product et channel répondent 400. Les rôles qui ne voient que des agrégats "
            "(préfecture, parquet) ne reçoivent que les cellules d'au moins "
            "CARTOSTUP_MIN_AGGREGATE éléments et ne filtrent que par statut, un seul à la "
            "fois : produit, mode de distribution et période répondent 400. Un filtre refusé "
            "ou qui ne s'applique pas à ce qui est compté répond 400, jamais un filtre "
            "ignoré. Journalisée avec les filtres appliqués."
        ),
        parameters=[query_serializer],
        responses={200: HotspotOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = strict_query(self.query_serializer, request)
        data = params.validated_data
        return Response(
            hotspots.hotspot_layer(
                actor=request.user,
                departement_code=data["departement"],
                source=data["counted"],
                period_from=data.get("period_from"),
                period_to=data.get("period_to"),
                statuses=data.get("status", []),
                products=data.get("product", []),
                channels=data.get("channel", []),
            )
        )


class BoundaryLayerView(CartostupAPIView):
    query_methods = READS_QUERY
    # Its parameters (the need-to-know tests check that each is placed in their matrix).
    query_serializer = BoundaryInputSerializer

    @extend_schema(
        operation_id="map_boundaries",
        summary="Limites administratives",
        description=(
            "Communes et arrondissements, QPV ou contour d'un département que vous pouvez voir, "
            "simplifiés pour l'affichage."
        ),
        parameters=[query_serializer],
        responses={200: BoundaryOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = strict_query(self.query_serializer, request)
        return Response(
            map_layers.boundary_layer(
                actor=request.user,
                departement_code=params.validated_data["departement"],
                kind=params.validated_data["kind"],
            )
        )
