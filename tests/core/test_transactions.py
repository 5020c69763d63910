"""The transaction boundary: a task cancelled while it waits for its turn is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from walletdesk.db import Database


async def test_a_cancel_that_meets_the_handed_over_turn_still_cancels(sqlite_url: str) -> None:
    # SQLite's one writer is taken in turns (PostgreSQL has none to wait for). Python
    # 3.11's asyncio.wait_for swallowed a cancel that arrived in the same loop turn as the
    # lock it waited for: the cancelled task went on as if nothing happened, and a poller
    # stopped that way polled for ever while its node waited for it (a CI hang).
    db = Database(sqlite_url)
    entered = asyncio.Event()

    async def second() -> None:
        async with db.transaction():
            entered.set()

    async with db.transaction():
        waiting = asyncio.create_task(second())
        for _ in range(5):  # into the queue for the turn
            await asyncio.sleep(0)
    # The first transaction has handed its turn over; the cancel lands in the same loop turn.
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not entered.is_set()
    # And the turn was given back: the next transaction goes ahead at once.
    async with asyncio.timeout(5):
        async with db.transaction():
            pass
    await db.dispose()
