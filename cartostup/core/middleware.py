"""Security headers: a strict Content-Security-Policy with a per-request nonce.

The referrer policy is Django's `SECURE_REFERRER_POLICY` (same-origin): `no-referrer` would make
Chromium send `Origin: null` with form posts, which CSRF protection rightly refuses."""

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponsePermanentRedirect
from django.middleware import common as django_common
from django.utils import translation
from django.utils.http import escape_leading_slashes

from cartostup.access.middleware import REPORTER_PREFIXES, path_under
from cartostup.core.errors import API_PREFIX


def _tile_origin() -> str:
    url = getattr(settings, "CARTOSTUP_TILE_URL", "")
    if not url:
        return ""
    parts = urlsplit(url.replace("{s}", "a"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.tile_origin = _tile_origin()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        img_src = "'self' data: blob:" + (f" {self.tile_origin}" if self.tile_origin else "")
        policy = "; ".join(
            [
                "default-src 'self'",
                f"script-src 'self' 'nonce-{nonce}'",
                "style-src 'self'",
                f"img-src {img_src}",
                "font-src 'self'",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )
        response.setdefault("Content-Security-Policy", policy)
        response.setdefault(
            "Permissions-Policy", "geolocation=(), camera=(), microphone=(), interest-cohort=()"
        )
        return response


# Where a reader's language choice applies: the reporting pages, their API, and the language
# switch itself (its refusals). Everything else is the agents' interface, always in French.
READER_LANGUAGE_PREFIXES = (*REPORTER_PREFIXES, "/i18n/")


class ReaderLanguageMiddleware:
    """On the public reporting pages, French unless the reader chose another language (the
    language cookie set by Django's `set_language` view). Never guessed from the
    Accept-Language header: the interface must not switch to half-English because of a browser
    setting. The staff interface is French whatever the cookie says: a language chosen on a
    public page in the same browser must not turn it half-English (or Arabic)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.available = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = ""
        if path_under(request.path_info, READER_LANGUAGE_PREFIXES):
            chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.available else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class CommonMiddleware(django_common.CommonMiddleware):
    """Django's, except that an API address without its final slash is redirected with 308,
    which keeps the method and the body: a client sending POST /api/v1/dealpoints followed
    Django's 301 with a GET and read the list, 200, as if its point were created
    (partner-developer audit). Django refuses the redirect of a POST when DEBUG is on; an API
    client is told where to send it instead, as in production."""

    def get_full_path_with_slash(self, request: HttpRequest) -> str:
        if path_under(request.path, (API_PREFIX,)):
            return escape_leading_slashes(request.get_full_path(force_append_slash=True))
        return super().get_full_path_with_slash(request)

    def process_request(self, request: HttpRequest) -> Any:
        return self._method_kept(request, super().process_request(request))

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> Any:
        return self._method_kept(request, super().process_response(request, response))

    @staticmethod
    def _method_kept(request: HttpRequest, response: Any) -> Any:
        if isinstance(response, HttpResponsePermanentRedirect) and path_under(
            request.path, (API_PREFIX,)
        ):
            kept = HttpResponse(status=308)
            kept["Location"] = response["Location"]
            return kept
        return response
