"""What every form page shares: the error summary at the top of the page (DSFR), built from
the form alone (no query), so a template only loops over it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms


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
