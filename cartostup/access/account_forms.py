"""Forms of the account pages: they parse and validate; the services write."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from cartostup.core.forms import WholeNumberField

from .models import User


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Identifiant"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code à 6 chiffres"),
        help_text=_("Affiché par votre application d'authentification, renouvelé toutes les 30 s."),
        regex=r"^\s*(\d\s*){6}$",
        error_messages={"invalid": _("Le code est composé de 6 chiffres.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "maxlength": "7",
                "spellcheck": "false",
            }
        ),
    )


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("Mot de passe actuel"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("Nouveau mot de passe"),
        strip=False,
        help_text=_("Au moins 12 caractères, sans ressembler à votre nom ni à un mot courant."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("Confirmation du nouveau mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        self.user = user
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        if not self.user.check_password(old_password):
            raise forms.ValidationError(_("Le mot de passe actuel est incorrect."))
        return old_password

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        new1, new2 = cleaned.get("new_password1"), cleaned.get("new_password2")
        if new1 and new2:
            if new1 != new2:
                self.add_error("new_password2", _("Les deux mots de passe ne correspondent pas."))
            else:
                try:
                    password_validation.validate_password(str(new1), self.user)
                except forms.ValidationError as error:
                    self.add_error("new_password1", error)
        return cleaned


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Nom du jeton"),
        max_length=100,
        help_text=_(
            "Pour le reconnaître : le système qui l'utilise (ex. : « Logiciel de la CROSS »)."
        ),
    )
    days = WholeNumberField(
        label=_("Durée de validité (jours)"),
        min_value=1,
        help_text=_("90 jours par défaut, un an au plus."),
        error_messages={"invalid": _("Indiquez un nombre de jours.")},
    )

    def __init__(self, *args: object, max_days: int, default_days: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        days = self.fields["days"]
        days.initial = min(default_days, max_days)
        days.max_value = max_days  # type: ignore[attr-defined]
        days.validators.append(MaxValueValidator(max_days))
        days.widget.attrs.update({"min": "1", "max": str(max_days)})
