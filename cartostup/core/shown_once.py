"""A secret shown once after a redirect (Post/Redirect/Get), written nowhere on the way.

The secret is split into two shares (a one-time pad): `masked` XOR `pad` gives it back, either
alone says nothing of it. Kept apart (the staff session in the database, a short-lived cookie in
the browser), they carry the secret across the redirect without it being written in the
database (nor its backups), a URL or a log. Used for the operator's receipt
(`reports.receipts`) and for a new API token (`access.account_views`).
"""

from __future__ import annotations

import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode


def secret_split(secret: str) -> tuple[str, str]:
    """Two shares of an ASCII secret: (masked, pad)."""
    data = secret.encode("ascii")
    pad = secrets.token_bytes(len(data))
    masked = bytes(a ^ b for a, b in zip(data, pad, strict=True))
    return urlsafe_b64encode(masked).decode("ascii"), urlsafe_b64encode(pad).decode("ascii")


def secret_join(masked: object, pad: object) -> str | None:
    """The secret the two shares of `secret_split` give, or None (a share missing or not a
    share). The caller checks that it has the form it expects (a share of another secret gives
    noise)."""
    if not isinstance(masked, str) or not isinstance(pad, str):
        return None
    try:
        data = bytes(
            a ^ b for a, b in zip(urlsafe_b64decode(masked), urlsafe_b64decode(pad), strict=True)
        )
        return data.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
