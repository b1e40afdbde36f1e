"""Every staff page requires a login confirmed by the second factor (deny by default), and a
session left idle too long ends."""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from cartostup.core.navigation import form_page
from cartostup.core.sessions import TIME_GRANULARITY_SECONDS

# Pages that work without an account: login and second factor, public reporting, static files,
# the API (whose permission classes answer for themselves).
PUBLIC_PREFIXES = (
    "/comptes/",
    "/static/",
    "/signaler/",
    "/suivi/",
    "/prevention/",
    "/api/",
    "/i18n/",
)

# Pages and API of anonymous reporters.
REPORTER_PREFIXES = ("/signaler/", "/suivi/", "/prevention/", "/api/public/")

# Session keys: time of the last request, and a flag telling the login page why it is shown.
LAST_SEEN_KEY = "cartostup_last_seen"
SESSION_EXPIRED_KEY = "cartostup_session_expired"
DEFAULT_IDLE_SECONDS = 1800


def path_under(path: str, prefixes: tuple[str, ...]) -> bool:
    """`path` is under one of `prefixes` ("/signaler/..."), or is one of them without its final
    slash ("/signaler"): that address must reach CommonMiddleware's APPEND_SLASH redirect (made
    on the resolver's 404, after this middleware), not the login page."""
    return path.startswith(prefixes) or f"{path}/" in prefixes


def user_is_verified(user: Any) -> bool:
    """True once the user has passed the second factor in this session (set by OTPMiddleware)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(user.is_authenticated and is_verified is not None and is_verified())


def idle_seconds() -> int:
    return int(getattr(settings, "CARTOSTUP_SESSION_IDLE_SECONDS", DEFAULT_IDLE_SECONDS))


def activity_granularity() -> int:
    """How coarsely a session keeps its last activity: 5 minutes, or a sixth of a shorter idle
    timeout (so that a short timeout still works)."""
    return max(1, min(TIME_GRANULARITY_SECONDS, idle_seconds() // 6))


def activity_mark(now: float) -> int:
    """The last-activity time a session keeps: `now` rounded down to the granularity."""
    granularity = activity_granularity()
    return int(now) // granularity * granularity


def _next_page(request: HttpRequest) -> str:
    """Where to go back after logging in. A form posted after the session expired goes back
    to the page it is on (its record's page for an action), never to the address it posted
    to: that may answer only POST, and the redirect after the login is a GET (an empty 405)."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    return form_page(request.path_info, home=reverse(settings.LOGIN_REDIRECT_URL))


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.public_prefixes = (*PUBLIC_PREFIXES, settings.STATIC_URL)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(settings.STATIC_URL) or path == "/favicon.ico":
            return self.get_response(request)
        if not path_under(path, REPORTER_PREFIXES):
            # A staff member's session is never touched from the reporting pages: its
            # last-seen time would record when that browser visited them.
            self._end_idle_session(request)
        if not path_under(path, self.public_prefixes):
            user = request.user
            target = urlencode({"next": _next_page(request)})
            if not user.is_authenticated:
                return redirect(f"{reverse(settings.LOGIN_URL)}?{target}")
            if not user_is_verified(user):
                return redirect(f"{reverse('accounts:second_factor')}?{target}")
            if getattr(user, "must_change_password", False):
                return redirect(f"{reverse('accounts:password_change')}?{target}")
        return self.get_response(request)

    def _end_idle_session(self, request: HttpRequest) -> None:
        """Log out a session idle for longer than `CARTOSTUP_SESSION_IDLE_SECONDS`.

        The session keeps its last activity rounded down (`activity_mark`), never the exact
        second: an operator's session would otherwise hold the time of each call keyed in, which
        the audit log dates to the hour only. Rounded down, a session is never kept past the idle
        timeout, and ends at most one granularity (5 minutes) early."""
        if not request.user.is_authenticated:
            return
        now = int(time.time())
        last_seen = request.session.get(LAST_SEEN_KEY)
        if isinstance(last_seen, int) and now - last_seen > idle_seconds():
            from .account_services import logout_record

            logout_record(user=request.user, reason="idle")  # type: ignore[arg-type]
            logout(request)
            # Messages are not available yet at this point of the chain: the login page reads
            # this flag from the new, anonymous session.
            request.session[SESSION_EXPIRED_KEY] = True
            return
        mark = activity_mark(now)
        if last_seen != mark:  # saved (with its coarse expiry) once per mark, not per request
            request.session[LAST_SEEN_KEY] = mark
