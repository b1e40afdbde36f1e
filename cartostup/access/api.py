"""REST framework glue of the access app: the permission (the policy decides: a logged-in user
whose second factor is verified, or a personal API token, holding a role that uses the
workspace), the token authentication, and the session authentication, whose CSRF refusals are
said in French with their own code."""

from typing import Any

from django.conf import settings
from django.middleware import csrf
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from . import account_services, policy

CSRF_HEADER = "X-CSRFToken"


class IsVerifiedMember(BasePermission):
    message = gettext_lazy("Authentification à deux facteurs requise.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return policy.is_verified_member(request.user)


class CsrfFailed(exceptions.PermissionDenied):
    default_code = "csrf_failed"


def csrf_refusal_message(reason: str) -> str:
    """Django's CSRF refusal (English, for logs) said to an API client in French: what is
    missing or wrong, and what a session client sends."""
    cookie = settings.CSRF_COOKIE_NAME
    how = _(
        "Une écriture par une session (POST, PUT, PATCH, DELETE) porte l'en-tête %(header)s avec "
        "la valeur du cookie « %(cookie)s »."
    ) % {"header": CSRF_HEADER, "cookie": cookie}
    if reason == csrf.REASON_NO_CSRF_COOKIE or reason.startswith("CSRF cookie "):
        what = _("Refus CSRF : le cookie « %(cookie)s » manque ou est invalide.") % {
            "cookie": cookie
        }
    elif reason == csrf.REASON_CSRF_TOKEN_MISSING:
        what = _("Refus CSRF : l'en-tête %(header)s manque.") % {"header": CSRF_HEADER}
    elif reason.startswith("CSRF token from "):
        what = _(
            "Refus CSRF : l'en-tête %(header)s ne correspond pas au cookie « %(cookie)s »."
        ) % {"header": CSRF_HEADER, "cookie": cookie}
    elif reason.startswith(("Origin checking failed", "Referer checking failed")):
        what = _(
            "Refus CSRF : la requête ne vient pas de ce site (en-tête Origin ou Referer absent, "
            "invalide ou d'un autre site)."
        )
    else:
        what = _("Refus CSRF : la requête n'a pas passé la vérification CSRF.")
    return f"{what} {how}"


class SessionAuthentication(authentication.SessionAuthentication):
    """REST framework's session authentication, whose CSRF refusal said « CSRF Failed: CSRF
    token missing. » with the code `permission_denied`: now a French sentence and the code
    `csrf_failed` (the same check, Django's)."""

    def enforce_csrf(self, request: Request) -> None:
        check = authentication.CSRFCheck(lambda _request: None)  # type: ignore[arg-type,return-value]
        check.process_request(request)
        reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
        if reason:
            raise CsrfFailed(csrf_refusal_message(str(reason)), code="csrf_failed")


class SessionScheme(OpenApiAuthenticationExtension):
    """The schema's session scheme, as drf-spectacular writes it for REST framework's class
    (which it matches by exact class only)."""

    target_class = SessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": _(
                "Session du navigateur, après la connexion et le second facteur ; chaque "
                "écriture porte l'en-tête %(header)s avec la valeur du cookie « %(cookie)s »."
            )
            % {"header": CSRF_HEADER, "cookie": settings.CSRF_COOKIE_NAME},
        }


class TokenInvalid(exceptions.AuthenticationFailed):
    default_code = "token_invalid"


TOKEN_KEYWORDS = (b"bearer", b"token")
TOKEN_REALM = 'Bearer realm="Cartostup"'


def _token_refusal_message(check: account_services.TokenCheck) -> str:
    refusal = check.refusal
    if refusal == account_services.TokenRefusal.EXPIRED and check.token is not None:
        expired = timezone.localtime(check.token.expires_at)
        return _(
            "Ce jeton d'accès a expiré le %(date)s : créez-en un autre sur la page « Jetons "
            "d'accès à l'API » de votre compte."
        ) % {"date": date_format(expired, "d/m/Y")}
    if refusal == account_services.TokenRefusal.REVOKED:
        return _("Ce jeton d'accès a été révoqué.")
    if refusal == account_services.TokenRefusal.ACCOUNT:
        return _(
            "Le compte de ce jeton d'accès ne peut plus utiliser l'API (compte désactivé, mot "
            "de passe à changer ou rôle retiré)."
        )
    return _("Jeton d'accès inconnu ou invalide.")


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`): a personal API token, which acts
    exactly as its user through the same policy. No CSRF check: the browser never sends this
    header by itself. A bad, expired or revoked token is a 401 (French detail, code
    `token_invalid`) with `WWW-Authenticate`; without the header the session is tried."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in TOKEN_KEYWORDS:
            return None
        if len(header) != 2:
            raise TokenInvalid(
                _("En-tête Authorization invalide : « Bearer <jeton> » attendu."),
                code="token_invalid",
            )
        try:
            value = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise TokenInvalid(
                _("Jeton d'accès inconnu ou invalide."), code="token_invalid"
            ) from None
        check = account_services.api_token_check(value=value)
        if check.refusal is not None or check.token is None:
            raise TokenInvalid(_token_refusal_message(check), code="token_invalid")
        return account_services.api_token_acting_user(check.token), check.token

    def authenticate_header(self, request: Request) -> str:
        return TOKEN_REALM


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": _(
                "Jeton d'accès personnel (page « Jetons d'accès à l'API » du compte), envoyé "
                "dans l'en-tête « Authorization: Bearer <jeton> ». Il agit exactement comme son "
                "titulaire ; aucun en-tête CSRF n'est demandé. Un jeton inconnu, expiré ou "
                "révoqué reçoit 401 (code token_invalid)."
            ),
        }
