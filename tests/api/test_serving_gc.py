"""A serving process runs full garbage collections on a clock, not on allocation counts."""

from __future__ import annotations

import asyncio
import gc

from walletdesk.app import SERVING_GC_THRESHOLDS, collect_fully_every


async def test_full_collections_run_on_the_clock() -> None:
    before = gc.get_stats()[2]["collections"]
    collector = asyncio.create_task(collect_fully_every(0.01))
    await asyncio.sleep(0.2)
    collector.cancel()
    assert gc.get_stats()[2]["collections"] > before


def test_allocations_alone_never_start_a_full_collection() -> None:
    # The third threshold counts young collections; out of reach, full ones wait for the clock.
    assert SERVING_GC_THRESHOLDS[2] >= 1_000_000
