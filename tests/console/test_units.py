"""The console's small pure parts: the login limiter and the `next=` guard."""

from __future__ import annotations

from walletdesk.console.ratelimit import WINDOW_SECONDS, LoginLimiter
from walletdesk.console.routing import local_path


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_counts_failures_per_key_for_a_minute() -> None:
    clock = Clock()
    limiter = LoginLimiter(3, clock=clock)
    for _ in range(3):
        assert not limiter.blocked("ip:1", "email:a")
        limiter.failed("ip:1", "email:a")
    assert limiter.blocked("ip:1", "email:b")  # the address is spent
    assert limiter.blocked("ip:2", "email:a")  # and so is the account, from anywhere
    assert not limiter.blocked("ip:2", "email:b")
    clock.now += WINDOW_SECONDS
    assert not limiter.blocked("ip:1", "email:a")


def test_next_stays_inside_the_console() -> None:
    assert local_path("/console/tickets/123?x=1") == "/console/tickets/123?x=1"
    for hostile in ("https://evil.example/", "//evil.example", "/console//evil", "/\\evil", ""):
        assert local_path(hostile) == "/console/"
    assert local_path(None, "/console/me") == "/console/me"
