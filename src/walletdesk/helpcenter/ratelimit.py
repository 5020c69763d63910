"""Per-client-address limits for the public, unauthenticated help-center endpoints.

A token bucket per address, in this process: with several nodes each enforces its own
share, which is enough to stop one client from hammering search. The rate comes from
WALLETDESK_HELPCENTER_RATE_PER_MINUTE (default 120; 0 turns the limit off, e.g. for a
benchmark run against a private server).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

DEFAULT_PER_MINUTE = 120
_MAX_CLIENTS = 50_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_minute / 60
        self._clock = clock
        self.capacity = float(burst if burst is not None else max(1, per_minute // 4))
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_env(cls) -> RateLimiter | None:
        raw = os.environ.get("WALLETDESK_HELPCENTER_RATE_PER_MINUTE", "").strip()
        per_minute = int(raw) if raw.isdigit() else DEFAULT_PER_MINUTE
        return cls(per_minute) if per_minute > 0 else None

    def retry_after(self, client: str) -> int:
        """0 when the request may go ahead (and is counted), else seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= _MAX_CLIENTS:
                self._forget_idle(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, int((1 - bucket.tokens) / self.per_second + 0.999))

    def _forget_idle(self, now: float) -> None:
        full_after = self.capacity / self.per_second
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}


def client_limiter(request: Request) -> RateLimiter | None:
    """The app's one limiter for every public help-center endpoint (made on first use)."""
    state = request.app.state
    if not hasattr(state, "helpcenter_limiter"):
        state.helpcenter_limiter = RateLimiter.from_env()
    limiter: RateLimiter | None = state.helpcenter_limiter
    return limiter


def retry_after_for(request: Request) -> int:
    """0 when the client's request may go ahead (and is counted), else seconds to wait.

    Other modules' public endpoints that feed the help center (the chat widget's deflection
    reports) call this, so one address has one budget across all of them.
    """
    limiter = client_limiter(request)
    if limiter is None:
        return 0
    return limiter.retry_after(request.client.host if request.client else "unknown")
