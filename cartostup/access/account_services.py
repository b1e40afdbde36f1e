"""Writes on accounts: password check with lockout, TOTP second factor, logout, password change,
personal API tokens and the demo credentials.

Every function is keyword-only, runs in one transaction and records its audit event inside it.
Nothing here stores or logs an IP address, a user agent or the username typed by a stranger.
"""

from __future__ import annotations

import os
from base64 import b32encode
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction

from . import policy, tokens
from .models import ApiToken, User

# Shared by every demo account; usable only when the demo is switched on (see `demo_mode_enabled`).
DEMO_PASSWORD = "Cartostup-demo-2026"
DEMO_DEVICE_NAME = "démo"
ENROLMENT_DEVICE_NAME = "application d'authentification"


def demo_mode_enabled() -> bool:
    """The demo credentials exist only on a development server or an explicit demo instance."""
    return bool(settings.DEBUG) or os.environ.get("CARTOSTUP_DEMO", "") == "1"


def totp_secret_base32(device: TOTPDevice) -> str:
    """The device's secret as an authenticator app expects it when typed by hand."""
    return b32encode(device.bin_key).decode("ascii")


def _is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > timezone.now()


def _count_failure(*, user: User) -> bool:
    """Add one failure to the account; lock it once the limit is reached. True if now locked."""
    user.failed_login_count += 1
    locked = user.failed_login_count >= settings.CARTOSTUP_LOGIN_MAX_FAILURES
    if locked:
        user.locked_until = timezone.now() + settings.CARTOSTUP_LOGIN_LOCKOUT
        user.failed_login_count = 0
    user.save(update_fields=["failed_login_count", "locked_until"])
    if locked:
        audit_record(
            actor=user,
            action=AuditAction.LOCKED,
            target=user,
            details={"minutes": int(settings.CARTOSTUP_LOGIN_LOCKOUT.total_seconds() // 60)},
        )
    return locked


# --- first factor -------------------------------------------------------------------------------


@transaction.atomic
def login_password_check(*, username: str, password: str) -> User | None:
    """Check a username and password; the user if both match and the account is usable.

    Counts consecutive failures per account and locks it for `CARTOSTUP_LOGIN_LOCKOUT` after
    `CARTOSTUP_LOGIN_MAX_FAILURES`. While locked, even the right password is refused, and the
    answer is the same as for a wrong password or an unknown account (no enumeration, no
    password oracle during the lockout). A hash is computed in every case so that timing does not
    tell the cases apart either.
    """
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        make_password(password)
        # The typed name is not recorded: it may be a mistyped password or someone else's name.
        audit_record(actor=None, action=AuditAction.LOGIN_FAILED, details={"reason": "unknown"})
        return None
    if _is_locked(user):
        make_password(password)
        audit_record(
            actor=user, action=AuditAction.LOGIN_FAILED, target=user, details={"reason": "locked"}
        )
        return None
    if not user.check_password(password) or not user.is_active:
        audit_record(
            actor=user,
            action=AuditAction.LOGIN_FAILED,
            target=user,
            details={"reason": "password" if user.is_active else "inactive"},
        )
        _count_failure(user=user)
        return None
    if user.failed_login_count or user.locked_until:
        user.failed_login_count = 0
        user.locked_until = None
        user.save(update_fields=["failed_login_count", "locked_until"])
    return user


# --- second factor ------------------------------------------------------------------------------


class CodeOutcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    # Asked again too soon after a wrong code (django-otp's growing delay); not counted.
    THROTTLED = "throttled"
    # Too many wrong codes: the account is locked and the session must end.
    LOCKED = "locked"


@dataclass(frozen=True)
class CodeResult:
    outcome: CodeOutcome
    device: TOTPDevice | None = None


def user_confirmed_device(*, user: User) -> TOTPDevice | None:
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-last_used_at", "pk").first()
    )


@transaction.atomic
def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device the user is enrolling, created on first need.

    The same device is reused until it is confirmed, so the QR code does not change when the
    page is reloaded or a code is mistyped.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice(user=user, name=ENROLMENT_DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


def _normalise_code(code: str) -> str:
    return "".join(code.split())


def _verify(*, user: User, device: TOTPDevice, code: str, enrolment: bool) -> CodeResult:
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        return CodeResult(CodeOutcome.THROTTLED, device)
    if device.verify_token(_normalise_code(code)):
        if user.failed_login_count:
            user.failed_login_count = 0
            user.save(update_fields=["failed_login_count"])
        return CodeResult(CodeOutcome.ACCEPTED, device)
    audit_record(
        actor=user,
        action=AuditAction.OTP_FAILED,
        target=user,
        details={"enrolment": enrolment},
    )
    locked = _count_failure(user=user)
    return CodeResult(CodeOutcome.LOCKED if locked else CodeOutcome.REFUSED, device)


@transaction.atomic
def second_factor_verify(*, user: User, code: str) -> CodeResult:
    """Check a code against the user's confirmed device; wrong codes count towards the lockout."""
    locked_user = User.objects.select_for_update().get(pk=user.pk)
    if _is_locked(locked_user):
        return CodeResult(CodeOutcome.LOCKED)
    device = user_confirmed_device(user=locked_user)
    if device is None:
        return CodeResult(CodeOutcome.REFUSED)
    result = _verify(user=locked_user, device=device, code=code, enrolment=False)
    if result.outcome == CodeOutcome.ACCEPTED:
        audit_record(
            actor=locked_user, action=AuditAction.LOGIN, target=locked_user, details={"otp": "totp"}
        )
    return result


@transaction.atomic
def totp_enrolment_confirm(*, user: User, device: TOTPDevice, code: str) -> CodeResult:
    """Confirm the device being enrolled with a first code read from the user's app."""
    locked_user = User.objects.select_for_update().get(pk=user.pk)
    if _is_locked(locked_user):
        return CodeResult(CodeOutcome.LOCKED)
    if device.user_id != locked_user.pk or device.confirmed:
        return CodeResult(CodeOutcome.REFUSED)
    result = _verify(user=locked_user, device=device, code=code, enrolment=True)
    if result.outcome == CodeOutcome.ACCEPTED:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(
            actor=locked_user, action=AuditAction.OTP_ENROL, target=locked_user, details={}
        )
        audit_record(
            actor=locked_user, action=AuditAction.LOGIN, target=locked_user, details={"otp": "totp"}
        )
    return result


# --- session end and password -------------------------------------------------------------------


@transaction.atomic
def logout_record(*, user: User, reason: str = "user") -> None:
    """Record the end of a session: `user` (the button) or `idle` (the idle timeout)."""
    audit_record(actor=user, action=AuditAction.LOGOUT, target=user, details={"reason": reason})


@transaction.atomic
def password_change(*, user: User, new_password: str) -> None:
    """Set a new password (already validated by the form against the password validators).
    Refuses the current one: a temporary password given by an administrator (which they saw)
    must really be replaced, and a "change" that changes nothing is not recorded as one."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.check_password(new_password):
        raise ValidationError(
            {
                "new_password1": _(
                    "Le nouveau mot de passe doit être différent du mot de passe actuel (ou "
                    "provisoire) : choisissez-en un autre."
                )
            }
        )
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    audit_record(actor=user, action=AuditAction.PASSWORD_CHANGE, target=user)


# --- personal API tokens ------------------------------------------------------------------------

# A token's use refreshes its « dernière utilisation » at most this often (not one write per
# request).
TOKEN_USE_RECORD_SECONDS = 60


def api_token_max_days() -> int:
    return int(getattr(settings, "CARTOSTUP_API_TOKEN_MAX_DAYS", 365))


@dataclass(frozen=True)
class CreatedApiToken:
    token: ApiToken
    # The whole token (`cst_<prefix>_<secret>`), to show once: it is stored nowhere.
    value: str


@transaction.atomic
def api_token_create(*, actor: User, name: str, days: int) -> CreatedApiToken:
    """A new personal API token of the actor, valid `days` days (1 to
    `CARTOSTUP_API_TOKEN_MAX_DAYS`). Only the keyed hash of its secret is stored; the value is
    returned once. A token never makes another (the page needs a session verified by the
    second factor)."""
    policy.require(actor, policy.Capability.USE_API_TOKENS)
    if getattr(actor, policy.API_TOKEN_ATTRIBUTE, None) is not None:
        raise ValidationError(_("Un jeton d'accès ne crée pas d'autre jeton."))
    maximum = api_token_max_days()
    if not 1 <= days <= maximum:
        raise ValidationError(
            {"days": _("La durée de validité va de 1 à %(max)s jours.") % {"max": maximum}}
        )
    value, prefix, secret = tokens.token_generate()
    token = ApiToken(
        user=actor,
        name=name.strip(),
        prefix=prefix,
        digest=tokens.token_digest(secret),
        expires_at=timezone.now() + timedelta(days=days),
    )
    token.full_clean()
    token.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        target=token,
        details={"api_token": token.pk, "prefix": prefix, "days": days},
    )
    return CreatedApiToken(token=token, value=value)


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken) -> bool:
    """Revoke a token the policy let the actor change (its own; an administrator, any user's).
    False if it was already revoked (nothing written)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.revoked_by = actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=token,
        details={"api_token": token.pk, "prefix": token.prefix, "revoked": True},
    )
    return True


class TokenRefusal(StrEnum):
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    # The account may no longer act through a token (`policy.api_token_may_act`).
    ACCOUNT = "account"


@dataclass(frozen=True)
class TokenCheck:
    token: ApiToken | None
    refusal: TokenRefusal | None = None


def api_token_check(*, value: str) -> TokenCheck:
    """The token a client sent, with its user, if it is valid; otherwise why not. Its state
    (revoked, expired) is told only once its secret matched. Records when it was last used
    (at most once a minute)."""
    parsed = tokens.token_parse(value)
    token = (
        ApiToken.objects.select_related("user").filter(prefix=parsed.prefix).first()
        if parsed is not None
        else None
    )
    if token is None or parsed is None or not tokens.token_matches(token.digest, parsed.secret):
        if parsed is not None and token is None:
            tokens.token_digest(parsed.secret)  # same work whether the prefix exists or not
        return TokenCheck(None, TokenRefusal.UNKNOWN)
    now = timezone.now()
    if token.revoked_at is not None:
        return TokenCheck(None, TokenRefusal.REVOKED)
    if token.expires_at <= now:
        return TokenCheck(token, TokenRefusal.EXPIRED)
    if not policy.api_token_may_act(token.user):
        return TokenCheck(None, TokenRefusal.ACCOUNT)
    stale = now - timedelta(seconds=TOKEN_USE_RECORD_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return TokenCheck(token)


def api_token_acting_user(token: ApiToken) -> Any:
    """The token's user, marked as acting through it (`policy.API_TOKEN_ATTRIBUTE`): the policy
    treats it as verified while the token may act, and its audit events name the token."""
    user = token.user
    setattr(user, policy.API_TOKEN_ATTRIBUTE, token.pk)
    return user


# --- demo ---------------------------------------------------------------------------------------


@transaction.atomic
def demo_account_credentials_ensure(*, user: User) -> str:
    """Give a demo account the shared demo password and a confirmed TOTP device named "démo".

    Idempotent. Returns the device's base32 secret (for an authenticator app). Refuses outside a
    development server or a demo instance (`CARTOSTUP_DEMO=1`), so that no production account
    can get the published password.
    """
    if not demo_mode_enabled():
        raise ImproperlyConfigured(
            "Les identifiants de démonstration n'existent qu'avec DEBUG ou CARTOSTUP_DEMO=1."
        )
    if not user.has_usable_password() or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.failed_login_count = 0
        user.locked_until = None
        user.save(update_fields=["password", "failed_login_count", "locked_until"])
        audit_record(
            actor=None, action=AuditAction.PASSWORD_CHANGE, target=user, details={"demo": True}
        )
    device = TOTPDevice.objects.filter(user=user, name=DEMO_DEVICE_NAME, confirmed=True).first()
    if device is None:
        device = TOTPDevice(user=user, name=DEMO_DEVICE_NAME, confirmed=True)
        device.full_clean()
        device.save()
        audit_record(actor=None, action=AuditAction.OTP_ENROL, target=user, details={"demo": True})
    return totp_secret_base32(device)
