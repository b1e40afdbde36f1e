"""The deal-points API (/api/v1/dealpoints/, /api/v1/operations/): thin views over the
selectors and services. What each actor may see or do is decided by `access.policy`: a point
the actor may not see answers 404; a landlord referent receives the reduced view the policy
declares (`policy.visible_fields`), and nothing beyond it (no operations, history or
reports); a prefecture or a prosecutor's office only counts points on the map (404 here)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from cartostup.access import policy
from cartostup.access.models import User
from cartostup.core.api import READS_QUERY, CartostupAPIView, ErrorSerializer, strict_query
from cartostup.core.parsers import JSONParser

from .. import exchange, flows, selectors, services
from ..choices import UNTIED_DECISIONS, DealPointStatus, LinkDecision
from ..models import DealPoint, ReportLink
from .serializers import (
    DealPointCreatedOutputSerializer,
    DealPointCreateSerializer,
    DealPointExportQuerySerializer,
    DealPointInputSerializer,
    DealPointListQuerySerializer,
    DealPointOutputSerializer,
    DealPointReducedOutputSerializer,
    EventOutputSerializer,
    LinkDecisionQuerySerializer,
    MergeInputSerializer,
    NoteInputSerializer,
    OperationCancelInputSerializer,
    OperationCancelledOutputSerializer,
    OperationInputSerializer,
    OperationListQuerySerializer,
    OperationOutputSerializer,
    OperationRecordedOutputSerializer,
    PagingQuerySerializer,
    PointReportOutputSerializer,
    ReportAttachedOutputSerializer,
    ReportAttachInputSerializer,
    SharingChangeSerializer,
    StatusInputSerializer,
)

TAGS = ["points de deal"]


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: _("Données invalides (voir `errors`)."),
        403: _("Authentification à deux facteurs requise (ou jeton CSRF absent)."),
        404: _("Point inconnu ou invisible pour vous."),
        409: _(
            "Le point a changé depuis votre lecture (`version`, `from_status`) : rien n'a été "
            "enregistré."
        ),
    }
    return {
        code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in codes
    }


LINK_DECIDED = {
    409: OpenApiResponse(
        ErrorSerializer,
        description=_(
            "Avec `from_decision` : le rapprochement a été traité depuis votre lecture "
            "(code `already_decided`) ; rien n'a été enregistré."
        ),
    )
}


LINK_DETACHED = {
    409: OpenApiResponse(
        ErrorSerializer,
        description=_(
            "Le rapprochement a été traité depuis votre lecture (avec `from_decision`), ou le "
            "signalement est déjà détaché ou écarté de ce point (code `already_decided`) ; "
            "rien n'a été enregistré."
        ),
    )
}


ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Identifiant du point.")
REPORT_ID = OpenApiParameter(
    "report_id", int, OpenApiParameter.PATH, description="Identifiant du signalement."
)

POINT = PolymorphicProxySerializer(
    component_name="DealPointView",
    serializers=[DealPointOutputSerializer, DealPointReducedOutputSerializer],
    resource_type_field_name=None,
)
POINT_LIST = PolymorphicProxySerializer(
    component_name="DealPointView",
    serializers=[DealPointOutputSerializer, DealPointReducedOutputSerializer],
    resource_type_field_name=None,
    many=True,
)


class ChangedMeanwhileError(exceptions.APIException):
    """The point changed since the client read it (`services.ChangedMeanwhile`)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "changed_meanwhile"


def _changed_meanwhile(error: services.ChangedMeanwhile) -> ChangedMeanwhileError:
    said = {
        "version": _("version"),
        "from_status": _("statut"),
        "change_id": _("dernier changement de statut"),
    }.get(error.name, error.name)
    current = str(error.current)
    if error.name == "from_status" and current in DealPointStatus.values:
        # The code to send back, and what it means.
        current = f"{current} (« {DealPointStatus(current).label} »)"
    return ChangedMeanwhileError(
        _("%(message)s Relisez le point (%(name)s, actuellement : %(current)s), puis renvoyez.")
        % {"message": error.messages[0], "name": said, "current": current}
    )


