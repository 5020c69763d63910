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
