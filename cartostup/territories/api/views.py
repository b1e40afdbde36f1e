"""Territories API: place a point."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from cartostup.core.api import READS_QUERY, CartostupAPIView, strict_query
from cartostup.territories import locator, selectors

from .serializers import LocateErrorSerializer, LocateInputSerializer, LocateOutputSerializer


class LocateView(CartostupAPIView):
    query_methods = READS_QUERY

    @extend_schema(
        operation_id="territories_locate",
        summary="Territoire d'un point",
        description=(
            "Commune (ou arrondissement à Paris, Lyon et Marseille), département, antenne(s) "
            "Ofast et QPV d'un point WGS84. La recherche est journalisée (la commune trouvée, "
            "jamais les coordonnées)."
        ),
        parameters=[LocateInputSerializer],
        responses={
            200: LocateOutputSerializer,
            400: OpenApiResponse(
                LocateErrorSerializer,
                description="Coordonnées invalides ou point hors du territoire chargé.",
            ),
        },
        tags=["territoires"],
    )
    def get(self, request: Request) -> Response:
        params = strict_query(LocateInputSerializer, request)
        try:
            location = selectors.territory_locate(
                actor=request.user,
                latitude=params.validated_data["latitude"],
                longitude=params.validated_data["longitude"],
            )
        except locator.LocateError as error:
            return Response(
                {"detail": str(error), "code": error.code}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(LocateOutputSerializer(asdict(location)).data)
