"""The error summary every form page shows (core.forms.form_error_summary)."""

from __future__ import annotations

from django import forms
from django.template import Context, Template

from cartostup.core.forms import SummaryError, form_error_summary


class _Form(forms.Form):
    name = forms.CharField(label="Nom")
    token = forms.CharField(label="Jeton", widget=forms.HiddenInput)
    kinds = forms.MultipleChoiceField(
        label="Genres", choices=[("a", "A")], widget=forms.CheckboxSelectMultiple
    )

    def clean(self):
        raise forms.ValidationError("Tout le formulaire")


class _PlacedForm(_Form):
    error_places = {"token": ("Lieu", "place-search")}


def test_every_error_in_field_order_hidden_ones_included():
    """A hidden field's error was missing from the summary (only visible fields were looped)."""
    assert form_error_summary(_Form({})) == [
        SummaryError("Tout le formulaire"),
        SummaryError("Ce champ est obligatoire.", "Nom", "id_name"),
        SummaryError("Ce champ est obligatoire.", "Jeton", ""),
        SummaryError("Ce champ est obligatoire.", "Genres", "id_kinds_0"),
    ]


def test_a_form_places_its_hidden_fields_errors():
    summary = form_error_summary(_PlacedForm({}))
    assert SummaryError("Ce champ est obligatoire.", "Lieu", "place-search") in summary


def test_the_shared_summary_template_shows_hidden_and_whole_form_errors():
    html = Template('{% include "access/_error_summary.html" %}').render(
        Context({"form": _PlacedForm({})})
    )
    assert "<li>Tout le formulaire</li>" in html
    assert '<a href="#place-search">Lieu : Ce champ est obligatoire.</a>' in html
    assert html.index("Nom :") < html.index("Lieu :") < html.index("Genres :")
