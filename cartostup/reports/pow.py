"""Hashcash-style proof of work on public submissions (design §5, issue 3).

The client asks for a challenge, then finds a `nonce` such that SHA-256 of
`challenge + ":" + nonce` (UTF-8) starts with `difficulty` zero bits, and sends both with its
report. Each additional bit doubles the expected work (18 bits: about 260,000 hashes, well
under a second in a phone's browser; nothing for one honest report, costly for a flood).

Challenges live in the database so that every worker process sees them; each one is single-use
(deleted when redeemed, whatever the outcome) and expires. `CARTOSTUP_POW_DIFFICULTY = 0`
turns the check off (a challenge is still required).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import PowChallenge

NONCE_MAX_LENGTH = 64


class PowError(ValueError):
    """A refused proof of work; `str(error)` is French, `code` is stable."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


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

    Expired challenges are deleted on the way (indexed; nothing else needs to clean them)."""
    now = timezone.now()
    with transaction.atomic():
        PowChallenge.objects.filter(expires_at__lte=now).delete()
        return PowChallenge.objects.create(
            value=secrets.token_hex(16),
            difficulty=settings.CARTOSTUP_POW_DIFFICULTY,
            # Rounded up to the minute: an unused challenge must not keep the exact time it was
            # issued.
            expires_at=(
                now + timedelta(seconds=settings.CARTOSTUP_POW_TTL_SECONDS, minutes=1)
            ).replace(second=0, microsecond=0),
        )


def challenge_redeem(*, challenge: str, nonce: str) -> None:
    """Consume the challenge and check the work; `PowError` if refused.

    The challenge is deleted first (one `DELETE`, so two concurrent requests cannot both
    redeem it), then checked: a wrong nonce burns it too. The difficulty is the one issued
    with the challenge."""
    challenge = (challenge or "").strip()
    nonce = nonce or ""
    row = PowChallenge.objects.filter(value=challenge).first() if challenge else None
    deleted = 0
    if row is not None:
        deleted, _details = PowChallenge.objects.filter(pk=row.pk).delete()
    if row is None or not deleted:
        raise PowError(
            _(
                "Ce défi est inconnu ou a déjà servi : demandez-en un nouveau "
                "(chaque envoi utilise un nouveau défi)."
            ),
            "pow_unknown",
        )
    if row.expires_at <= timezone.now():
        raise PowError(_("Ce défi a expiré : demandez-en un nouveau."), "pow_expired")
    if len(nonce) > NONCE_MAX_LENGTH or leading_zero_bits(pow_digest(challenge, nonce)) < (
        row.difficulty
    ):
        raise PowError(
            _("La preuve de travail est insuffisante pour ce défi : demandez-en un nouveau."),
            "pow_insufficient",
        )
