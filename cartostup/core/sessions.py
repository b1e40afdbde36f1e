"""Database sessions that ignore a malformed session cookie instead of querying with it, and
whose rows keep no exact time.

Django only checks a key's length: a cookie holding a NUL byte reached PostgreSQL, which refuses
NUL in text ("DataError"), and the request failed with a 500 (found by schemathesis). A key
Django never issues (anything but ASCII letters and digits) is treated as no session.

A session's row is saved when it changes, and Django dates its expiry from that save: the call
platform's session is saved by the intake of a call (the receipt crosses the redirect in it), so
the row would keep the exact time of a call that the audit log dates to the hour only. The
expiry is counted from the next `TIME_GRANULARITY_SECONDS` mark instead (never earlier than
Django's)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

# Times a staff session keeps (its expiry, its last activity): to 5 minutes.
TIME_GRANULARITY_SECONDS = 300


def next_mark(moment: datetime) -> datetime:
    """`moment` rounded up to the next multiple of `TIME_GRANULARITY_SECONDS`."""
    seconds = math.ceil(moment.timestamp() / TIME_GRANULARITY_SECONDS) * TIME_GRANULARITY_SECONDS
    return datetime.fromtimestamp(seconds, tz=UTC)


class SessionStore(DatabaseSessionStore):
    def get_expiry_date(self, **kwargs: Any) -> datetime:
        if "modification" not in kwargs:
            kwargs["modification"] = next_mark(timezone.now())
        return super().get_expiry_date(**kwargs)  # type: ignore[no-any-return]

    def _validate_session_key(self, key: Any) -> bool:
        return bool(
            super()._validate_session_key(key)  # type: ignore[misc]
            and isinstance(key, str)
            and key.isascii()
            and key.isalnum()
        )
