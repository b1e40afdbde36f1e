"""Pagination for list pages, with the page numbers the DSFR pagination component shows."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

DEFAULT_PER_PAGE = 50


def page_numbers(number: int, last: int) -> list[int | str]:
    """First, last, and the neighbours of the current page, with "…" for the gaps."""
    wanted = sorted(
        {1, 2, number - 1, number, number + 1, last - 1, last} & set(range(1, last + 1))
    )
    numbers: list[int | str] = []
    for value in wanted:
        if numbers and isinstance(numbers[-1], int) and value - numbers[-1] > 1:
            numbers.append(value - 1 if value - numbers[-1] == 2 else "…")
        numbers.append(value)
    return numbers


def paginate(request: HttpRequest, object_list: Any, per_page: int = DEFAULT_PER_PAGE) -> Page:
    """The requested page (the last one if the number is too high, the first if not a number)."""
    paginator = Paginator(object_list, per_page)
    page = paginator.get_page(request.GET.get("page"))
    page.pages_list = page_numbers(page.number, paginator.num_pages)  # type: ignore[attr-defined]
    return page
