"""Receipts: the reporter's only key to a report (design §5).

A receipt is 24 characters of Crockford's base32 (120 random bits), written in six groups of
four: `7K3Q-M2XD-...`. The first 8 characters (40 bits) are the public lookup key, stored as is
(`Report.receipt_key`, unique); the other 16 (80 bits) are the secret, stored only as an Argon2
hash. Guessing a receipt therefore means guessing 80 random bits, online and rate-limited.

Typing is forgiving: case, spaces and hyphens do not matter, and Crockford's aliases are read
as the digits they look like (O as 0, I and L as 1).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from django.conf import settings
from django.utils.translation import gettext as _

from cartostup.core.shown_once import secret_join, secret_split

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
LENGTH = 24
KEY_LENGTH = 8
GROUP = 4
BITS = LENGTH * 5
SECRET_BITS = (LENGTH - KEY_LENGTH) * 5
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", " -_.\t\n\r")


class MalformedReceipt(ValueError):
    """Not a receipt at all (wrong length or characters). `str(error)` is French."""


@dataclass(frozen=True)
class ParsedReceipt:
    key: str
    secret: str


def receipt_generate() -> str:
    """A new receipt, grouped for reading aloud or writing down."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return receipt_format(raw)


def receipt_format(normalised: str) -> str:
    return "-".join(normalised[i : i + GROUP] for i in range(0, len(normalised), GROUP))


def receipt_normalise(text: str) -> str:
    """The 24 significant characters of what someone typed; `MalformedReceipt` otherwise."""
    value = (text or "").upper().translate(_IGNORED).translate(_ALIASES)
    if len(value) != LENGTH or any(char not in ALPHABET for char in value):
        raise MalformedReceipt(
            _(
                "Un numéro de suivi compte 24 caractères (lettres et chiffres), en six groupes "
                "de quatre."
            )
        )
    return value


def receipt_parse(text: str) -> ParsedReceipt:
    value = receipt_normalise(text)
    return ParsedReceipt(key=value[:KEY_LENGTH], secret=value[KEY_LENGTH:])


def receipt_key_of(text: str) -> str | None:
    """The lookup key of what someone typed, or None if it is not a receipt."""
    try:
        return receipt_parse(text).key
    except MalformedReceipt:
        return None


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hasher() -> PasswordHasher:
    params = settings.CARTOSTUP_RECEIPT_ARGON2
    return _hasher(params["time_cost"], params["memory_cost"], params["parallelism"])


def secret_hash(secret: str) -> str:
    """The Argon2 hash (PHC string, salted) of a receipt's secret part."""
    return hasher().hash(secret)


# Verified against when the key matches nothing, so that a wrong key costs as much time as a
# wrong secret (no timing oracle on which keys exist).
@cache
def _decoy_hash() -> str:
    return hasher().hash(secrets.token_hex(10))


def secret_verify(stored_hash: str | None, secret: str) -> bool:
    """True if `secret` matches `stored_hash`; with no hash, spends the same time and fails."""
    if not stored_hash:
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher().verify(_decoy_hash(), secret)
        return False
    try:
        return hasher().verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- one display after a redirect ------------------------------------------------------------


def receipt_split(receipt: str) -> tuple[str, str]:
    """Two shares of a receipt (`core.shown_once.secret_split`: a one-time pad), kept apart
    (the staff session in the database, a cookie in the operator's browser), so that the
    receipt crosses a redirect without being written anywhere: not in the database (nor its
    backups), a URL or a log."""
    return secret_split(receipt)


def receipt_join(masked: object, pad: object) -> str | None:
    """The receipt the two shares of `receipt_split` give, or None (a share missing, altered,
    or of another receipt)."""
    receipt = secret_join(masked, pad)
    return receipt if receipt is not None and receipt_key_of(receipt) is not None else None
