"""Forms of the administration pages: they parse and explain in French; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

from cartostup.core.forms import DecimalNumberField
from cartostup.territories.models import Departement

from . import services
from .choices import OrganisationKind, Role
from .models import Organisation

StrOrPromise = str | Promise


class AdminForm(DsfrBaseForm):
    """DSFR rendering, and the services' refusals shown on the form."""

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's refusal on the field it concerns, or above the form."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, error.messages)


class InlineCheckboxSelectMultiple(forms.CheckboxSelectMultiple):
    """Check boxes side by side (DSFR inline fieldset elements): a hundred départements."""

    inline = True


def _departement_field(label: StrOrPromise) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=Departement.objects.order_by("code"),
        required=False,
        label=label,
        widget=InlineCheckboxSelectMultiple,
    )


class OrganisationForm(AdminForm):
    name = forms.CharField(label=_("Nom"), max_length=200)
    kind = forms.ChoiceField(label=_("Type"), choices=OrganisationKind.choices)
    national_scope = forms.BooleanField(
        label=_("Compétence nationale"),
        required=False,
        help_text=_("Cochée, l'organisation couvre tout le territoire national."),
    )
    departements = _departement_field(_("Départements couverts"))
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        initial=True,
        help_text=_("Les membres d'une organisation inactive perdent les droits qu'elle donne."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "departements" in data:
            try:
                services.organisation_scope_check(
                    national_scope=bool(data.get("national_scope")),
                    departements=list(data["departements"]),
                )
            except ValidationError as error:
                self.add_service_error(error)
        return data


class SharingGroupForm(AdminForm):
    name = forms.CharField(label=_("Nom"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    owner_organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        label=_("Organisation propriétaire"),
        empty_label=_("Choisir une organisation…"),
        help_text=_("Elle fait toujours partie du groupe."),
    )
    organisations = forms.ModelMultipleChoiceField(
        queryset=Organisation.objects.none(),
        required=False,
        label=_("Organisations membres"),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, organisations: QuerySet[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_organisation"].queryset = organisations  # type: ignore[attr-defined]
        self.fields["organisations"].queryset = organisations  # type: ignore[attr-defined]


class AntennaForm(AdminForm):
    departements = _departement_field(_("Départements couverts"))


class BuildingForm(AdminForm):
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        label=_("Bailleur"),
        required=True,
        empty_label=_("Choisir un bailleur…"),
    )
    name = forms.CharField(label=_("Nom ou numéro de bâtiment"), max_length=200)
    address = forms.CharField(label=_("Adresse"), max_length=300)
    latitude = DecimalNumberField(
        label=_("Latitude"),
        min_value=-90,
        max_value=90,
        help_text=_(
            "En degrés décimaux (WGS84), ex. : 43.3452. La commune et le département en sont "
            "déduits."
        ),
    )
    longitude = DecimalNumberField(
        label=_("Longitude"),
        min_value=-180,
        max_value=180,
        help_text=_("En degrés décimaux (WGS84), ex. : 5.3949"),
    )
    stairwells = forms.CharField(
        label=_("Cages d'escalier"),
        max_length=200,
        required=False,
        help_text=_(
            "Séparées par des virgules, chacune une fois et en 20 caractères au plus. Ex. : A, B, C"
        ),
    )

    def __init__(self, *args: Any, organisations: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if len(organisations) > 1:
            self.fields["organisation"].queryset = Organisation.objects.filter(  # type: ignore[attr-defined]
                pk__in=[o.pk for o in organisations]
            )
        else:
            del self.fields["organisation"]


class UserCreateForm(AdminForm):
    username = forms.CharField(
        label=_("Identifiant de connexion"),
        max_length=150,
        help_text=_("Lettres, chiffres et les caractères @ . + - _ uniquement."),
    )
    first_name = forms.CharField(label=_("Prénom"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Nom"), max_length=150, required=False)
    email = forms.EmailField(label=_("Adresse électronique"), required=False)
    password = forms.CharField(
        label=_("Mot de passe initial"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Laissez vide pour générer un mot de passe provisoire, affiché une seule fois, à "
            "transmettre à la personne par un canal sûr. 12 caractères au moins."
        ),
    )
    password_confirmation = forms.CharField(
        label=_("Confirmation du mot de passe"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password", "") != data.get("password_confirmation", ""):
            self.add_error("password_confirmation", _("Les deux mots de passe diffèrent."))
        if data.get("username"):
            # Said with the other fields' errors, not on the next submission: the service
            # checks it again when it writes (`services.user_create`).
            try:
                services.username_available_check(username=data["username"].strip())
            except ValidationError as error:
                self.add_error(None, error)
        return data


class UserUpdateForm(AdminForm):
    first_name = forms.CharField(label=_("Prénom"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Nom"), max_length=150, required=False)
    email = forms.EmailField(label=_("Adresse électronique"), required=False)


class MembershipForm(AdminForm):
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        label=_("Organisation"),
        empty_label=_("Choisir une organisation…"),
    )
    role = forms.ChoiceField(
        label=_("Rôle"),
        choices=Role.choices,
        help_text=_("Le rôle doit convenir au type de l'organisation."),
    )

    def __init__(self, *args: Any, organisations: QuerySet[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        organisation, role = data.get("organisation"), data.get("role")
        if organisation is not None and role:
            try:
                services.membership_role_check(organisation=organisation, role=role)
            except ValidationError as error:
                self.add_service_error(error)
        return data
