"""Forms of the deal-point pages. They parse and explain in French; the services decide (their
`ValidationError`s are shown on the fields they name, `add_service_error`)."""

from __future__ import annotations

import math
import secrets
from dataclasses import replace
from typing import Any

import h3
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm
from dsfr.widgets import InlineCheckboxSelectMultiple

from cartostup.access.choices import Distribution, Marking
from cartostup.access.models import Building, Organisation, SharingGroup
from cartostup.core.dates import DATE_INPUT_FORMATS, DATE_INVALID
from cartostup.core.forms import DecimalNumberField, EurosField, WholeNumberField

from . import selectors, services
from .choices import (
    STATUS_TRANSITIONS,
    Confidence,
    DealPointStatus,
    DistributionChannel,
    ObservedRole,
    OperationKind,
    OperationOutcome,
    Precision,
    Product,
    TimeOfDay,
    Weekday,
)
from .models import DealPoint, DealPointEvent, Operation, ReportLink

# Names the services use for a field, when the form calls it otherwise.
SERVICE_FIELD_NAMES = {
    "building_id": "building",
    "service_id": "service",
    "target": "target",
    "sharing_group_id": "sharing_group",
}


class ServiceForm(DsfrBaseForm):
    """A DSFR form that shows a service's refusal on the field it concerns, or above it."""

    def carry(self, name: str, value: Any) -> None:
        """The form shown again sends `value` in its (hidden) field `name`, not what it sent."""
        data: Any = self.data.copy()  # type: ignore[has-type]
        data[self.add_prefix(name)] = str(value)
        self.data = data

    def add_service_error(self, error: ValidationError) -> None:
        if isinstance(error, services.ChangedMeanwhile) and error.name in self.fields:
            # The point changed since the form was read: what was typed is kept, and the
            # hidden field now carries what the point is, so that sending again (after
            # reading the message) is a deliberate choice.
            self.carry(error.name, error.current)
        if hasattr(error, "error_dict"):
            for name, messages in error.message_dict.items():
                target: str | None = SERVICE_FIELD_NAMES.get(name, name)
                if target not in self.fields:
                    target = None
                if target and target in self.errors:
                    continue  # the field's own message is already there
                self.add_error(target, messages)
        else:
            self.add_error(None, error.messages)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValidationError(_("Un nombre fini est requis."))
    return value


class BuildingChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Building) -> str:  # type: ignore[override]
        commune = obj.commune.name if obj.commune_id else ""
        label = (
            f"{obj.name} – {obj.address} ({commune})" if commune else f"{obj.name} – {obj.address}"
        )
        near = getattr(obj, "near_latitude", None), getattr(obj, "near_longitude", None)
        if near[0] is None or near[1] is None:
            return label
        # Offered nearest first (`selectors.dealpoint_building_choices(near=...)`); one the
        # point is too far from is said so before the form refuses it, measured as it will.
        metres = services.building_distance_m(obj, near[0], near[1])
        distance = services.metres_said(metres)
        if metres > services.BUILDING_REACH_M:
            return _("%(label)s, à %(distance)s m : trop loin du point") % {
                "label": label,
                "distance": distance,
            }
        return _("%(label)s, à %(distance)s m") % {"label": label, "distance": distance}


OPENING_HOUR_CHOICES = [
    (f"{day}:{time}", f"{day_label} – {time_label}")
    for day, day_label in Weekday.choices
    for time, time_label in TimeOfDay.choices
]


