"""The deal-points filter set: the list page, the map layers, the API and the exports share it."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from dsfr.widgets import InlineCheckboxSelectMultiple

from cartostup.access.filters import (
    AppliedFiltersMixin,
    DsfrFilterForm,
    StrictBooleanFilter,
    filter_error_messages,
    unknown_choice_message_lazy,
)
from cartostup.core.dates import DATE_INPUT_FORMATS, DATE_INVALID, period_errors
from cartostup.territories.forms import CommuneFilterMixin
from cartostup.territories.models import Departement
from cartostup.territories.selectors import commune_ids_named

from .choices import DealPointStatus, DistributionChannel, EventKind, Precision, Product
from .models import DealPoint, DealPointEvent, normalise_partner_code


def _json_list_contains_any(queryset: QuerySet, field: str, values: list[str]) -> QuerySet:
    """Rows whose JSON list `field` holds one of `values` (portable to SQLite and PostgreSQL:
    the list is stored as JSON text, each value quoted)."""
    if not values:
        return queryset
    condition = Q()
    for value in values:
        condition |= Q(**{f"{field}__icontains": f'"{value}"'})
    return queryset.filter(condition)


# Re-exported: the deal points' pages import it from here.
__all__ = ["filter_error_messages"]


class DealPointFilterForm(CommuneFilterMixin, DsfrFilterForm):
    """The filters' form: a period of activity that ends before it starts is an error on its
    end (`dates.period_errors`, as the map layers say it), not an empty list or map; so is a
    département that does not exist (99), or a commune no loaded commune is called (a
    misspelt « Marsielle »), which would list nothing."""

    def clean_departement(self) -> str:
        code = str(self.cleaned_data.get("departement") or "").strip().upper()
        if code and not Departement.objects.filter(code=code).exists():
            raise ValidationError(_("Département inconnu (ex. : 13, 2A, 974)."), code="unknown")
        return code

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        errors = period_errors(
            cleaned.get("active_from"), cleaned.get("active_to"), end_name="active_to"
        )
        for name, messages in errors.items():
            if name in self.fields:
                for message in messages:
                    self.add_error(name, message)
        return cleaned


class DealPointFilterSet(AppliedFiltersMixin, django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text",
        label=_("Référence (ou d'origine), code, nom ou adresse"),
        max_length=100,
    )
    status = django_filters.MultipleChoiceFilter(choices=DealPointStatus.choices, label=_("Statut"))
    product = django_filters.MultipleChoiceFilter(
        choices=Product.choices,
        method="filter_products",
        label=_("Produit"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(Product.choices)},
    )
    channel = django_filters.MultipleChoiceFilter(
        choices=DistributionChannel.choices,
        label=_("Mode de distribution"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(DistributionChannel.choices)},
    )
    precision = django_filters.ChoiceFilter(
        choices=Precision.choices,
        label=_("Précision"),
        empty_label=_("Toutes"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(Precision.choices)},
    )
    departement = django_filters.CharFilter(
        field_name="departement__code", label=_("Département (code)"), max_length=3
    )
    commune = django_filters.CharFilter(
        method="filter_commune", label=_("Commune (nom, code INSEE ou postal)"), max_length=100
    )
    # A point is active during the period when its activity overlaps it: seen by the period's
    # end and active since its start. A point without any dated activity (created by hand, no
    # report yet) is active on the day it was created; one imported with a last activity
    # alone was seen then (the import's day is not when it was seen).
    active_from = django_filters.DateFilter(
        method="filter_active_from",
        label=_("Actif à partir du"),
        help_text=_("Dernière activité ce jour ou après."),
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_INVALID},
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    active_to = django_filters.DateFilter(
        method="filter_active_to",
        label=_("Actif jusqu'au"),
        help_text=_("Déjà signalé ce jour ou avant."),
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_INVALID},
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    qpv = StrictBooleanFilter(
        field_name="priority_neighbourhood", lookup_expr="isnull", exclude=True, label=_("En QPV")
    )

    class Meta:
        model = DealPoint
        fields = [
            "q",
            "status",
            "product",
            "channel",
            "precision",
            "departement",
            "commune",
            "active_from",
            "active_to",
            "qpv",
        ]
        form = DealPointFilterForm

    def filter_text(self, queryset: QuerySet[DealPoint], name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        code = normalise_partner_code(value)
        # An imported point is also known by the reference its line had in its file (kept in
        # its history's « Import » entry, `origin_reference`, which the import reads to say
        # « déjà importée »): the CROSS's own map names it so. Among the points already
        # given (`queryset`, restricted by the policy).
        imported_as = DealPointEvent.objects.filter(
            kind=EventKind.IMPORTED, details__origin_reference__icontains=value
        ).values("dealpoint_id")
        return queryset.filter(
            Q(reference__icontains=value)
            | (Q(partner_code=code) if code else Q(pk__in=[]))
            | Q(name__icontains=value)
            | Q(address__icontains=value)
            | Q(pk__in=imported_as)
        )

    def filter_active_from(self, queryset: QuerySet[DealPoint], name: str, value: Any) -> QuerySet:
        """Points active on or after that day: their last activity (or, without any, their
        creation)."""
        return queryset.filter(
            Q(last_activity_at__date__gte=value)
            | Q(last_activity_at__isnull=True, created_at__date__gte=value)
        )

    def filter_active_to(self, queryset: QuerySet[DealPoint], name: str, value: Any) -> QuerySet:
        """Points already seen by that day: first reported (or, without a report, last
        active, or without any activity, created) on or before it."""
        return queryset.filter(
            Q(first_reported_at__date__lte=value)
            | Q(first_reported_at__isnull=True, last_activity_at__date__lte=value)
            | Q(
                first_reported_at__isnull=True,
                last_activity_at__isnull=True,
                created_at__date__lte=value,
            )
        )

    def filter_products(
        self, queryset: QuerySet[DealPoint], name: str, value: list[str]
    ) -> QuerySet:
        return _json_list_contains_any(queryset, "products", list(value))

    def filter_commune(self, queryset: QuerySet[DealPoint], name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(commune__in=commune_ids_named(value))


# The pages' filters shown on their own line (check boxes), the others side by side.
WIDE_FILTERS = ("status", "product", "channel")


class DealPointPageFilterSet(DealPointFilterSet):
    """The shared filter set, with the widgets of the pages (the list, the map): check boxes,
    never a multiple select (Ctrl+click, labels cut off); the period's date inputs are the
    shared set's."""

    status = django_filters.MultipleChoiceFilter(
        choices=DealPointStatus.choices,
        label=_("Statut"),
        widget=InlineCheckboxSelectMultiple,
    )
    product = django_filters.MultipleChoiceFilter(
        choices=Product.choices,
        method="filter_products",
        label=_("Produit"),
        widget=InlineCheckboxSelectMultiple,
        error_messages={"invalid_choice": unknown_choice_message_lazy(Product.choices)},
    )
    channel = django_filters.MultipleChoiceFilter(
        choices=DistributionChannel.choices,
        label=_("Mode de distribution"),
        widget=InlineCheckboxSelectMultiple,
        error_messages={"invalid_choice": unknown_choice_message_lazy(DistributionChannel.choices)},
    )


class DealPointCountFilterSet(DealPointPageFilterSet):
    """The map's filters for those who may only count points (a prefecture, a prosecutor's
    office): one status at a time (`map_layers.dealpoint_layer` says why)."""

    status = django_filters.ChoiceFilter(
        choices=DealPointStatus.choices, label=_("Statut"), empty_label=_("Tous les statuts")
    )


def told_status_field(form: Any, *, choices: list[tuple[str, str]], message: str) -> None:
    """The status field of a filter form offers only `choices` (the statuses the actor may use,
    `selectors.dealpoint_status_choices`) and refuses any other value with `message`
    (`selectors.unknown_status_message`): the same words for an unknown value and for one the
    actor is never told, which Django's own message would repeat back."""
    field = form.fields.get("status")
    if field is None:
        return
    # A single choice's "all statuses" stays first: django-filter's own choice field puts it
    # there itself (its `empty_label`), once; listed here too, it was offered twice.
    empty = [(value, label) for value, label in field.choices if value == ""]
    if getattr(field, "empty_label", None) is not None:
        empty = []
    field.choices = [*empty, *choices]
    field.error_messages["invalid_choice"] = message
