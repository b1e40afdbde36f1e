"""The audit trail's filter set: list page and CSV export share it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from cartostup.access.filters import unknown_choice_message_lazy

from .choices import AuditAction
from .dates import DATE_INPUT_FORMATS, DATE_INVALID, period_errors
from .models import AuditEvent


class AuditFilterForm(DsfrBaseForm):
    """A period that ends before it starts is an error on its end (`dates.period_errors`, as
    every period filter says it)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        errors = period_errors(data.get("date_from"), data.get("date_to"), end_name="date_to")
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name, message)
        return data


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class AuditEventFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_username", lookup_expr="iexact", label=_("Identifiant de l'acteur")
    )
    organisation = django_filters.CharFilter(
        field_name="organisation_name", lookup_expr="icontains", label=_("Organisation")
    )
    action = django_filters.ChoiceFilter(
        choices=AuditAction.choices,
        label=_("Action"),
        empty_label=_("Toutes les actions"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(AuditAction.choices)},
    )
    object_type = django_filters.CharFilter(
        field_name="object_type",
        lookup_expr="iexact",
        label=_("Type d'objet"),
        help_text=_("Ex. : access.organisation"),
    )
    object_id = django_filters.CharFilter(
        field_name="object_id",
        lookup_expr="exact",
        label=_("Identifiant de l'objet"),
        help_text=_(
            "Le numéro interne (« 17 »), celui de l'adresse de la fiche, pas sa référence."
        ),
    )
    date_from = django_filters.DateFilter(
        method="filter_date_from",
        label=_("Du"),
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_INVALID},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to",
        label=_("Au (inclus)"),
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_INVALID},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "organisation", "action", "object_type", "object_id"]
        form = AuditFilterForm

    # Bounds at local midnight, compared with the indexed column (no per-row date conversion).
    def filter_date_from(
        self, queryset: QuerySet[AuditEvent], name: str, value: date
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(occurred_at__gte=_local_midnight(value))

    def filter_date_to(
        self, queryset: QuerySet[AuditEvent], name: str, value: date
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(occurred_at__lt=_local_midnight(value + timedelta(days=1)))

    def applied_filters(self) -> dict[str, str]:
        """The filters in use, for the audit event that records this consultation."""
        applied = {}
        for name, value in self.form.cleaned_data.items():
            if value in (None, ""):
                continue
            applied[name] = value.isoformat() if isinstance(value, date) else str(value)
        return applied
