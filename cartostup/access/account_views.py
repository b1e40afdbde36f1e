"""Account pages: login, second factor (enrolment and verification), logout, password change,
personal API tokens."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from cartostup.core.navigation import answers_get, form_page
from cartostup.core.shown_once import ShownOnce

from . import account_services as services
from . import policy, selectors, tokens
from .account_forms import ApiTokenForm, CodeForm, LoginForm, PasswordChangeForm
from .middleware import SESSION_EXPIRED_KEY, idle_seconds, user_is_verified
from .models import ApiToken, User

View = Callable[..., HttpResponse]


def _safe_next(request: HttpRequest) -> str:
    """The `next` target if it is an address on this site that answers GET (the redirect after the
    login is a GET: an address that only takes a form's POST gives its record's page, or the
    home page), else the home page."""
    home = reverse(settings.LOGIN_REDIRECT_URL)
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A relative address (« foo ») would be read by `redirect` as the name of a view.
    if target and not target.startswith("/") and not urlsplit(target).netloc:
        return home
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        path = urlsplit(target).path
        if answers_get(path) is False or path == reverse("accounts:logout"):
            return form_page(path, home=home)
        return target
    return home


def _with_next(url_name: str, target: str) -> str:
    if target == reverse(settings.LOGIN_REDIRECT_URL):
        return reverse(url_name)
    return f"{reverse(url_name)}?{urlencode({'next': target})}"


def verified_required(view: View) -> View:
    """For account pages under the public `/comptes/` prefix that still need a full login."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect(_with_next(settings.LOGIN_URL, request.get_full_path()))
        if not user_is_verified(request.user):
            return redirect(_with_next("accounts:second_factor", request.get_full_path()))
        return view(request, *args, **kwargs)

    return wrapper


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    target = _safe_next(request)
    if request.user.is_authenticated:
        if user_is_verified(request.user):
            return redirect(target)
        return redirect(_with_next("accounts:second_factor", target))
    if request.session.pop(SESSION_EXPIRED_KEY, False):
        messages.info(request, _("Votre session a expiré. Veuillez vous reconnecter."))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.login_password_check(
            username=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        if user is not None:
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_with_next("accounts:second_factor", target))
        form.add_error(None, _login_refused_message())
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": target, "page_title": _("Connexion")},
    )


