"""Database sessions that ignore a malformed session cookie instead of querying with it.

Django only checks a key's length: a cookie holding a NUL byte reached PostgreSQL, which refuses
NUL in text ("DataError"), and the request failed with a 500 (found by schemathesis). A key
Django never issues (anything but ASCII letters and digits) is treated as no session."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key: Any) -> bool:
        return bool(
            super()._validate_session_key(key)  # type: ignore[misc]
            and isinstance(key, str)
            and key.isascii()
            and key.isalnum()
        )
