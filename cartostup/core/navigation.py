"""Which page a form is on, from the address it posts to, for the pages that must send a reader
back to it: the login after a session expired mid-form, the expired-form (CSRF) page, the
"not a page" (405) page.

Most actions of the staff pages are POST-only addresses under the record they act on
(`/signalements/103/accepter/`, `/points-de-deal/16/statut/`): the nearest address above one
that resolves is the record's page. Views that declare their methods with Django's decorators
(`require_http_methods`, `require_POST`, `require_safe`) or are class-based say whether they
answer GET; the others check the method themselves and are treated as actions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.urls import Resolver404, ResolverMatch, resolve

SAFE = "GET"


def _resolved(path: str) -> ResolverMatch | None:
    try:
        return resolve(path)
    except Resolver404:
        return None


def _wrapped_chain(view: Callable[..., Any]) -> Iterator[Any]:
    current: Any = view
    while current is not None:
        yield current
        current = getattr(current, "__wrapped__", None)


def declared_methods(view: Callable[..., Any]) -> frozenset[str] | None:
    """The HTTP methods a view declares it answers, or None if it does not say."""
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if view_class is not None:
        names = getattr(view_class, "http_method_names", ())
        return frozenset(name.upper() for name in names if hasattr(view_class, name))
    for function in _wrapped_chain(view):
        code = getattr(function, "__code__", None)
        for name, cell in zip(
            getattr(code, "co_freevars", ()),
            getattr(function, "__closure__", None) or (),
            strict=False,
        ):
            # The list given to django.views.decorators.http.require_http_methods.
            if name == "request_method_list":
                return frozenset(str(method).upper() for method in cell.cell_contents)
    return None


def answers_get(path: str) -> bool | None:
    """True or False if the view at `path` declares whether it answers GET; None if it does
    not say or nothing is there."""
    match = _resolved(path)
    if match is None:
        return None
    methods = declared_methods(match.func)
    return None if methods is None else SAFE in methods


def parent_page(path: str) -> str | None:
    """The nearest address above `path` that is a page: `/signalements/103/` for
    `/signalements/103/accepter/`, `/points-de-deal/16/` for `/points-de-deal/16/detacher/7/`."""
    parts = [part for part in path.split("/") if part]
    while parts:
        parts.pop()
        candidate = "/" + "".join(f"{part}/" for part in parts)
        if candidate == "/":
            return None
        if _resolved(candidate) is not None and answers_get(candidate) is not False:
            return candidate
    return None


def form_page(path: str, *, home: str) -> str:
    """The page a form posting to `path` is on: `path` itself when its view declares GET (a
    form that posts to its own address), else the nearest page above it (an action's record),
    else `path` if something answers there, else `home`."""
    declared = answers_get(path)
    if declared:
        return path
    parent = parent_page(path)
    if parent is not None:
        return parent
    if declared is None and _resolved(path) is not None:
        return path
    return home
