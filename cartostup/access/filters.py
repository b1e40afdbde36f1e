"""Filter sets of the administration lists (one per model: list page, API and export)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from cartostup.territories.models import Departement

from .choices import OrganisationKind, Role
from .models import Organisation, User


class DsfrFilterForm(DsfrBaseForm):
    """DSFR rendering of the filters."""


def unknown_choice_message(choices: Iterable[tuple[Any, Any]], *, codes: bool = False) -> str:
    """What a filter told a value it does not offer says: the values it accepts, by their
    French label (and their code with `codes`: for the API and hand-made links, which send
    codes), never Django's « Sélectionnez un choix valide » that repeats the value back."""
    values = ", ".join(
        f"{value} ({label})" if codes and str(label) != str(value) else str(label)
        for value, label in choices
        if value != ""
    )
    return gettext("Valeur inconnue (valeurs acceptées : %(values)s).") % {"values": values}


# The same, for a field declared at import time (read in the language of the request).
unknown_choice_message_lazy = lazy(unknown_choice_message, str)


# The values a yes/no filter reads (what the pages' selects and the API send).
BOOLEAN_CHOICES = [("true", _("Oui")), ("false", _("Non"))]
_TRUE = ("true", "True", "1")
_FALSE = ("false", "False", "0")


class StrictNullBooleanField(forms.NullBooleanField):
    """Yes, no or either, refusing any other value (`unknown_choice_message`): Django's own
    reads « zzz » as "either", and `?qpv=zzz` listed and exported every point unfiltered."""

    widget = forms.Select(choices=[("", _("Indifférent")), *BOOLEAN_CHOICES])
    default_error_messages = {"invalid": unknown_choice_message_lazy(BOOLEAN_CHOICES, codes=True)}

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if value is None or value == "":
            return None
        if value is True or value in _TRUE:
            return True
        if value is False or value in _FALSE:
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid")

    def validate(self, value: Any) -> None:
        if value is None and self.required:
            raise ValidationError(self.error_messages["required"], code="required")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter that refuses what it cannot read (`StrictNullBooleanField`)."""

    field_class = StrictNullBooleanField


# What a list's address carries besides its filters: its page (an export link copies the
# list's whole address).
LIST_PARAMETERS = frozenset({"page"})


def unknown_parameters(
    query: Any,
    filterset_class: type[django_filters.FilterSet] | None = None,
    *,
    export: bool = True,
    known: frozenset[str] | None = None,
    hint: str | None = None,
) -> dict:
    """{name: [message]} for each parameter of a list's or an export's address
    (`request.GET`) that is neither a filter of `filterset_class` nor the list's page: a
    misspelt filter (`?statut=confirmed`) would otherwise list or export everything, as if it
    had been applied. A page that reads other parameters gives them all (`known`), and says
    where its filters are chosen (`hint`)."""
    if known is None:
        assert filterset_class is not None
        known = frozenset(filterset_class.base_filters) | LIST_PARAMETERS
    if hint is None:
        hint = (
            gettext(
                "Exportez depuis la liste, dont les liens d'export reprennent les filtres choisis."
            )
            if export
            else gettext("Choisissez les filtres dans le formulaire de la liste.")
        )
    return {
        name: [gettext("Filtre inconnu : « %(name)s ».") % {"name": name} + " " + hint]
        for name in query
        if name not in known
    }


def filter_error_messages(
    filterset: django_filters.FilterSet, refused: dict[str, list[str]] | None = None
) -> list[str]:
    """The filters' errors as « Label : message » lines, for the error summary of a filter form
    (`role="alert"`, `partials/filter_errors.html`): the bound form's own (a reversed
    period...) and the `refused` filters (those the actor may not use, whose fields the form
    does not show)."""
    errors: dict[str, list[str]] = {}
    if filterset.is_bound:
        errors.update({name: list(messages) for name, messages in filterset.form.errors.items()})
    # A refused filter says so, not what is wrong with its value.
    errors.update(refused or {})
    lines = []
    for name, messages in errors.items():
        field = filterset.base_filters.get(name)
        if field is None or not field.label:
            lines.extend(messages)
        else:
            lines.extend(f"{field.label} : {message}" for message in messages)
    return lines


class AppliedFiltersMixin:
    """The filters actually used, as plain references, for the audit trail: several values
    read « reported, dismantled » (they read « ['reported', 'dismantled'] », Python's own
    writing, in the journal)."""

    form: Any

    def applied_filters(self) -> dict[str, str]:
        applied = {}
        for name, value in self.form.cleaned_data.items():
            if value in (None, "", [], ()):
                continue
            values = value if isinstance(value, list | tuple) else [value]
            applied[name] = ", ".join(str(getattr(each, "pk", each)) for each in values)
        return applied


class OrganisationFilterSet(AppliedFiltersMixin, django_filters.FilterSet):
    name = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", label=_("Nom contient")
    )
    kind = django_filters.ChoiceFilter(
        choices=OrganisationKind.choices,
        label=_("Type"),
        empty_label=_("Tous les types"),
        error_messages={"invalid_choice": unknown_choice_message_lazy(OrganisationKind.choices)},
    )
    departement = django_filters.ModelChoiceFilter(
        field_name="departements",
        queryset=Departement.objects.order_by("code"),
        label=_("Département couvert"),
        empty_label=_("Tous les départements"),
    )
    is_active = StrictBooleanFilter(label=_("Active"))

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
        error_messages={"invalid_choice": unknown_choice_message_lazy(Role.choices)},
    )
    is_active = StrictBooleanFilter(label=_("Compte actif"))

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
