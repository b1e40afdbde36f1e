"""What the filter forms of territorial records share."""

from __future__ import annotations

from django import forms

from .selectors import commune_name_error


class CommuneFilterMixin:
    """A filter form's `commune` field: a value no loaded commune is called is said, not an
    empty list read as « nothing there » (`selectors.commune_name_error`)."""

    cleaned_data: dict[str, object]

    def clean_commune(self) -> str:
        value = str(self.cleaned_data.get("commune") or "").strip()
        error = commune_name_error(value)
        if error:
            raise forms.ValidationError(error, code="unknown")
        return value
