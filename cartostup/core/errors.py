"""Refusals of a request's body before any view runs: too large (413) or too many fields (400),
in French: JSON `{"detail", "code"}` under /api/, the State design system's page elsewhere.
An unknown address under /api/ (a mistyped or invalid path) is a JSON 404 too.

`RequestSizeLimitMiddleware` refuses a declared `Content-Length` above
`CARTOSTUP_MAX_REQUEST_BYTES` without reading the body; `bad_request` (Django's `handler400`)
explains Django's own refusals while a form is read (`RequestDataTooBig`,
`TooManyFieldsSent`), which would otherwise give the generic "invalid request" page."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.signals import got_request_exception
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve, reverse
from django.utils import formats
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import defaults

from cartostup.access.middleware import path_under

from .navigation import form_page, parent_page

API_PREFIX = "/api/"

logger = logging.getLogger(__name__)


def too_many_fields_message() -> str:
    """The refusal of a body with too many fields or files (here and in the API's handler)."""
    return _("La requête contient trop de champs ou de fichiers.")


def size_label(limit: int) -> str:
    """A size limit in words: "10 Mo", "1,5 Mo", "512 Ko"."""
    if limit >= 1024 * 1024:
        return _("%(size)s Mo") % {"size": formats.number_format(round(limit / (1024 * 1024), 1))}
    return _("%(size)s Ko") % {"size": limit // 1024}


def too_large_message(limit: int) -> str:
    """The refusal of a body over `limit` bytes (the API's parsers and the middleware)."""
    return _("Le corps de la requête dépasse la taille maximale (%(size)s).") % {
        "size": size_label(limit)
    }


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def upload_limit(*, limit: int, message: Callable[[], str]) -> Callable[[ViewT], ViewT]:
    """Marks a page that receives a file: a body too large for the site (413) answers with
    the page's own limit and `message()` (French, said when the page is refused), and a link
    back to the page, not the generic page (which speaks of a photo)."""

    def mark(view: ViewT) -> ViewT:
        view.upload_limit = (limit, message)  # type: ignore[attr-defined]
        return view

    return mark


def _page_upload_limit(request: HttpRequest) -> tuple[int, Callable[[], str]] | None:
    """The limit and message the page at the request's address declares (`upload_limit`)."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return None
    return getattr(match.func, "upload_limit", None)


def too_large_response(request: HttpRequest, limit: int | None = None) -> HttpResponse:
    """413: nothing was kept, nothing is stored."""
    limit = settings.CARTOSTUP_MAX_REQUEST_BYTES if limit is None else limit
    limit_mb = formats.number_format(round(limit / (1024 * 1024), 1))
    own = None if _is_api(request) else _page_upload_limit(request)
    if own is not None:
        page_limit, message = own
        context = {
            "limit_mb": formats.number_format(round(page_limit / (1024 * 1024), 1)),
            "message": message(),
            "back_url": request.path,
        }
        page = loader.get_template("413.html").render(context)
        return HttpResponse(page, status=413)
    if _is_api(request):
        return JsonResponse(
            {
                "detail": too_large_message(limit),
                "code": "too_large",
            },
            status=413,
        )
    page = loader.get_template("413.html").render({"limit_mb": limit_mb})
    return HttpResponse(page, status=413)


class RequestSizeLimitMiddleware:
    """A body declared larger than `CARTOSTUP_MAX_REQUEST_BYTES` is refused before it is read
    (Django limits form fields, not the files of a multipart body, nor what it reads for an
    unparsed request)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        length = int(declared) if declared.isdigit() else 0
        if length > settings.CARTOSTUP_MAX_REQUEST_BYTES:
            return too_large_response(request)
        return self.get_response(request)


# What SQLite says when a write waited its busy timeout behind another (`PRAGMA busy_timeout`).
SQLITE_BUSY = "database is locked"
# When a client should try again after a 503 « occupée » (`Retry-After`).
BUSY_RETRY_SECONDS = 10


def _busy(error: BaseException | None) -> bool:
    """Whether `error` is SQLite's « database is locked », or was raised while handling it
    (the session's save turns it into `SessionInterrupted`, a 400)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OperationalError) and SQLITE_BUSY in str(error):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def busy_message(*, reader: bool) -> str:
    if reader:
        return _(
            "Le service est très sollicité en ce moment : votre envoi n'a pas pu être "
            "enregistré, et rien ne l'a été."
        )
    return _(
        "Une autre écriture longue est en cours (un import de milliers de lignes, par "
        "exemple) et votre demande n'a pas pu attendre sa fin : elle n'a pas abouti."
    )


def busy_response(request: HttpRequest) -> HttpResponse:
    """503 « plateforme occupée », with `Retry-After`: JSON under /api/, the page elsewhere
    (the reader's, in the reader's language, on the public pages)."""
    match = getattr(request, "resolver_match", None)
    # The view's name only: an address may hold what a reporter typed.
    logger.warning("base occupée : %s refusé (503)", getattr(match, "view_name", "?"))
    # A reporter's words on the public pages and the public API (`reader_page`).
    message = busy_message(reader=reader_page(request))
    response: HttpResponse
    if _is_api(request):
        response = JsonResponse({"detail": message, "code": "busy"}, status=503)
    else:
        context = {"message": message, "home_url": home_url(request)}
        response = render(request, "503.html", context, status=503)
    response["Retry-After"] = str(BUSY_RETRY_SECONDS)
    add_never_cache_headers(response)
    return response


def _busy_flagged(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Marks a request whose unhandled exception was SQLite's « database is locked », raised
    where `process_exception` never sees it (a middleware saving the session)."""
    if request is not None and _busy(sys.exc_info()[1]):
        request._cartostup_busy = True  # type: ignore[attr-defined]


got_request_exception.connect(_busy_flagged, dispatch_uid="cartostup-busy-database")


class BusyDatabaseMiddleware:
    """SQLite, `make run`'s database, writes one transaction at a time: a request that waited
    its busy timeout behind a long one (a check of a 5,000-line import: 40 s here) was a 500
    (new-user review). It is a 503 (`busy_response`): from a view (`process_exception`), or
    from the middleware inside this one, the session's save included (flagged by
    `_busy_flagged`, then the 500 replaced here; the session's save that Django turns into a
    400 is answered by `bad_request`). The request's transaction was rolled back.
    PostgreSQL locks rows, not the database, and never says this. Placed inside the security
    headers' middleware (its page has them), outside the session's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, "_cartostup_busy", False):
            return busy_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return busy_response(request) if _busy(exception) else None


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 handler, with Django's refusals of a body explained; a session that could
    not be saved behind a long write is the 503 of a busy database (`busy_response`)."""
    if _busy(exception):
        return busy_response(request)
    if isinstance(exception, RequestDataTooBig):
        return too_large_response(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        message, code = too_many_fields_message(), "too_many_fields"
    else:
        message, code = _("Le serveur n'a pas pu traiter la demande."), "bad_request"
    if _is_api(request):
        return JsonResponse({"detail": message, "code": code}, status=400)
    return defaults.bad_request(request, exception or Exception(), template_name="400.html")


class NotFoundForRole(Http404):
    """A page this role never receives, whatever the address names (a prefecture sent a link
    to a point's record): the 404 page says why, in `reason`, with a way to what the role
    does receive (`link`, `link_label`). Said alike whether the object exists or not, it
    tells nothing of it."""

    def __init__(self, reason: str, *, link: str = "", link_label: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.link = link
        self.link_label = link_label


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: JSON under /api/ (an unknown or malformed address), the page
    elsewhere (with the reason of a `NotFoundForRole`)."""
    if _is_api(request):
        return JsonResponse(
            {"detail": _("Aucune ressource à cette adresse de l'API."), "code": "not_found"},
            status=404,
        )
    if isinstance(exception, NotFoundForRole):
        context = {
            "reason": exception.reason,
            "reason_link": exception.link,
            "reason_link_label": exception.link_label,
        }
        return HttpResponseNotFound(loader.render_to_string("404.html", context, request=request))
    return defaults.page_not_found(request, exception or Exception(), template_name="404.html")


def reader_page(request: HttpRequest) -> bool:
    """True under the public reporting addresses, whose pages speak the reader's language."""
    from .middleware import READER_LANGUAGE_PREFIXES

    return path_under(request.path_info, READER_LANGUAGE_PREFIXES)


def home_url(request: HttpRequest) -> str:
    """Where "home" is for this request: the report form for a reader, the agents' home."""
    return reverse("reports_public:report" if reader_page(request) else "core:home")


def method_not_allowed(request: HttpRequest, response: HttpResponse) -> None:
    """Fill Django's empty 405 (`HttpResponseNotAllowed`) with the site's page, in place: its
    status, its Allow header and what the inner middleware added (cookies, headers) stay."""
    allowed = {method.strip() for method in response.get("Allow", "").split(",")}
    context = {
        "home_url": home_url(request),
        "back_url": None if "GET" in allowed else parent_page(request.path_info),
        # A logout link followed (a bookmark, an old habit): offer the button it needs.
        "logout": request.path_info == reverse("accounts:logout")
        and getattr(request, "user", None) is not None
        and request.user.is_authenticated,
    }
    response.content = loader.render_to_string("405.html", context, request=request)
    response["Content-Type"] = "text/html; charset=utf-8"


def _reader_form_url(request: HttpRequest) -> str:
    """The public page a reader's refused form is on: the follow-up's forms (the receipt, a
    reply) are on /suivi/, the report form and the language switch on /signaler/."""
    if path_under(request.path_info, ("/suivi/",)):
        return reverse("reports_public:followup")
    return reverse("reports_public:report")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """`CSRF_FAILURE_VIEW`: the form expired (its page stayed open too long, or the site's
    cookies were cleared), in French (or the reader's language on the public pages), with a
    link to the page the form is on, found from the address it posted to (never from the
    Referer). `reason` is Django's English diagnosis: neither shown nor logged here."""
    reader = reader_page(request)
    home = home_url(request)
    context = {
        "reader": reader,
        "home_url": home,
        "form_url": _reader_form_url(request)
        if reader
        else form_page(request.path_info, home=home),
    }
    response = render(request, "403_csrf.html", context, status=403)
    add_never_cache_headers(response)
    return response


class MethodNotAllowedPageMiddleware:
    """Django's 405 has an empty body (a GET on a button's address: `/comptes/deconnexion/`,
    `/signalements/10/accepter/`): the pages get a French page saying what the address is and
    linking to the record's page. Under /api/ the API's own JSON 405 is left as is.

    Last in MIDDLEWARE, so that the CSRF cookie, messages and security headers of the other
    middleware still apply to the page it fills."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 405
            and not _is_api(request)
            and not getattr(response, "streaming", False)
            and not response.content
            and request.method != "HEAD"
        ):
            method_not_allowed(request, response)
        return response


def export_refused(
    request: HttpRequest,
    *,
    filterset: Any,
    errors: dict[str, list[str]],
    list_name: str,
    correct_hint: str,
) -> HttpResponse:
    """The site's 400 page for an export whose filters cannot apply: each error with its
    filter's label (`filterset`, unbound, gives the labels), and a link back to the list
    (`list_name`) with the same filters, where the form says them beside the fields."""
    from cartostup.access.filters import filter_error_messages

    query = request.GET.urlencode()
    context = {
        "page_title": _("Export impossible"),
        "filter_errors": filter_error_messages(filterset, errors),
        "list_url": reverse(list_name) + (f"?{query}" if query else ""),
        "correct_hint": correct_hint,
    }
    return render(request, "export_refused.html", context, status=400)
