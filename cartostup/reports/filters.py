"""The reports filter set: the triage queue, its API and its export share it."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cartostup.access.filters import AppliedFiltersMixin, DsfrFilterForm
from cartostup.territories.models import Commune

from .choices import Channel, Precision, Status
from .models import Report


class ReportFilterSet(AppliedFiltersMixin, django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label=_("Statut"))
    channel = django_filters.ChoiceFilter(
        choices=Channel.choices, label=_("Canal"), empty_label=_("Tous les canaux")
    )
    commune = django_filters.CharFilter(
        method="filter_commune", label=_("Commune (code INSEE ou nom)")
    )
    received_from = django_filters.DateFilter(
        field_name="received_at", lookup_expr="date__gte", label=_("Reçu à partir du")
    )
    received_to = django_filters.DateFilter(
        field_name="received_at", lookup_expr="date__lte", label=_("Reçu jusqu'au")
    )
    precision = django_filters.ChoiceFilter(
        choices=Precision.choices, label=_("Précision"), empty_label=_("Toutes")
    )
    awaiting_matching = django_filters.BooleanFilter(label=_("En attente de rapprochement"))

    class Meta:
        model = Report
        fields = ["status", "channel", "commune", "received_from", "received_to", "precision"]
        form = DsfrFilterForm

    def filter_commune(self, queryset: QuerySet[Report], name: str, value: str) -> QuerySet[Report]:
        value = value.strip()
        if not value:
            return queryset
        communes = Commune.objects.filter(code=value) | Commune.objects.filter(name__iexact=value)
        # A city (Marseille) stands for its arrondissements.
        ids = set(communes.values_list("pk", flat=True)) | set(
            Commune.objects.filter(parent__in=communes).values_list("pk", flat=True)
        )
        return queryset.filter(commune__in=ids)
