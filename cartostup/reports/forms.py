"""Forms of the report intake pages (public web form, call-platform operator). They parse and
explain in French; the services decide (`services.report_position_check` is the same check the
services make)."""

from __future__ import annotations

import copy
import math
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm
from dsfr.widgets import InlineCheckboxSelectMultiple

from . import services
from .choices import Activity, PeopleCount, Precision, Product, TimeOfDay, Weekday

DESCRIPTION_MAX_LENGTH = 3000


class ReportForm(DsfrBaseForm):
    """Every field of a report. Position: a pin (`latitude`, `longitude`, hidden inputs set by
    the map) or a typed `address` with its `commune_code` (chosen in the commune search)."""

    # The pin's hidden inputs and the chosen commune are set through the commune search and the
    # map: the error summary names their errors "Lieu" and links to the search, which the
    # pages put first in their "where" block (`core.forms.form_error_summary`).
    place_anchor = "commune-query"
    error_places = {
        "latitude": (_("Lieu"), place_anchor),
        "longitude": (_("Lieu"), place_anchor),
        "commune_code": (_("Lieu"), place_anchor),
    }

    latitude = forms.FloatField(
        label=_("Latitude"), required=False, widget=forms.HiddenInput, min_value=-90, max_value=90
    )
    longitude = forms.FloatField(
        label=_("Longitude"),
        required=False,
        widget=forms.HiddenInput,
        min_value=-180,
        max_value=180,
    )
    address = forms.CharField(
        label=_("Adresse ou lieu"),
        max_length=300,
        required=False,
        help_text=_(
            "Si vous ne placez pas de repère sur la carte : numéro et rue, ou nom du lieu "
            "(place, parking, arrêt de bus). N'indiquez pas votre propre domicile."
        ),
    )
    commune_code = forms.CharField(
        label=_("Commune"),
        max_length=5,
        required=False,
        help_text=_("Code INSEE de la commune, choisi dans la recherche par nom ou code postal."),
    )
    precision = forms.ChoiceField(
        label=_("Précision du lieu indiqué"),
        choices=Precision.choices,
        initial=Precision.BUILDING,
        widget=forms.RadioSelect,
    )
    place_label = forms.CharField(
        label=_("Bâtiment, cage d'escalier ou entrée"),
        max_length=120,
        required=False,
        help_text=_("Ex. : bâtiment B, cage 3, entrée côté parking."),
    )
    activities = forms.MultipleChoiceField(
        label=_("Ce que vous avez constaté"),
        choices=Activity.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Cochez au moins une activité constatée.")},
    )
    online_account = forms.CharField(
        label=_("Compte ou pseudonyme de vente en ligne"),
        max_length=200,
        required=False,
        help_text=_("Nom du compte sur le réseau social ou la messagerie (vente en ligne)."),
    )
    products = forms.MultipleChoiceField(
        label=_("Produits"),
        choices=Product.choices,
        required=False,
        widget=InlineCheckboxSelectMultiple,
    )
    days = forms.MultipleChoiceField(
        label=_("Jours"),
        choices=Weekday.choices,
        required=False,
        widget=InlineCheckboxSelectMultiple,
    )
    times_of_day = forms.MultipleChoiceField(
        label=_("Moments de la journée"),
        choices=TimeOfDay.choices,
        required=False,
        widget=InlineCheckboxSelectMultiple,
    )
    people_count = forms.ChoiceField(
        label=_("Nombre de personnes présentes"),
        choices=PeopleCount.choices,
        initial=PeopleCount.UNKNOWN,
        widget=forms.RadioSelect,
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Ce que vous avez vu. Ne donnez aucune information sur vous-même ni sur la façon "
            "dont vous avez observé."
        ),
    )
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        help_text=_(
            "JPEG, PNG ou WebP. La photo est réencodée : ses métadonnées (position GPS, "
            "appareil, auteur) sont supprimées. Ne prenez aucun risque pour la prendre."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def clean_latitude(self) -> float | None:
        return self._finite("latitude")

    def clean_longitude(self) -> float | None:
        return self._finite("longitude")

    def _finite(self, name: str) -> float | None:
        value = self.cleaned_data.get(name)
        if value is not None and not math.isfinite(value):
            raise ValidationError(_("Un nombre fini est requis."))
        return value

    def clean_photo(self) -> Any:
        photo = self.cleaned_data.get("photo")
        limit = settings.CARTOSTUP_PHOTO_MAX_BYTES
        if photo and photo.size > limit:
            raise ValidationError(
                _("La photo dépasse la taille maximale (%(size)s Mo).")
                % {"size": limit // (1024 * 1024)}
            )
        return photo

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            services.report_content_check(data=self._input(data))
        except ValidationError as error:
            self.add_service_error(error)
        return data

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's refusal on the field it concerns, or above the form."""
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                target = name if name in self.fields else None
                if target and target in self.errors:
                    continue  # the field's own message is already there
                self.add_error(target, messages)
        else:
            self.add_error(None, error.messages)

    def _input(self, data: dict[str, Any]) -> services.ReportInput:
        return services.ReportInput(
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            address=(data.get("address") or "").strip(),
            commune_code=(data.get("commune_code") or "").strip() or None,
            precision=data.get("precision") or "",
            place_label=(data.get("place_label") or "").strip(),
            activities=list(data.get("activities") or []),
            online_account=(data.get("online_account") or "").strip(),
            products=list(data.get("products") or []),
            days=list(data.get("days") or []),
            times_of_day=list(data.get("times_of_day") or []),
            people_count=data.get("people_count") or PeopleCount.UNKNOWN,
            description=(data.get("description") or "").strip(),
            photo=data.get("photo") or None,
        )

    def to_input(self) -> services.ReportInput:
        """The validated input for `services.report_submit_*` (call after `is_valid()`)."""
        return self._input(self.cleaned_data)


_F = TypeVar("_F", bound=forms.Field)


def _reworded(field: _F, *, label: Any = None, help_text: Any = None) -> _F:
    """A copy of a form's field with other words (a form of another reader)."""
    field = copy.deepcopy(field)
    if label is not None:
        field.label = label
    if help_text is not None:
        field.help_text = help_text
    return field


class OperatorReportForm(ReportForm):
    """The call-platform intake: the same fields without the photo (and never a field about
    the caller)."""

    # The operator keys in what the caller says: the public form's words speak to the
    # witness (« Ce que vous avez constaté »; new-user audit, 2026-12-06).
    activities = _reworded(
        ReportForm.base_fields["activities"], label=_("Ce que l'appelant a constaté")
    )
    description = _reworded(
        ReportForm.base_fields["description"],
        help_text=_(
            "Ce que l'appelant a vu, dans ses mots. Ne notez rien sur lui ni sur la façon "
            "dont il a observé."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["photo"]


class LandlordReportForm(ReportForm):
    """A landlord's report on one of its buildings: the position comes from the building."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("latitude", "longitude", "address", "commune_code", "photo"):
            del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = forms.Form.clean(self) or {}
        try:
            services.report_content_check(data=self._input(data), position=False)
        except ValidationError as error:
            self.add_service_error(error)
        return data
