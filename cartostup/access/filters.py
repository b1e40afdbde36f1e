"""Filter sets of the administration lists (one per model: list page, API and export)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from cartostup.territories.models import Departement

from .choices import OrganisationKind, Role
from .models import Organisation, User


class DsfrFilterForm(DsfrBaseForm):
    """DSFR rendering of the filters."""


class AppliedFiltersMixin:
    """The filters actually used, as plain references, for the audit trail."""

    form: Any

    def applied_filters(self) -> dict[str, str]:
        applied = {}
        for name, value in self.form.cleaned_data.items():
            if value in (None, "", [], ()):
                continue
            applied[name] = str(getattr(value, "pk", value))
        return applied


class OrganisationFilterSet(AppliedFiltersMixin, django_filters.FilterSet):
    name = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", label=_("Nom contient")
    )
    kind = django_filters.ChoiceFilter(
        choices=OrganisationKind.choices, label=_("Type"), empty_label=_("Tous les types")
    )
    departement = django_filters.ModelChoiceFilter(
        field_name="departements",
        queryset=Departement.objects.order_by("code"),
        label=_("Département couvert"),
        empty_label=_("Tous les départements"),
    )
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = Organisation
        fields = ["name", "kind", "departement", "is_active"]
        form = DsfrFilterForm


class UserFilterSet(AppliedFiltersMixin, django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label=_("Identifiant ou nom"))
    organisation = django_filters.ModelChoiceFilter(
        queryset=Organisation.objects.order_by("name"),
        method="filter_membership",
        label=_("Organisation"),
        empty_label=_("Toutes les organisations"),
    )
    role = django_filters.ChoiceFilter(
        choices=Role.choices,
        method="filter_membership",
        label=_("Rôle"),
        empty_label=_("Tous les rôles"),
    )
    is_active = django_filters.BooleanFilter(label=_("Compte actif"))

    class Meta:
        model = User
        fields = ["search", "organisation", "role", "is_active"]
        form = DsfrFilterForm

    def filter_search(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
        )

    def filter_membership(self, queryset: QuerySet[User], name: str, value: Any) -> QuerySet[User]:
        # Organisation and role apply to the same membership (one join), whichever comes first.
        data = self.form.cleaned_data
        lookup: dict[str, Any] = {}
        if data.get("organisation"):
            lookup["memberships__organisation"] = data["organisation"]
        if data.get("role"):
            lookup["memberships__role"] = data["role"]
        if name == "role" and data.get("organisation"):
            return queryset  # already applied with the organisation
        return queryset.filter(**lookup).distinct()
