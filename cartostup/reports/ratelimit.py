"""Per-client rate limits of the public pages and API, in memory only (design §5).

A client is known only by `client_key(request)`: HMAC-SHA256 of its network address (of its
account, for a signed-in agent) under a random secret that lives in this process's memory and
is replaced every day (UTC). The address
itself is never stored, logged or kept beyond computing the hash; after the daily rotation even
this process cannot tell whether two keys from different days are the same client. Counters
are dropped with the old secret.

Limits are sliding windows (`settings.CARTOSTUP_RATE_LIMITS`: bucket -> (events, seconds)):
submissions per client, wrong receipts per client, and wrong receipts per receipt key (the
public first part of a receipt), which stops a distributed brute force on one report.

Scope: each worker process counts on its own (the design's Redis store is for more than one
machine); with N workers, a client spread over all of them gets at most N times the limit.

Addresses: `REMOTE_ADDR`, or, for a request that comes from a proxy listed in
`CARTOSTUP_TRUSTED_PROXIES`, the nearest address of `X-Forwarded-For` not among them (the
documented nginx replaces the header with the one address it saw: docs/deployment.md, §5).
A request from anywhere else has its header ignored (a client could write anything in it).
Behind a proxy, without that setting, every visitor would be the proxy's address and share one
national bucket.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import deque
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _


class Bucket(StrEnum):
    CHALLENGE = "challenge"
    SUBMISSION = "submission"
    RECEIPT_CLIENT = "receipt_client"
    RECEIPT_KEY = "receipt_key"


class RateLimited(Exception):
    """Too many attempts; `str(error)` is French, `retry_after` in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        minutes = math.ceil(self.retry_after / 60)
        super().__init__(
            _("Trop de tentatives. Par sécurité, réessayez dans %(minutes)s minute(s).")
            % {"minutes": minutes}
        )


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.day: date | None = None
        self.secret = b""
        self.events: dict[tuple[str, str], deque[float]] = {}

    def rotate_if_needed(self) -> None:
        # Called with the lock held.
        today = datetime.now(UTC).date()
        if today != self.day:
            self.day = today
            self.secret = secrets.token_bytes(32)
            self.events.clear()


_state = _State()


def _limit(bucket: str) -> tuple[int, float]:
    events, seconds = settings.CARTOSTUP_RATE_LIMITS[bucket]
    return int(events), float(seconds)


def hashed_key(value: str) -> str:
    """HMAC of any value under today's secret (a receipt key too: nothing plain in memory)."""
    with _state.lock:
        _state.rotate_if_needed()
        secret = _state.secret
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def client_address(meta: Any) -> str:
    """The client's address from the request's META (see the module's note on proxies)."""
    remote = str(meta.get("REMOTE_ADDR", ""))
    trusted = set(getattr(settings, "CARTOSTUP_TRUSTED_PROXIES", []) or [])
    if not trusted or remote not in trusted:
        return remote
    forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    for address in reversed(forwarded):
        if address and address not in trusted:
            return address
    return remote


def client_key(request: Any) -> str:
    """The client's rate-limit key: a keyed hash of its address, nothing else; for an agent
    signed in (an operator reading a caller's follow-up to them), of its account: the agents
    of a call platform share one address, and one's typing errors must not stop the others."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return hashed_key(f"account:{user.pk}")
    return hashed_key(client_address(request.META))


def _prune(queue: deque[float], now: float, window: float) -> None:
    while queue and queue[0] <= now - window:
        queue.popleft()


def ensure_allowed(bucket: str, key: str) -> None:
    """Raise `RateLimited` if the bucket is full for this key; records nothing."""
    limit, window = _limit(bucket)
    now = time.monotonic()
    with _state.lock:
        _state.rotate_if_needed()
        queue = _state.events.get((bucket, key))
        if queue is None:
            return
        _prune(queue, now, window)
        if len(queue) >= limit:
            raise RateLimited(math.ceil(queue[0] + window - now))


def record(bucket: str, key: str) -> None:
    """Count one event (e.g. a wrong receipt)."""
    _limit(bucket)  # unknown buckets fail loudly
    now = time.monotonic()
    with _state.lock:
        _state.rotate_if_needed()
        _state.events.setdefault((bucket, key), deque()).append(now)


def check(bucket: str, key: str) -> None:
    """Count one event and raise `RateLimited` if it goes over the limit (refused events are
    not counted, so a client that waits gets through)."""
    limit, window = _limit(bucket)
    now = time.monotonic()
    with _state.lock:
        _state.rotate_if_needed()
        queue = _state.events.setdefault((bucket, key), deque())
        _prune(queue, now, window)
        if len(queue) >= limit:
            raise RateLimited(math.ceil(queue[0] + window - now))
        queue.append(now)
        if len(_state.events) > 100_000:
            _sweep(now)


def _sweep(now: float) -> None:
    # Lock held. Keeps memory bounded under a flood of distinct clients.
    for (bucket, key), queue in list(_state.events.items()):
        _prune(queue, now, _limit(bucket)[1])
        if not queue:
            del _state.events[(bucket, key)]


def reset() -> None:
    """Forget every counter (tests, and an operator who needs to lift a limit)."""
    with _state.lock:
        _state.events.clear()