class DealPointForm(ServiceForm):
    """Everything an analyst says about a point (`services.DealPointInput`). The opening hours
    are a grid of check boxes (day × time of day) giving "day:time" tokens."""

    latitude = DecimalNumberField(
        label=_("Latitude"),
        min_value=-90,
        max_value=90,
        help_text=_("En degrés décimaux (WGS84), ex. 43.3452. Cliquez sur la carte pour la fixer."),
    )
    longitude = DecimalNumberField(
        label=_("Longitude"),
        min_value=-180,
        max_value=180,
        help_text=_("En degrés décimaux (WGS84), ex. 5.3949."),
    )
    precision = forms.ChoiceField(
        label=_("Précision de la position"),
        choices=Precision.choices,
        initial=Precision.BUILDING,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        label=_("Nom d'usage"),
        max_length=120,
        required=False,
        help_text=_("Ex. : « le four du bât. B »"),
    )
    address = forms.CharField(label=_("Adresse"), max_length=300, required=False)
    building_label = forms.CharField(label=_("Bâtiment"), max_length=60, required=False)
    stairwell_label = forms.CharField(label=_("Cage d'escalier"), max_length=60, required=False)
    building = BuildingChoiceField(
        label=_("Bâtiment d'un bailleur social"),
        queryset=Building.objects.none(),
        required=False,
        empty_label=_("Aucun"),
        help_text=_(
            "Le bailleur verra le statut de ce point et la semaine de son dernier signalement. "
            "Le point doit se trouver à moins de 150 m du bâtiment ; les plus proches de sa "
            "position sont proposés d'abord."
        ),
    )
    channel = forms.ChoiceField(
        label=_("Mode de distribution"),
        choices=DistributionChannel.choices,
        initial=DistributionChannel.FIXED,
    )
    products = forms.MultipleChoiceField(
        label=_("Produits"),
        choices=Product.choices,
        required=False,
        widget=InlineCheckboxSelectMultiple,
    )
    observed_roles = forms.MultipleChoiceField(
        label=_("Rôles observés"),
        choices=ObservedRole.choices,
        required=False,
        widget=InlineCheckboxSelectMultiple,
    )
    opening_hours = forms.MultipleChoiceField(
        label=_("Horaires d'ouverture"),
        choices=OPENING_HOUR_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    estimated_daily_turnover = EurosField(
        label=_("Chiffre d'affaires quotidien estimé (€)"),
        min_value=0,
        max_value=10**8,
        required=False,
    )
    confidence = forms.ChoiceField(
        label=_("Fiabilité"),
        choices=Confidence.choices,
        initial=Confidence.LOW,
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        label=_("Notes de l'analyste"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    note = forms.CharField(
        label=_("Motif, inscrit à l'historique"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # The point's edit version when the form was read (`selectors.dealpoint_edit_version`):
    # an edit made meanwhile by someone else is never silently overwritten.
    version = forms.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, buildings: QuerySet[Building], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["building"].queryset = buildings  # type: ignore[attr-defined]

    def clean_latitude(self) -> float | None:
        return _finite(self.cleaned_data.get("latitude"))

    def clean_longitude(self) -> float | None:
        return _finite(self.cleaned_data.get("longitude"))

    @property
    def error_places(self) -> dict[str, tuple[Any, str]]:
        """The error summary's link for the opening hours goes to the grid's first box (its
        boxes are named day by day: `…_mon_morning`, there is no `…_0`)."""
        first = self.opening_hours_grid()[0]["cells"][0]["id"]
        return {"opening_hours": (self.fields["opening_hours"].label, first)}

    def opening_hours_grid(self) -> list[dict[str, Any]]:
        """The opening hours as rows (one a day) of cells (one a time of day) for the grid."""
        field = self["opening_hours"]
        value = field.value() or []
        chosen = set(value if isinstance(value, list | tuple) else [value])
        prefix = field.auto_id or "id_opening_hours"
        return [
            {
                "label": day_label,
                "cells": [
                    {
                        "value": f"{day}:{time}",
                        "id": f"{prefix}_{day}_{time}",
                        "label": f"{day_label} – {time_label}",
                        "checked": f"{day}:{time}" in chosen,
                    }
                    for time, time_label in TimeOfDay.choices
                ],
            }
            for day, day_label in Weekday.choices
        ]

    @staticmethod
    def times_of_day() -> list[str]:
        return [str(label) for _value, label in TimeOfDay.choices]

    def to_input(self) -> services.DealPointInput:
        """The validated input for `services.dealpoint_create`/`dealpoint_update`."""
        data = self.cleaned_data
        building = data.get("building")
        return services.DealPointInput(
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            precision=data.get("precision") or "",
            name=(data.get("name") or "").strip(),
            address=(data.get("address") or "").strip(),
            building_label=(data.get("building_label") or "").strip(),
            stairwell_label=(data.get("stairwell_label") or "").strip(),
            building_id=building.pk if building is not None else None,
            channel=data.get("channel") or "",
            products=list(data.get("products") or []),
            opening_hours=list(data.get("opening_hours") or []),
            observed_roles=list(data.get("observed_roles") or []),
            estimated_daily_turnover=data.get("estimated_daily_turnover"),
            confidence=data.get("confidence") or "",
            notes=(data.get("notes") or "").strip(),
        )

    @staticmethod
    def initial_from(dealpoint: DealPoint) -> dict[str, Any]:
        """The form's initial values for an existing point."""
        data = services.input_from_dealpoint(dealpoint)
        initial = {name: getattr(data, name) for name in services.input_fields()}
        initial["building"] = initial.pop("building_id")
        initial["version"] = selectors.dealpoint_edit_version(dealpoint=dealpoint)
        return initial


class SharingForm(ServiceForm):
    """Who the point is shared with (`services.SharingInput`): the policy decides from it."""

    # Required, as their lists always hold a value (not marked « facultatif »); not sent at all
    # (a page or client that predates them), they take the defaults of `services.SharingInput`.
    distribution = forms.ChoiceField(
        label=_("Diffusion"),
        choices=Distribution.choices,
        initial=Distribution.TERRITORY,
        help_text=_(
            "Qui lit ce point. Par défaut, les services répressifs du territoire ; un bailleur ne "
            "voit le point de son bâtiment que si la diffusion est « Services répressifs du "
            "territoire » ou « National »."
        ),
    )
    marking = forms.ChoiceField(
        label=_("Marquage (TLP)"),
        choices=Marking.choices,
        initial=Marking.AMBER,
        help_text=_(
            "TLP:AMBER+STRICT et TLP:RED : le point ne quitte pas les services (aucun bailleur) "
            "et ne s'exporte que par son organisation propriétaire."
        ),
    )
    sharing_group = forms.ModelChoiceField(
        label=_("Groupe de partage"),
        queryset=SharingGroup.objects.none(),
        required=False,
        empty_label=_("Aucun groupe"),
        help_text=_("Seulement avec la diffusion « Groupe de partage »."),
    )

    def __init__(self, *args: Any, groups: QuerySet[SharingGroup], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "sharing")
        super().__init__(*args, **kwargs)
        self.fields["sharing_group"].queryset = groups  # type: ignore[attr-defined]
        data = self.data
        unsent = [name for name in ("distribution", "marking") if self.add_prefix(name) not in data]
        if self.is_bound and unsent:
            defaults = services.SharingInput()
            self.data = self.data.copy()
            for name in unsent:
                self.data[self.add_prefix(name)] = getattr(defaults, name)

    @classmethod
    def for_dealpoint(cls, dealpoint: DealPoint, **kwargs: Any) -> SharingForm:
        kwargs.setdefault(
            "initial",
            {
                "distribution": dealpoint.distribution,
                "marking": dealpoint.marking,
                "sharing_group": dealpoint.sharing_group_id,
            },
        )
        return cls(**kwargs)

    def to_input(self) -> services.SharingInput:
        data = self.cleaned_data
        group = data.get("sharing_group")
        distribution = data["distribution"]
        if distribution != Distribution.SHARING_GROUP:
            # The page's group list keeps the group a point had: leaving « Groupe de partage »
            # for another diffusion drops it, without a second step (new-user audit). The
            # API, where a group is sent on purpose, still refuses one with another diffusion.
            group = None
        return services.SharingInput(
            distribution=distribution,
            marking=data["marking"],
            sharing_group_id=group.pk if group else None,
        )


class StatusForm(ServiceForm):
    """A step of the life cycle: the statuses the point may go to, and its successor for a
    move."""

    status = forms.ChoiceField(
        label=_("Nouveau statut"),
        # Not Django's « dismantled n'en fait pas partie » (a code, not a label).
        error_messages={
            "invalid_choice": _(
                "Ce statut ne fait pas partie des étapes proposées pour ce point : choisissez-en "
                "un dans la liste."
            )
        },
    )
    successor = forms.CharField(
        label=_("Point successeur, en cas de déplacement"),
        max_length=20,
        required=False,
        help_text=_("Référence du point qui a pris le relais, ex. PD-13-0042."),
    )
    note = forms.CharField(
        label=_("Note pour l'historique"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    # The status the page showed when the choice was made: a status changed meanwhile is
    # said, never silently overwritten (`services.dealpoint_change_status(from_status=...)`).
    from_status = forms.CharField(max_length=15, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, dealpoint: DealPoint, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "status")
        kwargs.setdefault("initial", {"from_status": dealpoint.status})
        super().__init__(*args, **kwargs)
        allowed = set(STATUS_TRANSITIONS.get(dealpoint.status, frozenset()))
        # A choice made from a status the point no longer has reaches the service, which says
        # the status changed meanwhile (rather than « choix invalide »).
        read = self.data.get(self.add_prefix("from_status")) if self.is_bound else None
        allowed |= STATUS_TRANSITIONS.get(read or "", frozenset())
        # Nothing chosen beforehand: the first step offered (« Confirmé », « Déplacé »...)
        # was sent by a click on the button alone.
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            ("", _("Choisir un statut")),
            *((value, label) for value, label in DealPointStatus.choices if value in allowed),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("status") == DealPointStatus.MOVED and not data.get("successor"):
            self.add_error("successor", _("Indiquez le point qui a pris le relais."))
        elif (
            data.get("status") not in (None, "", DealPointStatus.MOVED)
            and (data.get("successor") or "").strip()
        ):
            # Said, then another status chosen: ask rather than drop what was typed.
            self.add_error(
                "successor",
                _(
                    "Un successeur ne se désigne que pour « Déplacé » : videz ce champ ou "
                    "choisissez « Déplacé »."
                ),
            )
        return data


class StatusCorrectionForm(ServiceForm):
    """Undo the point's last status change (a mistake), back to the status before it: the
    reason is required, and the change is corrected only if it is still the last one."""

    note = forms.CharField(
        label=_("Motif de la correction"),
        help_text=_("Inscrit à l'historique, ex. « démantèlement saisi sur le mauvais point »."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": _(
                "Dites pourquoi le statut est corrigé (erreur de saisie, mauvais point…)."
            )
        },
    )
    # The change the page offered to correct (its history entry): another one since is said.
    change_id = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, change: DealPointEvent | None, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "correction")
        kwargs.setdefault("initial", {"change_id": change.pk if change is not None else None})
        super().__init__(*args, **kwargs)
        self.last_change = change

    def add_service_error(self, error: ValidationError) -> None:
        if (
            hasattr(error, "error_dict")
            and "corrects" in error.error_dict
            and self.last_change is not None
        ):
            # A change that was never the point's (a page altered): the form names the last
            # one again, so that sending it again corrects that one.
            self.carry("change_id", self.last_change.pk)
        super().add_service_error(error)


class OperationForm(ServiceForm):
    """An operation on the point (`services.OperationInput`)."""

    # No choice made beforehand (type, result): the form untouched, or shown again by the
    # browser's Back, must not record a « pilonnage, sans résultat » nobody chose (new-user
    # audit). The date and the service have the sound defaults of today and one's own.
    kind = forms.ChoiceField(
        label=_("Type d'opération"),
        choices=[("", _("Choisir un type")), *OperationKind.choices],
    )
    # Read and refused as every date of the site (`core.dates`), not « Saisissez une date
    # valide. ».
    occurred_on = forms.DateField(
        label=_("Date"),
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_INVALID},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    outcome = forms.ChoiceField(
        label=_("Résultat"),
        choices=[("", _("Choisir un résultat")), *OperationOutcome.choices],
        help_text=_(
            "« Point démantelé » fait passer le point au statut démantelé (sauf s'il l'est déjà, "
            "ou s'il a été déplacé : la fiche le dit)."
        ),
    )
    arrests = WholeNumberField(
        label=_("Personnes interpellées"),
        min_value=0,
        max_value=services.OPERATION_MAX_ARRESTS,
        initial=0,
    )
    service = forms.ModelChoiceField(
        label=_("Service qui a mené l'opération"),
        queryset=Organisation.objects.none(),
        empty_label=None,
        help_text=_(
            "Une CROSS ou l'Ofast enregistre aussi les opérations des autres services "
            "répressifs du département."
        ),
    )
    notes = forms.CharField(
        label=_("Compte rendu"),
        max_length=3000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # One token per form shown: the same form sent twice (a double click, « Retour » then
    # « Enregistrer » again, a refresh that resends) records one operation.
    submission = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        services_queryset: QuerySet[Organisation],
        default_service: Organisation | None = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("prefix", "operation")
        kwargs.setdefault(
            "initial",
            {"occurred_on": timezone.localdate(), "submission": secrets.token_urlsafe(16)},
        )
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services_queryset  # type: ignore[attr-defined]
        if default_service is not None:
            self.initial.setdefault("service", default_service.pk)
        # One service to choose from (an investigator's own): the page says it as text, with
        # a hint of its own, rather than a list of one under a hint about the CROSS and Ofast
        # (visual audit). Disabled, the field takes that service whatever is sent.
        self.fixed_service: Organisation | None = None
        offered = list(services_queryset[:2])
        if len(offered) == 1:
            self.fixed_service = offered[0]
            field = self.fields["service"]
            field.disabled = True
            field.widget = forms.HiddenInput()
            self.initial["service"] = self.fixed_service.pk

    def to_input(self) -> services.OperationInput:
        data = self.cleaned_data
        return services.OperationInput(
            kind=data["kind"],
            occurred_on=data["occurred_on"],
            outcome=data["outcome"],
            arrests=data.get("arrests") or 0,
            notes=(data.get("notes") or "").strip(),
            service_id=data["service"].pk if data.get("service") else None,
            submission=data.get("submission") or "",
        )


class OperationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Operation) -> str:  # type: ignore[override]
        return _("%(kind)s du %(date)s – %(service)s – %(outcome)s") % {
            "kind": obj.get_kind_display(),
            "date": obj.occurred_on.strftime("%d/%m/%Y"),
            "service": obj.service.name,
            "outcome": obj.get_outcome_display(),
        }


class OperationCancelForm(ServiceForm):
    """Cancel an operation recorded by mistake (`services.operation_cancel`): which one, and
    why (required, written in the history)."""

    operation = OperationChoiceField(
        label=_("Opération à annuler"),
        queryset=Operation.objects.none(),
        empty_label=_("Choisir l'opération saisie par erreur"),
        error_messages={
            "required": _("Choisissez l'opération à annuler."),
            "invalid_choice": _(
                "Cette opération ne peut plus être annulée (elle l'a peut-être déjà été) : "
                "relisez la liste des opérations."
            ),
        },
    )
    reason = forms.CharField(
        label=_("Motif de l'annulation"),
        help_text=_(
            "Inscrit à l'historique, ex. « saisie sur le mauvais point », « opération reportée, "
            "n'a pas eu lieu »."
        ),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": services.OPERATION_CANCEL_REASON_REQUIRED},
    )

    def __init__(self, *args: Any, operations: QuerySet[Operation], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "cancel")
        super().__init__(*args, **kwargs)
        self.fields["operation"].queryset = operations  # type: ignore[attr-defined]


class MergeForm(ServiceForm):
    target = forms.CharField(
        label=_("Point qui le remplace"),
        max_length=20,
        help_text=_("Référence du point dans lequel fusionner celui-ci, ex. PD-13-0042."),
    )
    note = forms.CharField(
        label=_("Note pour l'historique"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "merge")
        super().__init__(*args, **kwargs)


class AttachForm(ServiceForm):
    report = forms.CharField(
        label=_("Signalement à rattacher"),
        max_length=20,
        help_text=_("Référence d'un signalement accepté au tri, ex. SIG-13-000042."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "attach")
        super().__init__(*args, **kwargs)


def _report_choice_label(link: ReportLink) -> str:
    """A report as the record's table shows it: reference, day received, distance measured
    by the matching, then its precision and the place it names, what tells the reports of two
    places apart (« SIG-13-000146 – reçu le 21/10/2026, à 45 m – Immeuble, Bât. C, cage 2 »)."""
    report = link.report
    received = date_format(timezone.localtime(report.received_at), "d/m/Y")
    if link.distance_m is None:
        label = _("%(reference)s – reçu le %(day)s") % {
            "reference": report.reference,
            "day": received,
        }
    else:
        label = _("%(reference)s – reçu le %(day)s, à %(distance)s m") % {
            "reference": report.reference,
            "day": received,
            "distance": round(link.distance_m),
        }
    place = ", ".join(
        part for part in (report.get_precision_display(), report.place_label.strip()) if part
    )
    return f"{label} – {place}" if place else str(label)


class SplitForm(ServiceForm):
    """The reports that leave for a new point, and where that point is; the rest of the new
    point's description is copied from the point split."""

    reports = forms.MultipleChoiceField(
        label=_("Signalements du nouveau point"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choisissez les signalements du nouveau point.")},
    )
    latitude = DealPointForm.base_fields["latitude"]
    longitude = DealPointForm.base_fields["longitude"]
    precision = DealPointForm.base_fields["precision"]
    name = forms.CharField(label=_("Nom d'usage du nouveau point"), max_length=120, required=False)
    note = forms.CharField(
        label=_("Motif de la scission, inscrit à l'historique"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, links: list[ReportLink], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reports"].choices = [  # type: ignore[attr-defined]
            (str(link.report_id), _report_choice_label(link)) for link in links
        ]

    def clean_latitude(self) -> float | None:
        return _finite(self.cleaned_data.get("latitude"))

    def clean_longitude(self) -> float | None:
        return _finite(self.cleaned_data.get("longitude"))

    def report_ids(self) -> list[int]:
        return [int(value) for value in self.cleaned_data.get("reports") or []]

    def to_input(self, dealpoint: DealPoint) -> services.DealPointInput:
        """The new point: the split point's description at the given position; its address
        and building and stairwell labels only when the new point is within
        `services.BUILDING_REACH_M` of the point split, and its landlord's building only when
        within reach of that building (a split point elsewhere is not in that building, and the
        building would show it to a landlord it is not about)."""
        data = self.cleaned_data
        latitude, longitude = data.get("latitude"), data.get("longitude")
        copied = replace(
            services.input_from_dealpoint(dealpoint),
            latitude=latitude,
            longitude=longitude,
            precision=data.get("precision") or "",
            name=(data.get("name") or "").strip(),
        )
        if latitude is None or longitude is None:
            return copied
        distance = h3.great_circle_distance(
            (latitude, longitude), (dealpoint.latitude, dealpoint.longitude), unit="m"
        )
        if distance > services.BUILDING_REACH_M:
            copied = replace(copied, address="", building_label="", stairwell_label="")
        # The building's reach is measured from the building, as the service measures it (the
        # split page has no building field to correct).
        if dealpoint.building is not None and not services.building_in_reach(
            dealpoint.building, latitude, longitude
        ):
            copied = replace(copied, building_id=None)
        return copied
