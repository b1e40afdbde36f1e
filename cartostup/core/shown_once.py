"""A secret shown once, on a page reached by a redirect, and written nowhere on its way.

A form that makes a secret (a report's receipt keyed in by an operator, an account's temporary
password) must not show it in the response to its POST: reloading that page posts the form
again. It redirects instead (Post/Redirect/Get) to a page that shows the secret. The secret
crosses the redirect split in two shares of a one-time pad (`secret_split`): one in the
session (in the database), one in a short-lived cookie that only the showing page receives.
Either share alone says nothing of the secret, so it is never written in the database (nor its
backups), a URL or a log. The showing page takes both shares and forgets them
(`ShownOnce.take`, `ShownOnce.forget`): reloading it, or coming back to it, shows nothing.
"""

from __future__ import annotations

import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control

# Time left to follow the redirect: the cookie share is gone after it (the session share
# stays until the page is shown, or the session ends; alone it is noise).
SHOWN_ONCE_SECONDS = 600


def secret_split(secret: str) -> tuple[str, str]:
    """Two shares of an ASCII secret (a one-time pad): `masked` XOR `pad` gives it back,
    either alone says nothing of it."""
    data = secret.encode("ascii")
    pad = secrets.token_bytes(len(data))
    masked = bytes(a ^ b for a, b in zip(data, pad, strict=True))
    return urlsafe_b64encode(masked).decode("ascii"), urlsafe_b64encode(pad).decode("ascii")


def secret_join(masked: object, pad: object, *, valid: Callable[[str], bool]) -> str | None:
    """The secret the two shares of `secret_split` give if `valid` accepts it; None when a
    share is missing, altered, or of another secret (which gives noise `valid` refuses)."""
    if not isinstance(masked, str) or not isinstance(pad, str):
        return None
    try:
        data = bytes(
            a ^ b for a, b in zip(urlsafe_b64decode(masked), urlsafe_b64decode(pad), strict=True)
        )
        secret = data.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return secret if valid(secret) else None


def _no_store(response: HttpResponse) -> HttpResponse:
    """Never kept by a browser or a proxy."""
    patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
    return response


@dataclass(frozen=True)
class ShownOnce:
    """One kind of secret shown once on the page named `page` (a URL name, with `args` when
    the page is per object: the secret is then shown on that object's page only).

    `hand_over` on the redirect after the POST, `take` then `forget` on the page."""

    session_key: str
    cookie: str
    page: str
    valid: Callable[[str], bool]

    def _path(self, args: Sequence[Any]) -> str:
        return reverse(self.page, args=list(args))

    def hand_over(
        self, request: HttpRequest, response: HttpResponse, secret: str, *, args: Sequence[Any] = ()
    ) -> HttpResponse:
        """Keep `secret` for the page: the session holds one share (with the page it is for),
        the browser the other, in a cookie sent to that page only."""
        path = self._path(args)
        masked, pad = secret_split(secret)
        request.session[self.session_key] = {"page": path, "share": masked}
        response.set_cookie(
            self.cookie,
            pad,
            max_age=SHOWN_ONCE_SECONDS,
            path=path,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Strict",
        )
        return _no_store(response)

    def take(self, request: HttpRequest, *, args: Sequence[Any] = ()) -> str | None:
        """The secret handed over for this page, forgotten by the session as it is read; None
        if there is none (already shown, expired, or handed over for another page)."""
        path = self._path(args)
        kept = request.session.get(self.session_key)
        if not isinstance(kept, dict) or kept.get("page") != path:
            return None
        del request.session[self.session_key]
        return secret_join(kept.get("share"), request.COOKIES.get(self.cookie), valid=self.valid)

    def forget(self, response: HttpResponse, *, args: Sequence[Any] = ()) -> HttpResponse:
        """Drop the browser's share (on the page's response, shown or not)."""
        response.delete_cookie(self.cookie, path=self._path(args), samesite="Strict")
        return _no_store(response)
