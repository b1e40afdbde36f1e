"""Template filters for forms (no query: they only read the bound form)."""

from __future__ import annotations

from django import forms, template

from cartostup.core.forms import SummaryError, form_error_summary

register = template.Library()


@register.filter
def error_summary(form: forms.BaseForm | None) -> list[SummaryError]:
    """`{% for error in form|error_summary %}`: every error of the form, in page order."""
    if form is None or not hasattr(form, "errors"):
        return []
    return form_error_summary(form)