def _login_refused_message() -> str:
    # One message for every refusal (unknown account, wrong password, locked account), so the
    # page tells nothing about which accounts exist or whether a locked one's password was right.
    minutes = int(settings.CARTOSTUP_LOGIN_LOCKOUT.total_seconds() // 60)
    return _(
        "Identifiant ou mot de passe incorrect. Après %(count)s échecs consécutifs, le compte est "
        "verrouillé pendant %(minutes)s minutes : réessayez plus tard ou contactez votre "
        "administrateur."
    ) % {"count": settings.CARTOSTUP_LOGIN_MAX_FAILURES, "minutes": minutes}


def _qr_data_uri(device: Any) -> str:
    """The enrolment QR code as an SVG data URI: no external image, nothing inline to style."""
    qr = segno.make(device.config_url, error="m")
    return str(qr.svg_data_uri(scale=5, dark="#000", light="#fff", border=4))


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _locked_out(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.error(request, _login_refused_message())
    return redirect(settings.LOGIN_URL)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def second_factor_view(request: HttpRequest) -> HttpResponse:
    target = _safe_next(request)
    if not request.user.is_authenticated:
        return redirect(_with_next(settings.LOGIN_URL, target))
    if user_is_verified(request.user):
        return redirect(target)
    user: User = request.user  # type: ignore[assignment]
    enrolment = services.user_confirmed_device(user=user) is None
    device = services.totp_enrolment_start(user=user) if enrolment else None
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        if device is not None:
            result = services.totp_enrolment_confirm(user=user, device=device, code=code)
        else:
            result = services.second_factor_verify(user=user, code=code)
        if result.outcome == services.CodeOutcome.ACCEPTED:
            # A new session key for the raised privilege, as after the password.
            request.session.cycle_key()
            otp_login(request, result.device)
            if enrolment:
                messages.success(request, _("Votre second facteur est activé."))
            return redirect(target)
        if result.outcome == services.CodeOutcome.LOCKED:
            return _locked_out(request)
        if result.outcome == services.CodeOutcome.THROTTLED:
            form.add_error(
                "code", _("Trop de tentatives rapprochées : patientez quelques secondes.")
            )
        else:
            form.add_error("code", _("Code incorrect ou expiré."))
    context: dict[str, Any] = {"form": form, "next": target, "enrolment": enrolment}
    if device is not None:
        context["qr_data_uri"] = _qr_data_uri(device)
        context["secret_grouped"] = _grouped(services.totp_secret_base32(device))
        context["page_title"] = _("Activer le second facteur")
    else:
        context["page_title"] = _("Second facteur")
    return render(request, "accounts/second_factor.html", context)


@require_POST
@csrf_protect
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.logout_record(user=request.user, reason="user")  # type: ignore[arg-type]
    auth_logout(request)
    messages.success(request, _("Vous êtes déconnecté."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


@require_POST
@csrf_protect
@never_cache
def session_keepalive(request: HttpRequest) -> JsonResponse:
    """« Prolonger la session » (cartostup/session_timeout.js): the request itself keeps the
    session (the idle middleware marks every staff request); answers whether it is still open.
    A session already closed answers 401: the page then offers to log in again."""
    if not user_is_verified(request.user):
        return JsonResponse({"active": False}, status=401)
    return JsonResponse({"active": True, "idle_seconds": idle_seconds()})


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@verified_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PasswordChangeForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(user=user, new_password=form.cleaned_data["new_password1"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            user.refresh_from_db()
            # Keep this session (and its verified second factor); other sessions end.
            update_session_auth_hash(request, user)
            messages.success(request, _("Votre mot de passe a été changé."))
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "page_title": _("Changer de mot de passe")},
    )


# --- personal API tokens -------------------------------------------------------------------------

# A new token crosses the redirect after its creation in two shares (`core.shown_once`): one in
# the session, one in a short-lived cookie of the page that shows it; never in a URL or a log.
API_TOKEN_SHOWN_ONCE = ShownOnce(
    session_key="accounts.api_token",
    cookie="cartostup_api_token",
    page="accounts:api_token_created",
    valid=lambda value: tokens.token_parse(value) is not None,
)


def _token_page_refused(request: HttpRequest) -> HttpResponse | None:
    """The account page of API tokens is for a verified user with their own password who holds
    a role that uses API tokens (the policy); others get the password page or 404."""
    if getattr(request.user, "must_change_password", False):
        return redirect(_with_next("accounts:password_change", request.get_full_path()))
    policy.require(request.user, policy.Capability.USE_API_TOKENS)
    return None


@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@verified_required
def api_tokens_view(request: HttpRequest) -> HttpResponse:
    """« Jetons d'accès à l'API »: the user's tokens, a form to create one (shown once, on the
    next page), a button to revoke each."""
    refused = _token_page_refused(request)
    if refused is not None:
        return refused
    user: User = request.user  # type: ignore[assignment]
    form = ApiTokenForm(
        request.POST or None,
        max_days=services.api_token_max_days(),
        default_days=int(getattr(settings, "CARTOSTUP_API_TOKEN_DEFAULT_DAYS", 90)),
    )
    if request.method == "POST" and form.is_valid():
        try:
            created = services.api_token_create(
                actor=user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except ValidationError as error:
            by_field = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            for field, errors in by_field.items():
                form.add_error(field if field in form.fields else None, ValidationError(errors))
        else:
            return API_TOKEN_SHOWN_ONCE.hand_over(
                request, redirect("accounts:api_token_created"), created.value
            )
    return render(
        request,
        "accounts/api_tokens.html",
        {
            "page_title": _("Jetons d'accès à l'API"),
            "form": form,
            "api_tokens": selectors.api_token_list_own(actor=user),
            "now": timezone.now(),
        },
    )


@never_cache
@require_http_methods(["GET", "HEAD"])
@verified_required
def api_token_created_view(request: HttpRequest) -> HttpResponse:
    """The token just created, shown once: both shares are forgotten as the page is made, so
    reloading it (or coming back) does not show it again."""
    refused = _token_page_refused(request)
    if refused is not None:
        return refused
    value = API_TOKEN_SHOWN_ONCE.take(request)
    parsed = tokens.token_parse(value) if value is not None else None
    token = (
        selectors.api_token_list_own(actor=request.user).filter(prefix=parsed.prefix).first()
        if parsed is not None
        else None
    )
    if token is None or value is None:
        messages.info(
            request,
            _(
                "Un jeton d'accès n'est affiché qu'une fois, à sa création : il ne peut plus "
                "être montré. Révoquez-le s'il est perdu et créez-en un autre."
            ),
        )
        response: HttpResponse = redirect("accounts:api_tokens")
    else:
        response = render(
            request,
            "accounts/api_token_created.html",
            {"page_title": _("Nouveau jeton d'accès"), "api_token": token, "value": value},
        )
    return API_TOKEN_SHOWN_ONCE.forget(response)


@require_POST
@csrf_protect
@verified_required
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's tokens (the policy: their own; 404 otherwise)."""
    refused = _token_page_refused(request)
    if refused is not None:
        return refused
    token = policy.access_object(ApiToken, actor=request.user, pk=pk, action=policy.Action.CHANGE)
    if services.api_token_revoke(actor=request.user, token=token):  # type: ignore[arg-type]
        messages.success(
            request,
            _("Le jeton « %(name)s » est révoqué : il ne marche plus.") % {"name": token.name},
        )
    return redirect("accounts:api_tokens")