class LinkDecidedError(exceptions.APIException):
    """The link was decided since the client read it (`flows.LinkDecided`)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "already_decided"


def _link_decided(error: flows.LinkDecided) -> LinkDecidedError:
    # The decision by its French label (« décision actuelle : rejected » showed the code; user
    # audit): a client reads the codes in the point's reports.
    return LinkDecidedError(
        _(
            "Ce rapprochement a déjà été traité : il est maintenant « %(label)s ». Rien n'a été "
            "enregistré : relisez les signalements du point, puis renvoyez."
        )
        % {"label": LinkDecision(error.current).label},
        code="already_decided",
    )


def _actor(request: Request) -> User:
    """The verified member making the request (`IsVerifiedMember` let it through)."""
    return cast(User, request.user)


def _points_reader(actor: User) -> None:
    exchange.points_reader_require(actor)


def _require_field(actor: User, name: str) -> None:
    """404 when the actor receives a reduced view of points that leaves out `name`."""
    visible = policy.visible_fields(actor, DealPoint)
    if visible is not None and name not in visible:
        raise Http404


def _point_data(actor: User, point: Any, *, many: bool = False) -> Any:
    """The point(s) as this actor may receive them: in full, or the reduced view chosen from
    `policy.visible_fields`."""
    visible = policy.visible_fields(actor, DealPoint)
    if visible is None:
        points = list(point) if many else [point]
        related = {pk for each in points for pk in (each.successor_id, each.merged_into_id) if pk}
        seen = {found.pk for found in selectors.visible_points(actor, related)}
        return DealPointOutputSerializer(point, many=many, context={"visible_points": seen}).data
    return DealPointReducedOutputSerializer(
        point,
        many=many,
        fields=visible,
        context={"told": policy.told_values(actor, DealPoint)},
    ).data


def _point(actor: User, pk: int) -> DealPoint:
    """The point with its counts, if the actor may see it (audited VIEW)."""
    _points_reader(actor)
    point = selectors.access_dealpoint(actor=actor, pk=pk)
    points = selectors.with_edit_version(DealPoint.objects.filter(pk=point.pk))
    return exchange.with_counts(points, actor=actor).select_related(
        "commune", "departement", "priority_neighbourhood", "successor", "merged_into"
    )[0]


def _refetch(actor: User, pk: int) -> Any:
    """A point after a change, with its counts (not audited again: the service was)."""
    return _point_data(
        actor,
        exchange.with_counts(
            selectors.with_edit_version(DealPoint.objects.filter(pk=pk)), actor=actor
        )
        .select_related(
            "commune",
            "departement",
            "priority_neighbourhood",
            "successor",
            "merged_into",
            "sharing_group",
        )
        .get(),
    )


def _input(validated: dict[str, Any], base: services.DealPointInput) -> services.DealPointInput:
    changes = {name: value for name, value in validated.items() if name in services.input_fields()}
    return replace(base, **changes)


class JSONAPIView(CartostupAPIView):
    """JSON bodies only (the schema documents nothing else)."""

    parser_classes = [JSONParser]


class DealPointListView(JSONAPIView, generics.GenericAPIView):
    query_methods = READS_QUERY
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="dealpoints_list",
        summary="Points de deal",
        description=(
            "Les points de deal que vous pouvez voir (hors points fusionnés), filtrés, paginés "
            "(`limit`, `offset`). Un bailleur reçoit la vue réduite (code partenaire, statut, "
            "semaine du dernier signalement, bâtiment), classée par code ; un point en cours "
            "d'enquête lui est dit « confirmé ». La consultation est journalisée avec ses "
            "filtres."
        ),
        parameters=[DealPointListQuerySerializer],
        responses={200: POINT_LIST, **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        _points_reader(_actor(request))
        params = strict_query(
            DealPointListQuerySerializer,
            request,
            refused=selectors.dealpoint_refused_values(
                actor=_actor(request), data=request.query_params
            ),
        )
        queryset = selectors.dealpoint_list(
            actor=_actor(request), filters=params.filter_data(), view="api"
        )
        queryset = exchange.with_counts(
            selectors.with_edit_version(queryset), actor=_actor(request)
        ).select_related("successor", "merged_into", "sharing_group")
        order = selectors.dealpoint_name_field(actor=_actor(request))
        page = self.paginate_queryset(queryset.order_by(order))
        return self.get_paginated_response(_point_data(_actor(request), page, many=True))

    @extend_schema(
        operation_id="dealpoints_create",
        summary="Créer un point de deal",
        description=(
            "Un nouveau point, rattaché à la CROSS de son département (qui doit être dans votre "
            "territoire). Réservé aux analystes. Un point démantelé depuis moins d'un an à "
            "proximité reçoit une alerte de déplacement possible (`move_alerts`)."
        ),
        request=DealPointCreateSerializer,
        responses={201: DealPointCreatedOutputSerializer, **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        policy.require(_actor(request), policy.Capability.EDIT_DEALPOINTS)
        params = DealPointCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        point = flows.dealpoint_add(
            actor=_actor(request),
            data=_input(params.validated_data, services.DealPointInput()),
            sharing=_sharing(params.validated_data),
        )
        created = {
            **_refetch(_actor(request), point.pk),
            "move_alerts": selectors.move_alerts_raised(actor=_actor(request), dealpoint=point),
        }
        return Response(created, status=status.HTTP_201_CREATED)


class DealPointDetailView(JSONAPIView):
    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_retrieve",
        summary="Un point de deal",
        description="La consultation est journalisée.",
        responses={200: POINT, **_errors(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_point_data(_actor(request), _point(_actor(request), pk)))

    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_partial_update",
        summary="Modifier un point de deal",
        description=(
            "Les champs envoyés remplacent les valeurs actuelles ; l'historique garde l'ancienne "
            "et la nouvelle valeur. Le statut se change par `status/`. Envoyez la `version` "
            "lue : si le point a été modifié depuis, rien n'est enregistré (409), au lieu "
            "d'effacer sans le dire la modification de l'autre."
        ),
        request=DealPointInputSerializer(partial=True),
        responses={200: DealPointOutputSerializer, **_errors(400, 403, 404, 409)},
        tags=TAGS,
    )
    def patch(self, request: Request, pk: int) -> Response:
        point = _point(_actor(request), pk)
        params = DealPointInputSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        try:
            point = services.dealpoint_update(
                actor=_actor(request),
                dealpoint=point,
                data=_input(params.validated_data, services.input_from_dealpoint(point)),
                note=params.validated_data.get("note", ""),
                version=params.validated_data.get("version"),
            )
        except services.ChangedMeanwhile as error:
            raise _changed_meanwhile(error) from error
        return Response(_refetch(_actor(request), point.pk))


CODE = OpenApiParameter(
    "code",
    {"type": "string", "pattern": "^[0-9A-Za-z]{5}-?[0-9A-Za-z]{5}$", "maxLength": 11},
    OpenApiParameter.PATH,
    description="Code partenaire du point (« 7K3FQ-9M2XA ») : ce qu'un bailleur en connaît.",
)


class DealPointByCodeView(JSONAPIView):
    @extend_schema(
        parameters=[CODE],
        operation_id="dealpoints_retrieve_by_code",
        summary="Un point de deal, par son code partenaire",
        description=(
            "Le bailleur désigne ses points par ce code (jamais par leur identifiant ou leur "
            "référence) ; les services retrouvent ainsi le point qu'il cite. La consultation "
            "est journalisée."
        ),
        responses={200: POINT, **_errors(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, code: str) -> Response:
        actor = _actor(request)
        _points_reader(actor)
        point = selectors.access_dealpoint_by_code(actor=actor, code=code)  # audited
        return Response(_refetch(actor, point.pk))


def _sharing(validated: dict[str, Any]) -> services.SharingInput:
    return services.SharingInput(
        distribution=validated["distribution"],
        marking=validated["marking"],
        sharing_group_id=validated.get("sharing_group_id"),
    )


class DealPointSharingView(JSONAPIView):
    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_sharing",
        summary="Changer la diffusion d'un point",
        description=(
            "Diffusion (organisation, CROSS, services du territoire, national, groupe de "
            "partage), marquage TLP et groupe de partage ; ce qui n'est pas envoyé reste "
            "inchangé. Restreindre retire aussitôt le point à ceux qui ne peuvent plus le "
            "lire ; l'historique garde l'ancienne valeur."
        ),
        request=SharingChangeSerializer,
        responses={200: DealPointOutputSerializer, **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        point = _point(_actor(request), pk)
        params = SharingChangeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        services.dealpoint_share(
            actor=_actor(request),
            dealpoint=point,
            data=params.sharing_change(),
            note=params.validated_data["note"],
        )
        return Response(_refetch(_actor(request), point.pk))


class DealPointStatusView(JSONAPIView):
    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_status",
        summary="Changer le statut d'un point",
        description=(
            "Selon le cycle de vie (signalé → confirmé → en cours d'enquête → démantelé ; "
            "déplacé, résurgent). « moved » demande la référence du point successeur. Avec "
            "`from_status` (le statut lu), un statut changé depuis est refusé (409). Avec "
            "`corrects`, le dernier changement de statut est corrigé (une erreur)."
        ),
        request=StatusInputSerializer,
        responses={200: DealPointOutputSerializer, **_errors(400, 403, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        point = _point(_actor(request), pk)
        params = StatusInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        successor = None
        if params.validated_data["successor"]:
            if params.validated_data["corrects"] is None:
                # The step first, then its successor, as the page's form checks them: « moved »
                # on a reported point asked for a successor, then refused the step (user audit).
                services.status_transition_check(
                    dealpoint=point,
                    status=params.validated_data["status"],
                    from_status=params.validated_data.get("from_status"),
                )
            successor = selectors.dealpoint_named(
                actor=_actor(request),
                reference=params.validated_data["successor"],
                field="successor",
            )
        try:
            services.dealpoint_change_status(
                actor=_actor(request),
                dealpoint=point,
                status=params.validated_data["status"],
                note=params.validated_data["note"],
                successor=successor,
                from_status=params.validated_data.get("from_status"),
                corrects=params.validated_data["corrects"],
            )
        except services.ChangedMeanwhile as error:
            raise _changed_meanwhile(error) from error
        return Response(_refetch(_actor(request), point.pk))


class DealPointOperationsView(JSONAPIView, generics.GenericAPIView):
    query_methods = READS_QUERY
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="dealpoints_operations_list",
        summary="Opérations sur un point",
        description=(
            "Les opérations du point et celles des points qui y ont été fusionnés (que vous "
            "pouvez voir), de la plus récente à la plus ancienne ; `dealpoint` nomme le point "
            "sur lequel chacune a été enregistrée."
        ),
        parameters=[ID, PagingQuerySerializer],
        responses={200: OperationOutputSerializer(many=True), **_errors(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, pk: int) -> Response:
        _require_field(_actor(request), "operations")
        point = _point(_actor(request), pk)
        strict_query(PagingQuerySerializer, request)
        queryset = selectors.dealpoint_operations(
            actor=_actor(request), dealpoint=point, view="api"
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(OperationOutputSerializer(page, many=True).data)

    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_operations_create",
        summary="Enregistrer une opération",
        description=(
            "Un pilonnage, des interpellations, une perquisition… au nom du service qui l'a "
            "mené (un des vôtres ; une CROSS ou l'Ofast enregistre aussi ceux des autres "
            "services répressifs du département). "
            "Un résultat « dismantled » démantèle le point, sauf s'il l'est déjà ou s'il est "
            "déplacé : son statut ne change pas alors (`status_kept` le nomme, l'historique "
            "le dit). `dealpoint_status` donne le statut du point après l'opération."
        ),
        request=OperationInputSerializer,
        responses={201: OperationRecordedOutputSerializer, **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        _require_field(_actor(request), "operations")
        point = _point(_actor(request), pk)
        params = OperationInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        operation = services.operation_record(
            actor=_actor(request),
            dealpoint=point,
            data=services.OperationInput(**params.validated_data),
        )
        operation.dealpoint.refresh_from_db(fields=["status"])
        return Response(
            OperationRecordedOutputSerializer(operation).data, status=status.HTTP_201_CREATED
        )


class DealPointHistoryView(JSONAPIView, generics.GenericAPIView):
    query_methods = READS_QUERY
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="dealpoints_history",
        summary="Historique d'un point",
        description="Chaque événement, daté et attribué, du plus récent au plus ancien.",
        parameters=[ID, PagingQuerySerializer],
        responses={200: EventOutputSerializer(many=True), **_errors(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, pk: int) -> Response:
        _require_field(_actor(request), "events")
        point = _point(_actor(request), pk)
        strict_query(PagingQuerySerializer, request)
        queryset = point.events.select_related("actor").order_by("-occurred_at", "-pk")
        page = selectors.dealpoint_history(
            actor=_actor(request),
            dealpoint=point,
            events=self.paginate_queryset(queryset) or [],
            view="api_dealpoint_history",
        )
        return self.get_paginated_response(EventOutputSerializer(page, many=True).data)


class DealPointReportsView(JSONAPIView, generics.GenericAPIView):
    query_methods = READS_QUERY
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="dealpoints_reports_list",
        summary="Signalements d'un point",
        description=(
            "Les signalements rattachés au point (automatiquement, confirmés, prêtés par une "
            "fusion) et ceux qui lui sont proposés, du plus récent au plus ancien, comme sa "
            "fiche les liste : seulement ceux que vous pouvez consulter (les signalements sont "
            "réservés aux analystes qui les traitent ; un enquêteur n'en reçoit aucun). La "
            "consultation du point et celle des signalements nommés sont journalisées."
        ),
        parameters=[ID, PagingQuerySerializer],
        responses={200: PointReportOutputSerializer(many=True), **_errors(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, pk: int) -> Response:
        _require_field(_actor(request), "reports")
        point = _point(_actor(request), pk)
        strict_query(PagingQuerySerializer, request)
        # Only the links: the record's operations and history are not read for this.
        links = selectors.dealpoint_links(actor=_actor(request), dealpoint=point)
        page = self.paginate_queryset(links) or []
        selectors.dealpoint_links_audit(
            actor=_actor(request), dealpoint=point, links=page, view="api_dealpoint_reports"
        )
        return self.get_paginated_response(PointReportOutputSerializer(page, many=True).data)

    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_reports_attach",
        summary="Rattacher un signalement",
        description=(
            "Un signalement accepté au tri, désigné par sa référence. Pour confirmer une "
            "proposition, `from_decision` (« proposed ») : si elle a été traitée depuis, rien "
            "n'est enregistré (409)."
        ),
        request=ReportAttachInputSerializer,
        responses={201: ReportAttachedOutputSerializer, **_errors(400, 403, 404), **LINK_DECIDED},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = _actor(request)
        _require_field(actor, "reports")
        # Authorised before the body is read and its report looked up, as a detachment is: a
        # reader who may not edit was told whether a reference named a report it sees.
        _points_reader(actor)
        policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
        point = _point(actor, pk)
        params = ReportAttachInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        report = selectors.report_named(
            actor=_actor(request), reference=params.validated_data["report"]
        )
        from_decision = params.validated_data.get("from_decision")
        if from_decision is None:
            link = services.report_attach(actor=_actor(request), dealpoint=point, report=report)
        else:
            read = ReportLink.objects.filter(dealpoint=point, report=report).first()
            if read is None:
                raise ValidationError(
                    {"from_decision": _("Aucun rapprochement ne lie ce signalement à ce point.")}
                )
            try:
                link = flows.link_confirm(
                    actor=_actor(request), link=read, from_decision=from_decision
                )
            except flows.LinkDecided as error:
                raise _link_decided(error) from error
        return Response(ReportAttachedOutputSerializer(link).data, status=status.HTTP_201_CREATED)


class DealPointReportDetachView(JSONAPIView):
    # `from_decision`, checked by `strict_query`.
    query_methods = frozenset({"DELETE"})

    @extend_schema(
        operation_id="dealpoints_reports_detach",
        summary="Détacher un signalement",
        description=(
            "Le rattachement est gardé comme écarté : il ne sera plus proposé. Avec "
            "`?from_decision=` (la décision lue, « proposed » pour écarter une proposition), "
            "un rapprochement traité depuis est refusé (409)."
        ),
        parameters=[ID, REPORT_ID, LinkDecisionQuerySerializer],
        responses={204: None, **_errors(400, 403, 404), **LINK_DETACHED},
        tags=TAGS,
    )
    def delete(self, request: Request, pk: int, report_id: int) -> Response:
        actor = _actor(request)
        _require_field(actor, "reports")
        # Authorised before any link is looked up, as the record's page does: a refusal that
        # came after the lookup told a reader who may not edit which reports were tied to
        # the point (need-to-know audit, 2026-12-06).
        _points_reader(actor)
        policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
        point = selectors.access_dealpoint(
            actor=actor, pk=pk, action=policy.Action.CHANGE, audit=False
        )
        from_decision = strict_query(LinkDecisionQuerySerializer, request).validated_data.get(
            "from_decision"
        )
        # Among the reports the reader sees only: one it may not see answers as an absent one.
        link = selectors.dealpoint_link(
            actor=actor, dealpoint=point, report_pk=report_id, with_rejected=True
        )
        if from_decision is None:
            if link.decision in UNTIED_DECISIONS:
                # Detached or refused already: said as with `from_decision` (it answered « Non
                # trouvé. » without it; user audit).
                raise _link_decided(flows.LinkDecided(link=link))
            services.report_detach(actor=actor, dealpoint=point, report=link.report)
            return Response(status=status.HTTP_204_NO_CONTENT)
        try:
            flows.link_refuse(actor=actor, link=link, from_decision=from_decision)
        except flows.LinkDecided as error:
            raise _link_decided(error) from error
        return Response(status=status.HTTP_204_NO_CONTENT)


class DealPointMergeView(JSONAPIView):
    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_merge",
        summary="Fusionner ce point dans un autre",
        description=(
            "Ses signalements rattachés et proposés passent au point qui reste, ses alertes "
            "ouvertes aussi quand leur question s'y pose encore (closes sinon). Réversible "
            "(`unmerge/`). Renvoie le point qui reste."
        ),
        request=MergeInputSerializer,
        responses={200: DealPointOutputSerializer, **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        # As the page: the function, the point, then a target the actor may change (one it
        # may only read was refused later by the service, as an absent source point).
        policy.require(_actor(request), policy.Capability.EDIT_DEALPOINTS)
        point = _point(_actor(request), pk)
        params = MergeInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        target = selectors.dealpoint_named(
            actor=_actor(request),
            reference=params.validated_data["target"],
            field="target",
            action=policy.Action.CHANGE,
        )
        merged = services.dealpoint_merge(
            actor=_actor(request), source=point, target=target, note=params.validated_data["note"]
        )
        return Response(_refetch(_actor(request), merged.pk))


class DealPointUnmergeView(JSONAPIView):
    @extend_schema(
        parameters=[ID],
        operation_id="dealpoints_unmerge",
        summary="Annuler la fusion de ce point",
        request=NoteInputSerializer,
        responses={200: DealPointOutputSerializer, **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        point = _point(_actor(request), pk)
        params = NoteInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        services.dealpoint_unmerge(
            actor=_actor(request), dealpoint=point, note=params.validated_data["note"]
        )
        return Response(_refetch(_actor(request), point.pk))


class OperationListView(JSONAPIView, generics.GenericAPIView):
    query_methods = READS_QUERY
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="operations_list",
        summary="Opérations",
        description=(
            "Les opérations sur les points que vous pouvez voir, des plus récentes aux plus "
            "anciennes, paginées. La consultation est journalisée avec ses filtres."
        ),
        parameters=[OperationListQuerySerializer],
        responses={200: OperationOutputSerializer(many=True), **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        _points_reader(_actor(request))
        _require_field(_actor(request), "operations")
        params = strict_query(OperationListQuerySerializer, request)
        filters = {
            name: value
            for name, value in params.validated_data.items()
            if name not in ("limit", "offset")
        }
        if "cancelled" in filters:
            filters["cancelled"] = filters["cancelled"] == "true"
        queryset = selectors.operation_list(actor=_actor(request), filters=filters)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(OperationOutputSerializer(page, many=True).data)


class OperationCancelView(JSONAPIView):
    @extend_schema(
        parameters=[ID],
        operation_id="operations_cancel",
        summary="Annuler une opération saisie par erreur",
        description=(
            "L'opération n'est pas supprimée : elle reste au dossier du point, marquée annulée "
            "avec son motif, et ne compte plus (activité du point, carte, exports). Réservé à "
            "qui aurait pu l'enregistrer (son service ; une CROSS ou l'Ofast du département). "
            "Si plus aucune opération qui compte ne dit le point démantelé, que son "
            "démantèlement venait d'une opération et que c'est son dernier changement de "
            "statut, le point reprend son statut d'avant (`status_restored`), inscrit comme "
            "correction."
        ),
        request=OperationCancelInputSerializer,
        responses={200: OperationCancelledOutputSerializer, **_errors(400, 403, 404)},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        _require_field(_actor(request), "operations")
        _points_reader(_actor(request))
        operation = selectors.operation_for_change(actor=_actor(request), pk=pk)
        params = OperationCancelInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        operation = services.operation_cancel(
            actor=_actor(request), operation=operation, reason=params.validated_data["reason"]
        )
        return Response(OperationCancelledOutputSerializer(operation).data)


class _IgnoreFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names the export's file format here, not a REST framework renderer."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


class DealPointExportView(JSONAPIView):
    query_methods = READS_QUERY
    content_negotiation_class = _IgnoreFormatNegotiation

    @extend_schema(
        operation_id="dealpoints_export",
        summary="Exporter les points de deal",
        description=(
            "Les points que vous pouvez exporter (un point TLP:RED ne quitte pas son "
            "propriétaire), filtrés comme la liste, en GeoJSON, CSV (UTF-8 avec BOM, « ; ») "
            "ou XLSX. L'export est journalisé (format, filtres, nombre de points)."
        ),
        parameters=[DealPointExportQuerySerializer],
        responses={
            (200, "application/geo+json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="FeatureCollection GeoJSON."
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV."),
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiResponse(OpenApiTypes.BINARY, description="Classeur XLSX."),
            **_errors(400, 403, 404),
        },
        tags=TAGS,
    )
    def get(self, request: Request) -> HttpResponse | Response:
        params = strict_query(DealPointExportQuerySerializer, request)
        filters = params.filter_data()
        file_format = filters.pop("format")
        try:
            exported = exchange.dealpoints_export(
                actor=_actor(request), format=file_format, filters=filters
            )
        except exchange.ExportFiltersInvalid as error:
            raise serializers.ValidationError(error.message_dict) from error
        response = HttpResponse(exported.content, content_type=exported.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
        response["Cache-Control"] = "no-store"
        return response
