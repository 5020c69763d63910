"""Failed sign-in attempts per minute, per IP address and per account.

Only failures count, so an office of agents behind one address can all sign in at nine;
once a key has had `per_minute` failures in the last minute, further attempts under it
are refused without checking the password.

The counts live in this process. With several `walletdesk serve` nodes behind a load
balancer each node counts on its own, so an attacker gets N times the budget: move the
counters to Redis (INCR + EXPIRE on a per-minute key) when running more than one node.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
# Forget idle keys once this many are tracked, so a flood of addresses cannot grow memory.
MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, *keys: str) -> bool:
        now = self._clock()
        return any(len(self._recent(key, now)) >= self.per_minute for key in keys)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        if len(self._failures) > MAX_KEYS:
            self._forget_idle(now)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and now - failures[0] >= WINDOW_SECONDS:
            failures.popleft()
        return failures

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._failures.items() if not self._recent(k, now)]:
            del self._failures[key]
