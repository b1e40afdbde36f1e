"""The error summary every form page shows (core.forms.form_error_summary)."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.template import Context, Template

from cartostup.core.forms import (
    DecimalNumberField,
    EurosField,
    SummaryError,
    WholeNumberField,
    form_error_summary,
)


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
    html = Template('{% include "partials/form_errors.html" %}').render(
        Context({"form": _PlacedForm({})})
    )
    assert "<li>Tout le formulaire</li>" in html
    assert '<a href="#place-search">Lieu : Ce champ est obligatoire.</a>' in html
    assert html.index("Nom :") < html.index("Lieu :") < html.index("Genres :")


# --- no untranslated « --------- » empty choice ---------------------------------------------------

DJANGO_EMPTY = "---------"


def _subclasses(base: Any) -> set[Any]:
    found: set[Any] = set()
    for cls in base.__subclasses__():
        found |= {cls, *_subclasses(cls)}
    return found


def _project_classes(base: Any) -> list[Any]:
    import importlib
    import pkgutil

    import cartostup

    for module in pkgutil.walk_packages(cartostup.__path__, "cartostup."):
        if ".tests" in module.name or ".migrations" in module.name or ".management" in module.name:
            continue
        importlib.import_module(module.name)
    return sorted(
        (cls for cls in _subclasses(base) if cls.__module__.startswith("cartostup.")),
        key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
    )


def _untranslated_empty(fields: dict[str, Any]) -> list[str]:
    found = []
    for name, field in fields.items():
        if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
            continue
        labels: list[Any]
        if isinstance(field, forms.ModelChoiceField):
            labels = [] if field.empty_label is None else [field.empty_label]
        elif isinstance(field, forms.ChoiceField):
            labels = [label for _value, label in field.choices]  # type: ignore[misc, union-attr]
        else:
            continue
        if any(str(label) == DJANGO_EMPTY for label in labels):
            found.append(name)
    return found


def test_no_form_offers_an_untranslated_empty_choice():
    """« --------- » was the empty choice of the Organisation list (a user's memberships) and
    of « Groupe de partage » (a point's sharing): every list says it in French."""
    untranslated = {}
    for cls in _project_classes(forms.BaseForm):
        found = _untranslated_empty(cls.base_fields)
        if found:
            untranslated[f"{cls.__module__}.{cls.__qualname__}"] = found
    assert untranslated == {}


def test_no_filter_offers_an_untranslated_empty_choice(db):
    import django_filters

    untranslated = {}
    for cls in _project_classes(django_filters.FilterSet):
        model = cls._meta.model
        if model is None:
            continue
        filterset = cls(queryset=model.objects.none())
        found = _untranslated_empty(filterset.form.fields)
        if found:
            untranslated[f"{cls.__module__}.{cls.__qualname__}"] = found
    assert untranslated == {}


def repeated_headings(page: str) -> list[str]:
    """The texts said twice in a row to a screen reader: a heading, then the caption of the
    table under it. A heading inside a caption is one name, said once."""
    import re
    from collections import Counter

    heading = r"<h[1-6][^>]*>(.*?)</h[1-6]>"

    def text(html: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", "", html).split())

    found = re.findall(r"<caption[^>]*>(.*?)</caption>", page, re.S)
    inside = Counter(text(h) for caption in found for h in re.findall(heading, caption, re.S))
    headings = Counter(text(h) for h in re.findall(heading, page, re.S)) - inside
    captions = [text(c) for c in found]
    return [caption for caption in captions if headings[caption]]


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("15000", 15000),
        ("15 000", 15000),
        ("15\u202f000", 15000),
        ("1 000 000", 1_000_000),
        (" 7 ", 7),
        ("+5", 5),
        ("", None),
    ],
)
def test_a_whole_number_is_read_as_a_french_writer_types_it(typed, read):
    field = WholeNumberField(required=False)
    assert field.clean(typed) == read


@pytest.mark.parametrize(
    "typed", ["15.000", "1500,50", "1e", "-", "deux mille", "1e3", "150 00", "12 34", "１５"]
)
def test_a_whole_number_refuses_what_it_would_read_wrong(typed):
    """Django read « 15.000 » as 15 (a French writer means fifteen thousand)."""
    with pytest.raises(forms.ValidationError) as refused:
        WholeNumberField(required=False).clean(typed)
    assert refused.value.messages == [
        "Saisissez un nombre entier, sans virgule ni point (ex. 1500 ou 1 500)."
    ]


@pytest.mark.parametrize(
    ("typed", "read"), [("43,3452", 43.3452), ("43.3452", 43.3452), ("-0,5", -0.5)]
)
def test_a_decimal_number_is_read_with_a_comma_or_a_dot(typed, read):
    assert DecimalNumberField().clean(typed) == read


@pytest.mark.parametrize(
    "typed", ["43,34,52", "-", "nord", "inf", "nan", "1e1", "4_3,5", "5 3949", "43,"]
)
def test_a_decimal_number_refuses_what_is_not_one(typed):
    with pytest.raises(forms.ValidationError):
        DecimalNumberField().clean(typed)


def test_no_form_asks_a_number_with_an_input_the_browser_empties():
    """A `type="number"` input sends nothing for what the browser cannot read: an optional
    turnover typed « 1e » erased the value kept, and the page said « modifié » (review)."""
    number_inputs = {
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for cls in _project_classes(forms.BaseForm)
        for name, field in cls.base_fields.items()
        if isinstance(field.widget, forms.NumberInput)
    }
    assert number_inputs == set()


@pytest.mark.parametrize(
    ("typed", "read"), [("15 000 €", 15000), ("1500 EUR", 1500), ("8000€", 8000)]
)
def test_euros_are_read_with_their_sign(typed, read):
    assert EurosField(required=False).clean(typed) == read
    with pytest.raises(forms.ValidationError):
        EurosField(required=False).clean("€ deux mille")
