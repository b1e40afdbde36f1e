"""The public reports API (design §5): anonymous, no session, no cookie, nothing about the
client kept. Every error has the project's shape (`core.api.ErrorSerializer`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from cartostup.core.api import CartostupAPIView
from cartostup.core.parsers import JSONParser, MultiPartParser

from .. import pow, ratelimit, receipts, services
from ..choices import PUBLIC_STATUS, Channel, Status
from .serializers import (
    ChallengeOutputSerializer,
    FollowupInputSerializer,
    FollowupOutputSerializer,
    MessageInputSerializer,
    MessageOutputSerializer,
    PublicErrorSerializer,
    RateLimitedSerializer,
    ReportSubmitInputSerializer,
    ReportSubmitMultipartSerializer,
    ReportSubmitOutputSerializer,
)

TAGS = ["signalement public"]
ERRORS = {
    400: OpenApiResponse(PublicErrorSerializer, description=_("Requête refusée (voir `errors`).")),
    429: OpenApiResponse(
        RateLimitedSerializer, description=_("Trop de tentatives ; réessayer après Retry-After.")
    ),
}


def _error(detail: str, code: str, errors: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _rate_limited(error: ratelimit.RateLimited) -> Response:
    return Response(
        {"detail": str(error), "code": "rate_limited"},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(error.retry_after)},
    )


class PublicAPIView(CartostupAPIView):
    """No authentication at all (hence no session and no CSRF), open to anyone."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ratelimit.RateLimited):
            return _rate_limited(exc)
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Receipts, statuses and messages: nothing of a public exchange is kept by caches.
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


class ChallengeView(PublicAPIView):
    @extend_schema(
        operation_id="public_challenge",
        summary="Défi de preuve de travail",
        description=(
            "Un défi à usage unique, valable 10 minutes. Le signalement doit porter un `nonce` "
            "tel que SHA-256(challenge + « : » + nonce), en UTF-8, commence par `difficulty` "
            "bits nuls."
        ),
        responses={200: ChallengeOutputSerializer, 429: ERRORS[429]},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        ratelimit.check(ratelimit.Bucket.CHALLENGE, ratelimit.client_key(request))
        challenge = pow.challenge_issue()
        return Response(
            ChallengeOutputSerializer(
                {
                    "challenge": challenge.value,
                    "difficulty": challenge.difficulty,
                    "expires_in": settings.CARTOSTUP_POW_TTL_SECONDS,
                }
            ).data,
            headers={"Cache-Control": "no-store"},
        )


class ReportSubmitView(PublicAPIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="public_report_submit",
        summary="Signaler un point de vente",
        description=(
            "Signalement anonyme : aucune adresse IP, aucun en-tête, aucune position de "
            "l'appareil n'est conservé. Le lieu est un repère (`latitude`, `longitude`) ou une "
            "adresse avec sa commune (`address`, `commune_code`). En multipart, `photo` est "
            "réencodée sans métadonnées. Réponse : le numéro de suivi, affiché une seule fois."
        ),
        request={
            "application/json": ReportSubmitInputSerializer,
            "multipart/form-data": ReportSubmitMultipartSerializer,
        },
        responses={201: ReportSubmitOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        # As the web form: a client over its limit is refused first, but only a saved report
        # counts (a refused submission, a 400, is no report).
        client = ratelimit.client_key(request)
        ratelimit.ensure_allowed(ratelimit.Bucket.SUBMISSION, client)
        multipart = (request.content_type or "").startswith("multipart/")
        serializer_class = (
            ReportSubmitMultipartSerializer if multipart else ReportSubmitInputSerializer
        )
        params = serializer_class(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        # The challenge is spent with the report, in its transaction (`pow.challenge_redeemed`).
        try:
            with pow.challenge_redeemed(challenge=data["challenge"], nonce=data["nonce"]):
                submitted = self._submitted(data)
        except pow.PowError as error:
            return _error(str(error), error.code, {"nonce": [str(error)]})
        ratelimit.record(ratelimit.Bucket.SUBMISSION, client)
        output = ReportSubmitOutputSerializer(
            {
                "receipt": submitted.receipt,
                "status": PUBLIC_STATUS[Status(submitted.report.status)].value,
            }
        )
        return Response(
            output.data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
        )

    @staticmethod
    def _submitted(data: dict[str, Any]) -> services.SubmittedReport:
        return services.report_submit_public(
            data=services.ReportInput(
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
                address=data["address"],
                commune_code=data["commune_code"] or None,
                precision=data["precision"],
                place_label=data["place_label"],
                activities=list(data["activities"]),
                online_account=data["online_account"],
                products=list(data["products"]),
                days=list(data["days"]),
                times_of_day=list(data["times_of_day"]),
                people_count=data["people_count"],
                description=data["description"],
                photo=data.get("photo"),
            ),
            channel=Channel.MOBILE,
        )


def _receipt_guard(request: Request, receipt: str) -> tuple[str, str | None]:
    """Refuse (429) a client, or a receipt key, that has had too many wrong receipts."""
    client = ratelimit.client_key(request)
    ratelimit.ensure_allowed(ratelimit.Bucket.RECEIPT_CLIENT, client)
    key = receipts.receipt_key_of(receipt)
    hashed = ratelimit.hashed_key(key) if key else None
    if hashed:
        ratelimit.ensure_allowed(ratelimit.Bucket.RECEIPT_KEY, hashed)
    return client, hashed


def _receipt_refused(client: str, hashed: str | None, error: services.ReceiptInvalid) -> Response:
    ratelimit.record(ratelimit.Bucket.RECEIPT_CLIENT, client)
    if hashed:
        ratelimit.record(ratelimit.Bucket.RECEIPT_KEY, hashed)
    return _error(str(error), "receipt_invalid", {"receipt": [str(error)]})


class FollowupView(PublicAPIView):
    @extend_schema(
        operation_id="public_followup",
        summary="Suivre un signalement",
        description=(
            "Avec le numéro de suivi : l'état (reçu, en cours de traitement, traité, sans "
            "jamais de date d'opération) et les messages échangés avec l'analyste. Les "
            "numéros erronés sont limités."
        ),
        request=FollowupInputSerializer,
        responses={200: FollowupOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        params = FollowupInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        receipt = params.validated_data["receipt"]
        client, hashed = _receipt_guard(request, receipt)
        try:
            followup = services.report_followup(receipt=receipt)
        except services.ReceiptInvalid as error:
            return _receipt_refused(client, hashed, error)
        return Response(
            FollowupOutputSerializer(followup).data, headers={"Cache-Control": "no-store"}
        )


class FollowupMessageView(PublicAPIView):
    @extend_schema(
        operation_id="public_followup_message",
        summary="Répondre à l'analyste",
        description="Un message du signalant (réponse à une question, ou précision).",
        request=MessageInputSerializer,
        responses={201: MessageOutputSerializer, **ERRORS},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        params = MessageInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        receipt = params.validated_data["receipt"]
        client, hashed = _receipt_guard(request, receipt)
        try:
            message = services.report_reply(receipt=receipt, text=params.validated_data["text"])
        except services.ReceiptInvalid as error:
            return _receipt_refused(client, hashed, error)
        output = MessageOutputSerializer(
            {
                "author": message.author,
                "text": message.text,
                "sent_on": timezone.localdate(message.sent_at),
            }
        )
        return Response(output.data, status=status.HTTP_201_CREATED)
