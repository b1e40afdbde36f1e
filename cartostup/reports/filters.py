"""The reports filter set: the triage queue and its map share it."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cartostup.access.filters import (
    AppliedFiltersMixin,
    DsfrFilterForm,
    StrictBooleanFilter,
    unknown_choice_message_lazy,
)
from cartostup.core.dates import DATE_INPUT_FORMATS, DATE_INVALID, period_errors
from cartostup.territories.forms import CommuneFilterMixin
from cartostup.territories.selectors import commune_ids_named

from .choices import Channel, Precision, Status
from .models import Report


class ReportFilterForm(CommuneFilterMixin, DsfrFilterForm):
    """The filters' form: a period of receipt that ends before it starts is an error on its
    end (`dates.period_errors`, as the deal points' filters say it), not an empty queue."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        errors = period_errors(
            cleaned.get("received_from"), cleaned.get("received_to"), end_name="received_to"
        )
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name, message)
        return cleaned


def _received_filter(lookup_expr: str, label: Any) -> django_filters.DateFilter:
    """A bound of the period of receipt: JJ/MM/AAAA or AAAA-MM-JJ (what the date input sends),
    refused with the French message of every date filter (`dates.DATE_INVALID`)."""
    return django_filters.DateFilter(
        field_name="received_at",
        lookup_expr=lookup_expr,
        label=label,
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_INVALID},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class ReportFilterSet(AppliedFiltersMixin, django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices,
        label=_("Statut"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(Status.choices)},
    )
    channel = django_filters.ChoiceFilter(
        choices=Channel.choices,
        label=_("Canal"),
        empty_label=_("Tous les canaux"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(Channel.choices)},
    )
    commune = django_filters.CharFilter(
        method="filter_commune", label=_("Commune (nom, code INSEE ou postal)")
    )
    received_from = _received_filter("date__gte", _("Reçu à partir du"))
    received_to = _received_filter("date__lte", _("Reçu jusqu'au"))
    precision = django_filters.ChoiceFilter(
        choices=Precision.choices,
        label=_("Précision"),
        empty_label=_("Toutes"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(Precision.choices)},
    )
    awaiting_matching = StrictBooleanFilter(label=_("En attente de rapprochement"))
    message_unread = StrictBooleanFilter(label=_("Message du signalant non lu"))

    class Meta:
        model = Report
        fields = ["status", "channel", "commune", "received_from", "received_to", "precision"]
        form = ReportFilterForm

    def filter_commune(self, queryset: QuerySet[Report], name: str, value: str) -> QuerySet[Report]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(commune__in=commune_ids_named(value))
