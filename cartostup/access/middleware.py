"""Every staff page requires a login confirmed by the second factor (deny by default)."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

# Pages that work without an account: login and second factor, public reporting, static files,
# the API (whose permission classes answer for themselves).
PUBLIC_PREFIXES = ("/comptes/", "/static/", "/signaler/", "/suivi/", "/api/", "/i18n/")


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.public_prefixes = PUBLIC_PREFIXES + (settings.STATIC_URL,)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not path.startswith(self.public_prefixes) and path != "/favicon.ico":
            user = request.user
            if not user.is_authenticated:
                return redirect(f"{reverse(settings.LOGIN_URL)}?next={path}")
            if not user.is_verified():  # type: ignore[union-attr]
                return redirect(f"{reverse('accounts:second_factor')}?next={path}")
        return self.get_response(request)
