"""Hashcash-style proof of work on public submissions (design §5, issue 3).

The client asks for a challenge, then finds a `nonce` such that SHA-256 of
`challenge + ":" + nonce` (UTF-8) starts with `difficulty` zero bits, and sends both with its
report. Each additional bit doubles the expected work (18 bits: about 260,000 hashes, well
under a second in a phone's browser; nothing for one honest report, costly for a flood).

Challenges live in the database so that every worker process sees them; each one is single-use
(deleted when redeemed, whatever the outcome) and expires. `CARTOSTUP_POW_DIFFICULTY = 0`
turns the check off (a challenge is still required).

A challenge's value (32 hex digits) is its expiry minute, 48 random bits and a 48-bit HMAC of
both: a value this server issued whose row is gone while it is not long expired was redeemed,
so a form sent again (a reload of the receipt page) is recognised as already sent, with nothing
stored about the redemption (no row, no time, nothing to match with a report). Expired rows are
kept `SPENT_MEMORY` for the same reason: an expired challenge is not mistaken for a used one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from .models import PowChallenge

NONCE_MAX_LENGTH = 64
# How long a redeemed challenge is recognised as such (and an expired one kept).
SPENT_MEMORY = timedelta(hours=24)
_VALUE_LENGTH = 32


class PowError(ValueError):
    """A refused proof of work; `str(error)` is French, `code` is stable; `spent` when the
    challenge is one this server issued and that was already redeemed."""

    def __init__(self, message: str, code: str, *, spent: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.spent = spent


def _signature(body: str) -> str:
    return salted_hmac("cartostup.reports.pow", body).hexdigest()[:12]


def _challenge_value(expires_at: datetime) -> str:
    body = f"{int(expires_at.timestamp()) // 60:08x}{secrets.token_hex(6)}"
    return body + _signature(body)


def _issued_expiry(challenge: str) -> datetime | None:
    """The expiry written in a value this server issued, or None (not one of ours)."""
    if len(challenge) != _VALUE_LENGTH:
        return None
    body, signature = challenge[:20], challenge[20:]
    if not constant_time_compare(signature, _signature(body)):
        return None
    try:
        minute = int(body[:8], 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(minute * 60, tz=UTC)


def challenge_spent(challenge: str) -> bool:
    """True if `challenge` was issued here and already redeemed (its row is gone while it is
    not `SPENT_MEMORY` past its expiry): the form that carried it was already sent."""
    challenge = (challenge or "").strip()
    expiry = _issued_expiry(challenge)
    if expiry is None or expiry <= timezone.now() - SPENT_MEMORY:
        return False
    return not PowChallenge.objects.filter(value=challenge).exists()


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def pow_digest(challenge: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()


def pow_solve(challenge: str, difficulty: int) -> str:
    """Find a nonce (what a client does; used by tests, benchmarks and the demo)."""
    counter = 0
    while leading_zero_bits(pow_digest(challenge, str(counter))) < difficulty:
        counter += 1
    return str(counter)


def challenge_issue() -> PowChallenge:
    """A new challenge at the current difficulty, valid `CARTOSTUP_POW_TTL_SECONDS` (10 min).

    Challenges expired for `SPENT_MEMORY` are deleted on the way (indexed; nothing else needs
    to clean them)."""
    now = timezone.now()
    # Rounded up to the minute: an unused challenge must not keep the exact time it was issued.
    expires_at = (now + timedelta(seconds=settings.CARTOSTUP_POW_TTL_SECONDS, minutes=1)).replace(
        second=0, microsecond=0
    )
    with transaction.atomic():
        PowChallenge.objects.filter(expires_at__lte=now - SPENT_MEMORY).delete()
        return PowChallenge.objects.create(
            value=_challenge_value(expires_at),
            difficulty=settings.CARTOSTUP_POW_DIFFICULTY,
            expires_at=expires_at,
        )


def _unknown(challenge: str) -> PowError:
    return PowError(
        _(
            "Ce défi est inconnu ou a déjà servi : demandez-en un nouveau "
            "(chaque envoi utilise un nouveau défi)."
        ),
        "pow_unknown",
        spent=bool(challenge) and challenge_spent(challenge),
    )


@contextmanager
def challenge_redeemed(*, challenge: str, nonce: str) -> Iterator[PowChallenge]:
    """Redeem a challenge for what the block saves, in one transaction with it; `PowError`
    if refused, before the block runs.

    The work is checked first: a wrong nonce burns the challenge (deleted at once, outside any
    transaction of the caller's). An expired challenge is left for the cleaning (so that it is
    never taken for a used one). The difficulty is the one issued with the challenge. The
    challenge is then deleted within the block's transaction (one `DELETE`: of two concurrent
    requests, the second finds nothing), so that a block that fails (a refusal, a server
    error, a busy database) leaves it unspent: the form sent again is saved, never taken for
    one already sent (new-user review: a report lost, the resident told it was saved)."""
    challenge = (challenge or "").strip()
    nonce = nonce or ""
    row = PowChallenge.objects.filter(value=challenge).first() if challenge else None
    if row is None:
        raise _unknown(challenge)
    if row.expires_at <= timezone.now():
        raise PowError(_("Ce défi a expiré : demandez-en un nouveau."), "pow_expired")
    if len(nonce) > NONCE_MAX_LENGTH or leading_zero_bits(pow_digest(challenge, nonce)) < (
        row.difficulty
    ):
        PowChallenge.objects.filter(pk=row.pk).delete()
        raise PowError(
            _("La preuve de travail est insuffisante pour ce défi : demandez-en un nouveau."),
            "pow_insufficient",
        )
    with transaction.atomic():
        deleted, _details = PowChallenge.objects.filter(pk=row.pk).delete()
        if not deleted:
            raise _unknown(challenge)
        yield row
