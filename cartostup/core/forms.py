"""What every form page shares: the error summary at the top of the page (DSFR), built from
the form alone (no query), so a template only loops over it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# A whole number as a French writer types it: digits, or thousands set apart by a space, a
# no-break or a narrow no-break one (« 15 000 »; « 150 00 » is not one), an optional sign.
_WHOLE = r"[+-]?(?:[0-9]+|[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+)"
_WHOLE_NUMBER = re.compile(_WHOLE)
# A decimal one: a comma or a dot before its decimals.
_DECIMAL_NUMBER = re.compile(rf"{_WHOLE}(?:[.,][0-9]+)?")
THOUSANDS = re.compile(r"[ \u00a0\u202f]")
# The euro's sign or code written before or after an amount (« 1 500 € », « EUR 1500 »), as a
# spreadsheet saves a currency cell: the form's turnover and the import's read it alike.
CURRENCY = re.compile(r"^(?:€|EUR)\s*|\s*(?:€|EUR)$", re.IGNORECASE)


class TypedNumberInput(forms.TextInput):
    """A number typed as text, never `type="number"`: a browser sends nothing for what such an
    input cannot read (« 1e », « - », « deux mille », « 43,345 » in some locales), so an
    optional field took what the analyst typed for an empty one and erased the value kept
    (review). The server reads what was typed and says what is wrong with it."""

    def __init__(self, attrs: dict[str, Any] | None = None, *, decimal: bool = False) -> None:
        super().__init__({"inputmode": "decimal" if decimal else "numeric", **(attrs or {})})


class WholeNumberField(forms.IntegerField):
    """A whole number, thousands spaced or not (« 15 000 »). A dot or a comma is refused, not
    read: Django read « 15.000 » as 15 where a French writer means fifteen thousand."""

    widget = TypedNumberInput
    default_error_messages = {
        "invalid": _("Saisissez un nombre entier, sans virgule ni point (ex. 1500 ou 1 500)."),
    }

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str):
            value = value.strip()
            if value and not _WHOLE_NUMBER.fullmatch(value):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            value = THOUSANDS.sub("", value)
        return super().to_python(value)


class EurosField(WholeNumberField):
    """A whole number of euros, written with its sign or code or without (« 15 000 € »,
    « 1500 EUR »), as the import reads a currency cell: « 15 000 € » was refused as « sans
    virgule ni point », which it has neither (review)."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str):
            value = CURRENCY.sub("", value.strip())
        return super().to_python(value)


class DecimalNumberField(forms.FloatField):
    """A decimal number written with a comma or a dot (« 43,3452 » as « 43.3452 »)."""

    default_error_messages = {
        "invalid": _("Saisissez un nombre décimal (ex. 43,3452 ou 43.3452)."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", TypedNumberInput(decimal=True))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:  # a float or None (the stubs say int)
        if isinstance(value, str):
            value = value.strip()
            if value and not _DECIMAL_NUMBER.fullmatch(value):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            value = THOUSANDS.sub("", value).replace(",", ".")
        return super().to_python(value)


@dataclass(frozen=True)
class SummaryError:
    """One line of the error summary: `anchor` is the id of the element the link focuses
    (empty: the line is not a link)."""

    message: str
    label: str = ""
    anchor: str = ""


def field_anchor(bound: forms.BoundField) -> str:
    """The id of the element a summary link should focus for this field: the first choice of a
    group of radios or checkboxes, the input itself otherwise; none for a hidden input."""
    if bound.is_hidden:
        return ""
    if isinstance(bound.field.widget, forms.RadioSelect):  # also every CheckboxSelectMultiple
        return f"{bound.auto_id}_0" if bound.auto_id else ""
    return bound.id_for_label or (bound.auto_id or "")


def form_error_summary(form: forms.BaseForm) -> list[SummaryError]:
    """Every error of `form`, in the order of its fields (the order of the page), after the
    errors of the whole form. A form may place a field's errors elsewhere with an
    `error_places` mapping (field name -> (label, anchor)): hidden inputs set by a widget (a
    map's latitude and longitude) are then named and linked to what the reader can act on; the
    same message placed twice at one place is shown once."""
    summary = [SummaryError(str(error)) for error in form.non_field_errors()]
    places: dict[str, tuple[Any, str]] = getattr(form, "error_places", {})
    seen: set[tuple[str, str, str]] = set()
    for name in form.fields:
        bound = form[name]
        if not bound.errors:
            continue
        if name in places:
            label, anchor = str(places[name][0]), places[name][1]
        else:
            label, anchor = str(bound.label or ""), field_anchor(bound)
        for error in bound.errors:
            key = (str(error), label, anchor)
            if key not in seen:
                seen.add(key)
                summary.append(SummaryError(*key))
    return summary
