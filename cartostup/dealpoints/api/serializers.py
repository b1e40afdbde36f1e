"""Input and output of the deal-points API (one pair per action). Serializers only shape data:
every rule is in the services and the policy."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking
from cartostup.access.filters import BOOLEAN_CHOICES, unknown_choice_message_lazy
from cartostup.core.api import (
    InputSerializer,
    PeriodQueryMixin,
    StrictCharField,
    StrictFloatField,
    date_field,
    date_query_field,
)
from cartostup.core.dates import week_start
from cartostup.territories.models import Departement

from ..choices import (
    Confidence,
    DealPointStatus,
    DistributionChannel,
    EventKind,
    LinkDecision,
    ObservedRole,
    OperationKind,
    OperationOutcome,
    Precision,
    Product,
)
from ..models import DealPoint, DealPointEvent, Operation, ReportLink
from ..rules import LANDLORD_STATUSES
from ..services import (
    OPENING_HOUR_TOKENS,
    OPERATION_CANCEL_REASON_REQUIRED,
    OPERATION_MAX_ARRESTS,
    SharingChange,
)

# --- deal points ---------------------------------------------------------------------------------


def _choice_list(choices: Any, help_text: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=choices),
        required=False,
        max_length=len(choices),
        help_text=help_text,
    )


DEPARTEMENT_CODE = re.compile(r"^(?:[0-9]{2,3}|2[ABab])$")


class _DepartementCodeField(serializers.RegexField):
    """The code must match as a whole: Python's `$` also matches before a final newline, so
    "13\n" passed `^[0-9]{2,3}$` (found by schemathesis)."""

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data))
        if not DEPARTEMENT_CODE.fullmatch(value):
            self.fail("invalid")
        # Corsica as the pages read it: 2a is 2A.
        return value.upper()


def departement_field(**kwargs: Any) -> serializers.RegexField:
    """A département code in a query (13, 2A, 974): its form checked, with a French message
    (whether it exists and may be seen is the policy's, later). Not trimmed: the schema's
    length then holds for what is sent (found by schemathesis)."""
    return _DepartementCodeField(
        DEPARTEMENT_CODE,
        max_length=3,
        trim_whitespace=False,
        error_messages={"invalid": _("Code de département invalide (ex. : 13, 2A, 974).")},
        **kwargs,
    )


def _choice_field(
    choices: list[tuple[str, Any]],
    *,
    message_choices: list[tuple[str, Any]] | None = None,
    **kwargs: Any,
) -> serializers.ChoiceField:
    """A filter's choice, refused with the pages' words (`unknown_choice_message`, with the
    codes a client sends), not REST framework's « "zzz" n'est pas un choix valide »."""
    message = unknown_choice_message_lazy(message_choices or choices, codes=True)
    return serializers.ChoiceField(
        choices=choices, error_messages={"invalid_choice": message}, **kwargs
    )


class VisiblePointReference(serializers.CharField):
    """The reference of a related point (the field's name: `successor`, `merged_into`), or
    null when the reader may not see that point, as the record page and the history tell it:
    the API named a point kept within its CROSS to the police (partner-developer audit). The
    points the reader may see come in the context (`visible_points`, ids)."""

    def get_attribute(self, instance: Any) -> Any:
        name = self.field_name or ""
        related = getattr(instance, f"{name}_id", None)
        if related is None or related not in self.context.get("visible_points", ()):
            return None
        return getattr(instance, name).reference


class DealPointOutputSerializer(serializers.Serializer):
    """A deal point, for those who receive it in full."""

    schema_description = _("Un point de deal, pour ceux qui le reçoivent en entier.")

    id = serializers.IntegerField()
    reference = serializers.CharField()
    partner_code = serializers.CharField(
        help_text=_("Ce que le bailleur du bâtiment connaît du point à la place de sa référence.")
    )
    status = serializers.ChoiceField(choices=DealPointStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    name = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    precision = serializers.ChoiceField(choices=Precision.choices)
    address = serializers.CharField()
    building_label = serializers.CharField()
    stairwell_label = serializers.CharField()
    building_id = serializers.IntegerField(allow_null=True)
    commune_code = serializers.CharField(source="commune.code", allow_null=True)
    commune_name = serializers.CharField(source="commune.name", allow_null=True)
    departement = serializers.CharField(source="departement.code", allow_null=True)
    qpv_code = serializers.CharField(source="priority_neighbourhood.code", allow_null=True)
    channel = serializers.ChoiceField(choices=DistributionChannel.choices)
    # Typed as the input types them (a client generated from the schema read plain strings).
    products = serializers.ListField(child=serializers.ChoiceField(choices=Product.choices))
    opening_hours = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(OPENING_HOUR_TOKENS))
    )
    observed_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=ObservedRole.choices)
    )
    estimated_daily_turnover = serializers.IntegerField(allow_null=True)
    confidence = serializers.ChoiceField(choices=Confidence.choices)
    notes = serializers.CharField()
    distribution = serializers.ChoiceField(choices=Distribution.choices)
    marking = serializers.ChoiceField(choices=Marking.choices)
    sharing_group = serializers.CharField(source="sharing_group.name", allow_null=True)
    successor = VisiblePointReference(
        allow_null=True,
        help_text=_("Le point successeur ; null si vous ne pouvez pas le voir."),
    )
    merged_into = VisiblePointReference(
        allow_null=True,
        help_text=_("Le point dans lequel il a été fusionné ; null si vous ne pouvez pas le voir."),
    )
    first_reported_at = serializers.DateTimeField(allow_null=True)
    last_activity_at = serializers.DateTimeField(allow_null=True)
    status_changed_at = serializers.DateTimeField()
    version = serializers.IntegerField(
        source="edit_version",
        help_text=_(
            "Version de la description du point : à renvoyer avec une modification, qui est "
            "refusée (409) si le point a été modifié depuis."
        ),
    )
    reports_count = serializers.IntegerField(required=False)
    operations_count = serializers.IntegerField(required=False)


class DealPointCreatedOutputSerializer(DealPointOutputSerializer):
    """A point just created, with the alerts its creation raised."""

    move_alerts = serializers.ListField(
        child=serializers.CharField(),
        help_text=_(
            "Les références des points démantelés à proximité pour lesquels la création a "
            "levé une alerte de déplacement possible (ceux que vous pouvez voir), à examiner "
            "dans « Rapprochements » ; vide sinon."
        ),
    )


class DealPointReducedOutputSerializer(serializers.Serializer):
    """A deal point as a landlord referent receives it (`rules.LANDLORD_FIELDS`): its status
    and the week of its last report (operations do not move it), on one of its buildings,
    named by its partner code (never its id or reference)."""

    schema_description = _(
        "Un point de deal tel que le reçoit le référent d'un bailleur : son statut et la "
        "semaine de son dernier signalement, sur l'un de ses bâtiments, désigné par son code "
        "partenaire (jamais par son identifiant ni sa référence)."
    )

    partner_code = serializers.CharField(
        help_text=_("Code du point communiqué au bailleur (à citer aux services).")
    )
    # Never "investigation": a landlord is told "confirmed" (`rules.LANDLORD_VALUES`).
    status = serializers.ChoiceField(choices=LANDLORD_STATUSES)
    last_activity_week = serializers.SerializerMethodField(
        help_text=_("Lundi de la semaine du dernier signalement rattaché.")
    )
    building = serializers.IntegerField(source="building_id", allow_null=True)
    # The building as its pages, map and exports name it (the id alone named nothing to the
    # landlord's software, which has no list of buildings to read it in).
    building_name = serializers.CharField(
        source="building.name",
        allow_null=True,
        help_text=_("Nom du bâtiment, tel que le bailleur l'a enregistré."),
    )

    def __init__(self, *args: Any, fields: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if fields is not None:
            # The building's name goes with the building.
            kept = {*fields, *(("building_name",) if "building" in fields else ())}
            for name in set(self.fields) - kept:
                self.fields.pop(name)

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_last_activity_week(self, point: DealPoint) -> str | None:
        week = week_start(point.last_reported_at)  # reports only, never an operation
        return week.isoformat() if week else None

    def to_representation(self, instance: Any) -> Any:
        """The values the receiver is told (`policy.told_values`, given as context "told"):
        a landlord reads "confirmed" while the point is under investigation."""
        return policy.told_row(super().to_representation(instance), self.context.get("told", {}))


# How to change what a point's PATCH does not (its life cycle is dated and attributed).
STATUS_ENDPOINT = _(
    "changez le statut par POST /api/v1/dealpoints/<id>/status/ (cycle de vie daté et attribué)"
)


class DealPointInputSerializer(InputSerializer):
    """A new deal point (POST) or the fields to change (PATCH: every field optional). A field
    it does not write (the status, the reference...) is refused, never dropped."""

    schema_description = _(
        "Un nouveau point (POST) ou les champs à modifier (PATCH : chaque champ facultatif). "
        "Un champ qui ne s'écrit pas ici (le statut, la référence…) est refusé, jamais ignoré."
    )

    output_serializers: ClassVar[tuple[type[serializers.Serializer], ...]] = (
        DealPointOutputSerializer,
        DealPointReducedOutputSerializer,
    )
    changed_elsewhere = {
        "status": STATUS_ENDPOINT,
        "successor": _(
            "le successeur se désigne avec le statut « moved », par POST "
            "/api/v1/dealpoints/<id>/status/"
        ),
        "merged_into": _("fusionnez par POST /api/v1/dealpoints/<id>/merge/"),
        "building": _("le bâtiment se désigne par « building_id »"),
        **{
            name: _("changez la diffusion par POST /api/v1/dealpoints/<id>/sharing/")
            for name in ("distribution", "marking", "sharing_group", "sharing_group_id")
        },
    }

    latitude = StrictFloatField(min_value=-90, max_value=90)
    longitude = StrictFloatField(min_value=-180, max_value=180)
    precision = serializers.ChoiceField(choices=Precision.choices, required=False)
    name = StrictCharField(max_length=120, required=False, allow_blank=True)
    address = StrictCharField(max_length=300, required=False, allow_blank=True)
    building_label = StrictCharField(max_length=60, required=False, allow_blank=True)
    stairwell_label = StrictCharField(max_length=60, required=False, allow_blank=True)
    building_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    channel = serializers.ChoiceField(choices=DistributionChannel.choices, required=False)
    products = _choice_list(Product.choices, _("Produits vendus."))
    opening_hours = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(OPENING_HOUR_TOKENS)),
        required=False,
        max_length=len(OPENING_HOUR_TOKENS),
        help_text=_("Jours et moments d'ouverture, « jour:moment » (ex. « fri:evening »)."),
    )
    observed_roles = _choice_list(ObservedRole.choices, _("Rôles observés."))
    estimated_daily_turnover = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10**8
    )
    confidence = serializers.ChoiceField(choices=Confidence.choices, required=False)
    notes = StrictCharField(max_length=5000, required=False, allow_blank=True)
    note = StrictCharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text=_("Note versée à l'historique du point (modification uniquement)."),
    )
    version = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        help_text=_(
            "Modification uniquement : la `version` du point lue avant de le modifier. Si le "
            "point a été modifié depuis, rien n'est enregistré (409) ; une version qu'il n'a "
            "jamais eue est refusée (400) ; sans elle, la modification s'applique telle quelle."
        ),
    )


class SharingInputSerializer(InputSerializer):
    """Who a point is shared with (`services.SharingInput`)."""

    output_serializers: ClassVar[tuple[type[serializers.Serializer], ...]] = (
        DealPointOutputSerializer,
    )

    distribution = serializers.ChoiceField(
        choices=Distribution.choices,
        default=Distribution.TERRITORY,
        help_text=_(
            "Qui lit le point (par défaut : les services répressifs du territoire). Un bailleur "
            "ne voit le point de son bâtiment qu'en « territory » ou « national »."
        ),
    )
    marking = serializers.ChoiceField(
        choices=Marking.choices,
        default=Marking.AMBER,
        help_text=_("Marquage TLP ; « amber_strict » et « red » ne quittent pas les services."),
    )
    sharing_group_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**31 - 1,
        help_text=_("Un groupe de partage de votre organisation (diffusion « sharing_group »)."),
    )


class SharingChangeSerializer(SharingInputSerializer):
    """A change of who a point is shared with: what is not sent stays as it is. (The creation's
    defaults, « territory » and « amber », silently widened a restricted point to every
    service of the territory when a client sent only a note or a marking: review.)"""

    distribution = serializers.ChoiceField(
        choices=Distribution.choices,
        required=False,
        help_text=_("Qui lit le point ; inchangé si absent."),
    )
    marking = serializers.ChoiceField(
        choices=Marking.choices,
        required=False,
        help_text=_("Marquage TLP ; inchangé si absent."),
    )
    sharing_group_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**31 - 1,
        help_text=_(
            "Le groupe de partage (diffusion « sharing_group ») ; inchangé si absent et que la "
            "diffusion reste « sharing_group »."
        ),
    )
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not {"distribution", "marking", "sharing_group_id"} & attrs.keys():
            raise serializers.ValidationError(
                _("Indiquez ce qui change : distribution, marking ou sharing_group_id.")
            )
        return attrs

    def sharing_change(self) -> SharingChange:
        """What changes, the rest read by the service from the locked point."""
        sent = self.validated_data
        return SharingChange(
            distribution=sent.get("distribution"),
            marking=sent.get("marking"),
            sharing_group_id=sent.get("sharing_group_id"),
            group_sent="sharing_group_id" in sent,
        )


class DealPointCreateSerializer(DealPointInputSerializer, SharingInputSerializer):
    """A new deal point, with who it is shared with (by default the services of the
    territory, TLP:AMBER)."""

    schema_description = _(
        "Un nouveau point, avec ceux avec qui il est partagé (par défaut les services du "
        "territoire, TLP:AMBER). Un champ qui ne s'écrit pas ici est refusé, jamais ignoré."
    )
    # A modification's only: accepted and ignored on creation, which the help said.
    changed_elsewhere = {
        **DealPointInputSerializer.changed_elsewhere,
        "note": _("une note se joint à une modification (PATCH /api/v1/dealpoints/<id>/)"),
        "version": _("elle ne sert qu'à une modification (PATCH /api/v1/dealpoints/<id>/)"),
    }

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name in ("note", "version"):
            fields.pop(name, None)
        return fields


# What a point's PATCH changes, for the endpoints that do not.
POINT_FIELDS_ELSEWHERE = {
    name: _("modifiez le point par PATCH /api/v1/dealpoints/<id>/")
    for name in DealPointInputSerializer().get_fields()
    if name != "note"
}


class StatusInputSerializer(InputSerializer):
    output_serializers = (DealPointOutputSerializer,)
    changed_elsewhere = POINT_FIELDS_ELSEWHERE

    status = serializers.ChoiceField(choices=DealPointStatus.choices)
    from_status = serializers.ChoiceField(
        choices=DealPointStatus.choices,
        required=False,
        help_text=_(
            "Le statut lu avant de choisir : si le point en a changé depuis, rien n'est "
            "enregistré (409)."
        ),
    )
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
    successor = StrictCharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Référence du point qui a pris le relais (statut « moved »)."),
    )
    corrects = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**63 - 1,
        help_text=_(
            "Pour corriger une erreur : l'identifiant (`id` dans l'historique du point) de son "
            "dernier changement de statut. `status` est alors le statut d'avant ce changement "
            "et `note` le motif (obligatoire) ; hors du cycle de vie, inscrit à l'historique "
            "comme une correction. Un autre changement venu depuis : rien n'est fait (409)."
        ),
    )


class MergeInputSerializer(InputSerializer):
    output_serializers = (DealPointOutputSerializer,)
    changed_elsewhere = {**POINT_FIELDS_ELSEWHERE, "status": STATUS_ENDPOINT}

    target = StrictCharField(
        max_length=20, help_text=_("Référence du point dans lequel fusionner celui-ci.")
    )
    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class NoteInputSerializer(InputSerializer):
    output_serializers = (DealPointOutputSerializer,)
    changed_elsewhere = {**POINT_FIELDS_ELSEWHERE, "status": STATUS_ENDPOINT}

    note = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


# --- operations, history, reports ----------------------------------------------------------------


class OperationOutputSerializer(serializers.ModelSerializer[Operation]):
    dealpoint = serializers.CharField(source="dealpoint.reference")
    kind_label = serializers.CharField(source="get_kind_display")
    outcome_label = serializers.CharField(source="get_outcome_display")
    service = serializers.CharField(source="service.name")
    service_id = serializers.IntegerField(
        read_only=True, help_text=_("Son identifiant (le filtre « service » de la liste).")
    )

    class Meta:
        model = Operation
        fields = [
            "id",
            "dealpoint",
            "kind",
            "kind_label",
            "occurred_on",
            "service",
            "service_id",
            "outcome",
            "outcome_label",
            "arrests",
            "notes",
            "recorded_at",
            "cancelled_at",
            "cancel_reason",
        ]
        extra_kwargs = {
            "cancelled_at": {
                "help_text": _(
                    "Date de l'annulation d'une opération saisie par erreur (null sinon) : "
                    "elle reste au dossier mais ne compte plus."
                )
            }
        }


class OperationCancelInputSerializer(InputSerializer):
    output_serializers = (OperationOutputSerializer,)

    reason = StrictCharField(
        max_length=2000,
        help_text=_(
            "Pourquoi l'opération est annulée (saisie sur le mauvais point, opération qui n'a "
            "pas eu lieu…) ; inscrit à l'historique du point."
        ),
        # Missing, empty or null, in the page's words (REST framework said « Ce champ est
        # obligatoire. » or « Ce champ ne peut être vide. »; user audit).
        error_messages={
            name: OPERATION_CANCEL_REASON_REQUIRED for name in ("required", "blank", "null")
        },
    )


class OperationRecordedOutputSerializer(OperationOutputSerializer):
    dealpoint_status = serializers.ChoiceField(
        source="dealpoint.status",
        choices=DealPointStatus.choices,
        help_text=_("Le statut du point après l'opération."),
    )
    status_kept = serializers.CharField(
        help_text=_(
            "Pour un résultat « dismantled » qui n'a pas changé le statut du point : le statut "
            "qu'il garde (déjà démantelé, ou déplacé : un point déplacé ne se démantèle pas) ; "
            "vide sinon."
        )
    )

    class Meta(OperationOutputSerializer.Meta):
        fields = [*OperationOutputSerializer.Meta.fields, "dealpoint_status", "status_kept"]


class OperationCancelledOutputSerializer(OperationOutputSerializer):
    status_restored = serializers.CharField(
        help_text=_(
            "Le statut rendu au point quand plus aucune opération qui compte ne le dit "
            "démantelé et que ce démantèlement, venu d'une opération, était son dernier "
            "changement de statut ; vide sinon."
        )
    )

    class Meta(OperationOutputSerializer.Meta):
        fields = [*OperationOutputSerializer.Meta.fields, "status_restored"]


class OperationInputSerializer(InputSerializer):
    output_serializers = (OperationOutputSerializer,)
    changed_elsewhere = {
        "service": _("le service se désigne par « service_id »"),
        "dealpoint": _("l'opération porte sur le point de l'adresse"),
    }

    kind = serializers.ChoiceField(choices=OperationKind.choices)
    occurred_on = date_field()
    outcome = serializers.ChoiceField(choices=OperationOutcome.choices)
    arrests = serializers.IntegerField(
        min_value=0,
        max_value=OPERATION_MAX_ARRESTS,
        default=0,
        help_text=_(
            "Personnes interpellées : au moins 1 avec le résultat « arrests », 0 avec « none »."
        ),
    )
    notes = StrictCharField(max_length=3000, required=False, allow_blank=True, default="")
    service_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**31 - 1,
        help_text=_(
            "Le service qui a mené l'opération : un des vôtres ou, pour une CROSS ou l'Ofast, "
            "un service répressif du département du point (par défaut : le premier des vôtres)."
        ),
    )


class OperationListQuerySerializer(PeriodQueryMixin, serializers.Serializer):
    # A period that ends before it starts, or a département that does not exist, is an error,
    # as on the other lists: an empty list would read as « no operation ».
    period_fields = ("date_from", "date_to")

    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    offset = serializers.IntegerField(required=False, min_value=0)
    kind = _choice_field(OperationKind.choices, required=False)
    outcome = _choice_field(OperationOutcome.choices, required=False)
    service = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text=_("Le service qui a mené l'opération (`service_id` des opérations)."),
    )
    date_from = date_query_field()
    date_to = date_query_field()
    departement = departement_field(required=False)
    cancelled = _choice_field(
        [("true", "true"), ("false", "false")],
        message_choices=[("true", _("les annulées")), ("false", _("celles qui comptent"))],
        required=False,
        help_text=_(
            "« false » : seulement les opérations qui comptent ; « true » : seulement celles "
            "annulées (saisies par erreur). Toutes par défaut."
        ),
    )

    def validate_departement(self, value: str) -> str:
        if value and not Departement.objects.filter(code=value).exists():
            raise serializers.ValidationError(_("Département inconnu (ex. : 13, 2A, 974)."))
        return value


class EventOutputSerializer(serializers.ModelSerializer[DealPointEvent]):
    kind = serializers.ChoiceField(choices=EventKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    actor = serializers.SerializerMethodField(
        help_text=_("Qui a agi (« Cartostup » pour la plateforme elle-même).")
    )
    details = serializers.DictField(
        help_text=(
            "Références et valeurs de l'événement. Un signalement ou un autre point que vous "
            "ne pouvez pas consulter n'est pas nommé : sa clé vaut null et figure dans "
            "`undisclosed` ; les signalements non nommés d'une liste sont comptés par clé "
            'dans `reports_undisclosed` (par exemple {"reports": 2}).'
        )
    )

    class Meta:
        model = DealPointEvent
        fields = [
            "id",
            "kind",
            "kind_label",
            "occurred_at",
            "actor",
            "from_status",
            "to_status",
            "details",
            "note",
        ]

    def get_actor(self, event: DealPointEvent) -> str:
        # Who acted (« Cartostup » for the platform itself).
        if event.actor is None:
            return "Cartostup"
        return event.actor.get_full_name() or event.actor.get_username()


class ReportLinkOutputSerializer(serializers.ModelSerializer[ReportLink]):
    report = serializers.CharField(source="report.reference")
    report_id = serializers.IntegerField()
    dealpoint = serializers.CharField(source="dealpoint.reference")

    class Meta:
        model = ReportLink
        fields = ["report", "report_id", "dealpoint", "decision", "decided_at"]


class ReportAttachedOutputSerializer(ReportLinkOutputSerializer):
    """A report attached: the link, and the points it left (the page says them; the API did
    not, API review)."""

    moved_from = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text=_(
            "Les points auxquels le signalement était rattaché et qu'il a quittés (leur "
            "historique le mentionne)."
        ),
    )

    class Meta(ReportLinkOutputSerializer.Meta):
        fields = [*ReportLinkOutputSerializer.Meta.fields, "moved_from"]


class PointReportOutputSerializer(ReportLinkOutputSerializer):
    """A report tied to a point, as its record lists it: attached or proposed, with the day it
    was received and what the matching measured."""

    schema_description = _(
        "Un signalement lié à un point, tel que sa fiche le liste : rattaché ou proposé, avec "
        "le jour de sa réception et ce que le rapprochement a mesuré."
    )

    received_on = serializers.SerializerMethodField()

    class Meta(ReportLinkOutputSerializer.Meta):
        fields = [*ReportLinkOutputSerializer.Meta.fields, "received_on", "score", "distance_m"]

    @extend_schema_field(serializers.DateField())
    def get_received_on(self, link: ReportLink) -> str:
        return timezone.localdate(link.report.received_at).isoformat()


FROM_DECISION_HELP = _(
    "La décision du rapprochement lue avant de choisir (« proposed » pour une proposition) : "
    "s'il a été traité depuis, rien n'est enregistré (409, code « already_decided »)."
)


class ReportAttachInputSerializer(InputSerializer):
    output_serializers = (ReportLinkOutputSerializer,)
    report = StrictCharField(
        max_length=30, help_text=_("Référence du signalement accepté à rattacher.")
    )
    from_decision = serializers.ChoiceField(
        choices=LinkDecision.choices, required=False, help_text=FROM_DECISION_HELP
    )


class LinkDecisionQuerySerializer(serializers.Serializer):
    from_decision = serializers.ChoiceField(
        choices=LinkDecision.choices, required=False, help_text=FROM_DECISION_HELP
    )


# --- query strings -------------------------------------------------------------------------------


class PagingQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=1000, help_text=_("Nombre de résultats par page.")
    )
    offset = serializers.IntegerField(
        required=False, min_value=0, help_text=_("Rang du premier résultat.")
    )


class ToldChoiceField(serializers.ChoiceField):
    """A choice the selector checks against the values the actor may use (its schema lists
    them all): a landlord's "investigation", a value it is never told, must be refused with
    the message of an unknown value (`selectors.dealpoint_refused_values`), which only the
    selector, knowing the actor, can write."""

    # Longer than any code: refused at once (the schema's values are all shorter).
    max_length = 30
    # Not the whole list (`core.api.choices_listed`): a landlord is told only the values it
    # may use, which the selector says.
    lists_choices = False

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid_choice", input=data)
        value = str(data)
        if len(value) > self.max_length:
            self.fail("invalid_choice", input=value[: self.max_length])
        return value


def dealpoint_status_query_field(**kwargs: Any) -> serializers.ListField:
    """The deal points' status filter of a query (repeatable), as every query that counts or
    lists deal points takes it (the list, the map's layers)."""
    kwargs.setdefault(
        "help_text",
        _(
            "Statut (répétable). Un bailleur n'utilise que les statuts qui lui sont dits : "
            "un autre est refusé comme une valeur inconnue."
        ),
    )
    return serializers.ListField(
        child=ToldChoiceField(choices=DealPointStatus.choices), required=False, **kwargs
    )


def dealpoint_product_query_field(**kwargs: Any) -> serializers.ListField:
    """The deal points' product filter of a query (repeatable)."""
    return serializers.ListField(child=_choice_field(Product.choices), required=False, **kwargs)


def dealpoint_channel_query_field(**kwargs: Any) -> serializers.ListField:
    """The deal points' distribution channel filter of a query (repeatable)."""
    return serializers.ListField(
        child=_choice_field(DistributionChannel.choices), required=False, **kwargs
    )


class DealPointFilterQuerySerializer(PeriodQueryMixin, serializers.Serializer):
    """The filters of `filters.DealPointFilterSet`, checked strictly (an unknown value, or a
    period of activity that ends before it starts, is a 400, not an ignored filter)."""

    period_fields = ("active_from", "active_to")

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        trim_whitespace=False,
        help_text=_("Référence, code partenaire, nom ou adresse."),
    )
    status = dealpoint_status_query_field()
    product = dealpoint_product_query_field()
    channel = dealpoint_channel_query_field()
    precision = _choice_field(Precision.choices, required=False)
    departement = departement_field(required=False)
    # Not trimmed: the schema's length then holds for what is sent (a value padded with a
    # newline was trimmed to the limit and accepted; found by schemathesis).
    commune = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        trim_whitespace=False,
        help_text=_("Code INSEE ou nom de la commune."),
    )
    active_from = date_query_field()
    active_to = date_query_field()
    qpv = _choice_field(
        [("true", "true"), ("false", "false")],
        message_choices=BOOLEAN_CHOICES,
        required=False,
        help_text=_("« true » : en QPV ; « false » : hors QPV."),
    )

    def filter_data(self) -> dict[str, Any]:
        """The validated filters as `DealPointFilterSet` data."""
        data: dict[str, Any] = {}
        for name, value in self.validated_data.items():
            if value in (None, "", []):
                continue
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            data[name] = value
        return data


class DealPointListQuerySerializer(DealPointFilterQuerySerializer, PagingQuerySerializer):
    pass


class DealPointExportQuerySerializer(DealPointFilterQuerySerializer):
    format = serializers.ChoiceField(
        choices=[("geojson", "GeoJSON"), ("csv", "CSV"), ("xlsx", "XLSX")],
        help_text=_("Format du fichier."),
    )
