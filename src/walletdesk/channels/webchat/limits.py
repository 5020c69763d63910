"""Flood control: token buckets per connection and per client IP, kept in this node's memory.

Limits per IP hold per node: behind a load balancer spreading one IP over N nodes the
effective limit is N times higher, which is acceptable for a guard against floods.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: int
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = float(self.burst)

    def take(self, now: float | None = None) -> float:
        """0 if a token was taken, else the seconds until one is due."""
        now = time.monotonic() if now is None else now
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else 60.0


class WindowCounter:
    """How many events happened in the last `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._events: deque[float] = deque()

    def hit(self, now: float | None = None) -> bool:
        """Count one event; False once the limit is exceeded."""
        now = time.monotonic() if now is None else now
        while self._events and now - self._events[0] > self.window:
            self._events.popleft()
        self._events.append(now)
        return len(self._events) <= self.limit


class IpLimits:
    """Open connections and a shared message bucket per client IP."""

    def __init__(self, max_connections: int, rate: float, burst: int) -> None:
        self.max_connections = max_connections
        self.rate = rate
        self.burst = burst
        self._connections: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._windows: dict[str, WindowCounter] = {}

    def connect(self, ip: str) -> bool:
        count = self._connections.get(ip, 0)
        if count >= self.max_connections:
            return False
        self._connections[ip] = count + 1
        return True

    def disconnect(self, ip: str) -> None:
        count = self._connections.get(ip, 0) - 1
        if count > 0:
            self._connections[ip] = count
        else:
            self._connections.pop(ip, None)
            self._buckets.pop(ip, None)

    def take(self, ip: str) -> float:
        bucket = self._buckets.get(ip)
        if bucket is None:
            bucket = self._buckets[ip] = TokenBucket(self.rate, self.burst)
        return bucket.take()

    def window(self, key: str, limit: int) -> WindowCounter:
        """A per-minute counter for HTTP endpoints (offline messages, uploads)."""
        counter = self._windows.get(key)
        if counter is None:
            if len(self._windows) > 10_000:  # forget idle keys rather than grow without bound
                self._windows.clear()
            counter = self._windows[key] = WindowCounter(limit)
        return counter
