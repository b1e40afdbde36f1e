"""Template filters and tags for forms (no query: they only read the bound forms)."""

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


@register.simple_tag(takes_context=True)
def page_form_errors(context: template.Context) -> bool:
    """`{% page_form_errors as errors %}`: whether the page shows a form sent back with errors
    (a bound form of the context with errors, the public form's summary, a list's refused
    filters, a page's own report of errors: `page_errors`, an import's invalid lines). Its
    <title> then begins with « Erreur : » (RGAA 8.6, as the State design system's forms do),
    on every page of `base.html` and `public_base.html`."""
    if context.get("error_summary") or context.get("filter_errors") or context.get("page_errors"):
        return True
    return any(
        isinstance(value, forms.BaseForm) and value.is_bound and bool(value.errors)
        for value in context.flatten().values()
    )
