"""Personal API tokens: their form and their keyed hash.

A token reads `cst_<prefix>_<secret>`: the prefix (8 characters of Crockford's base32, 40 bits)
finds the token and is not secret; the secret (43 characters, 256 random bits) is stored only as
HMAC-SHA256 under a server key (`CARTOSTUP_API_TOKEN_KEY`, by default derived from
`SECRET_KEY`). With 256 random bits a slow hash would add nothing, and a keyed hash checked in
constant time costs microseconds per API request; a stolen database without the key gives no
token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

SCHEME = "cst"
PREFIX_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's, lower case
PREFIX_LENGTH = 8
SECRET_BYTES = 32
_KEY_SALT = "cartostup.access.tokens"


@dataclass(frozen=True)
class ParsedToken:
    prefix: str
    secret: str


def token_generate() -> tuple[str, str, str]:
    """A new token: (the whole token, shown once; its prefix; its secret)."""
    prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"{SCHEME}_{prefix}_{secret}", prefix, secret


def token_parse(raw: str) -> ParsedToken | None:
    """The prefix and secret of what a client sent, or None if it is not a token at all."""
    scheme, _sep, rest = raw.partition("_")
    prefix, _sep, secret = rest.partition("_")
    if (
        scheme != SCHEME
        or len(prefix) != PREFIX_LENGTH
        or any(char not in PREFIX_ALPHABET for char in prefix)
        or not secret
        or len(secret) > 100
    ):
        return None
    return ParsedToken(prefix=prefix, secret=secret)


def token_digest(secret: str) -> str:
    """HMAC-SHA256 of the secret under the server's token key (hex)."""
    key = getattr(settings, "CARTOSTUP_API_TOKEN_KEY", "") or settings.SECRET_KEY
    return salted_hmac(_KEY_SALT, secret, secret=key, algorithm="sha256").hexdigest()


def token_matches(digest: str, secret: str) -> bool:
    return hmac.compare_digest(digest, token_digest(secret))
