"""Input and output of the public reports API (one pair per action)."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cartostup.core.api import ErrorSerializer, InputSerializer, StrictFloatField

from ..choices import Activity, PeopleCount, Precision, Product, PublicStatus, TimeOfDay, Weekday
from ..pow import NONCE_MAX_LENGTH


class ChallengeOutputSerializer(serializers.Serializer):
    challenge = serializers.CharField(
        help_text=_("Valeur à usage unique (32 caractères hexadécimaux).")
    )
    difficulty = serializers.IntegerField(
        help_text=_(
            "Nombre de bits nuls par lesquels doit commencer SHA-256(challenge + « : » + nonce) "
            "(UTF-8) ; 0 : aucune preuve de travail demandée."
        )
    )
    expires_in = serializers.IntegerField(help_text=_("Validité du défi, en secondes."))


def _choices(choices: list[tuple[str, str]], label: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=choices), required=False, help_text=label
    )


class ReportSubmitInputSerializer(InputSerializer):
    """A report. Where: `latitude` and `longitude` (a pin; never the reporter's own
    position), or `address` with `commune_code` (INSEE)."""

    schema_description = _(
        "Un signalement. Où : `latitude` et `longitude` (un repère posé sur la carte, jamais "
        "la position de la personne qui signale), ou `address` avec `commune_code` (INSEE)."
    )

    changed_elsewhere = {"photo": _("une photo s'envoie en multipart/form-data")}

    challenge = serializers.CharField(max_length=64, help_text=_("Défi obtenu par GET challenge."))
    nonce = serializers.CharField(
        max_length=NONCE_MAX_LENGTH, allow_blank=True, help_text=_("Preuve de travail.")
    )
    # A boolean is no coordinate (`true` read as 1.0 put a report in the Gers).
    latitude = StrictFloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    longitude = StrictFloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    address = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    commune_code = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=5, default=None
    )
    precision = serializers.ChoiceField(choices=Precision.choices)
    place_label = serializers.CharField(
        required=False, allow_blank=True, max_length=120, default=""
    )
    activities = serializers.ListField(
        child=serializers.ChoiceField(choices=Activity.choices),
        allow_empty=False,
        max_length=len(Activity.choices),
        help_text=_("Au moins une activité constatée."),
    )
    online_account = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        default="",
        help_text=_("Obligatoire si « online » est coché."),
    )
    products = serializers.ListField(
        child=serializers.ChoiceField(choices=Product.choices),
        required=False,
        default=list,
        max_length=len(Product.choices),
    )
    days = serializers.ListField(
        child=serializers.ChoiceField(choices=Weekday.choices),
        required=False,
        default=list,
        max_length=len(Weekday.choices),
    )
    times_of_day = serializers.ListField(
        child=serializers.ChoiceField(choices=TimeOfDay.choices),
        required=False,
        default=list,
        max_length=len(TimeOfDay.choices),
    )
    people_count = serializers.ChoiceField(
        choices=PeopleCount.choices, required=False, default=PeopleCount.UNKNOWN
    )
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=3000, default=""
    )

    def _finite(self, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError(_("Un nombre fini est requis."))
        return value

    def validate_latitude(self, value: float | None) -> float | None:
        return self._finite(value)

    def validate_longitude(self, value: float | None) -> float | None:
        return self._finite(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A pin and a commune: the commune was dropped, unsaid (API review); the API refuses
        # what it would not read.
        pinned = attrs.get("latitude") is not None or attrs.get("longitude") is not None
        if pinned and (attrs.get("commune_code") or "").strip():
            raise serializers.ValidationError(
                {
                    "commune_code": [
                        _(
                            "Un repère (latitude, longitude) ou une commune, pas les deux : la "
                            "commune ne se lit qu'avec une adresse, sans repère. Retirez l'un "
                            "des deux."
                        )
                    ]
                }
            )
        return attrs


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent in a multipart body, described so (`format: binary`): drf-spectacular
    described it as its response form, a URI, which a generated client sent and had refused
    (« La donnée soumise n'est pas un fichier », API review)."""


class ReportSubmitMultipartSerializer(ReportSubmitInputSerializer):
    photo = UploadField(
        required=False,
        allow_empty_file=False,
        help_text=_("JPEG, PNG ou WebP ; réencodée, sans aucune métadonnée."),
    )


class ReportSubmitOutputSerializer(serializers.Serializer):
    receipt = serializers.CharField(
        help_text=_(
            "Numéro de suivi (24 caractères en six groupes de quatre), affiché une seule "
            "fois : seul un hachage lent est conservé."
        )
    )
    status = serializers.ChoiceField(choices=PublicStatus.choices)


class FollowupInputSerializer(InputSerializer):
    receipt = serializers.CharField(max_length=64)


class FollowupMessageSerializer(serializers.Serializer):
    author = serializers.CharField(help_text=_("« analyst » ou « reporter »."))
    author_label = serializers.CharField()
    text = serializers.CharField()
    sent_on = serializers.DateField()


class FollowupOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PublicStatus.choices)
    status_label = serializers.CharField()
    question_pending = serializers.BooleanField(
        help_text=_("Vrai si le dernier message est une question de l'analyste.")
    )
    messages = FollowupMessageSerializer(many=True)


class MessageInputSerializer(InputSerializer):
    receipt = serializers.CharField(max_length=64)
    text = serializers.CharField(max_length=2000)


class MessageOutputSerializer(serializers.Serializer):
    author = serializers.CharField()
    text = serializers.CharField()
    sent_on = serializers.DateField()


class PublicErrorSerializer(ErrorSerializer):
    """Invalid input (with `errors` per field), a refused proof of work, or a wrong receipt."""

    schema_description = _(
        "Saisie invalide (avec `errors` par champ), preuve de travail refusée ou reçu erroné."
    )


class RateLimitedSerializer(ErrorSerializer):
    """Too many attempts from this client (or on this receipt): see the Retry-After header."""

    schema_description = _(
        "Trop de tentatives depuis ce client (ou sur ce reçu) : voir l'en-tête Retry-After."
    )
